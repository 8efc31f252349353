//! Access policy: allow and deny lists, validity windows, fuzzy matching.

mod types;

pub use types::{AccessEntry, Action, Decision, ListKind, MatchedEntry, ScheduleWindow};
