//! Requests to and reports from a relay.

use serde::{Deserialize, Serialize};

/// A request to close the contact for a bounded time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayPulse {
    pub relay: String,
    pub duration_ms: u32,
    /// Why: `plate`, `manual_http`, `manual_mqtt`, `cli`.
    pub reason: String,
    /// Plate that caused it, for plate decisions.
    pub plate: Option<String>,
    /// Event that caused it, for plate decisions.
    pub event_id: Option<String>,
}

/// What happened to a pulse request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PulseOutcome {
    /// The line was driven active and a timer will release it.
    Pulsed,
    /// Refused: the relay pulsed too recently.
    Cooldown,
    /// Refused: the line could not be driven (hardware error, logged).
    Failed,
    /// Refused: the contact is already closed by a running pulse (pulses are not extended).
    AlreadyOpen,
    /// Refused: the requested length is above the relay's `max_pulse_ms` (never clamped).
    OutOfRange,
    /// Refused: no relay with that id.
    UnknownRelay,
    /// Refused: the controller is shutting down.
    Stopped,
    /// Log only: a running pulse was cut short (`release_all`, shutdown).
    Released,
}

/// Contact state as reported on MQTT and the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayState {
    Open,
    Closed,
}

impl RelayState {
    /// `open` or `closed`, as on MQTT, the status page and the live feed.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayState::Open => "open",
            RelayState::Closed => "closed",
        }
    }
}

/// One line of the relay log: every actuation and every refused request, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayLogEntry {
    pub relay: String,
    pub at: jiff::Timestamp,
    pub duration_ms: u32,
    pub reason: String,
    pub plate: Option<String>,
    pub event_id: Option<String>,
    pub outcome: PulseOutcome,
}
