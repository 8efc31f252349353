//! Relay errors; each names the relay and the device or file involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("relay `{relay}`: GPIO chip `{chip}`: {source}")]
    Chip {
        relay: String,
        chip: String,
        source: gpiocdev::Error,
    },
    #[error("relay `{relay}`: GPIO line `{line}` not found on any chip{}", chip.as_ref().map(|c| format!(" (looked on `{c}`)")).unwrap_or_default())]
    LineNotFound {
        relay: String,
        line: String,
        chip: Option<String>,
    },
    #[error("relay `{relay}`: requesting GPIO line {offset} on `{chip}`: {source}")]
    Request {
        relay: String,
        chip: String,
        offset: u32,
        source: gpiocdev::Error,
    },
    #[error("relay `{relay}`: the gpio driver needs `chip` and `line`, or `line_name`")]
    MissingLine { relay: String },
    #[error("relay `{relay}`: driving the line {level}: {detail}")]
    Drive {
        relay: String,
        level: &'static str,
        detail: String,
    },
    #[error("relay `{relay}`: transitions file {}: {source}", path.display())]
    TransitionsFile {
        relay: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("transitions file {}: {source}", path.display())]
    ReadTransitions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("transitions file {} line {line}: {source}", path.display())]
    ParseTransition {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("relay `{0}` is configured twice")]
    DuplicateRelay(String),
    #[error("no relay `{0}` in the configuration")]
    UnknownRelay(String),
    #[error("relay `{relay}`: starting its timer thread: {source}")]
    Thread {
        relay: String,
        source: std::io::Error,
    },
}
