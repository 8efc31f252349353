//! SQLite storage of events, outbox, allow list and relay log; media files; retention; the
//! writer thread that keeps disk I/O off the gate path.

mod db;
mod error;
mod event;
mod query;
mod retention;
mod writer;

pub use db::{AccessKey, NewEvent, Store, SCHEMA_VERSION};
pub use error::StoreError;
pub use event::{Event, RelayAction, StageLatencies};
pub use query::{DayStats, EventFilter, Page};
pub use retention::{free_bytes, RetentionReport};
pub use writer::{StoreSender, StoreWriter, WriterOptions, WriterStats};
