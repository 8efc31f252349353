//! Access decisions, cooldown and CSV import/export, through the public API.

use boomgate::access::{
    parse_csv, parse_schedule, reason, site_time_zone, to_csv, AccessEntry, AccessError,
    AccessPolicy, Action, ListKind, PlateCooldown,
};
use boomgate::config::{AccessSettings, SiteSettings};
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;
use std::time::{Duration, Instant};

fn entry(id: i64, plate: &str, list: ListKind) -> AccessEntry {
    AccessEntry {
        id,
        plate: plate.into(),
        list,
        label: format!("entry {id}"),
        valid_from: None,
        valid_until: None,
        schedule: vec![],
        relays: vec![],
    }
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn policy(entries: Vec<AccessEntry>, max_distance: u32) -> AccessPolicy {
    let settings = AccessSettings {
        max_distance,
        ..AccessSettings::default()
    };
    AccessPolicy::new(entries, &settings, TimeZone::UTC)
}

const NOW: &str = "2026-12-02T12:00:00Z"; // a Wednesday

#[test]
fn exact_match_opens_and_names_the_entry() {
    let p = policy(vec![entry(7, "ABC1234", ListKind::Allow)], 1);
    let d = p.decide("abc-1234", Some("br-old"), Some("gate"), ts(NOW));
    assert_eq!(d.action, Action::Open);
    assert_eq!(d.reason, reason::ALLOW_LIST);
    assert_eq!(d.distance, Some(0.0));
    let m = d.matched_entry.unwrap();
    assert_eq!(
        (m.id, m.plate.as_str(), m.label.as_str()),
        (7, "ABC1234", "entry 7")
    );
}

#[test]
fn ocr_confusions_cost_half_an_edit() {
    let p = policy(vec![entry(1, "ABC1234", ListKind::Allow)], 1);
    // 8 for B and I for 1: two confusions = one edit.
    let d = p.decide("A8CI234", Some("us"), Some("gate"), ts(NOW));
    assert_eq!((d.action, d.distance), (Action::Open, Some(1.0)));
    // One ordinary substitution is still within distance 1.
    let d = p.decide("ABC1235", Some("us"), Some("gate"), ts(NOW));
    assert_eq!((d.action, d.distance), (Action::Open, Some(1.0)));
    // An ordinary substitution plus a confusion is too far.
    let d = p.decide("A8C1235", Some("us"), Some("gate"), ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str(), d.matched_entry),
        (Action::Deny, reason::NOT_LISTED, None)
    );
}

#[test]
fn distance_zero_means_exact_only() {
    let p = policy(vec![entry(1, "ABC1234", ListKind::Allow)], 0);
    assert_eq!(
        p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW))
            .action,
        Action::Open
    );
    let d = p.decide("A8C1234", Some("us"), Some("gate"), ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Deny, reason::NOT_LISTED)
    );
}

#[test]
fn closest_allow_entry_is_reported() {
    let p = policy(
        vec![
            entry(1, "ABC1235", ListKind::Allow),
            entry(2, "ABC1234", ListKind::Allow),
        ],
        1,
    );
    let d = p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW));
    assert_eq!(d.matched_entry.unwrap().id, 2);
    assert_eq!(d.distance, Some(0.0));
}

#[test]
fn deny_beats_allow() {
    let p = policy(
        vec![
            entry(1, "ABC1234", ListKind::Allow),
            entry(2, "ABC1284", ListKind::Deny),
        ],
        1,
    );
    // Exact allow match, but a deny entry lies within the distance: deny wins.
    let d = p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Deny, reason::DENY_LIST)
    );
    let m = d.matched_entry.unwrap();
    assert_eq!((m.id, m.list), (2, ListKind::Deny));
    assert_eq!(d.distance, Some(1.0));
}

#[test]
fn validity_window_is_respected() {
    let mut e = entry(1, "ABC1234", ListKind::Allow);
    e.valid_from = Some(ts("2026-12-01T00:00:00Z"));
    e.valid_until = Some(ts("2026-12-03T00:00:00Z"));
    let p = policy(vec![e], 1);
    assert_eq!(
        p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW))
            .action,
        Action::Open
    );
    let early = p.decide(
        "ABC1234",
        Some("us"),
        Some("gate"),
        ts("2026-11-30T23:59:59Z"),
    );
    assert_eq!(
        (early.action, early.reason.as_str()),
        (Action::Deny, reason::NOT_YET_VALID)
    );
    assert_eq!(early.matched_entry.unwrap().id, 1);
    let late = p.decide(
        "ABC1234",
        Some("us"),
        Some("gate"),
        ts("2026-12-03T00:00:00Z"),
    );
    assert_eq!(
        (late.action, late.reason.as_str()),
        (Action::Deny, reason::EXPIRED)
    );
}

#[test]
fn expired_deny_entry_no_longer_blocks() {
    let mut deny = entry(2, "ABC1234", ListKind::Deny);
    deny.valid_until = Some(ts("2026-01-01T00:00:00Z"));
    let p = policy(vec![entry(1, "ABC1234", ListKind::Allow), deny], 1);
    assert_eq!(
        p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW))
            .action,
        Action::Open
    );
}

