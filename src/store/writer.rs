//! The store writer: one thread owns the database so the gate path never waits for disk.
//!
//! Events arrive through a bounded queue (`try_submit` never blocks; when full the event is shed
//! and counted). The thread encodes JPEGs, batches whatever is queued into one transaction,
//! announces each stored event on a broadcast channel, stores relay log entries, and runs
//! retention at start and periodically. Errors are logged and counted; the thread never panics
//! on I/O.

use super::db::NewEvent;
use super::event::Event;
use super::retention::RetentionReport;
use super::{Store, StoreError};
use crate::config::StorageSettings;
use crate::geometry::BBox;
use crate::relay::RelayLogEntry;
use crate::shutdown::Shutdown;
use crate::video::Frame;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events stored per transaction at most.
const MAX_BATCH: usize = 64;

/// Least time between two free-space checks after stored events.
const SPACE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub queue_capacity: usize,
    pub jpeg_quality: u8,
    pub save_crops: bool,
    pub save_frames: bool,
    /// Delivery channels that get an outbox row per event (e.g. `mqtt`, `webhook:0`).
    pub channels: Vec<String>,
    /// Retention settings; `None` disables retention runs.
    pub retention: Option<StorageSettings>,
    /// Time between retention runs (one also runs at start).
    pub retention_every: Duration,
}

impl WriterOptions {
    pub fn from_settings(storage: &StorageSettings, channels: Vec<String>) -> WriterOptions {
        WriterOptions {
            queue_capacity: 256,
            jpeg_quality: storage.jpeg_quality,
            save_crops: storage.save_crops,
            save_frames: storage.save_frames,
            channels,
            retention: Some(storage.clone()),
            retention_every: Duration::from_secs(600),
        }
    }
}

/// Counters of the writer (also for the status page).
#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    stored: AtomicU64,
    shed: AtomicU64,
    errors: AtomicU64,
    image_errors: AtomicU64,
    relay_log_stored: AtomicU64,
    retention_runs: AtomicU64,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WriterStats {
    pub submitted: u64,
    pub stored: u64,
    /// Refused because the queue was full (or the writer gone).
    pub shed: u64,
    /// Events (or relay log batches) that could not be stored.
    pub errors: u64,
    /// Images that could not be encoded or written (the event was stored without them).
    pub image_errors: u64,
    pub queue_depth: usize,
    pub relay_log_stored: u64,
    pub retention_runs: u64,
    pub last_error: Option<String>,
    pub last_retention: Option<RetentionReport>,
}

struct Shared {
    counters: Counters,
    last_error: Mutex<Option<String>>,
    last_retention: Mutex<Option<RetentionReport>>,
}

impl Shared {
    fn error(&self, msg: String) {
        tracing::error!(error = %msg, "store writer");
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(msg);
        }
    }
}

struct Job {
    event: Event,
    crop: Option<(Frame, BBox)>,
    frame: Option<Frame>,
}

/// Hands events to the writer; cheap to clone, never blocks.
#[derive(Clone)]
pub struct StoreSender {
    tx: Sender<Job>,
    shared: Arc<Shared>,
}

impl StoreSender {
    /// Queues an event (with the frame and box for its crop, and the frame to keep). When the
    /// queue is full or the writer has stopped, the event is shed, counted and given back.
    pub fn try_submit(
        &self,
        event: Event,
        crop: Option<(Frame, BBox)>,
        frame: Option<Frame>,
    ) -> Result<(), Event> {
        self.shared
            .counters
            .submitted
            .fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(Job { event, crop, frame }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                self.shared.counters.shed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event_id = %job.event.event_id, "store queue full: event shed");
                Err(job.event)
            }
        }
    }

    /// The writer's counters (any clone of the sender sees the same).
    pub fn stats(&self) -> WriterStats {
        let s = &self.shared;
        let c = &s.counters;
        WriterStats {
            submitted: c.submitted.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            shed: c.shed.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            image_errors: c.image_errors.load(Ordering::Relaxed),
            queue_depth: self.tx.len(),
            relay_log_stored: c.relay_log_stored.load(Ordering::Relaxed),
            retention_runs: c.retention_runs.load(Ordering::Relaxed),
            last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
            last_retention: s.last_retention.lock().ok().and_then(|r| r.clone()),
        }
    }

    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }
}

