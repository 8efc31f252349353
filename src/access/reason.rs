//! Machine-readable decision reasons, as stored in events and sent over MQTT. Keep them stable.

/// An allow-list entry in effect matched: the gate opens.
pub const ALLOW_LIST: &str = "allow_list";
/// A deny-list entry in effect matched (deny beats allow).
pub const DENY_LIST: &str = "deny_list";
/// No entry within the allowed edit distance.
pub const NOT_LISTED: &str = "not_listed";
/// The matched allow entry's weekly schedule does not cover this moment.
pub const OUTSIDE_SCHEDULE: &str = "outside_schedule";
/// The matched allow entry starts later (`valid_from`).
pub const NOT_YET_VALID: &str = "not_yet_valid";
/// The matched allow entry ended (`valid_until`).
pub const EXPIRED: &str = "expired";
/// The matched allow entry is limited to other relays.
pub const WRONG_RELAY: &str = "wrong_relay";
/// The read fits no enabled plate format; it is kept but never opens.
pub const INVALID_FORMAT: &str = "invalid_format";
/// The camera drives no relay.
pub const NO_RELAY: &str = "no_relay";
/// Same plate opened the same relay moments ago.
pub const COOLDOWN: &str = "cooldown";
/// The read is too uncertain to act on.
pub const LOW_CONFIDENCE: &str = "low_confidence";
