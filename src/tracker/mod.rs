//! Tracks plates across frames and emits one voted read per vehicle pass.
//!
//! Detections are associated frame to frame by box overlap or, when the box jumped, by text
//! similarity with nearby position; each track votes per character weighted by confidence and
//! emits once, as soon as its vote is stable, or when it closes. Plate formats decide which
//! voted texts are real plates.

mod formats;
mod read;
mod track;
mod vote;

pub use formats::{is_confusion, FormatError, PlateFormats, OCR_CONFUSIONS};
pub use read::PlateRead;
pub use track::{Tracker, TrackerStats, GIVE_UP_READS};
pub use vote::{Vote, VoteResult};