/// The writer thread and its handles.
pub struct StoreWriter {
    sender: StoreSender,
    stored_tx: tokio::sync::broadcast::Sender<Arc<Event>>,
    stop_tx: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Starts the writer thread; it owns `store` until `shutdown`.
    pub fn spawn(
        store: Store,
        opts: WriterOptions,
        shutdown: Shutdown,
        relay_log: Receiver<RelayLogEntry>,
    ) -> StoreWriter {
        let (tx, rx) = crossbeam_channel::bounded(opts.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            last_error: Mutex::new(None),
            last_retention: Mutex::new(None),
        });
        let (stored_tx, _) = tokio::sync::broadcast::channel(256);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let worker = Worker {
            store,
            opts,
            shared: shared.clone(),
            stored_tx: stored_tx.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || worker.run(rx, relay_log, stop_rx, shutdown));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // No thread: every submit is shed (the receiver is gone) and counted.
                shared.error(format!("starting the store writer thread: {e}"));
                None
            }
        };
        StoreWriter {
            sender: StoreSender { tx, shared },
            stored_tx,
            stop_tx: Some(stop_tx),
            thread,
        }
    }

    pub fn sender(&self) -> StoreSender {
        self.sender.clone()
    }

    /// Each event once it is committed.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.stored_tx.subscribe()
    }

    pub fn stats(&self) -> WriterStats {
        self.sender.stats()
    }

    /// Stores everything already queued, then stops the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.try_send(());
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    store: Store,
    opts: WriterOptions,
    shared: Arc<Shared>,
    stored_tx: tokio::sync::broadcast::Sender<Arc<Event>>,
}

