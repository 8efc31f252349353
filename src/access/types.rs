//! Allow/deny entries and the decisions made from them.

use serde::{Deserialize, Serialize};

/// Which list an entry is on. Deny beats allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    Allow,
    Deny,
}

/// Weekly schedule: on each listed day, the entry is valid from `start` to `end` (local time of
/// the site, `HH:MM`, end exclusive; `end` < `start` means the window runs past midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleWindow {
    /// `mon`..`sun`.
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

/// One allow- or deny-list entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Database id (0 before the entry is stored).
    pub id: i64,
    /// Normalised plate text (A-Z 0-9).
    pub plate: String,
    pub list: ListKind,
    pub label: String,
    pub valid_from: Option<jiff::Timestamp>,
    pub valid_until: Option<jiff::Timestamp>,
    /// Empty: valid at any time of the week.
    pub schedule: Vec<ScheduleWindow>,
    /// Relays this entry may open; empty: all.
    pub relays: Vec<String>,
}

/// What the gate does with a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Open,
    Deny,
    /// No decision to make (camera drives no relay, format fits nothing, cooldown).
    Ignore,
}

/// The entry a read matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedEntry {
    pub id: i64,
    pub plate: String,
    pub list: ListKind,
    pub label: String,
}

/// A decision with its explanation, as stored in the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    /// Machine-readable reason: `allow_list`, `deny_list`, `not_listed`, `outside_schedule`,
    /// `not_yet_valid`, `expired`, `wrong_relay`, `invalid_format`, `no_relay`, `cooldown`,
    /// `low_confidence` (constants in [`crate::access::reason`]).
    pub reason: String,
    pub matched_entry: Option<MatchedEntry>,
    /// Weighted edit distance to the matched entry (0 = exact).
    pub distance: Option<f32>,
}
