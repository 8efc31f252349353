//! `/metrics` in the Prometheus text exposition format (version 0.0.4); every name starts with
//! `boomgate_`.

use crate::metrics::{HistogramSnapshot, Metrics};
use crate::relay::{RelayController, RelayState};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Label values are escaped as the format requires (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    head(out, name, "histogram", help);
    for (le_ms, n) in &h.buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {n}", le_ms / 1000.0);
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_ms / 1000.0);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// The whole exposition. `outbox` is (depth, oldest age in s) read from the store just now.
pub fn render(metrics: &Metrics, relays: &RelayController, outbox: Option<(u64, f64)>) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let cams = metrics.cameras();
    let per_camera = |out: &mut String,
                      name: &str,
                      kind: &str,
                      help: &str,
                      f: &dyn Fn(&crate::metrics::CameraStats) -> String| {
        head(out, name, kind, help);
        for c in &cams {
            let _ = writeln!(out, "{name}{{camera=\"{}\"}} {}", label(&c.id), f(c));
        }
    };
    per_camera(
        &mut out,
        "boomgate_frames_decoded_total",
        "counter",
        "Frames decoded per camera.",
        &|c| c.frames_decoded.load(Ordering::Relaxed).to_string(),
    );
    per_camera(
        &mut out,
        "boomgate_frames_analysed_total",
        "counter",
        "Frames run through detection per camera.",
        &|c| c.frames_analysed.load(Ordering::Relaxed).to_string(),
    );
    per_camera(
        &mut out,
        "boomgate_frames_dropped_total",
        "counter",
        "Frames replaced by a newer one before analysis.",
        &|c| c.frames_dropped.load(Ordering::Relaxed).to_string(),
    );
    per_camera(
        &mut out,
        "boomgate_camera_fps",
        "gauge",
        "Analysed frames per second.",
        &|c| format!("{}", c.fps()),
    );
    per_camera(
        &mut out,
        "boomgate_camera_streaming",
        "gauge",
        "1 while frames flow from the camera.",
        &|c| {
            u8::from(matches!(
                c.state(),
                crate::video::CameraState::Streaming { .. }
            ))
            .to_string()
        },
    );

    let counter = |out: &mut String, name: &str, help: &str, v: u64| {
        head(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    };
    let gauge = |out: &mut String, name: &str, help: &str, v: String| {
        head(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {v}");
    };
    counter(
        &mut out,
        "boomgate_plate_reads_total",
        "Single-frame plate reads.",
        metrics.plate_reads.load(Ordering::Relaxed),
    );
    head(
        &mut out,
        "boomgate_decisions_total",
        "counter",
        "Vehicle passes by access decision.",
    );
    for (d, v) in [
        ("open", &metrics.decisions_open),
        ("deny", &metrics.decisions_deny),
        ("ignore", &metrics.decisions_ignore),
    ] {
        let _ = writeln!(
            out,
            "boomgate_decisions_total{{decision=\"{d}\"}} {}",
            v.load(Ordering::Relaxed)
        );
    }
    counter(
        &mut out,
        "boomgate_relay_pulses_total",
        "Relay pulses started.",
        metrics.relay_pulses.load(Ordering::Relaxed),
    );
    head(
        &mut out,
        "boomgate_relay_open",
        "gauge",
        "1 while the relay line is active.",
    );
    for (id, st) in relays.status() {
        let _ = writeln!(
            out,
            "boomgate_relay_open{{relay=\"{}\"}} {}",
            label(&id),
            u8::from(st == RelayState::Open)
        );
    }
    counter(
        &mut out,
        "boomgate_events_stored_total",
        "Events committed to the database.",
        metrics.events_stored.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "boomgate_store_errors_total",
        "Failed database writes.",
        metrics.store_errors.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "boomgate_store_queue_depth",
        "Events waiting for the store writer.",
        metrics
            .store_queue_depth
            .load(Ordering::Relaxed)
            .to_string(),
    );
    let (depth, age) = outbox.unwrap_or((
        metrics.outbox_depth.load(Ordering::Relaxed),
        metrics.outbox_oldest_age_s.load(Ordering::Relaxed) as f64,
    ));
    gauge(
        &mut out,
        "boomgate_outbox_depth",
        "Events not yet delivered to every back-office channel.",
        depth.to_string(),
    );
    gauge(
        &mut out,
        "boomgate_outbox_oldest_age_seconds",
        "Age of the oldest undelivered event.",
        format!("{age}"),
    );
    gauge(
        &mut out,
        "boomgate_mqtt_connected",
        "1 while connected to the MQTT broker.",
        u8::from(metrics.mqtt_connected.load(Ordering::Relaxed)).to_string(),
    );
    counter(
        &mut out,
        "boomgate_mqtt_published_total",
        "Events acknowledged by the MQTT broker.",
        metrics.mqtt_published.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "boomgate_mqtt_connect_failures_total",
        "Failed MQTT connection attempts.",
        metrics.mqtt_connect_failures.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "boomgate_disk_used_bytes",
        "Bytes used by the data folder.",
        metrics.disk_used_bytes.load(Ordering::Relaxed).to_string(),
    );
    gauge(
        &mut out,
        "boomgate_disk_free_bytes",
        "Bytes free on the data folder's file system.",
        metrics.disk_free_bytes.load(Ordering::Relaxed).to_string(),
    );
    histogram(
        &mut out,
        "boomgate_detect_seconds",
        "Plate detector latency per frame.",
        &metrics.detect_ms.snapshot(),
    );
    histogram(
        &mut out,
        "boomgate_ocr_seconds",
        "Plate reader latency per frame.",
        &metrics.ocr_ms.snapshot(),
    );
    histogram(
        &mut out,
        "boomgate_frame_to_decision_seconds",
        "Capture of the deciding frame to the access decision.",
        &metrics.frame_to_decision_ms.snapshot(),
    );
    histogram(
        &mut out,
        "boomgate_frame_to_relay_seconds",
        "Capture of the deciding frame to the relay going active.",
        &metrics.frame_to_relay_ms.snapshot(),
    );
    let uptime =
        (jiff::Timestamp::now().as_millisecond() - metrics.started_unix_ms).max(0) as f64 / 1000.0;
    gauge(
        &mut out,
        "boomgate_uptime_seconds",
        "Seconds since the daemon started.",
        format!("{uptime}"),
    );
    head(&mut out, "boomgate_build_info", "gauge", "Daemon version.");
    let _ = writeln!(
        out,
        "boomgate_build_info{{version=\"{}\"}} 1",
        label(crate::VERSION)
    );
    out
}
