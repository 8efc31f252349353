//! Plate detection and reading with LiteRT (loaded at run time).
//!
//! [`Runtime`] loads `libLiteRt.so`; [`Recognizer`] loads the detector and OCR models named by
//! the config (each described by a JSON sidecar, see [`sidecar`]) and turns a frame into
//! [`Recognition`]s.

mod detector;
mod error;
mod litert;
mod preprocess;
mod reader;
mod recognizer;
pub mod sidecar;
mod types;

pub use detector::{nms, Detector};
pub use error::InferenceError;
pub use litert::{ElementType, Runtime, TensorInfo};
pub use reader::{CtcDecoder, Reader};
pub use recognizer::{models_summary, sidecar_paths, Recognizer};
pub use types::{Candidate, PlateBox, PlateFinding, PlateText, Recognition};

#[cfg(test)]
mod send_check {
    fn assert_send<T: Send>() {}

    #[test]
    fn recognizer_can_move_to_a_camera_thread() {
        assert_send::<super::Recognizer>();
        assert_send::<super::Runtime>();
    }
}
