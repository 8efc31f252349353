//! A live camera: a supervisor thread runs the GStreamer pipeline, restarts it after failures
//! (backoff), loops files, and hands the newest decoded frame to the analysis thread.

use super::convert::{frame_from_sample, thumbnail_jpeg};
use super::decoder::{pick_decoder, software_decoder, DecoderPick};
use super::pipeline::{self, BuiltPipeline, SinkMode};
use super::url::{redact_url, SourceSpec};
use super::{ensure_gstreamer, CameraState, Frame, VideoError};
use crate::config::{CameraSettings, DecoderChoice, RtspTransport};
use crate::metrics::CameraStats;
use crate::shutdown::Shutdown;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What waiting for a frame produced.
#[derive(Debug)]
pub enum FrameWait {
    Frame(Frame),
    /// No new frame within the timeout (the camera may be reconnecting; see its state).
    Timeout,
    /// A `file://` source without `loop` reached its end; no more frames will come.
    Ended,
    /// Shutdown was triggered or the camera was stopped.
    Stopped,
}

/// Something that yields frames to the analysis loop. Waiting never holds up the producer.
pub trait FrameSource: Send {
    fn camera_id(&self) -> &str;
    fn next_frame(&mut self, timeout: Duration) -> FrameWait;
}

/// Status-page thumbnails: this wide, at most this often.
const THUMBNAIL_WIDTH: u32 = 320;
const THUMBNAIL_EVERY: Duration = Duration::from_secs(2);
/// Window for the analysed-fps figure.
const FPS_WINDOW: Duration = Duration::from_secs(3);
/// How often the supervisor looks at the bus, the watchdog and the stop flags.
const POLL: Duration = Duration::from_millis(50);
/// Hard cap on the reconnect delay, whatever the configuration says.
const RECONNECT_CAP_S: u32 = 30;

/// The newest-frame slot shared by the streaming thread (writer) and the analysis thread.
#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    ended: bool,
    stopped: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
    /// Set by `Camera::drop`.
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One running camera. Dropping it stops the pipeline and joins its thread.
pub struct Camera {
    id: String,
    shared: Arc<Shared>,
    stats: Arc<CameraStats>,
    shutdown: Shutdown,
    supervisor: Option<JoinHandle<()>>,
    last_thumbnail: Option<Instant>,
    delivered: VecDeque<Instant>,
}

impl Camera {
    /// Validates the settings and starts the camera's pipeline in the background. Errors (bad
    /// URL, unreadable password file, missing device, no hardware decoder when one is required,
    /// missing file) are also put in the camera's state as `Failed`. A reachable-later RTSP
    /// camera is not an error: it shows `Reconnecting` until it answers.
    pub fn start(
        settings: &CameraSettings,
        stats: Arc<CameraStats>,
        shutdown: Shutdown,
    ) -> Result<Camera, VideoError> {
        match Self::prepare(settings) {
            Ok(plan) => {
                stats.set_state(CameraState::Starting);
                let shared = Arc::new(Shared {
                    slot: Mutex::new(Slot::default()),
                    changed: Condvar::new(),
                    stop: AtomicBool::new(false),
                });
                let supervisor = Supervisor {
                    plan,
                    shared: shared.clone(),
                    stats: stats.clone(),
                    shutdown: shutdown.clone(),
                    seq: Arc::new(AtomicU64::new(0)),
                };
                let handle = std::thread::Builder::new()
                    .name(format!("camera-{}", settings.id))
                    .spawn(move || supervisor.run())
                    .map_err(|e| VideoError::Pipeline {
                        source_name: redact_url(&settings.url),
                        message: format!("cannot start camera thread: {e}"),
                    })?;
                Ok(Camera {
                    id: settings.id.clone(),
                    shared,
                    stats,
                    shutdown,
                    supervisor: Some(handle),
                    last_thumbnail: None,
                    delivered: VecDeque::new(),
                })
            }
            Err(err) => {
                tracing::error!(camera = %settings.id, error = %err, "camera cannot start");
                stats.set_state(CameraState::Failed {
                    error: err.to_string(),
                });
                Err(err)
            }
        }
    }

