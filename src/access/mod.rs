//! Access policy: allow and deny lists, validity windows, weekly schedules, fuzzy matching that
//! forgives typical OCR confusions, and the per-plate cooldown.

mod csv;
mod distance;
mod error;
mod policy;
pub mod reason;
pub mod schedule;
mod types;

pub use csv::{parse_csv, read_csv_file, to_csv, COLUMNS as CSV_COLUMNS};
pub use distance::{normalize_plate, plate_distance, CONFUSION_COST};
pub use error::{AccessError, ScheduleError};
pub use policy::{site_time_zone, AccessPolicy, PlateCooldown};
pub use schedule::{format_schedule, parse_schedule};
pub use types::{AccessEntry, Action, Decision, ListKind, MatchedEntry, ScheduleWindow};
