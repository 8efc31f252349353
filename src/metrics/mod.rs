//! Counters, gauges and latency histograms shared by every stage; read by `/metrics`, the status
//! page and MQTT `status`. Updates are lock-free atomics except per-camera state.

use crate::video::CameraState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Fixed-bucket latency histogram in milliseconds.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    /// Sum in microseconds.
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// Bucket upper bounds (ms) for stage latencies.
pub const LATENCY_BUCKETS_MS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        if let Some(i) = self.bounds.iter().position(|b| ms <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us
            .fetch_add((ms * 1000.0) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// `(upper bound, cumulative count)` pairs, then the total count and the sum in ms.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                cumulative += c.load(Ordering::Relaxed);
                (*b, cumulative)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            count: self.count.load(Ordering::Relaxed),
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_ms: f64,
}

impl HistogramSnapshot {
    pub fn mean_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ms / self.count as f64)
    }
}

/// Longest a reconnect attempt may take without reporting (rtspsrc's 20 s TCP timeout plus the
/// 30 s backoff cap, with margin), on top of the camera's `frame_timeout_s`.
pub const RECONNECT_PROGRESS_S: i64 = 60;

/// See [`Metrics::stuck_cameras`].
const STREAM_RESTART_SLACK_MS: i64 = 5_000;
/// Old pipelines that may hang in their stop before the daemon counts as stuck (each holds its
/// threads and buffers; a restart frees them).
pub const MAX_TEARDOWNS_HUNG: usize = 3;
/// A stop still running after this long is hung, not slow: rtspsrc gives up on an unanswered
/// request after 20 s, and a loaded emulated board has been seen to need more.
pub const TEARDOWN_HUNG_S: i64 = 120;

/// Per-camera figures.
pub struct CameraStats {
    pub id: String,
    /// Frames decoded by the camera pipeline.
    pub frames_decoded: AtomicU64,
    /// Frames the analysis took.
    pub frames_analysed: AtomicU64,
    /// Frames replaced in the newest-frame slot before analysis took them.
    pub frames_dropped: AtomicU64,
    /// Analysed frames per second over the last few seconds (f32 bits).
    fps_bits: AtomicU32,
    /// Unix ms of the last analysed frame; 0 before the first.
    pub last_frame_unix_ms: AtomicI64,
    /// Unix ms of the last frame out of the decoder; 0 before the first.
    pub last_decoded_unix_ms: AtomicI64,
    /// Old pipelines still being stopped in the background after a failure: when each stop
    /// began (unix ms).
    teardowns: Mutex<Vec<i64>>,
    pub state: Mutex<CameraState>,
    /// Unix ms of the last state report (every reconnect attempt is one).
    state_since_unix_ms: AtomicI64,
    /// Small JPEG of the last analysed frame, for the status page.
    pub thumbnail_jpeg: Mutex<Option<Arc<Vec<u8>>>>,
}

impl CameraStats {
    pub fn fps(&self) -> f32 {
        f32::from_bits(self.fps_bits.load(Ordering::Relaxed))
    }

    pub fn set_fps(&self, fps: f32) {
        self.fps_bits.store(fps.to_bits(), Ordering::Relaxed);
    }

    /// Records that an old pipeline's stop began; pass the result to
    /// [`CameraStats::teardown_done`] when it returns.
    pub fn teardown_started(&self) -> i64 {
        let now = jiff::Timestamp::now().as_millisecond();
        self.teardowns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(now);
        now
    }

    pub fn teardown_done(&self, started: i64) {
        let mut t = self.teardowns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = t.iter().position(|&s| s == started) {
            t.swap_remove(i);
        }
    }

    /// Stops still running that began more than `age_ms` before `now_ms`.
    pub fn teardowns_older_than(&self, now_ms: i64, age_ms: i64) -> usize {
        self.teardowns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|&&s| now_ms - s > age_ms)
            .count()
    }

    pub fn state(&self) -> CameraState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_state(&self, state: CameraState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
        self.state_since_unix_ms
            .store(jiff::Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }
}

