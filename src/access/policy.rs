//! The access decision: which list a read matches, whether that entry is in effect now, and
//! what the gate does.

use super::distance::{normalize_plate, plate_distance};
use super::reason;
use super::schedule::schedule_contains;
use super::types::{AccessEntry, Action, Decision, ListKind, MatchedEntry};
use crate::config::{AccessSettings, SiteSettings};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The site's time zone for schedules: the configured IANA name, else the system's zone, else
/// UTC (with a log line when a configured name is unknown).
pub fn site_time_zone(site: &SiteSettings) -> jiff::tz::TimeZone {
    if site.timezone.is_empty() {
        return jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
    }
    match jiff::tz::TimeZone::get(&site.timezone) {
        Ok(tz) => tz,
        Err(e) => {
            tracing::warn!(timezone = %site.timezone, error = %e, "site.timezone unknown; schedules use UTC");
            jiff::tz::TimeZone::UTC
        }
    }
}

/// Allow and deny lists plus the rules to apply them. Rebuild it when the lists change.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    entries: Vec<AccessEntry>,
    max_distance: f32,
    tz: jiff::tz::TimeZone,
}

/// Whether an entry applies at a moment on a relay, and if not why.
fn not_in_effect(
    entry: &AccessEntry,
    relay: &str,
    at: jiff::Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Option<&'static str> {
    if entry.valid_from.is_some_and(|from| at < from) {
        return Some(reason::NOT_YET_VALID);
    }
    if entry.valid_until.is_some_and(|until| at >= until) {
        return Some(reason::EXPIRED);
    }
    if !entry.relays.is_empty() && !entry.relays.iter().any(|r| r == relay) {
        return Some(reason::WRONG_RELAY);
    }
    if !schedule_contains(&entry.schedule, at, tz) {
        return Some(reason::OUTSIDE_SCHEDULE);
    }
    None
}

fn matched(entry: &AccessEntry) -> MatchedEntry {
    MatchedEntry {
        id: entry.id,
        plate: entry.plate.clone(),
        list: entry.list,
        label: entry.label.clone(),
    }
}

impl AccessPolicy {
    /// Entry plates are normalised here, so lists typed by hand (`ab-123`) still match.
    pub fn new(
        entries: Vec<AccessEntry>,
        settings: &AccessSettings,
        tz: jiff::tz::TimeZone,
    ) -> AccessPolicy {
        let entries = entries
            .into_iter()
            .map(|mut e| {
                e.plate = normalize_plate(&e.plate);
                e
            })
            .filter(|e| !e.plate.is_empty())
            .collect();
        AccessPolicy {
            entries,
            max_distance: settings.max_distance as f32,
            tz,
        }
    }

    pub fn entries(&self) -> &[AccessEntry] {
        &self.entries
    }

    /// Decides what the gate does with a read of `plate` (format from the tracker, `None` when it
    /// fits no format) on a camera driving `relay` at time `at`.
    ///
    /// Order: no relay → ignore; no format → ignore; a deny entry in effect within the distance →
    /// deny; the closest allow entry in effect → open; else deny, explaining the closest allow
    /// entry that matched but is not in effect (expired, schedule, ...) or `not_listed`.
    pub fn decide(
        &self,
        plate: &str,
        format: Option<&str>,
        relay: Option<&str>,
        at: jiff::Timestamp,
    ) -> Decision {
        let ignore = |why: &str| Decision {
            action: Action::Ignore,
            reason: why.into(),
            matched_entry: None,
            distance: None,
        };
        let Some(relay) = relay else {
            return ignore(reason::NO_RELAY);
        };
        if format.is_none() {
            return ignore(reason::INVALID_FORMAT);
        }
        let plate = normalize_plate(plate);
        if plate.is_empty() {
            return ignore(reason::INVALID_FORMAT);
        }
        // Closest first; exact plates and lower ids win ties so the choice is stable.
        let mut near: Vec<(f32, &AccessEntry)> = self
            .entries
            .iter()
            .map(|e| (plate_distance(&plate, &e.plate), e))
            .filter(|(d, _)| *d <= self.max_distance)
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));

        let decision = |action, why: &str, d: f32, e: &AccessEntry| Decision {
            action,
            reason: why.into(),
            matched_entry: Some(matched(e)),
            distance: Some(d),
        };
        if let Some((d, e)) = near.iter().find(|(_, e)| {
            e.list == ListKind::Deny && not_in_effect(e, relay, at, &self.tz).is_none()
        }) {
            return decision(Action::Deny, reason::DENY_LIST, *d, e);
        }
        let allows: Vec<&(f32, &AccessEntry)> = near
            .iter()
            .filter(|(_, e)| e.list == ListKind::Allow)
            .collect();
        if let Some((d, e)) = allows
            .iter()
            .find(|(_, e)| not_in_effect(e, relay, at, &self.tz).is_none())
        {
            return decision(Action::Open, reason::ALLOW_LIST, *d, e);
        }
        if let Some((d, e)) = allows.first() {
            let why = not_in_effect(e, relay, at, &self.tz).unwrap_or(reason::NOT_LISTED);
            return decision(Action::Deny, why, *d, e);
        }
        Decision {
            action: Action::Deny,
            reason: reason::NOT_LISTED.into(),
            matched_entry: None,
            distance: None,
        }
    }

    /// [`decide`](Self::decide), then turns an `open` into ignore/`cooldown` when the same plate
    /// opened the same relay within the cooldown. The matched entry's plate is the cooldown key,
    /// so two slightly different reads of one car share it.
    #[allow(clippy::too_many_arguments)]
    pub fn decide_with_cooldown(
        &self,
        cooldown: &mut PlateCooldown,
        plate: &str,
        format: Option<&str>,
        relay: Option<&str>,
        at: jiff::Timestamp,
        now: Instant,
    ) -> Decision {
        let mut decision = self.decide(plate, format, relay, at);
        if decision.action == Action::Open {
            let key = decision
                .matched_entry
                .as_ref()
                .map(|m| m.plate.clone())
                .unwrap_or_else(|| normalize_plate(plate));
            if cooldown.check_and_record(&key, relay.unwrap_or_default(), now) {
                decision.action = Action::Ignore;
                decision.reason = reason::COOLDOWN.into();
            }
        }
        decision
    }
}

/// Remembers when each plate last opened each relay.
#[derive(Debug, Clone)]
pub struct PlateCooldown {
    period: Duration,
    last_open: HashMap<(String, String), Instant>,
}

/// Above this many remembered plates, expired ones are dropped (keeps memory bounded).
const PRUNE_AT: usize = 1024;

impl PlateCooldown {
    /// `period`: `access.plate_cooldown_s`; zero disables the cooldown.
    pub fn new(period: Duration) -> PlateCooldown {
        PlateCooldown {
            period,
            last_open: HashMap::new(),
        }
    }

    /// Returns `true` when `plate` opened `relay` less than the period before `now` (the caller
    /// must not open again). Otherwise records `now` as the plate's last opening and returns
    /// `false`. Suppressed attempts do not extend the cooldown.
    pub fn check_and_record(&mut self, plate: &str, relay: &str, now: Instant) -> bool {
        let key = (normalize_plate(plate), relay.to_string());
        if let Some(&last) = self.last_open.get(&key) {
            if now.saturating_duration_since(last) < self.period {
                return true;
            }
        }
        if self.last_open.len() >= PRUNE_AT {
            let period = self.period;
            self.last_open
                .retain(|_, &mut t| now.saturating_duration_since(t) < period);
        }
        self.last_open.insert(key, now);
        false
    }
}