    fn prepare(settings: &CameraSettings) -> Result<Plan, VideoError> {
        ensure_gstreamer()?;
        let spec = SourceSpec::parse(settings)?;
        match &spec {
            SourceSpec::File { path } => {
                std::fs::File::open(path).map_err(|source| VideoError::FileOpen {
                    path: path.clone(),
                    source,
                })?;
            }
            SourceSpec::V4l2 { device } => {
                if std::fs::metadata(device).is_err() {
                    return Err(VideoError::NoDevice {
                        camera: settings.id.clone(),
                        device: device.clone(),
                    });
                }
            }
            _ => {}
        }
        let decoder = match &spec {
            SourceSpec::File { .. }
            | SourceSpec::Rtsp { .. }
            | SourceSpec::Test { h264: true, .. } => {
                let pick = pick_decoder(settings.decoder)?;
                tracing::info!(
                    camera = %settings.id,
                    decoder = %pick.element,
                    hardware = pick.hardware,
                    choice = ?settings.decoder,
                    "decoder chosen"
                );
                Some(pick)
            }
            _ => None,
        };
        let min_interval = (settings.max_fps > 0.0 && settings.max_fps.is_finite())
            .then(|| Duration::from_secs_f32(1.0 / settings.max_fps));
        Ok(Plan {
            camera: settings.id.as_str().into(),
            display_url: redact_url(&settings.url),
            spec,
            decoder,
            choice: settings.decoder,
            transport: settings.rtsp_transport,
            loop_file: settings.loop_file,
            reconnect_max: Duration::from_secs(
                settings.reconnect_max_s.clamp(1, RECONNECT_CAP_S) as u64
            ),
            frame_timeout: Duration::from_secs(settings.frame_timeout_s.max(1) as u64),
            min_interval,
        })
    }

    pub fn stats(&self) -> &Arc<CameraStats> {
        &self.stats
    }

    pub fn state(&self) -> CameraState {
        self.stats.state()
    }

    /// Bookkeeping for a frame handed to the analysis: analysed count, fps, last-frame time and
    /// the status-page thumbnail.
    fn on_delivered(&mut self, frame: &Frame) {
        let now = Instant::now();
        self.stats.frames_analysed.fetch_add(1, Ordering::Relaxed);
        self.stats
            .last_frame_unix_ms
            .store(frame.captured_at.as_millisecond(), Ordering::Relaxed);
        self.delivered.push_back(now);
        while self
            .delivered
            .front()
            .is_some_and(|t| now.duration_since(*t) > FPS_WINDOW)
        {
            self.delivered.pop_front();
        }
        if let (Some(first), n) = (self.delivered.front(), self.delivered.len()) {
            let span = now.duration_since(*first).as_secs_f32();
            if n > 1 && span > 0.0 {
                self.stats.set_fps((n - 1) as f32 / span);
            }
        }
        if self
            .last_thumbnail
            .is_none_or(|t| now.duration_since(t) >= THUMBNAIL_EVERY)
        {
            self.last_thumbnail = Some(now);
            if let Some(jpeg) = thumbnail_jpeg(frame, THUMBNAIL_WIDTH) {
                *self
                    .stats
                    .thumbnail_jpeg
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(jpeg));
            }
        }
    }
}

impl FrameSource for Camera {
    fn camera_id(&self) -> &str {
        &self.id
    }

