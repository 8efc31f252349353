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
    pub state: Mutex<CameraState>,
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

    pub fn state(&self) -> CameraState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_state(&self, state: CameraState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
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
                    state: Mutex::new(CameraState::Starting),
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
    /// (nothing more to deliver). The rule behind both the systemd watchdog and `/healthz`.
    pub fn stalled_cameras(
        &self,
        cameras: &[crate::config::CameraSettings],
        now_ms: i64,
    ) -> Vec<String> {
        let mut stalled = Vec::new();
        for camera in cameras {
            let stats = self.camera(&camera.id);
            let state = stats.state();
            if state == CameraState::Ended {
                continue;
            }
            let last = stats.last_frame_unix_ms.load(Ordering::Relaxed);
            let age_s = (now_ms - last).max(0) / 1000;
            if last <= 0 {
                stalled.push(format!(
                    "camera '{}' ({}): no frame yet",
                    camera.id,
                    state.label()
                ));
            } else if now_ms - last > camera.frame_timeout_s as i64 * 1000 {
                stalled.push(format!(
                    "camera '{}' ({}): no frame for {age_s} s",
                    camera.id,
                    state.label()
                ));
            }
        }
        stalled
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
