//! What the detector and the reader produce.

use crate::geometry::BBox;
use serde::{Deserialize, Serialize};

/// A plate found by the detector, in full-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateBox {
    pub bbox: BBox,
    /// Detector score after the sigmoid, 0..1.
    pub score: f32,
}

/// An alternative reading of the same plate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub text: String,
    pub confidence: f32,
}

/// What the reader made of one crop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateText {
    /// Upper-case A-Z 0-9 only; empty when nothing legible.
    pub text: String,
    /// Product of the per-character confidences (0..1).
    pub confidence: f32,
    /// One entry per character of `text`.
    pub char_confidences: Vec<f32>,
    /// Next-best readings, best first, without `text` itself.
    pub candidates: Vec<Candidate>,
}

/// A detected plate and what the reader made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateFinding {
    pub plate_box: PlateBox,
    pub text: PlateText,
}

/// Result of running detector and reader on one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recognition {
    /// Sorted by `text.confidence`, best first.
    pub plates: Vec<PlateFinding>,
    /// Detector time (preprocessing, inference, decoding), ms.
    pub detect_ms: f32,
    /// Reader time for all plates of the frame, ms.
    pub ocr_ms: f32,
}
