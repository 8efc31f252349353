//! MQTT commands: parsing and validation of `relay/<id>/set` and `allowlist/set` payloads.
//! Everything is checked before anything changes, so a malformed command changes nothing.
//! Schemas are documented in docs/mqtt.md.

use crate::access::{AccessEntry, ListKind, ScheduleWindow};
use crate::relay::RelayController;
use serde::{Deserialize, Serialize};

/// JSON form of `relay/<id>/set` (the plain payload `OPEN` means the relay's default pulse).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySet {
    /// Pulse length; absent: the relay's `pulse_ms`. Above the relay's `max_pulse_ms` is refused.
    #[serde(default)]
    pub pulse_ms: Option<u32>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// One entry of `allowlist/set` `upsert`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertEntry {
    pub plate: String,
    #[serde(default = "default_list")]
    pub list: ListKind,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub valid_from: Option<jiff::Timestamp>,
    #[serde(default)]
    pub valid_until: Option<jiff::Timestamp>,
    #[serde(default)]
    pub schedule: Vec<ScheduleWindow>,
    #[serde(default)]
    pub relays: Vec<String>,
}

fn default_list() -> ListKind {
    ListKind::Allow
}

/// Payload of `allowlist/set`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSet {
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub upsert: Vec<UpsertEntry>,
    /// Plates to remove.
    #[serde(default)]
    pub delete: Vec<String>,
}

/// Published on `command/result` for every command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub correlation_id: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
    /// The command topic below the prefix, e.g. `relay/gate/set`.
    pub command: String,
}

/// What a valid command asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// `duration_ms == 0`: the relay's default.
    Pulse { relay: String, duration_ms: u32 },
    Allowlist {
        upsert: Vec<AccessEntry>,
        delete: Vec<String>,
    },
}

/// The correlation id of a payload that may not parse as a command, so even an error result
/// can be matched to its request.
pub(crate) fn loose_correlation_id(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    v.get("correlation_id")?.as_str().map(str::to_string)
}

/// Validates `relay/<relay>/set`. Returns the correlation id with the result either way.
pub(crate) fn parse_relay_set(
    relay: &str,
    payload: &[u8],
    relays: &RelayController,
) -> (Option<String>, Result<Command, String>) {
    let text = String::from_utf8_lossy(payload);
    let (corr, pulse_ms) = if text.trim().eq_ignore_ascii_case("open") {
        (None, None)
    } else {
        match serde_json::from_slice::<RelaySet>(payload) {
            Ok(c) => (c.correlation_id, c.pulse_ms),
            Err(e) => {
                return (
                    loose_correlation_id(payload),
                    Err(format!(
                        "payload is neither OPEN nor a valid JSON command: {e}"
                    )),
                );
            }
        }
    };
    let Some(settings) = relays.settings(relay) else {
        return (corr, Err(format!("unknown relay '{relay}'")));
    };
    let duration_ms = match pulse_ms {
        None => 0,
        Some(0) => return (corr, Err("pulse_ms must be at least 1".into())),
        Some(ms) if ms > settings.max_pulse_ms => {
            return (
                corr,
                Err(format!(
                    "pulse_ms {ms} is above relay '{relay}' max_pulse_ms {}",
                    settings.max_pulse_ms
                )),
            );
        }
        Some(ms) => ms,
    };
    (
        corr,
        Ok(Command::Pulse {
            relay: relay.to_string(),
            duration_ms,
        }),
    )
}

/// Plate text as stored in the access list: upper case A-Z and 0-9; spaces, `-` and `.` are
/// dropped, anything else is refused.
pub(crate) fn normalise_plate(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            ' ' | '-' | '.' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            c => {
                return Err(format!(
                    "plate '{raw}' contains '{c}' (only A-Z, 0-9, space, '-' and '.')"
                ))
            }
        }
    }
    if out.is_empty() || out.len() > 16 {
        return Err(format!("plate '{raw}' must have 1 to 16 letters or digits"));
    }
    Ok(out)
}