#[test]
fn schedule_uses_the_site_time_zone() {
    let mut e = entry(1, "ABC1234", ListKind::Allow);
    e.schedule = parse_schedule("mon-fri 07:00-19:00").unwrap();
    let settings = AccessSettings::default();
    let sao_paulo = TimeZone::fixed(Offset::from_hours(-3).unwrap());
    let local = AccessPolicy::new(vec![e.clone()], &settings, sao_paulo);
    let utc = AccessPolicy::new(vec![e], &settings, TimeZone::UTC);
    // Wednesday 09:00 UTC is 06:00 at UTC-3: before the window there, inside it in UTC.
    let at = ts("2026-12-02T09:00:00Z");
    let d = local.decide("ABC1234", Some("us"), Some("gate"), at);
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Deny, reason::OUTSIDE_SCHEDULE)
    );
    assert_eq!(
        utc.decide("ABC1234", Some("us"), Some("gate"), at).action,
        Action::Open
    );
    // 21:30 UTC is 18:30 at UTC-3: inside there, outside in UTC.
    let at = ts("2026-12-02T21:30:00Z");
    assert_eq!(
        local.decide("ABC1234", Some("us"), Some("gate"), at).action,
        Action::Open
    );
    assert_eq!(
        utc.decide("ABC1234", Some("us"), Some("gate"), at).action,
        Action::Deny
    );
    // Saturday is not in the schedule.
    assert_eq!(
        local
            .decide(
                "ABC1234",
                Some("us"),
                Some("gate"),
                ts("2026-12-05T15:00:00Z")
            )
            .action,
        Action::Deny
    );
}

#[test]
fn schedule_past_midnight() {
    let mut e = entry(1, "NIGHT01", ListKind::Allow);
    e.schedule = parse_schedule("fri 22:00-06:00").unwrap();
    let p = policy(vec![e], 1);
    let open =
        |at: &str| p.decide("NIGHT01", Some("us"), Some("gate"), ts(at)).action == Action::Open;
    assert!(open("2026-12-04T23:00:00Z"), "Friday 23:00");
    assert!(open("2026-12-05T05:59:00Z"), "Saturday 05:59");
    assert!(!open("2026-12-05T06:00:00Z"), "Saturday 06:00");
    assert!(!open("2026-12-04T21:59:00Z"), "Friday 21:59");
    assert!(!open("2026-12-03T23:00:00Z"), "Thursday 23:00");
    assert!(
        !open("2026-12-04T05:00:00Z"),
        "Friday 05:00 belongs to Thursday night"
    );
}

#[test]
fn site_time_zone_by_name() {
    let site = SiteSettings {
        timezone: "America/Sao_Paulo".into(),
        ..SiteSettings::default()
    };
    let tz = site_time_zone(&site);
    let local = ts("2026-12-02T09:00:00Z").to_zoned(tz);
    assert_eq!(local.hour(), 6);
    // Empty: the system zone; it must at least be usable.
    let _ = ts(NOW).to_zoned(site_time_zone(&SiteSettings::default()));
}

#[test]
fn entry_limited_to_some_relays() {
    let mut e = entry(1, "ABC1234", ListKind::Allow);
    e.relays = vec!["side".into()];
    let p = policy(vec![e], 1);
    assert_eq!(
        p.decide("ABC1234", Some("us"), Some("side"), ts(NOW))
            .action,
        Action::Open
    );
    let d = p.decide("ABC1234", Some("us"), Some("gate"), ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Deny, reason::WRONG_RELAY)
    );
}

#[test]
fn invalid_format_and_missing_relay_never_open() {
    let p = policy(vec![entry(1, "ABC1234", ListKind::Allow)], 1);
    let d = p.decide("ABC1234", None, Some("gate"), ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Ignore, reason::INVALID_FORMAT)
    );
    let d = p.decide("ABC1234", Some("us"), None, ts(NOW));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Ignore, reason::NO_RELAY)
    );
}

#[test]
fn cooldown_per_plate_and_relay() {
    let p = policy(vec![entry(1, "ABC1234", ListKind::Allow)], 1);
    let mut cooldown = PlateCooldown::new(Duration::from_secs(30));
    let t0 = Instant::now();
    let at = ts(NOW);
    let first = p.decide_with_cooldown(&mut cooldown, "ABC1234", Some("us"), Some("gate"), at, t0);
    assert_eq!(first.action, Action::Open);
    // A slightly different read of the same car shares the cooldown (keyed by the entry).
    let again = p.decide_with_cooldown(
        &mut cooldown,
        "A8C1234",
        Some("us"),
        Some("gate"),
        at,
        t0 + Duration::from_secs(10),
    );
    assert_eq!(
        (again.action, again.reason.as_str()),
        (Action::Ignore, reason::COOLDOWN)
    );
    assert_eq!(again.matched_entry.unwrap().id, 1);
    let other_relay = p.decide_with_cooldown(
        &mut cooldown,
        "ABC1234",
        Some("us"),
        Some("side"),
        at,
        t0 + Duration::from_secs(10),
    );
    assert_eq!(other_relay.action, Action::Open);
    // The suppressed attempt did not extend the cooldown: 31 s after the first opening it opens.
    let later = p.decide_with_cooldown(
        &mut cooldown,
        "ABC1234",
        Some("us"),
        Some("gate"),
        at,
        t0 + Duration::from_secs(31),
    );
    assert_eq!(later.action, Action::Open);
    // Denied plates are not subject to cooldown.
    let deny = p.decide_with_cooldown(&mut cooldown, "ZZZ9999", Some("us"), Some("gate"), at, t0);
    assert_eq!(deny.reason, reason::NOT_LISTED);
}

