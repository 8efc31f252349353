//! Access-list errors; each names where the bad input came from.

use std::path::PathBuf;

/// A weekly schedule that cannot be parsed, e.g. `mon-fri 7:00-19:00x`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("schedule '{text}': {message}")]
pub struct ScheduleError {
    /// The part of the schedule that is wrong.
    pub text: String,
    pub message: String,
}

/// Why an allow/deny list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read access list {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A CSV cell or record is wrong; `line` is 1-based, `column` is the header name.
    #[error("{source_name}:{line}: column '{column}': {message}")]
    Csv {
        source_name: String,
        line: usize,
        column: String,
        message: String,
    },
}
