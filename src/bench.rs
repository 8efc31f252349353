//! `boomgate bench VIDEO`: the numbers of BENCHMARKS.md, measured in one run on one file:
//! decode-only fps, detector ms, OCR ms per plate, full-pipeline fps with per-stage ms,
//! frame-to-relay latency and peak RSS. Prints the goals as ratios, never asserts.

use crate::access::{site_time_zone, AccessPolicy, Action};
use crate::cli::{ExitKind, Failure};
use crate::config::{Config, RelayDriver};
use crate::inference::{Recognizer, Runtime};
use crate::relay::{relay_log_channel, PulseOutcome, RelayController, RelayPulse, SystemLines};
use crate::tracker::{PlateFormats, Tracker};
use crate::video::{decode_benchmark, decode_file};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A `/proc/self/status` memory field (`VmHWM`, `VmRSS`, `RssAnon`, `RssFile`), MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Peak resident set size of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM")
}

/// One line of where the memory is at a point of the run: resident now (anonymous + mapped
/// files) and the peak so far.
fn memory_line(when: &str) {
    let f = |field| status_mib(field).unwrap_or(f64::NAN);
    println!(
        "memory {when}: resident {:.1} MiB (anonymous {:.1}, files {:.1}), peak {:.1} MiB",
        f("VmRSS"),
        f("RssAnon"),
        f("RssFile"),
        f("VmHWM")
    );
}

