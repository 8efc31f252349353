//! Why the inference stage could not start or could not run.

use std::path::PathBuf;

/// Errors of the inference stage. Each names the file, symbol, tensor or call at fault.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// No candidate path holds the LiteRT library.
    #[error(
        "LiteRT library not found; tried: {}. Install it with `scripts/fetch-litert.sh <arch> <dir>` \
         or set runtime.litert_library in the config",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    LibraryMissing { tried: Vec<PathBuf> },
    /// The file exists but the dynamic loader refused it (wrong architecture, missing deps).
    #[error("cannot load LiteRT library {path}: {reason}")]
    LibraryUnloadable { path: PathBuf, reason: String },
    /// The library loaded but lacks a C API entry point we call (wrong LiteRT version).
    #[error("LiteRT library {path} has no symbol {symbol} (expected LiteRT 2.1.x)")]
    SymbolMissing { path: PathBuf, symbol: String },
    /// A model or sidecar file is not there.
    #[error("model file missing: {path}")]
    ModelMissing { path: PathBuf },
    /// The sidecar JSON cannot be read, parsed, or has a bad value.
    #[error("invalid model sidecar {path}: {field}: {message}")]
    SidecarInvalid {
        path: PathBuf,
        field: String,
        message: String,
    },
    /// The model's real tensors disagree with its sidecar.
    #[error("model {model} does not match its sidecar: {tensor}: sidecar says {expected}, model has {found}")]
    TensorMismatch {
        model: PathBuf,
        tensor: String,
        expected: String,
        found: String,
    },
    /// A LiteRT C API call returned an error status.
    #[error("LiteRT call {call} failed with status {status}{}", .context.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    RuntimeCall {
        call: &'static str,
        status: i32,
        context: Option<String>,
    },
    /// The frame or region cannot be used (empty ROI, zero-size frame).
    #[error("bad input: {0}")]
    BadInput(String),
}