impl Worker {
    fn run(
        mut self,
        jobs: Receiver<Job>,
        relay_log: Receiver<RelayLogEntry>,
        stop: Receiver<()>,
        shutdown: Shutdown,
    ) {
        let mut relay_log_open = true;
        let never = crossbeam_channel::never::<RelayLogEntry>();
        let tick = crossbeam_channel::tick(Duration::from_millis(200));
        let mut next_retention = Instant::now();
        let mut last_space_check: Option<Instant> = None;
        // Files of events whose transaction never committed (crash, kill -9) are only ever
        // left behind by an earlier run; an hour of margin keeps clear of anything in flight.
        match self.store.sweep_orphan_media(Duration::from_secs(3600)) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "removed orphan media files"),
            Err(e) => self.shared.error(format!("orphan media sweep: {e}")),
        }
        loop {
            if self.opts.retention.is_some() && Instant::now() >= next_retention {
                self.retention();
                next_retention = Instant::now() + self.opts.retention_every;
            }
            let relay_rx = if relay_log_open { &relay_log } else { &never };
            crossbeam_channel::select! {
                recv(jobs) -> job => match job {
                    Ok(job) => {
                        let mut batch = vec![job];
                        while batch.len() < MAX_BATCH {
                            match jobs.try_recv() {
                                Ok(j) => batch.push(j),
                                Err(_) => break,
                            }
                        }
                        self.store_batch(batch);
                        if self.short_of_free_space(&mut last_space_check) {
                            // The disk filled up between periodic runs (other files, a burst of
                            // events): free space now rather than fail the next writes.
                            self.retention();
                            next_retention = Instant::now() + self.opts.retention_every;
                        }
                    }
                    Err(_) => break,
                },
                recv(relay_rx) -> entry => match entry {
                    Ok(entry) => {
                        let mut batch = vec![entry];
                        batch.extend(relay_log.try_iter().take(255));
                        self.store_relay_log(&batch);
                    }
                    Err(_) => relay_log_open = false,
                },
                recv(stop) -> _ => break,
                recv(tick) -> _ => {
                    if shutdown.is_triggered() {
                        break;
                    }
                }
            }
        }
        // Drain: everything queued before the stop is stored.
        loop {
            let batch: Vec<Job> = jobs.try_iter().take(MAX_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            self.store_batch(batch);
        }
        let entries: Vec<RelayLogEntry> = relay_log.try_iter().collect();
        if !entries.is_empty() {
            self.store_relay_log(&entries);
        }
    }

    /// Whether the data folder has less free space than `min_free_mb`. Checked after stored
    /// events, at most every `SPACE_CHECK_EVERY` (one statvfs call).
    fn short_of_free_space(&self, last_check: &mut Option<Instant>) -> bool {
        let Some(settings) = &self.opts.retention else {
            return false;
        };
        if settings.min_free_mb == 0 || last_check.is_some_and(|t| t.elapsed() < SPACE_CHECK_EVERY)
        {
            return false;
        }
        *last_check = Some(Instant::now());
        super::retention::free_bytes(&settings.data_dir)
            .is_some_and(|free| free < settings.min_free_mb.saturating_mul(1024 * 1024))
    }

    fn retention(&mut self) {
        let Some(settings) = self.opts.retention.clone() else {
            return;
        };
        match self.store.run_retention(&settings) {
            Ok(report) => {
                self.shared
                    .counters
                    .retention_runs
                    .fetch_add(1, Ordering::Relaxed);
                if report.deleted_by_age + report.deleted_by_quota > 0 {
                    tracing::info!(?report, "retention");
                }
                if let Ok(mut r) = self.shared.last_retention.lock() {
                    *r = Some(report);
                }
            }
            Err(e) => self.shared.error(format!("retention: {e}")),
        }
    }

    fn encode(&self, rgb: &[u8], w: u32, h: u32, what: &str, event_id: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out,
            self.opts.jpeg_quality.clamp(1, 100),
        );
        match enc.encode(rgb, w, h, image::ExtendedColorType::Rgb8) {
            Ok(()) => Some(out),
            Err(e) => {
                self.shared
                    .counters
                    .image_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event_id, what, error = %e, "encoding JPEG failed");
                None
            }
        }
    }

    fn images(&self, job: &Job) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let id = &job.event.event_id;
        let crop = if self.opts.save_crops {
            job.crop.as_ref().and_then(|(frame, bbox)| {
                let (x, y, w, h) = bbox.to_pixel_rect(frame.width, frame.height)?;
                self.encode(&frame.rgb_region(x, y, w, h), w, h, "crop", id)
            })
        } else {
            None
        };
        let frame = if self.opts.save_frames {
            job.frame
                .as_ref()
                .and_then(|f| self.encode(&f.to_rgb(), f.width, f.height, "frame", id))
        } else {
            None
        };
        (crop, frame)
    }

    fn store_batch(&mut self, batch: Vec<Job>) {
        let images: Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> =
            batch.iter().map(|j| self.images(j)).collect();
        let channel_names = self.opts.channels.clone();
        let channels: Vec<&str> = channel_names.iter().map(String::as_str).collect();
        let items: Vec<NewEvent<'_>> = batch
            .iter()
            .zip(&images)
            .map(|(j, (c, f))| NewEvent {
                event: &j.event,
                crop_jpeg: c.as_deref(),
                frame_jpeg: f.as_deref(),
            })
            .collect();
        match self.store.insert_events(&items, &channels) {
            Ok(stored) => self.announce(stored),
            Err(e) if items.len() == 1 => self.store_single_without_images(&items[0], &channels, e),
            Err(e) => {
                tracing::warn!(error = %e, n = items.len(), "storing a batch failed; storing its events one by one");
                for item in &items {
                    match self
                        .store
                        .insert_events(std::slice::from_ref(item), &channels)
                    {
                        Ok(stored) => self.announce(stored),
                        Err(e) => self.store_single_without_images(item, &channels, e),
                    }
                }
            }
        }
    }

    /// A failed event whose images could not be written (disk full, I/O error) is still worth
    /// storing without them.
    fn store_single_without_images(
        &mut self,
        item: &NewEvent<'_>,
        channels: &[&str],
        first: StoreError,
    ) {
        let had_images = item.crop_jpeg.is_some() || item.frame_jpeg.is_some();
        if had_images && matches!(first, StoreError::Media { .. }) {
            self.shared
                .counters
                .image_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event_id = %item.event.event_id, error = %first, "storing event without images");
            let bare = NewEvent {
                event: item.event,
                crop_jpeg: None,
                frame_jpeg: None,
            };
            match self.store.insert_events(&[bare], channels) {
                Ok(stored) => self.announce(stored),
                Err(e) => self
                    .shared
                    .error(format!("event {}: {e}", item.event.event_id)),
            }
        } else {
            self.shared
                .error(format!("event {}: {first}", item.event.event_id));
        }
    }

    fn announce(&self, stored: Vec<Event>) {
        self.shared
            .counters
            .stored
            .fetch_add(stored.len() as u64, Ordering::Relaxed);
        for ev in stored {
            // Logged only after commit: "stored" means it survives a crash from here on.
            tracing::info!(event_id = %ev.event_id, plate = %ev.plate, "event stored");
            let _ = self.stored_tx.send(Arc::new(ev));
        }
    }

    fn store_relay_log(&mut self, entries: &[RelayLogEntry]) {
        match self.store.relay_log_insert_many(entries) {
            Ok(()) => {
                self.shared
                    .counters
                    .relay_log_stored
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
            }
            Err(e) => self.shared.error(format!("relay log: {e}")),
        }
    }
}