fn check_hhmm(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return false;
    }
    let (Ok(h), Ok(m)) = (s[..2].parse::<u8>(), s[3..].parse::<u8>()) else {
        return false;
    };
    b[..2].iter().chain(&b[3..]).all(u8::is_ascii_digit) && (h < 24 && m < 60 || h == 24 && m == 0)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn check_schedule(field: &str, windows: &[ScheduleWindow]) -> Result<(), String> {
    for (j, w) in windows.iter().enumerate() {
        if w.days.is_empty() {
            return Err(format!("{field}.schedule[{j}].days is empty"));
        }
        for d in &w.days {
            if !DAYS.contains(&d.as_str()) {
                return Err(format!(
                    "{field}.schedule[{j}].days: '{d}' is not one of mon..sun"
                ));
            }
        }
        for (name, v) in [("start", &w.start), ("end", &w.end)] {
            if !check_hhmm(v) {
                return Err(format!("{field}.schedule[{j}].{name}: '{v}' is not HH:MM"));
            }
        }
        if w.start == w.end {
            return Err(format!("{field}.schedule[{j}]: start and end are equal"));
        }
    }
    Ok(())
}

/// Validates `allowlist/set`.
pub(crate) fn parse_allowlist_set(
    payload: &[u8],
    relays: &RelayController,
) -> (Option<String>, Result<Command, String>) {
    let cmd: AllowlistSet = match serde_json::from_slice(payload) {
        Ok(c) => c,
        Err(e) => {
            return (
                loose_correlation_id(payload),
                Err(format!("invalid allowlist/set JSON: {e}")),
            )
        }
    };
    let corr = cmd.correlation_id.clone();
    (corr, validate_allowlist(cmd, relays))
}

pub(crate) fn validate_allowlist(
    cmd: AllowlistSet,
    relays: &RelayController,
) -> Result<Command, String> {
    if cmd.upsert.is_empty() && cmd.delete.is_empty() {
        return Err("nothing to do: upsert and delete are both empty".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut upsert = Vec::with_capacity(cmd.upsert.len());
    for (i, e) in cmd.upsert.into_iter().enumerate() {
        let field = format!("upsert[{i}]");
        let plate = normalise_plate(&e.plate).map_err(|m| format!("{field}.plate: {m}"))?;
        if !seen.insert(plate.clone()) {
            return Err(format!(
                "{field}.plate: '{plate}' appears twice in the command"
            ));
        }
        if let (Some(from), Some(until)) = (e.valid_from, e.valid_until) {
            if from >= until {
                return Err(format!(
                    "{field}: valid_from {from} is not before valid_until {until}"
                ));
            }
        }
        check_schedule(&field, &e.schedule)?;
        for r in &e.relays {
            if relays.settings(r).is_none() {
                return Err(format!("{field}.relays: unknown relay '{r}'"));
            }
        }
        upsert.push(AccessEntry {
            id: 0,
            plate,
            list: e.list,
            label: e.label,
            valid_from: e.valid_from,
            valid_until: e.valid_until,
            schedule: e.schedule,
            relays: e.relays,
        });
    }
    let mut delete = Vec::with_capacity(cmd.delete.len());
    for (i, p) in cmd.delete.iter().enumerate() {
        let plate = normalise_plate(p).map_err(|m| format!("delete[{i}]: {m}"))?;
        if !seen.insert(plate.clone()) {
            return Err(format!(
                "delete[{i}]: '{plate}' appears twice in the command"
            ));
        }
        delete.push(plate);
    }
    Ok(Command::Allowlist { upsert, delete })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_are_normalised_or_refused() {
        assert_eq!(normalise_plate("ab-12 cd").unwrap(), "AB12CD");
        assert!(normalise_plate("AB/12").unwrap_err().contains("'/'"));
        assert!(normalise_plate(" - ").is_err());
    }

    #[test]
    fn times_are_checked() {
        assert!(check_hhmm("07:30") && check_hhmm("24:00") && check_hhmm("00:00"));
        assert!(
            !check_hhmm("7:30")
                && !check_hhmm("24:01")
                && !check_hhmm("12:60")
                && !check_hhmm("+1:00")
        );
    }
}
