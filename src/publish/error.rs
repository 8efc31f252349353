//! Errors of the delivery tasks' set-up (runtime failures are retried and logged instead).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {what} file {path}: {source}")]
    SecretFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad URL '{url}': {reason}")]
    BadUrl { url: String, reason: String },
    #[error("bad TLS material in {path}: {reason}")]
    TlsFile { path: PathBuf, reason: String },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
