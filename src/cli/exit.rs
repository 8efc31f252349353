//! Failures of a subcommand and the exit code each maps to.

/// Documented exit codes (see the module docs of `cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitKind {
    Runtime = 1,
    Usage = 2,
    Model = 3,
    Video = 4,
    Storage = 5,
    Relay = 6,
}

/// A subcommand failure: the message names the thing that failed.
#[derive(Debug)]
pub struct Failure {
    pub kind: ExitKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl From<crate::inference::InferenceError> for Failure {
    fn from(e: crate::inference::InferenceError) -> Failure {
        Failure::new(ExitKind::Model, e.to_string())
    }
}

impl From<crate::video::VideoError> for Failure {
    fn from(e: crate::video::VideoError) -> Failure {
        Failure::new(ExitKind::Video, e.to_string())
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        Failure::new(ExitKind::Storage, e.to_string())
    }
}

impl From<crate::relay::RelayError> for Failure {
    fn from(e: crate::relay::RelayError) -> Failure {
        Failure::new(ExitKind::Relay, e.to_string())
    }
}