#[test]
fn plate_cooldown_alone() {
    let mut c = PlateCooldown::new(Duration::from_secs(5));
    let t0 = Instant::now();
    assert!(!c.check_and_record("abc 123", "gate", t0));
    assert!(c.check_and_record("ABC123", "gate", t0 + Duration::from_secs(4)));
    assert!(!c.check_and_record("ABC123", "gate", t0 + Duration::from_secs(5)));
}

#[test]
fn csv_round_trip() {
    let mut a = entry(0, "ABC1234", ListKind::Allow);
    a.label = "Smith, \"night shift\"".into();
    a.valid_from = Some(ts("2026-01-01T00:00:00Z"));
    a.valid_until = Some(ts("2027-01-01T06:30:00Z"));
    a.schedule = parse_schedule("mon-fri 07:00-19:00;sat 08:00-12:00;fri 22:00-06:00").unwrap();
    a.relays = vec!["gate".into(), "side".into()];
    let mut b = entry(0, "XYZ9876", ListKind::Deny);
    b.label = "line one\nline two".into();
    let c = entry(0, "BRA2E19", ListKind::Allow);
    let entries = vec![a, b, c];
    let text = to_csv(&entries);
    assert!(text.starts_with("plate,list,label,valid_from,valid_until,schedule,relays\n"));
    assert_eq!(parse_csv(&text, "export.csv").unwrap(), entries);
}

#[test]
fn csv_accepts_hand_written_files() {
    let text = "Plate,List,Label\r\nabc-1234,,Visitor\r\n\r\n xyz 987 ,DENY,\"Banned\"\r\n";
    let entries = parse_csv(text, "hand.csv").unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].plate.as_str(), entries[0].list),
        ("ABC1234", ListKind::Allow)
    );
    assert_eq!(
        (
            entries[1].plate.as_str(),
            entries[1].list,
            entries[1].label.as_str()
        ),
        ("XYZ987", ListKind::Deny, "Banned")
    );
}

fn csv_error(text: &str) -> (usize, String, String) {
    match parse_csv(text, "staff.csv") {
        Err(e @ AccessError::Csv { .. }) => {
            let shown = e.to_string();
            let AccessError::Csv { line, column, .. } = e else {
                unreachable!()
            };
            assert!(
                shown.starts_with(&format!("staff.csv:{line}: column '{column}'")),
                "{shown}"
            );
            (line, column, shown)
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn csv_errors_name_line_and_column() {
    let header = "plate,list,label,valid_from,valid_until,schedule,relays\n";
    let (line, column, shown) = csv_error(&format!(
        "{header}ABC1234,allow,a,,,,\nDEF5678,allow,b,yesterday,,,\n"
    ));
    assert_eq!((line, column.as_str()), (3, "valid_from"));
    assert!(shown.contains("yesterday"), "{shown}");
    // A quoted label spanning two lines moves the next record's line number.
    let (line, column, _) = csv_error(&format!(
        "{header}ABC1234,allow,\"two\nlines\",,,,\nDEF5678,maybe,b,,,,\n"
    ));
    assert_eq!((line, column.as_str()), (4, "list"));
    let (line, column, shown) =
        csv_error(&format!("{header}ABC1234,allow,a,,,mon-fry 07:00-19:00,\n"));
    assert_eq!((line, column.as_str()), (2, "schedule"));
    assert!(shown.contains("fry"), "{shown}");
    let (line, column, _) = csv_error(&format!("{header}ABC1234,allow\nabc 1234,deny\n"));
    assert_eq!((line, column.as_str()), (3, "plate"));
    let (line, column, _) = csv_error("plate,colour\nABC1234,red\n");
    assert_eq!((line, column.as_str()), (1, "colour"));
    let (line, _, _) = csv_error(&format!("{header}ABC1234,allow,\"open quote,,,,\n"));
    assert_eq!(line, 2);
    let (line, column, _) = csv_error(&format!(
        "{header}ABC1234,allow,a,2027-01-01T00:00:00Z,2026-01-01T00:00:00Z,,\n"
    ));
    assert_eq!((line, column.as_str()), (2, "valid_until"));
}

#[test]
fn csv_file_errors_name_the_file() {
    let missing = std::path::Path::new("/nonexistent/boomgate/allow.csv");
    let e = boomgate::access::read_csv_file(missing).unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/boomgate/allow.csv"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("allow.csv");
    std::fs::write(&path, "plate,list\nABC1234,allow\n").unwrap();
    assert_eq!(boomgate::access::read_csv_file(&path).unwrap().len(), 1);
}
