//! The tracker's output: one read per vehicle pass.

use crate::geometry::BBox;
use crate::inference::Candidate;
use crate::video::Frame;

/// The settled reading of one vehicle pass, emitted once per track.
#[derive(Debug, Clone)]
pub struct PlateRead {
    pub camera: String,
    /// Unique per camera for the daemon's lifetime.
    pub track_id: u64,
    /// Voted text (A-Z 0-9).
    pub text: String,
    /// Voted confidence (0..1).
    pub confidence: f32,
    pub char_confidences: Vec<f32>,
    pub candidates: Vec<Candidate>,
    /// Plate format the text fits (`us`, `eu`, `br-old`, `br-mercosul`, or a custom name);
    /// `None`: fits no enabled format, so it is stored but never opens the gate.
    pub format: Option<String>,
    /// Box in the frame below.
    pub bbox: BBox,
    /// The frame with the best single read of this pass (for the event's crop and frame images).
    pub frame: Frame,
    /// Single-frame reads that went into the vote.
    pub reads: u32,
    /// Capture time of the first frame in which the plate was seen.
    pub first_seen: jiff::Timestamp,
    /// Capture time of the frame whose read made the vote settle (the emission trigger).
    pub trigger_captured_at: jiff::Timestamp,
    /// Monotonic capture time of that frame, for frame-to-relay latency.
    pub trigger_captured_mono: std::time::Instant,
    /// Detector and reader time spent on the trigger frame, in ms.
    pub detect_ms: f32,
    pub ocr_ms: f32,
}
