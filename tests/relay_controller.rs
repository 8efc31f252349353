//! Relay controller on simulated pins: what the barrier would see (line transitions) and what
//! the relay log says.

use boomgate::config::{RelayDriver, RelaySettings};
use boomgate::relay::{
    pulse_once, pulses_of, read_transitions_file, relay_log_channel, PulseOutcome, RelayController,
    RelayError, RelayPulse, RelayState, SimulatedLines, SystemLines,
};
use std::time::{Duration, Instant};

fn relay(id: &str) -> RelaySettings {
    RelaySettings {
        id: id.into(),
        pulse_ms: 120,
        max_pulse_ms: 500,
        cooldown_ms: 300,
        ..RelaySettings::default()
    }
}

fn pulse(relay: &str, ms: u32) -> RelayPulse {
    RelayPulse {
        relay: relay.into(),
        duration_ms: ms,
        reason: "test".into(),
        plate: Some("ABC123".into()),
        event_id: None,
    }
}

/// Waits (bounded) until every relay reports closed.
fn wait_closed(c: &RelayController) {
    let limit = Instant::now() + Duration::from_secs(5);
    while Instant::now() < limit && c.status().iter().any(|(_, s)| *s == RelayState::Open) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn lines_start_inactive_and_pulse_has_requested_length() {
    let lines = SimulatedLines::new();
    let (log, log_rx) = relay_log_channel(64);
    let c = RelayController::new(&[relay("gate"), relay("exit")], &lines, log).expect("controller");
    let t = lines.transitions();
    assert_eq!(t.len(), 2, "one initial write per line: {t:?}");
    assert!(
        t.iter().all(|t| !t.active && t.level == 0),
        "every line starts inactive: {t:?}"
    );
    assert_eq!(
        c.status(),
        vec![
            ("gate".to_string(), RelayState::Closed),
            ("exit".to_string(), RelayState::Closed)
        ]
    );

    assert_eq!(c.pulse(pulse("gate", 200)), PulseOutcome::Pulsed);
    assert_eq!(c.status()[0].1, RelayState::Open);
    wait_closed(&c);
    let pulses = pulses_of(&lines.transitions(), "gate");
    assert_eq!(pulses.len(), 1);
    // Generous: the line must not be released early, and a loaded machine may release late.
    assert!(
        pulses[0].1 >= 199.0 && pulses[0].1 < 1500.0,
        "pulse length {} ms",
        pulses[0].1
    );
    assert!(
        pulses_of(&lines.transitions(), "exit").is_empty(),
        "the other relay never moved"
    );

    let entry = log_rx.try_recv().expect("log entry");
    assert_eq!(
        (entry.relay.as_str(), entry.duration_ms, entry.outcome),
        ("gate", 200, PulseOutcome::Pulsed)
    );
    assert_eq!(entry.plate.as_deref(), Some("ABC123"));
}

#[test]
fn zero_length_means_default_and_active_low_inverts_level() {
    let lines = SimulatedLines::new();
    let (log, _rx) = relay_log_channel(8);
    let settings = RelaySettings {
        active_low: true,
        ..relay("gate")
    };
    let c = RelayController::new(&[settings], &lines, log).expect("controller");
    assert_eq!(c.pulse(pulse("gate", 0)), PulseOutcome::Pulsed);
    wait_closed(&c);
    let t = lines.transitions();
    assert_eq!(t[0].level, 1, "active-low line rests high");
    assert!(
        t.iter().any(|t| t.active && t.level == 0),
        "active-low line is pulled low while active: {t:?}"
    );
    let pulses = pulses_of(&t, "gate");
    assert!(
        pulses[0].1 >= 119.0,
        "default pulse_ms 120 used, got {}",
        pulses[0].1
    );
}

#[test]
fn refusals_are_logged_and_do_not_move_the_line() {
    let lines = SimulatedLines::new();
    let (log, log_rx) = relay_log_channel(64);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    assert_eq!(
        c.pulse(pulse("gate", 501)),
        PulseOutcome::OutOfRange,
        "above max_pulse_ms is refused"
    );
    assert_eq!(c.pulse(pulse("nope", 100)), PulseOutcome::UnknownRelay);
    assert_eq!(c.pulse(pulse("gate", 150)), PulseOutcome::Pulsed);
    assert_eq!(
        c.pulse(pulse("gate", 150)),
        PulseOutcome::AlreadyOpen,
        "no extension while open"
    );
    wait_closed(&c);
    assert_eq!(
        c.pulse(pulse("gate", 150)),
        PulseOutcome::Cooldown,
        "cooldown after release"
    );
    assert_eq!(
        pulses_of(&lines.transitions(), "gate").len(),
        1,
        "only one pulse reached the line"
    );
    let outcomes: Vec<PulseOutcome> = log_rx.try_iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            PulseOutcome::OutOfRange,
            PulseOutcome::UnknownRelay,
            PulseOutcome::Pulsed,
            PulseOutcome::AlreadyOpen,
            PulseOutcome::Cooldown
        ]
    );
}

