//! One analysis lane per camera: newest frame → detector + reader → tracker → access decision →
//! relay pulse → event handed to the store writer. Nothing here waits for disk or network: the
//! policy is an in-memory snapshot, the relay pulse only drives a line, and events go into a
//! bounded queue that sheds (with a counter) when the writer falls behind.

use super::policy::PolicyCell;
use crate::access::{reason, Action, Decision, PlateCooldown};
use crate::config::{CameraSettings, Config};
use crate::inference::Recognizer;
use crate::metrics::Metrics;
use crate::pipeline::ReadFilter;
use crate::relay::{PulseOutcome, RelayController, RelayPulse};
use crate::shutdown::Shutdown;
use crate::store::{Event, RelayAction, StageLatencies, StoreSender};
use crate::tracker::{PlateFormats, PlateRead, Tracker};
use crate::video::{FrameSource, FrameWait};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What every lane shares.
pub struct GateContext {
    pub config: Config,
    pub relays: Arc<RelayController>,
    pub policy: Arc<PolicyCell>,
    /// Same plate on the same relay within `access.plate_cooldown_s` opens once (across cameras).
    pub cooldown: Mutex<PlateCooldown>,
    pub events: StoreSender,
    pub metrics: Arc<Metrics>,
    /// Decided events for the live view, sent before storing so viewers see them at once;
    /// `send` never waits, and costs a clone only while someone listens.
    pub decisions: tokio::sync::broadcast::Sender<Arc<Event>>,
}

/// A running analysis thread.
pub struct GateLane {
    handle: JoinHandle<()>,
}

impl GateLane {
    pub fn spawn(
        ctx: Arc<GateContext>,
        camera: CameraSettings,
        mut source: Box<dyn FrameSource>,
        mut recognizer: Recognizer,
        formats: PlateFormats,
        shutdown: Shutdown,
    ) -> GateLane {
        let handle = std::thread::Builder::new()
            .name(format!("gate-{}", camera.id))
            .spawn(move || {
                let mut tracker = Tracker::new(&camera.id, &ctx.config.tracker, formats);
                let mut filter = ReadFilter::new();
                let started = Instant::now();
                let mut settled = crate::pipeline::SettledPlates::default();
                let mut accept = |read: &PlateRead| {
                    let at = read.trigger_captured_mono.saturating_duration_since(started).as_millis() as u64;
                    filter.accept(read, at)
                };
                loop {
                    if shutdown.is_triggered() {
                        break;
                    }
                    match source.next_frame(Duration::from_millis(250)) {
                        FrameWait::Frame(frame) => {
                            settled.update(&tracker);
                            let rec = match recognizer.recognize_skipping(&frame, camera.roi, &|b| settled.skips(&frame, b)) {
                                Ok(r) => r,
                                Err(e) => {
                                    tracing::error!(camera = %camera.id, error = %e, "inference failed on a frame");
                                    continue;
                                }
                            };
                            ctx.metrics.detect_ms.observe(rec.detect_ms as f64);
                            let read = rec.plates.iter().filter(|p| !p.text.text.is_empty()).count();
                            if read > 0 {
                                ctx.metrics.ocr_ms.observe(rec.ocr_ms as f64);
                                ctx.metrics.plate_reads.fetch_add(read as u64, Ordering::Relaxed);
                            }
                            for read in tracker.push(&frame, &rec) {
                                if accept(&read) {
                                    handle_read(&ctx, &camera, read);
                                }
                            }
                        }
                        FrameWait::Timeout => {}
                        FrameWait::Ended => {
                            tracing::info!(camera = %camera.id, "camera source ended");
                            break;
                        }
                        FrameWait::Stopped => break,
                    }
                }
                for read in tracker.flush() {
                    if accept(&read) {
                        handle_read(&ctx, &camera, read);
                    }
                }
            })
            .expect("spawn analysis thread");
        GateLane { handle }
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("an analysis thread panicked");
        }
    }
}