/// Everything measured by the daemon.
pub struct Metrics {
    cameras: Mutex<BTreeMap<String, Arc<CameraStats>>>,
    pub detect_ms: Histogram,
    pub ocr_ms: Histogram,
    pub frame_to_decision_ms: Histogram,
    pub frame_to_relay_ms: Histogram,
    /// Single-frame plate reads.
    pub plate_reads: AtomicU64,
    /// Events (one per vehicle pass) by decision.
    pub decisions_open: AtomicU64,
    pub decisions_deny: AtomicU64,
    pub decisions_ignore: AtomicU64,
    pub relay_pulses: AtomicU64,
    pub events_stored: AtomicU64,
    pub store_errors: AtomicU64,
    /// Events waiting for the store writer.
    pub store_queue_depth: AtomicI64,
    /// Rows not yet delivered to every channel, and the age of the oldest (s).
    pub outbox_depth: AtomicU64,
    pub outbox_oldest_age_s: AtomicU64,
    pub mqtt_connected: AtomicBool,
    pub mqtt_connect_failures: AtomicU64,
    pub mqtt_published: AtomicU64,
    /// Bytes used by the data folder and free on its file system.
    pub disk_used_bytes: AtomicU64,
    pub disk_free_bytes: AtomicU64,
    pub started_unix_ms: i64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            cameras: Mutex::new(BTreeMap::new()),
            detect_ms: Histogram::new(LATENCY_BUCKETS_MS),
            ocr_ms: Histogram::new(LATENCY_BUCKETS_MS),
            frame_to_decision_ms: Histogram::new(LATENCY_BUCKETS_MS),
            frame_to_relay_ms: Histogram::new(LATENCY_BUCKETS_MS),
            plate_reads: AtomicU64::new(0),
            decisions_open: AtomicU64::new(0),
            decisions_deny: AtomicU64::new(0),
            decisions_ignore: AtomicU64::new(0),
            relay_pulses: AtomicU64::new(0),
            events_stored: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            store_queue_depth: AtomicI64::new(0),
            outbox_depth: AtomicU64::new(0),
            outbox_oldest_age_s: AtomicU64::new(0),
            mqtt_connected: AtomicBool::new(false),
            mqtt_connect_failures: AtomicU64::new(0),
            mqtt_published: AtomicU64::new(0),
            disk_used_bytes: AtomicU64::new(0),
            disk_free_bytes: AtomicU64::new(0),
            started_unix_ms: jiff::Timestamp::now().as_millisecond(),
        }
    }

    /// The stats of camera `id`, created on first use.
    pub fn camera(&self, id: &str) -> Arc<CameraStats> {
        let mut cams = self.cameras.lock().unwrap_or_else(|e| e.into_inner());
        cams.entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(CameraStats {
                    id: id.to_string(),
                    frames_decoded: AtomicU64::new(0),
                    frames_analysed: AtomicU64::new(0),
                    frames_dropped: AtomicU64::new(0),
                    fps_bits: AtomicU32::new(0f32.to_bits()),
                    last_frame_unix_ms: AtomicI64::new(0),
                    last_decoded_unix_ms: AtomicI64::new(0),
                    teardowns: Mutex::new(Vec::new()),
                    state: Mutex::new(CameraState::Starting),
                    state_since_unix_ms: AtomicI64::new(jiff::Timestamp::now().as_millisecond()),
                    thumbnail_jpeg: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Mean stage latencies in ms (`null` before the first sample), for `status` payloads.
    pub fn mean_latencies_ms(&self) -> serde_json::Value {
        serde_json::json!({
            "detect": self.detect_ms.snapshot().mean_ms(),
            "ocr": self.ocr_ms.snapshot().mean_ms(),
            "frame_to_decision": self.frame_to_decision_ms.snapshot().mean_ms(),
            "frame_to_relay": self.frame_to_relay_ms.snapshot().mean_ms(),
        })
    }

    /// Cameras that delivered no frame within their `frame_timeout_s`, each as a line naming
    /// the camera, its state and for how long. File cameras that ended count as healthy
    /// (nothing more to deliver). The rule behind `/healthz`: an operator sees a camera that is
    /// down or unreachable.
    pub fn stalled_cameras(
        &self,
        cameras: &[crate::config::CameraSettings],
        now_ms: i64,
    ) -> Vec<String> {
        self.camera_problems(cameras, |camera, stats, state| {
            if state == CameraState::Ended {
                return None;
            }
            let last = stats.last_frame_unix_ms.load(Ordering::Relaxed);
            let age_s = (now_ms - last).max(0) / 1000;
            if last <= 0 {
                Some(format!(
                    "camera '{}' ({}): no frame yet",
                    camera.id,
                    state.label()
                ))
            } else if now_ms - last > camera.frame_timeout_s as i64 * 1000 {
                Some(format!(
                    "camera '{}' ({}): no frame for {age_s} s",
                    camera.id,
                    state.label()
                ))
            } else {
                None
            }
        })
    }

    /// Cameras whose pipeline or analysis is stuck: streaming but no frame analysed within
    /// `analysis_timeout_s` or none decoded within `frame_timeout_s` (the supervisor did not
    /// reconnect), [`MAX_TEARDOWNS_HUNG`] old pipelines not stopped after [`TEARDOWN_HUNG_S`], or
    /// starting or
    /// reconnecting without any progress (a new attempt, a frame) for `frame_timeout_s` plus
    /// [`RECONNECT_PROGRESS_S`]. A camera that is merely unreachable keeps reporting reconnect
    /// attempts and is not stuck: restarting the daemon would not bring it back and would stop
    /// the gate on every other lane. The rule behind the systemd watchdog.
    pub fn stuck_cameras(
        &self,
        cameras: &[crate::config::CameraSettings],
        now_ms: i64,
    ) -> Vec<String> {
        self.camera_problems(cameras, |camera, stats, state| {
            let timeout_ms = camera.frame_timeout_s as i64 * 1000;
            let limit_ms = match state {
                // The supervisor restarts a silent stream at `frame_timeout_s` itself; the slack
                // keeps that restart from reading as stuck.
                CameraState::Streaming { .. } => {
                    (camera.analysis_timeout_s() as i64 * 1000).max(timeout_ms)
                        + STREAM_RESTART_SLACK_MS
                }
                CameraState::Starting | CameraState::Reconnecting { .. } => {
                    timeout_ms + RECONNECT_PROGRESS_S * 1000
                }
                // Nothing left to wait for: restarting would not change these.
                CameraState::Failed { .. } | CameraState::Ended | CameraState::Stopped => {
                    return None
                }
            };
            let since = stats.state_since_unix_ms.load(Ordering::Relaxed);
            let progress = stats.last_frame_unix_ms.load(Ordering::Relaxed).max(since);
            let decoded = stats
                .last_decoded_unix_ms
                .load(Ordering::Relaxed)
                .max(since);
            let hung = stats.teardowns_older_than(now_ms, TEARDOWN_HUNG_S * 1000);
            if now_ms - progress > limit_ms {
                Some(format!(
                    "camera '{}' ({}): no progress for {} s",
                    camera.id,
                    state.label(),
                    (now_ms - progress) / 1000
                ))
            } else if matches!(state, CameraState::Streaming { .. })
                && now_ms - decoded > timeout_ms + STREAM_RESTART_SLACK_MS
            {
                // The supervisor reconnects a silent stream at `frame_timeout_s`; it did not.
                Some(format!(
                    "camera '{}' (streaming): no frame decoded for {} s and no reconnect",
                    camera.id,
                    (now_ms - decoded) / 1000
                ))
            } else if hung >= MAX_TEARDOWNS_HUNG {
                Some(format!(
                    "camera '{}': {hung} old pipelines not stopped after {TEARDOWN_HUNG_S} s",
                    camera.id
                ))
            } else {
                None
            }
        })
    }

    /// One line per configured camera that `rule` finds a problem with, in config order.
    fn camera_problems(
        &self,
        cameras: &[crate::config::CameraSettings],
        rule: impl Fn(&crate::config::CameraSettings, &CameraStats, CameraState) -> Option<String>,
    ) -> Vec<String> {
        cameras
            .iter()
            .filter_map(|camera| {
                let stats = self.camera(&camera.id);
                let state = stats.state();
                rule(camera, &stats, state)
            })
            .collect()
    }

    /// All cameras, by id.
    pub fn cameras(&self) -> Vec<Arc<CameraStats>> {
        self.cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera_settings(id: &str, frame_timeout_s: u32) -> crate::config::CameraSettings {
        crate::config::CameraSettings {
            id: id.into(),
            frame_timeout_s,
            ..Default::default()
        }
    }

    /// Puts camera `id` in `state` reported `state_age_s` ago, its last frame `frame_age_s` ago.
    fn camera_at(
        m: &Metrics,
        id: &str,
        state: CameraState,
        state_age_s: i64,
        frame_age_s: i64,
        now: i64,
    ) {
        let c = m.camera(id);
        c.set_state(state);
        c.state_since_unix_ms
            .store(now - state_age_s * 1000, Ordering::Relaxed);
        c.last_frame_unix_ms
            .store(now - frame_age_s * 1000, Ordering::Relaxed);
        c.last_decoded_unix_ms
            .store(now - frame_age_s * 1000, Ordering::Relaxed);
    }

    #[test]
    fn only_a_camera_without_progress_is_stuck_but_any_camera_without_frames_is_stalled() {
        let m = Metrics::new();
        let now = jiff::Timestamp::now().as_millisecond();
        let streaming = || CameraState::Streaming {
            decoder: "avdec_h264".into(),
        };
        let reconnecting = || CameraState::Reconnecting {
            attempt: 9,
            retry_in_ms: 2000,
            error: "refused".into(),
        };
        camera_at(&m, "flowing", streaming(), 600, 1, now);
        // Streaming, but frames stopped reaching the analysis: a hung pipeline or analysis.
        camera_at(&m, "hung", streaming(), 600, 60, now);
        // Unreachable, its supervisor retrying every few seconds.
        camera_at(&m, "unplugged", reconnecting(), 2, 600, now);
        // A supervisor that stopped reporting attempts.
        camera_at(
            &m,
            "wedged",
            reconnecting(),
            15 + RECONNECT_PROGRESS_S + 5,
            600,
            now,
        );
        camera_at(
            &m,
            "bad-device",
            CameraState::Failed {
                error: "no /dev/video9".into(),
            },
            600,
            600,
            now,
        );
        // An emulated board that takes a minute per frame, and says so.
        camera_at(&m, "slow-board", streaming(), 600, 60, now);
        m.camera("slow-board")
            .last_decoded_unix_ms
            .store(now - 1000, Ordering::Relaxed);
        // Its decoder stopped 40 s ago and the supervisor never reconnected.
        camera_at(&m, "frozen", streaming(), 600, 20, now);
        m.camera("frozen")
            .last_decoded_unix_ms
            .store(now - 40_000, Ordering::Relaxed);
        camera_at(&m, "leaking", reconnecting(), 2, 600, now);
        let stops_begun = |id: &str, n: usize, age_s: i64| {
            m.camera(id)
                .teardowns
                .lock()
                .unwrap()
                .extend(std::iter::repeat_n(now - age_s * 1000, n));
        };
        stops_begun("leaking", MAX_TEARDOWNS_HUNG, TEARDOWN_HUNG_S + 1);
        // Many slow stops on a loaded board, none of them hung yet; one that is hung.
        stops_begun("flowing", 10, TEARDOWN_HUNG_S - 1);
        stops_begun("flowing", 1, TEARDOWN_HUNG_S + 1);
        let mut cams: Vec<_> = [
            "flowing",
            "hung",
            "unplugged",
            "wedged",
            "bad-device",
            "slow-board",
            "frozen",
            "leaking",
        ]
        .iter()
        .map(|id| camera_settings(id, 15))
        .collect();
        cams[5].analysis_timeout_s = 300;
        cams[6].analysis_timeout_s = 300;
        let named = |lines: Vec<String>| -> Vec<String> {
            lines
                .iter()
                .map(|l| l.split('\'').nth(1).unwrap().to_string())
                .collect()
        };
        assert_eq!(
            named(m.stuck_cameras(&cams, now)),
            ["hung", "wedged", "frozen", "leaking"]
        );
        assert_eq!(
            named(m.stalled_cameras(&cams, now)),
            [
                "hung",
                "unplugged",
                "wedged",
                "bad-device",
                "slow-board",
                "frozen",
                "leaking"
            ]
        );
    }

    #[test]
    fn histogram_counts_cumulatively() {
        let h = Histogram::new(LATENCY_BUCKETS_MS);
        h.observe(0.5);
        h.observe(3.0);
        h.observe(3.0);
        h.observe(10_000.0);
        let s = h.snapshot();
        assert_eq!(s.buckets[0], (1.0, 1));
        assert_eq!(s.buckets[2], (5.0, 3));
        assert_eq!(s.count, 4);
        assert_eq!(
            s.buckets.last().unwrap().1,
            3,
            "10 s is above the last bucket (only +Inf)"
        );
    }
}
