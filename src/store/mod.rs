//! SQLite storage of events, outbox, allow list and relay log; media files; retention.

mod event;

pub use event::{Event, RelayAction, StageLatencies};
