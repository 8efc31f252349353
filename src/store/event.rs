//! The event record: one per vehicle pass. Its JSON form is the payload of MQTT `.../event`,
//! webhooks and `/api/events/{id}`; keep field names stable.

use crate::access::Decision;
use crate::geometry::BBox;
use crate::inference::Candidate;
use crate::relay::PulseOutcome;
use serde::{Deserialize, Serialize};

/// What the relay did for this event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayAction {
    pub id: String,
    pub pulse_ms: u32,
    pub outcome: PulseOutcome,
}

/// Time spent per stage, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageLatencies {
    pub detect_ms: f32,
    pub ocr_ms: f32,
    /// From capture of the trigger frame to the access decision.
    pub frame_to_decision_ms: f32,
    /// From capture of the trigger frame to the relay line going active (open decisions only).
    pub frame_to_relay_ms: Option<f32>,
}

/// One vehicle pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable unique id (UUIDv7); consumers de-duplicate on it.
    pub event_id: String,
    pub site: String,
    pub camera: String,
    /// Capture time of the frame that settled the read (RFC 3339, UTC).
    pub captured_at: jiff::Timestamp,
    pub plate: String,
    pub confidence: f32,
    pub char_confidences: Vec<f32>,
    pub candidates: Vec<Candidate>,
    pub bbox: BBox,
    pub format: Option<String>,
    pub decision: Decision,
    pub relay: Option<RelayAction>,
    /// Paths on the status server (`/media/...`), when images were saved.
    pub crop_url: Option<String>,
    pub frame_url: Option<String>,
    pub latency: StageLatencies,
    /// Single-frame reads voted into this one.
    pub reads: u32,
}
