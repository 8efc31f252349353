//! Camera connection state, as shown on the status page and in MQTT status.

use serde::{Deserialize, Serialize};

/// Where a camera stream stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CameraState {
    /// Pipeline being built or waiting for the first frame.
    Starting,
    /// Frames flowing; `decoder` names the GStreamer element in use.
    Streaming {
        decoder: String,
    },
    /// The stream failed; a restart is due in `retry_in_ms`.
    Reconnecting {
        attempt: u32,
        retry_in_ms: u64,
        error: String,
    },
    /// A `file://` source without `loop` reached its end.
    Ended,
    /// Given up (configuration error such as an unknown device or decoder).
    Failed {
        error: String,
    },
    Stopped,
}

impl CameraState {
    pub fn label(&self) -> &'static str {
        match self {
            CameraState::Starting => "starting",
            CameraState::Streaming { .. } => "streaming",
            CameraState::Reconnecting { .. } => "reconnecting",
            CameraState::Ended => "ended",
            CameraState::Failed { .. } => "failed",
            CameraState::Stopped => "stopped",
        }
    }
}
