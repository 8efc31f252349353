//! Video ingest: GStreamer pipelines from `file://`, `rtsp://`, `v4l2://` and a test pattern to
//! the newest decoded frame.
//!
//! [`Camera::start`] runs one camera in the background and hands the analysis loop the newest
//! frame through [`FrameSource`]; [`decode_file`] yields every frame of a file for `recognize`.

mod camera;
mod convert;
mod decoder;
mod error;
mod file;
mod frame;
mod pipeline;
mod state;
mod url;

pub use camera::{Camera, FrameSource, FrameWait};
pub use convert::thumbnail_jpeg;
pub use decoder::{hardware_decoders, pick_decoder, software_decoder, DecoderPick};
pub use error::VideoError;
pub use file::{
    decode_benchmark, decode_file, is_image_path, is_video_path, load_image, FileFrames,
};
pub use frame::{expand_luma, i420_len, ColorRange, Frame};
pub use state::CameraState;
pub use url::redact_url;

/// Initialises GStreamer once per process; later calls return the first outcome.
pub fn ensure_gstreamer() -> Result<(), VideoError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gstreamer::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(VideoError::Init)
}