/// Decides on one vehicle pass, pulses the relay when allowed, and queues the event.
pub fn handle_read(ctx: &GateContext, camera: &CameraSettings, read: PlateRead) {
    let now = jiff::Timestamp::now();
    let mut decision = match &camera.relay {
        None => Decision {
            action: Action::Ignore,
            reason: reason::NO_RELAY.into(),
            matched_entry: None,
            distance: None,
        },
        Some(relay) => ctx
            .policy
            .decide(&read.text, read.format.as_deref(), Some(relay), now),
    };
    if decision.action == Action::Open {
        let relay = camera.relay.as_deref().unwrap_or_default();
        // Key on the matched entry so two slightly different reads of one car share a cooldown.
        let key = decision
            .matched_entry
            .as_ref()
            .map(|m| m.plate.clone())
            .unwrap_or_else(|| read.text.clone());
        let in_cooldown = ctx
            .cooldown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .check_and_record(&key, relay, Instant::now());
        if in_cooldown {
            decision.action = Action::Ignore;
            decision.reason = reason::COOLDOWN.into();
        }
    }
    let frame_to_decision_ms = read.trigger_captured_mono.elapsed().as_secs_f32() * 1000.0;
    ctx.metrics
        .frame_to_decision_ms
        .observe(frame_to_decision_ms as f64);
    let event_id = uuid::Uuid::now_v7().to_string();

    let mut relay_action = None;
    let mut frame_to_relay_ms = None;
    if decision.action == Action::Open {
        let relay = camera.relay.clone().unwrap_or_default();
        let pulse_ms = ctx
            .config
            .relays
            .iter()
            .find(|r| r.id == relay)
            .map(|r| r.pulse_ms)
            .unwrap_or(800);
        let outcome = ctx.relays.pulse(RelayPulse {
            relay: relay.clone(),
            duration_ms: pulse_ms,
            reason: "plate".into(),
            plate: Some(read.text.clone()),
            event_id: Some(event_id.clone()),
        });
        if outcome == PulseOutcome::Pulsed {
            let ms = read.trigger_captured_mono.elapsed().as_secs_f32() * 1000.0;
            ctx.metrics.frame_to_relay_ms.observe(ms as f64);
            ctx.metrics.relay_pulses.fetch_add(1, Ordering::Relaxed);
            frame_to_relay_ms = Some(ms);
        }
        relay_action = Some(RelayAction {
            id: relay,
            pulse_ms,
            outcome,
        });
    }
    match decision.action {
        Action::Open => ctx.metrics.decisions_open.fetch_add(1, Ordering::Relaxed),
        Action::Deny => ctx.metrics.decisions_deny.fetch_add(1, Ordering::Relaxed),
        Action::Ignore => ctx.metrics.decisions_ignore.fetch_add(1, Ordering::Relaxed),
    };
    tracing::info!(
        camera = %camera.id, plate = %read.text, confidence = read.confidence, reads = read.reads,
        decision = ?decision.action, reason = %decision.reason, frame_to_decision_ms, "vehicle pass"
    );

    let event = Event {
        event_id,
        site: ctx.config.site.id.clone(),
        camera: camera.id.clone(),
        captured_at: read.trigger_captured_at,
        plate: read.text.clone(),
        confidence: read.confidence,
        char_confidences: read.char_confidences.clone(),
        candidates: read.candidates.clone(),
        bbox: read.bbox,
        format: read.format.clone(),
        decision,
        relay: relay_action,
        crop_url: None,
        frame_url: None,
        latency: StageLatencies {
            detect_ms: read.detect_ms,
            ocr_ms: read.ocr_ms,
            frame_to_decision_ms,
            frame_to_relay_ms,
        },
        reads: read.reads,
    };
    if ctx.decisions.receiver_count() > 0 {
        let _ = ctx.decisions.send(Arc::new(event.clone()));
    }
    let crop = Some((read.frame.clone(), read.bbox));
    if ctx
        .events
        .try_submit(event, crop, Some(read.frame))
        .is_err()
    {
        tracing::warn!(camera = %camera.id, plate = %read.text, "store queue full: event shed");
    }
}
