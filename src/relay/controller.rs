//! The relay controller: bounded pulses with their own timers, cooldown, fail-safe release.
//!
//! Policy choices (see also DESIGN.md, relay safety):
//! - A request longer than the relay's `max_pulse_ms` is refused (`OutOfRange`), never clamped:
//!   a command asking for 10 s must not silently get 3 s, and the refusal is logged.
//! - `duration_ms == 0` means the relay's configured `pulse_ms`.
//! - A pulse while the contact is already closed is refused (`AlreadyOpen`), not extended: every
//!   pulse stays bounded by its own timer and the barrier never stays open longer than asked.
//! - Cooldown counts from the end of the previous pulse (the gap between two pulses).
//! - `pulse()` only takes the relay's lock and writes the line (an ioctl); the release runs on a
//!   per-relay thread, logging goes through a bounded channel that never blocks.

use super::line::{LineFactory, RelayLine};
use super::{PulseOutcome, RelayError, RelayLogEntry, RelayPulse, RelayState};
use crate::config::RelaySettings;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where relay log entries go (the store writer drains the other end). Never blocks: when the
/// channel is full the entry is dropped and counted.
#[derive(Clone)]
pub struct RelayLogSink {
    tx: Sender<RelayLogEntry>,
    dropped: Arc<AtomicU64>,
}