#[test]
fn cooldown_expires_and_gap_is_respected() {
    let lines = SimulatedLines::new();
    let (log, _rx) = relay_log_channel(64);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    assert_eq!(c.pulse(pulse("gate", 100)), PulseOutcome::Pulsed);
    wait_closed(&c);
    let limit = Instant::now() + Duration::from_secs(5);
    let mut second = PulseOutcome::Cooldown;
    while second == PulseOutcome::Cooldown && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(20));
        second = c.pulse(pulse("gate", 100));
    }
    assert_eq!(second, PulseOutcome::Pulsed);
    wait_closed(&c);
    let t = lines.transitions();
    let ends: Vec<u64> = t.iter().filter(|t| !t.active).map(|t| t.mono_ns).collect();
    let starts: Vec<u64> = t.iter().filter(|t| t.active).map(|t| t.mono_ns).collect();
    assert_eq!(starts.len(), 2);
    // ends[0] is the initial write; ends[1] the first release.
    let gap_ms = (starts[1] - ends[1]) as f64 / 1e6;
    assert!(
        gap_ms >= 299.0,
        "second pulse {gap_ms} ms after the first release, cooldown 300 ms"
    );
}

#[test]
fn drop_and_shutdown_release_the_line() {
    let lines = SimulatedLines::new();
    let (log, log_rx) = relay_log_channel(64);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    assert_eq!(c.pulse(pulse("gate", 500)), PulseOutcome::Pulsed);
    drop(c);
    let t = lines.transitions();
    let last = t.last().expect("transitions");
    assert!(!last.active, "line inactive after drop: {t:?}");
    let pulses = pulses_of(&t, "gate");
    assert!(
        pulses[0].1 < 450.0,
        "pulse cut short by drop, lasted {} ms",
        pulses[0].1
    );
    let outcomes: Vec<PulseOutcome> = log_rx.try_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, vec![PulseOutcome::Pulsed, PulseOutcome::Released]);

    let (log, _rx) = relay_log_channel(8);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    c.shutdown();
    assert_eq!(c.pulse(pulse("gate", 100)), PulseOutcome::Stopped);
}

#[test]
fn release_all_cuts_pulses_and_subscribers_see_changes() {
    let lines = SimulatedLines::new();
    let (log, _rx) = relay_log_channel(64);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    let mut changes = c.subscribe();
    assert_eq!(c.pulse(pulse("gate", 500)), PulseOutcome::Pulsed);
    c.release_all();
    assert_eq!(c.status()[0].1, RelayState::Closed);
    let a = changes.try_recv().expect("open change");
    let b = changes.try_recv().expect("closed change");
    assert_eq!((a.state, b.state), (RelayState::Open, RelayState::Closed));
}

#[test]
fn full_log_channel_never_blocks_and_counts_drops() {
    let lines = SimulatedLines::new();
    let (log, _rx) = relay_log_channel(1);
    let c = RelayController::new(&[relay("gate")], &lines, log).expect("controller");
    for _ in 0..5 {
        c.pulse(pulse("gate", 9999));
    }
    assert_eq!(c.log_dropped(), 4);
}

