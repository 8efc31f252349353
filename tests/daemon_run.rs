//! `boomgate run` on generated clips: one event per vehicle pass, the right decisions, relay
//! pulses only for allowed plates with the configured length and cooldown (read back from the
//! simulated pin's transitions), and stored events that survive `kill -9`.
mod common;

use boomgate::store::{EventFilter, Page, Store};
use common::*;
use std::time::Duration;

fn stored_events(data: &std::path::Path) -> Vec<boomgate::store::Event> {
    let store = Store::open(data).expect("open store");
    let mut events = store
        .events_query(
            &EventFilter::default(),
            &Page {
                limit: 1000,
                before: None,
            },
        )
        .expect("query");
    events.sort_by_key(|e| e.captured_at);
    events
}

#[test]
fn one_event_per_pass_right_decisions_and_pulses() {
    let (clip, truth) = clip(&[
        "--plates",
        "ABC1234:br-old,7KTR481:us,BRA2E19:br-mercosul",
        "--seed",
        "21",
        "--long-wait",
        "1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let allow = write(dir.path(), "allow.csv", "plate,list,label,valid_from,valid_until,schedule,relays\nABC1234,allow,staff,,,,\nBRA2E19,allow,visitor,,,,\n");
    let cfg = gate_config(
        dir.path(),
        &format!("file://{}", clip.display()),
        false,
        Some(&allow),
        "",
    );
    let mut d = Daemon::start(&cfg);
    let code = d.wait_exit(Duration::from_secs(180));
    assert_eq!(
        code,
        Some(0),
        "daemon stops when the clip ends: {}",
        d.log()
    );

    let events = stored_events(&dir.path().join("data"));
    let plates: Vec<&str> = events.iter().map(|e| e.plate.as_str()).collect();
    let want: Vec<&str> = truth.vehicles.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(
        plates, want,
        "exactly one event per vehicle pass (one car waited 8 s)"
    );
    let decisions: Vec<String> = events
        .iter()
        .map(|e| format!("{:?}", e.decision.action))
        .collect();
    assert_eq!(decisions, ["Open", "Deny", "Open"]);
    assert_eq!(events[1].decision.reason, "not_listed");
    assert_eq!(
        events[0].decision.matched_entry.as_ref().unwrap().label,
        "staff"
    );
    for e in &events {
        assert!(e.crop_url.is_some(), "crop saved for {}", e.plate);
        assert_eq!(e.site, "test");
        assert_eq!(e.camera, "lane");
    }

    let t = transitions(&dir.path().join("transitions.jsonl"));
    assert!(
        !t[0].0,
        "first transition drives the relay inactive at start: {t:?}"
    );
    assert!(!t.last().unwrap().0, "relay inactive at the end: {t:?}");
    let pulses = pulse_lengths_ms(&t);
    assert_eq!(
        pulses.len(),
        2,
        "pulses only for the two allowed plates: {t:?}"
    );
    for p in pulses {
        assert!(
            (380.0..700.0).contains(&p),
            "pulse of {p} ms, configured 400 ms"
        );
    }
}

#[test]
fn same_car_twice_within_cooldown_opens_once() {
    let (clip, truth) = clip(&[
        "--plates",
        "ABC1234:br-old,ABC1234:br-old",
        "--seed",
        "22",
        "--gap-s",
        "3",
    ]);
    assert_eq!(truth.vehicles.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let allow = write(
        dir.path(),
        "allow.csv",
        "plate,list,label,valid_from,valid_until,schedule,relays\nABC1234,allow,staff,,,,\n",
    );
    let cfg = gate_config(
        dir.path(),
        &format!("file://{}", clip.display()),
        false,
        Some(&allow),
        "",
    );
    let mut d = Daemon::start(&cfg);
    assert_eq!(
        d.wait_exit(Duration::from_secs(180)),
        Some(0),
        "{}",
        d.log()
    );
    let events = stored_events(&dir.path().join("data"));
    let decisions: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.plate.clone(), e.decision.reason.clone()))
        .collect();
    assert_eq!(
        decisions,
        [
            ("ABC1234".to_string(), "allow_list".to_string()),
            ("ABC1234".to_string(), "cooldown".to_string())
        ]
    );
    assert_eq!(
        pulse_lengths_ms(&transitions(&dir.path().join("transitions.jsonl"))).len(),
        1
    );
}

#[test]
fn events_reported_stored_survive_kill_9_and_relays_start_inactive() {
    let (clip, _) = clip(&[
        "--plates",
        "ABC1234:br-old,7KTR481:us",
        "--seed",
        "23",
        "--wait-s",
        "1",
        "--gap-s",
        "0.5",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let allow = write(
        dir.path(),
        "allow.csv",
        "plate,list,label,valid_from,valid_until,schedule,relays\nABC1234,allow,staff,,,,\n",
    );
    let cfg = gate_config(
        dir.path(),
        &format!("file://{}", clip.display()),
        true,
        Some(&allow),
        "",
    );
    let mut d = Daemon::start(&cfg);
    let stored = |l: &str| l.matches("event stored").count();
    assert!(
        d.wait_log(Duration::from_secs(120), |l| stored(l) >= 3),
        "{}",
        d.log()
    );
    d.kill9();
    let log = d.log();
    let ids: Vec<String> = log
        .lines()
        .filter(|l| l.contains("event stored"))
        .filter_map(|l| l.split("event_id=").nth(1))
        .map(|s| {
            s.split_whitespace()
                .next()
                .unwrap()
                .trim_matches('"')
                .to_string()
        })
        .collect();
    assert!(ids.len() >= 3, "{log}");
    let events = stored_events(&dir.path().join("data"));
    for id in &ids {
        assert!(
            events.iter().any(|e| &e.event_id == id),
            "event {id} was reported stored but is gone after kill -9"
        );
    }
    // Restart: the relay is driven inactive before anything else.
    let before = transitions(&dir.path().join("transitions.jsonl")).len();
    let mut d2 = Daemon::start(&cfg);
    assert!(
        d2.wait_log(Duration::from_secs(60), |l| l.contains("boomgate ready")),
        "{}",
        d2.log()
    );
    assert_eq!(d2.terminate(), Some(0));
    let t = transitions(&dir.path().join("transitions.jsonl"));
    assert!(
        t.len() > before && !t[before].0,
        "first transition after restart is inactive: {:?}",
        &t[before..]
    );
}