pub fn run(config: &Config, video: &Path, allow_csv: Option<&Path>) -> Result<ExitCode, Failure> {
    let decoder = config
        .cameras
        .first()
        .map(|c| c.decoder)
        .unwrap_or_default();
    println!("boomgate bench on {}", video.display());

    // 1. Decode only, same GStreamer pipeline as the camera stage.
    let (frames, secs) = decode_benchmark(video, decoder)?;
    let decode_fps = frames as f64 / secs.max(1e-9);
    println!("decode-only: {frames} frames in {secs:.2} s = {decode_fps:.1} fps");
    memory_line("after decode-only");

    // 2. Full pipeline: decode → detect → read → track → decide → relay (simulated line).
    let runtime = Runtime::load(&config.runtime)?;
    let mut recognizer = Recognizer::load(&runtime, config)?;
    memory_line("with models loaded");
    let formats = PlateFormats::from_settings(&config.formats)
        .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
    let mut tracker = Tracker::new("bench", &config.tracker, formats);
    let mut filter = crate::pipeline::ReadFilter::new();
    let mut settled = crate::pipeline::SettledPlates::default();
    let entries = match allow_csv {
        Some(p) => crate::access::read_csv_file(p)
            .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?,
        None => Vec::new(),
    };
    let policy = AccessPolicy::new(entries, &config.access, site_time_zone(&config.site));
    let mut relays_cfg = config.relays.clone();
    for r in &mut relays_cfg {
        r.driver = RelayDriver::Simulated;
        r.transitions_file = None;
        r.cooldown_ms = 0;
    }
    let relay_id = relays_cfg
        .first()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| "gate".into());
    let (log, _log_rx) = relay_log_channel(4096);
    let relays = RelayController::new(&relays_cfg, &SystemLines, log)?;

    let mut detect = Vec::new();
    let mut ocr_per_plate = Vec::new();
    // Per frame: boxes found, boxes read, OCR ms, and the time after recognition (track + decide).
    let (mut boxes_found, mut boxes_read, mut ocr_total_ms, mut after_ms) =
        (0usize, 0usize, 0f64, 0f64);
    let mut per_frame = Vec::new();
    let mut to_relay = Vec::new();
    let mut to_decision = Vec::new();
    let mut reads = 0usize;
    let mut n = 0usize;
    let start = Instant::now();
    for frame in decode_file(video, decoder)? {
        let frame = frame?;
        let t0 = Instant::now();
        settled.update(&tracker);
        let rec = recognizer.recognize_skipping(&frame, None, &|b| settled.skips(&frame, b))?;
        detect.push(rec.detect_ms as f64);
        let read = rec
            .plates
            .iter()
            .filter(|p| !p.text.text.is_empty())
            .count();
        if read > 0 {
            ocr_per_plate.push(rec.ocr_ms as f64 / read as f64);
        }
        boxes_found += rec.plates.len();
        boxes_read += read;
        ocr_total_ms += rec.ocr_ms as f64;
        let t_after = Instant::now();
        for read in tracker.push(&frame, &rec) {
            if !filter.accept(&read, read.frame.pts_ms.unwrap_or(0)) {
                continue;
            }
            reads += 1;
            let decision = policy.decide(
                &read.text,
                read.format.as_deref(),
                Some(&relay_id),
                jiff::Timestamp::now(),
            );
            to_decision.push(read.trigger_captured_mono.elapsed().as_secs_f64() * 1000.0);
            if decision.action == Action::Open {
                relays.release_all();
                let outcome = relays.pulse(RelayPulse {
                    relay: relay_id.clone(),
                    duration_ms: 50,
                    reason: "bench".into(),
                    plate: Some(read.text.clone()),
                    event_id: None,
                });
                if outcome == PulseOutcome::Pulsed {
                    to_relay.push(read.trigger_captured_mono.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        after_ms += t_after.elapsed().as_secs_f64() * 1000.0;
        per_frame.push(t0.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
    let total = start.elapsed().as_secs_f64();
    relays.release_all();
    let full_fps = n as f64 / total.max(1e-9);
    for v in [
        &mut detect,
        &mut ocr_per_plate,
        &mut per_frame,
        &mut to_relay,
        &mut to_decision,
    ] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let det_ms = mean(&detect);
    let ocr_ms = mean(&ocr_per_plate);
    println!(
        "detector: mean {det_ms:.2} ms, p50 {:.2}, p99 {:.2} ({} frames)",
        percentile(&detect, 0.5),
        percentile(&detect, 0.99),
        detect.len()
    );
    println!(
        "ocr per plate: mean {ocr_ms:.2} ms, p50 {:.2}, p99 {:.2} ({} frames with plates)",
        percentile(&ocr_per_plate, 0.5),
        percentile(&ocr_per_plate, 0.99),
        ocr_per_plate.len()
    );
    let per = |v: f64| v / n.max(1) as f64;
    println!(
        "per frame: {:.2} boxes found, {:.2} read (settled tracks skipped), OCR {:.2} ms, track + decide {:.2} ms",
        per(boxes_found as f64),
        per(boxes_read as f64),
        per(ocr_total_ms),
        per(after_ms)
    );
    println!(
        "analysis per frame (detect + read + track + decide): mean {:.2} ms, p99 {:.2}",
        mean(&per_frame),
        percentile(&per_frame, 0.99)
    );
    println!(
        "full pipeline: {n} frames in {total:.2} s = {full_fps:.1} fps; {reads} vehicle reads"
    );
    println!(
        "frame-to-decision: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&to_decision, 0.5),
        percentile(&to_decision, 0.99)
    );
    println!(
        "frame-to-relay: p50 {:.2} ms, p99 {:.2} ms ({} pulses)",
        percentile(&to_relay, 0.5),
        percentile(&to_relay, 0.99),
        to_relay.len()
    );
    memory_line("after the full pipeline");
    let rss = peak_rss_mib().unwrap_or(f64::NAN);
    println!("peak RSS: {rss:.1} MiB");
    let bound = decode_fps.min(1000.0 / det_ms);
    println!("goal full fps >= 0.8 x min(decode fps, 1000/detector ms): ratio {:.2} (full {full_fps:.1} / bound {bound:.1})", full_fps / bound);
    if !to_relay.is_empty() {
        let budget = det_ms + ocr_ms.max(0.0) + 15.0;
        println!("goal frame-to-relay p99 <= detector + OCR + 15 ms: {:.2} ms vs {budget:.2} ms (ratio {:.2})", percentile(&to_relay, 0.99), percentile(&to_relay, 0.99) / budget);
    }
    println!(
        "goal peak RSS <= 150 MB: {rss:.1} MiB (ratio {:.2})",
        rss * 1.048_576 / 150.0
    );
    Ok(ExitCode::SUCCESS)
}