#[test]
fn transitions_file_and_pulse_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sub/relay.jsonl");
    let settings = RelaySettings {
        transitions_file: Some(file.clone()),
        ..relay("gate")
    };
    let outcome =
        pulse_once(&[settings.clone()], "gate", Some(150), &SystemLines).expect("pulse_once");
    assert_eq!(outcome, PulseOutcome::Pulsed);
    let t = read_transitions_file(&file).expect("read transitions");
    let pulses = pulses_of(&t, "gate");
    assert_eq!(pulses.len(), 1, "{t:?}");
    assert!(
        pulses[0].1 >= 149.0 && pulses[0].1 < 1500.0,
        "pulse length {}",
        pulses[0].1
    );
    assert!(!t.last().expect("last").active);

    let raw = std::fs::read_to_string(&file).expect("file");
    let first: serde_json::Value =
        serde_json::from_str(raw.lines().next().expect("line")).expect("json");
    for key in ["relay", "level", "active", "mono_ns", "at"] {
        assert!(
            first.get(key).is_some(),
            "transition line has `{key}`: {first}"
        );
    }

    let err = pulse_once(&[settings], "other", None, &SystemLines).expect_err("unknown relay");
    assert!(err.to_string().contains("other"), "{err}");
}

#[test]
fn missing_gpio_chip_is_an_error_naming_it() {
    let settings = RelaySettings {
        driver: RelayDriver::Gpio,
        chip: Some("gpiochip-does-not-exist".into()),
        line: Some(17),
        ..relay("gate")
    };
    let (log, _rx) = relay_log_channel(8);
    let err = RelayController::new(&[settings], &SystemLines, log)
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("/dev/gpiochip-does-not-exist") && msg.contains("gate"),
        "{msg}"
    );

    let settings = RelaySettings {
        driver: RelayDriver::Gpio,
        line_name: Some("NO_SUCH_LINE_XYZ".into()),
        ..relay("gate")
    };
    let (log, _rx) = relay_log_channel(8);
    let err = RelayController::new(&[settings], &SystemLines, log)
        .err()
        .expect("must fail");
    assert!(matches!(err, RelayError::LineNotFound { .. }), "{err}");
    assert!(err.to_string().contains("NO_SUCH_LINE_XYZ"), "{err}");
}

/// A line whose driver refuses to go active (e.g. the GPIO line was reconfigured under us).
struct StuckLine {
    writes: std::sync::Arc<std::sync::Mutex<Vec<bool>>>,
}

impl boomgate::relay::RelayLine for StuckLine {
    fn set_active(&mut self, active: bool) -> Result<(), RelayError> {
        self.writes.lock().expect("lock").push(active);
        if active {
            Err(RelayError::Drive {
                relay: "gate".into(),
                level: "high",
                detail: "EIO".into(),
            })
        } else {
            Ok(())
        }
    }

    fn describe(&self) -> String {
        "stuck".into()
    }
}

struct StuckLines(std::sync::Arc<std::sync::Mutex<Vec<bool>>>);

impl boomgate::relay::LineFactory for StuckLines {
    fn open(
        &self,
        _settings: &RelaySettings,
    ) -> Result<Box<dyn boomgate::relay::RelayLine>, RelayError> {
        Ok(Box::new(StuckLine {
            writes: self.0.clone(),
        }))
    }
}

#[test]
fn failed_drive_is_reported_and_line_left_inactive() {
    let writes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (log, log_rx) = relay_log_channel(8);
    let c = RelayController::new(&[relay("gate")], &StuckLines(writes.clone()), log)
        .expect("controller");
    assert_eq!(c.pulse(pulse("gate", 100)), PulseOutcome::Failed);
    assert_eq!(c.status()[0].1, RelayState::Closed);
    let w = writes.lock().expect("lock").clone();
    assert_eq!(w.first(), Some(&false), "driven inactive at start");
    assert_eq!(
        w.last(),
        Some(&false),
        "driven inactive after the failed write: {w:?}"
    );
    assert_eq!(
        log_rx.try_recv().expect("log").outcome,
        PulseOutcome::Failed
    );
}
