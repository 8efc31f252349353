//! Video ingest: GStreamer pipelines from `file://`, `rtsp://`, `v4l2://` and a test pattern to
//! the newest decoded frame.

mod frame;
mod state;

pub use frame::{expand_luma, i420_len, ColorRange, Frame};
pub use state::CameraState;