    fn next_frame(&mut self, timeout: Duration) -> FrameWait {
        let deadline = Instant::now() + timeout;
        let mut slot = self.shared.lock();
        loop {
            if slot.stopped
                || self.shutdown.is_triggered()
                || self.shared.stop.load(Ordering::Relaxed)
            {
                return FrameWait::Stopped;
            }
            if let Some(frame) = slot.frame.take() {
                drop(slot);
                self.on_delivered(&frame);
                return FrameWait::Frame(frame);
            }
            if slot.ended {
                return FrameWait::Ended;
            }
            let now = Instant::now();
            if now >= deadline {
                return FrameWait::Timeout;
            }
            // Short waits so a shutdown is noticed even without a notification.
            slot = self
                .shared
                .changed
                .wait_timeout(slot, (deadline - now).min(Duration::from_millis(100)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
        if let Some(handle) = self.supervisor.take() {
            let _ = handle.join();
        }
    }
}

/// Everything the supervisor needs, fixed at start.
struct Plan {
    camera: Arc<str>,
    display_url: String,
    spec: SourceSpec,
    decoder: Option<DecoderPick>,
    choice: DecoderChoice,
    transport: RtspTransport,
    loop_file: bool,
    reconnect_max: Duration,
    frame_timeout: Duration,
    min_interval: Option<Duration>,
}

/// How one pipeline run ended.
enum RunEnd {
    Stopped,
    /// Non-looping file finished.
    Ended,
    Failed {
        error: String,
        got_frames: bool,
        decoder_fault: bool,
    },
}

struct Supervisor {
    plan: Plan,
    shared: Arc<Shared>,
    stats: Arc<CameraStats>,
    shutdown: Shutdown,
    /// Frame numbers continue across reconnects and loops.
    seq: Arc<AtomicU64>,
}

impl Supervisor {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed) || self.shutdown.is_triggered()
    }

    /// Sleeps up to `d`; `true` if asked to stop meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if self.stopping() {
                return true;
            }
            std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        }
        self.stopping()
    }

    fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            if self.stopping() {
                break;
            }
            match self.run_once() {
                RunEnd::Stopped => break,
                RunEnd::Ended => {
                    tracing::info!(camera = %self.plan.camera, "file ended");
                    self.stats.set_state(CameraState::Ended);
                    self.shared.lock().ended = true;
                    self.shared.changed.notify_all();
                    return;
                }
                RunEnd::Failed {
                    error,
                    got_frames,
                    decoder_fault,
                } => {
                    let hardware = self.plan.decoder.as_ref().is_some_and(|d| d.hardware);
                    if hardware && self.plan.choice == DecoderChoice::Auto && decoder_fault {
                        match software_decoder() {
                            Ok(soft) => {
                                tracing::warn!(
                                    camera = %self.plan.camera,
                                    failed = ?self.plan.decoder.as_ref().map(|d| &d.element),
                                    decoder = %soft.element,
                                    error = %error,
                                    "hardware decoder failed; falling back to software"
                                );
                                self.plan.decoder = Some(soft);
                                continue;
                            }
                            Err(e) => {
                                tracing::error!(camera = %self.plan.camera, error = %e, "no software fallback")
                            }
                        }
                    }
                    if !self.plan.spec.is_live() {
                        tracing::error!(camera = %self.plan.camera, error = %error, "file source failed");
                        self.stats.set_state(CameraState::Failed { error });
                        return;
                    }
                    attempt = if got_frames { 1 } else { attempt + 1 };
                    let delay = backoff(attempt, self.plan.reconnect_max);
                    tracing::warn!(
                        camera = %self.plan.camera,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %error,
                        "camera stream failed; reconnecting"
                    );
                    self.stats.set_state(CameraState::Reconnecting {
                        attempt,
                        retry_in_ms: delay.as_millis() as u64,
                        error,
                    });
                    if self.sleep(delay) {
                        break;
                    }
                }
            }
        }
        self.stats.set_state(CameraState::Stopped);
        self.shared.lock().stopped = true;
        self.shared.changed.notify_all();
    }

    fn failed(&self, error: String) -> RunEnd {
        RunEnd::Failed {
            error,
            got_frames: false,
            decoder_fault: false,
        }
    }

    /// Builds and plays the pipeline until it stops, ends or fails.
    fn run_once(&self) -> RunEnd {
        let sync = !self.plan.spec.is_live();
        let built = match pipeline::build(
            &self.plan.spec,
            self.plan.decoder.as_ref(),
            self.plan.transport,
            SinkMode::Newest { sync },
            &self.plan.display_url,
        ) {
            Ok(b) => b,
            // Only the decoder varies between builds, so a build failure is blamed on it.
            Err(e) => {
                return RunEnd::Failed {
                    error: e.to_string(),
                    got_frames: false,
                    decoder_fault: true,
                }
            }
        };
        let BuiltPipeline {
            pipeline,
            sink,
            decoder,
        } = built;
        let guard = Teardown {
            pipeline: Some(pipeline.clone()),
            stats: self.stats.clone(),
            camera: self.plan.camera.clone(),
        };
        let got_frame = Arc::new(AtomicBool::new(false));
        let last_frame_ms = Arc::new(AtomicU64::new(0));
        let run_start = Instant::now();
        self.install_callbacks(
            &sink,
            decoder,
            got_frame.clone(),
            last_frame_ms.clone(),
            run_start,
        );
        let Some(bus) = pipeline.bus() else {
            return self.failed("pipeline has no bus".into());
        };
        if pipeline.set_state(gst::State::Playing).is_err() {
            // The reason is on the bus.
            let (error, decoder_fault) = bus
                .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => {
                        Some((pipeline::error_text(e), pipeline::error_from(e, "decoder")))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| ("pipeline refused to start".into(), false));
            return RunEnd::Failed {
                error: format!("{}: {error}", self.plan.display_url),
                got_frames: false,
                decoder_fault,
            };
        }
        loop {
            if self.stopping() {
                // Shutting down: stop here, so the camera is released when `Camera` is dropped.
                guard.stop_now();
                return RunEnd::Stopped;
            }
            if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(POLL.as_millis() as u64))
            {
                match msg.view() {
                    gst::MessageView::Eos(_) => {
                        if self.plan.spec.is_live() {
                            return RunEnd::Failed {
                                error: format!("{}: stream ended", self.plan.display_url),
                                got_frames: got_frame.load(Ordering::Relaxed),
                                decoder_fault: false,
                            };
                        }
                        if !self.plan.loop_file {
                            return RunEnd::Ended;
                        }
                        if let Err(e) = pipeline.seek_simple(
                            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                            gst::ClockTime::ZERO,
                        ) {
                            // A file that cannot seek is replayed by rebuilding the pipeline.
                            tracing::debug!(camera = %self.plan.camera, error = %e, "seek to start failed; rebuilding");
                            drop(guard);
                            return self.run_once();
                        }
                        tracing::debug!(camera = %self.plan.camera, "file looped");
                    }
                    gst::MessageView::Error(e) => {
                        let got_frames = got_frame.load(Ordering::Relaxed);
                        // Before any frame, anything not from the source (depay, parse, decode,
                        // convert) may be the hardware decoder refusing the stream.
                        let decoder_fault = pipeline::error_from(e, "decoder")
                            || (!got_frames && !pipeline::error_from(e, "src"));
                        let mut error =
                            format!("{}: {}", self.plan.display_url, pipeline::error_text(e));
                        if e.error().matches(gst::ResourceError::NotAuthorized) {
                            error = format!(
                                "{}: authentication failed (check username and password_file): {error}",
                                self.plan.display_url
                            );
                        }
                        return RunEnd::Failed {
                            error,
                            got_frames,
                            decoder_fault,
                        };
                    }
                    gst::MessageView::Warning(w) => {
                        tracing::debug!(camera = %self.plan.camera, warning = %w.error(), "gstreamer warning");
                    }
                    _ => {}
                }
            }
            if self.plan.spec.is_live() {
                let last = last_frame_ms.load(Ordering::Relaxed);
                let silent_for = run_start
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last));
                if silent_for > self.plan.frame_timeout {
                    return RunEnd::Failed {
                        error: format!(
                            "{}: no frame for {} s",
                            self.plan.display_url,
                            self.plan.frame_timeout.as_secs()
                        ),
                        got_frames: got_frame.load(Ordering::Relaxed),
                        decoder_fault: false,
                    };
                }
            }
        }
    }

    /// The streaming-thread side: convert each sample and put it in the slot, replacing (and
    /// counting) a frame the analysis has not taken. Never waits for the analysis.
    fn install_callbacks(
        &self,
        sink: &gst_app::AppSink,
        decoder: String,
        got_frame: Arc<AtomicBool>,
        last_frame_ms: Arc<AtomicU64>,
        run_start: Instant,
    ) {
        let shared = self.shared.clone();
        let stats = self.stats.clone();
        let camera = self.plan.camera.clone();
        let seq = self.seq.clone();
        let min_interval = self.plan.min_interval;
        let live = self.plan.spec.is_live();
        let mut last_accepted: Option<Instant> = None;
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mono = Instant::now();
                    let wall = jiff::Timestamp::now();
                    stats.frames_decoded.fetch_add(1, Ordering::Relaxed);
                    stats.last_decoded_unix_ms.store(wall.as_millisecond(), Ordering::Relaxed);
                    last_frame_ms.store(mono.duration_since(run_start).as_millis() as u64, Ordering::Relaxed);
                    if !got_frame.swap(true, Ordering::Relaxed) {
                        tracing::info!(camera = %camera, decoder = %decoder, "camera streaming");
                        stats.set_state(CameraState::Streaming { decoder: decoder.clone() });
                    }
                    if let Some(interval) = min_interval {
                        if last_accepted.is_some_and(|t| mono.duration_since(t) < interval) {
                            return Ok(gst::FlowSuccess::Ok);
                        }
                        last_accepted = Some(mono);
                    }
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    match frame_from_sample(&sample, &camera, n, wall, mono) {
                        Ok(mut frame) => {
                            // A live stream's clock restarts at every reconnect, so its
                            // timestamps cannot order frames across an outage; the tracker
                            // uses capture time for these.
                            if live {
                                frame.pts_ms = None;
                            }
                            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
                            if slot.frame.replace(frame).is_some() {
                                stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            drop(slot);
                            shared.changed.notify_all();
                        }
                        Err(e) => tracing::warn!(camera = %camera, error = %e, "unusable decoded frame skipped"),
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
}

/// Stops a pipeline when dropped, on a thread of its own: the supervisor goes on reconnecting even
/// if the old pipeline hangs in its stop (an RTSP source whose server vanished mid-session can),
/// and the camera's stats keep the ones still stopping for the watchdog
/// ([`CameraStats::teardown_started`]).
struct Teardown {
    pipeline: Option<gst::Pipeline>,
    stats: Arc<CameraStats>,
    camera: Arc<str>,
}

impl Teardown {
    fn stop_now(mut self) {
        if let Some(pipeline) = self.pipeline.take() {
            let _ = pipeline.set_state(gst::State::Null);
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        let Some(pipeline) = self.pipeline.take() else {
            return;
        };
        let stats = self.stats.clone();
        let camera = self.camera.clone();
        // A second reference, so the pipeline can still be stopped here if no thread starts.
        let fallback = pipeline.clone();
        let token = stats.teardown_started();
        let stop = move || {
            let started = Instant::now();
            let _ = pipeline.set_state(gst::State::Null);
            stats.teardown_done(token);
            if started.elapsed() > Duration::from_secs(5) {
                tracing::warn!(camera = %camera, took_ms = started.elapsed().as_millis() as u64, "old pipeline took long to stop");
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name(format!("stop-{}", self.camera))
            .spawn(stop)
        {
            tracing::error!(camera = %self.camera, error = %e, "cannot start a thread to stop the old pipeline; stopping it here");
            let _ = fallback.set_state(gst::State::Null);
            self.stats.teardown_done(token);
        }
    }
}

/// Restart delay for the `attempt`-th consecutive failure: 1 s, 2 s, 4 s … up to `cap`.
pub(crate) fn backoff(attempt: u32, cap: Duration) -> Duration {
    let secs = 1u64
        .checked_shl(attempt.saturating_sub(1).min(16))
        .unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(30);
        let delays: Vec<u64> = (1..=7).map(|a| backoff(a, cap).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(1000, cap), cap);
    }
}
