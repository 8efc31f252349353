//! Store errors; each names the database or file it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {}: {source}", path.display())]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {}: schema version {found} is newer than this build understands ({supported})", path.display())]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("media file {}: {source}", path.display())]
    Media {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("event `{event_id}`: {source}")]
    EventJson {
        event_id: String,
        source: serde_json::Error,
    },
    #[error("event id `{0}` is not usable (letters, digits, `-` and `_` only, 1..=64 characters)")]
    BadEventId(String),
    #[error("event `{0}` is already stored")]
    DuplicateEvent(String),
    #[error("pagination cursor: no event `{0}`")]
    UnknownCursor(String),
    #[error("access entry {0}: not found")]
    UnknownAccessEntry(i64),
    #[error("access entry: {0}")]
    BadAccessEntry(String),
    #[error("CSV export: {0}")]
    Export(std::io::Error),
}