impl RelayLogSink {
    pub fn send(&self, entry: RelayLogEntry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Entries lost because the channel was full or its reader gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A bounded relay log channel.
pub fn relay_log_channel(capacity: usize) -> (RelayLogSink, Receiver<RelayLogEntry>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
    (
        RelayLogSink {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        rx,
    )
}

/// A relay contact changed state.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayStateChange {
    pub relay: String,
    pub state: RelayState,
    pub at: jiff::Timestamp,
}

struct SlotState {
    line: Box<dyn RelayLine>,
    open: bool,
    release_at: Option<Instant>,
    last_release: Option<Instant>,
    stopping: bool,
}

struct Slot {
    settings: RelaySettings,
    state: Mutex<SlotState>,
    wake: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drives the line inactive, retrying a few times: a line stuck active keeps the barrier open.
fn release_line(
    relay: &str,
    st: &mut SlotState,
    changes: &tokio::sync::broadcast::Sender<RelayStateChange>,
) {
    let mut tries = 0;
    loop {
        match st.line.set_active(false) {
            Ok(()) => break,
            Err(e) if tries < 3 => {
                tracing::error!(relay, error = %e, "releasing relay failed, retrying");
                tries += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                tracing::error!(relay, error = %e, "releasing relay failed");
                break;
            }
        }
    }
    let was_open = st.open;
    st.open = false;
    st.release_at = None;
    if was_open {
        st.last_release = Some(Instant::now());
        let _ = changes.send(RelayStateChange {
            relay: relay.to_string(),
            state: RelayState::Closed,
            at: jiff::Timestamp::now(),
        });
    }
}

/// Owns every relay line. Dropping it (or `shutdown`) drives every line inactive.
pub struct RelayController {
    slots: Vec<Arc<Slot>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    changes: tokio::sync::broadcast::Sender<RelayStateChange>,
    log: RelayLogSink,
    stopped: AtomicBool,
}

impl RelayController {
    /// Opens every configured line and drives it inactive before anything else happens.
    pub fn new(
        relays: &[RelaySettings],
        lines: &dyn LineFactory,
        log: RelayLogSink,
    ) -> Result<RelayController, RelayError> {
        let mut opened: Vec<(RelaySettings, Box<dyn RelayLine>)> = Vec::new();
        for settings in relays {
            if opened.iter().any(|(s, _)| s.id == settings.id) {
                return Err(RelayError::DuplicateRelay(settings.id.clone()));
            }
            let mut line = lines.open(settings)?;
            line.set_active(false)?;
            tracing::info!(relay = %settings.id, line = %line.describe(), "relay line inactive");
            opened.push((settings.clone(), line));
        }
        let (changes, _) = tokio::sync::broadcast::channel(64);
        let mut controller = RelayController {
            slots: Vec::new(),
            workers: Mutex::new(Vec::new()),
            changes,
            log,
            stopped: AtomicBool::new(false),
        };
        for (settings, line) in opened {
            let slot = Arc::new(Slot {
                settings,
                state: Mutex::new(SlotState {
                    line,
                    open: false,
                    release_at: None,
                    last_release: None,
                    stopping: false,
                }),
                wake: Condvar::new(),
            });
            let worker_slot = slot.clone();
            let changes = controller.changes.clone();
            let relay = slot.settings.id.clone();
            let handle = std::thread::Builder::new()
                .name(format!("relay-{relay}"))
                .spawn(move || release_timer(worker_slot, changes))
                .map_err(|source| RelayError::Thread { relay, source })?;
            controller.slots.push(slot);
            controller
                .workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
        }
        Ok(controller)
    }

    fn slot(&self, id: &str) -> Option<&Arc<Slot>> {
        self.slots.iter().find(|s| s.settings.id == id)
    }

    /// Settings of a relay (e.g. to bound a command by its `max_pulse_ms`).
    pub fn settings(&self, id: &str) -> Option<&RelaySettings> {
        self.slot(id).map(|s| &s.settings)
    }

    /// Closes the contact for `duration_ms` (0: the relay's default). Returns at once; the
    /// relay's own thread releases the line.
    pub fn pulse(&self, req: RelayPulse) -> PulseOutcome {
        let (outcome, duration_ms) = self.try_pulse(&req);
        let entry = RelayLogEntry {
            relay: req.relay.clone(),
            at: jiff::Timestamp::now(),
            duration_ms,
            reason: req.reason.clone(),
            plate: req.plate.clone(),
            event_id: req.event_id.clone(),
            outcome,
        };
        if outcome == PulseOutcome::Pulsed {
            tracing::info!(relay = %req.relay, duration_ms, reason = %req.reason, plate = ?req.plate, "relay pulse");
        } else {
            tracing::warn!(relay = %req.relay, duration_ms, reason = %req.reason, plate = ?req.plate, ?outcome, "relay pulse refused");
        }
        self.log.send(entry);
        outcome
    }

    fn try_pulse(&self, req: &RelayPulse) -> (PulseOutcome, u32) {
        if self.stopped.load(Ordering::SeqCst) {
            return (PulseOutcome::Stopped, req.duration_ms);
        }
        let Some(slot) = self.slot(&req.relay) else {
            return (PulseOutcome::UnknownRelay, req.duration_ms);
        };
        let duration_ms = if req.duration_ms == 0 {
            slot.settings.pulse_ms
        } else {
            req.duration_ms
        };
        if duration_ms == 0 || duration_ms > slot.settings.max_pulse_ms {
            return (PulseOutcome::OutOfRange, duration_ms);
        }
        let mut st = slot.lock();
        if st.stopping {
            return (PulseOutcome::Stopped, duration_ms);
        }
        if st.open {
            return (PulseOutcome::AlreadyOpen, duration_ms);
        }
        let now = Instant::now();
        if let Some(last) = st.last_release {
            if now.duration_since(last)
                < Duration::from_millis(u64::from(slot.settings.cooldown_ms))
            {
                return (PulseOutcome::Cooldown, duration_ms);
            }
        }
        if let Err(e) = st.line.set_active(true) {
            tracing::error!(relay = %req.relay, error = %e, "driving relay active failed");
            let _ = st.line.set_active(false);
            return (PulseOutcome::Failed, duration_ms);
        }
        st.open = true;
        st.release_at = Some(now + Duration::from_millis(u64::from(duration_ms)));
        drop(st);
        slot.wake.notify_all();
        let _ = self.changes.send(RelayStateChange {
            relay: req.relay.clone(),
            state: RelayState::Open,
            at: jiff::Timestamp::now(),
        });
        (PulseOutcome::Pulsed, duration_ms)
    }

    /// Contact state of every relay, in configuration order.
    pub fn status(&self) -> Vec<(String, RelayState)> {
        self.slots
            .iter()
            .map(|s| {
                (
                    s.settings.id.clone(),
                    if s.lock().open {
                        RelayState::Open
                    } else {
                        RelayState::Closed
                    },
                )
            })
            .collect()
    }

    /// State changes (open / closed) of every relay, for MQTT and the status page.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RelayStateChange> {
        self.changes.subscribe()
    }

    /// Relay log entries lost because the log channel was full.
    pub fn log_dropped(&self) -> u64 {
        self.log.dropped()
    }

    /// Releases every open contact now (cutting pulses short); each cut pulse is logged.
    pub fn release_all(&self) {
        self.release_all_because("release_all");
    }

    fn release_all_because(&self, reason: &str) {
        for slot in &self.slots {
            let mut st = slot.lock();
            let was_open = st.open;
            release_line(&slot.settings.id, &mut st, &self.changes);
            drop(st);
            slot.wake.notify_all();
            if was_open {
                tracing::warn!(relay = %slot.settings.id, reason, "relay released early");
                self.log.send(RelayLogEntry {
                    relay: slot.settings.id.clone(),
                    at: jiff::Timestamp::now(),
                    duration_ms: 0,
                    reason: reason.to_string(),
                    plate: None,
                    event_id: None,
                    outcome: PulseOutcome::Released,
                });
            }
        }
    }

    /// Stops accepting pulses, drives every line inactive and stops the timer threads.
    /// Idempotent; also run on drop.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.release_all_because("shutdown");
        for slot in &self.slots {
            let mut st = slot.lock();
            st.stopping = true;
            // Inactive even if we believe it already is: the line state is what matters.
            let _ = st.line.set_active(false);
            drop(st);
            slot.wake.notify_all();
        }
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}

impl Drop for RelayController {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Per-relay thread: waits for the pulse deadline and releases the line.
fn release_timer(slot: Arc<Slot>, changes: tokio::sync::broadcast::Sender<RelayStateChange>) {
    let mut st = slot.lock();
    loop {
        if st.stopping {
            release_line(&slot.settings.id, &mut st, &changes);
            return;
        }
        let release_at = st.release_at;
        match release_at {
            None => st = slot.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    release_line(&slot.settings.id, &mut st, &changes);
                } else {
                    st = slot
                        .wake
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

/// One manual pulse (the CLI's `relay pulse ID`): opens only that relay's line, drives it
/// inactive, pulses, and returns once the line is released again.
pub fn pulse_once(
    settings: &[RelaySettings],
    id: &str,
    ms: Option<u32>,
    lines: &dyn LineFactory,
) -> Result<PulseOutcome, RelayError> {
    let relay = settings
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| RelayError::UnknownRelay(id.to_string()))?;
    let (log, _log_rx) = relay_log_channel(16);
    let controller = RelayController::new(std::slice::from_ref(relay), lines, log)?;
    let mut changes = controller.subscribe();
    let outcome = controller.pulse(RelayPulse {
        relay: id.to_string(),
        duration_ms: ms.unwrap_or(0),
        reason: "cli".into(),
        plate: None,
        event_id: None,
    });
    if outcome == PulseOutcome::Pulsed {
        let limit = Instant::now() + Duration::from_millis(u64::from(relay.max_pulse_ms) + 2000);
        while Instant::now() < limit {
            match changes.try_recv() {
                Ok(c) if c.state == RelayState::Closed => break,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => break,
            }
        }
    }
    drop(controller);
    Ok(outcome)
}
