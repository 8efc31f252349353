//! Errors of the video stage. Each names the camera URL (passwords hidden), file or device it
//! concerns, and carries GStreamer's own text when GStreamer reported the problem.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    #[error("camera {camera}: cannot use URL {url}: {reason}")]
    BadUrl {
        camera: String,
        url: String,
        reason: String,
    },
    #[error("camera {camera}: cannot read RTSP password file {}: {source}", path.display())]
    PasswordFile {
        camera: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("camera {camera}: video device {} does not exist or cannot be opened", device.display())]
    NoDevice { camera: String, device: PathBuf },
    #[error("no hardware H.264 decoder in the GStreamer registry (looked for {looked_for}); use decoder = \"auto\" or \"software\"")]
    NoHardwareDecoder { looked_for: String },
    #[error("GStreamer element {element} is not installed (needed for {purpose})")]
    MissingElement { element: String, purpose: String },
    #[error("cannot open video file {}: {source}", path.display())]
    FileOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read image {}: {message}", path.display())]
    Image { path: PathBuf, message: String },
    /// GStreamer failed while building or running the pipeline for `source`.
    #[error("{source_name}: {message}")]
    Pipeline {
        source_name: String,
        message: String,
    },
}
