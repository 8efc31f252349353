//! Whole-file decoding (every frame, in order) for `recognize` and benchmarks, and still images.

use super::convert::frame_from_sample;
use super::decoder::{pick_decoder, software_decoder, DecoderPick};
use super::pipeline::{self, NullOnDrop, SinkMode};
use super::url::SourceSpec;
use super::{ensure_gstreamer, Frame, VideoError};
use crate::config::{DecoderChoice, RtspTransport};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A decoder that produces nothing for this long is treated as hung.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
const PULL_POLL: Duration = Duration::from_millis(100);
/// Decoded video may end this much before the container's duration without counting as cut.
const TRUNCATION_SLACK_MS: u64 = 250;

const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "h264", "264", "flv",
];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.iter().any(|known| known.eq_ignore_ascii_case(e)))
}

/// Whether `recognize` should treat the file as a video (by extension).
pub fn is_video_path(path: &Path) -> bool {
    has_extension(path, VIDEO_EXTENSIONS)
}

/// Whether the file is a still image `load_image` reads (JPEG or PNG, by extension).
pub fn is_image_path(path: &Path) -> bool {
    has_extension(path, IMAGE_EXTENSIONS)
}

/// Reads a JPEG or PNG into a full-range frame of camera `still`.
pub fn load_image(path: &Path) -> Result<Frame, VideoError> {
    let image_error = |message: String| VideoError::Image {
        path: path.to_path_buf(),
        message,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| image_error(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| image_error(e.to_string()))?;
    let rgb = reader
        .decode()
        .map_err(|e| image_error(e.to_string()))?
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    if w == 0 || h == 0 {
        return Err(image_error("image is empty".into()));
    }
    Ok(Frame::from_rgb("still".into(), w, h, rgb.as_raw()))
}

/// Every frame of a video file, in order. Dropping it stops decoding.
pub struct FileFrames {
    pipeline: gst::Pipeline,
    _null: NullOnDrop,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    path: PathBuf,
    camera: Arc<str>,
    decoder: String,
    seq: u64,
    done: bool,
    /// Container duration, to tell a truncated file (frames stop early) from a complete one.
    duration_ms: Option<u64>,
    /// End of the last frame decoded (pts + duration).
    decoded_until_ms: u64,
}

impl FileFrames {
    /// The decoder element in use.
    pub fn decoder(&self) -> &str {
        &self.decoder
    }

    fn error(&self, message: String) -> VideoError {
        VideoError::Pipeline {
            source_name: self.path.display().to_string(),
            message,
        }
    }

    /// The first error on the bus, if any.
    fn bus_error(&self) -> Option<String> {
        while let Some(msg) = self.bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Some(pipeline::error_text(e));
            }
        }
        None
    }
}

impl Iterator for FileFrames {
    type Item = Result<Frame, VideoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut waited = Duration::ZERO;
        loop {
            if let Some(message) = self.bus_error() {
                self.done = true;
                let _ = self.pipeline.set_state(gst::State::Null);
                return Some(Err(self.error(message)));
            }
            if let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_mseconds(PULL_POLL.as_millis() as u64))
            {
                let frame = frame_from_sample(
                    &sample,
                    &self.camera,
                    self.seq,
                    jiff::Timestamp::now(),
                    Instant::now(),
                );
                self.seq += 1;
                if let Some(buffer) = sample.buffer() {
                    let end = buffer
                        .pts()
                        .map(|p| p + buffer.duration().unwrap_or(gst::ClockTime::ZERO));
                    self.decoded_until_ms =
                        self.decoded_until_ms.max(end.map_or(0, |e| e.mseconds()));
                }
                return Some(frame.map_err(|m| self.error(m)));
            }
            if self.sink.is_eos() {
                // An error can race the EOS; report it rather than a silent short read.
                self.done = true;
                let _ = self.pipeline.set_state(gst::State::Null);
                if let Some(message) = self.bus_error() {
                    return Some(Err(self.error(message)));
                }
                if self.seq == 0 {
                    return Some(Err(
                        self.error("the file holds no decodable video frames".into())
                    ));
                }
                // Demuxers may stop quietly at a cut; the container says how long it should be.
                if let Some(duration) = self
                    .duration_ms
                    .filter(|d| self.decoded_until_ms + TRUNCATION_SLACK_MS < *d)
                {
                    return Some(Err(self.error(format!(
                        "file is truncated or damaged: frames stop at {} ms of {duration} ms",
                        self.decoded_until_ms
                    ))));
                }
                return None;
            }
            waited += PULL_POLL;
            if waited >= STALL_TIMEOUT {
                self.done = true;
                let _ = self.pipeline.set_state(gst::State::Null);
                return Some(Err(self.error(format!(
                    "decoder produced nothing for {} s",
                    STALL_TIMEOUT.as_secs()
                ))));
            }
        }
    }
}

fn start_file(path: &Path, decoder: &DecoderPick) -> Result<FileFrames, VideoError> {
    let spec = SourceSpec::File {
        path: path.to_path_buf(),
    };
    let source_name = path.display().to_string();
    let built = pipeline::build(
        &spec,
        Some(decoder),
        RtspTransport::Tcp,
        SinkMode::Every,
        &source_name,
    )?;
    let bus = built.pipeline.bus().ok_or_else(|| VideoError::Pipeline {
        source_name: source_name.clone(),
        message: "pipeline has no bus".into(),
    })?;
    let frames = FileFrames {
        _null: NullOnDrop(built.pipeline.clone()),
        pipeline: built.pipeline,
        sink: built.sink,
        bus,
        path: path.to_path_buf(),
        camera: source_name.as_str().into(),
        decoder: built.decoder,
        seq: 0,
        done: false,
        duration_ms: None,
        decoded_until_ms: 0,
    };
    if frames.pipeline.set_state(gst::State::Paused).is_err() {
        let message = frames
            .bus_error()
            .unwrap_or_else(|| "pipeline could not start".into());
        return Err(frames.error(message));
    }
    // Wait for preroll so unreadable files fail here rather than on the first `next()`. (An error
    // does not fail the pending state change, so watch the bus rather than the state.)
    let first = frames.bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(STALL_TIMEOUT.as_secs()),
        &[
            gst::MessageType::AsyncDone,
            gst::MessageType::Error,
            gst::MessageType::Eos,
        ],
    );
    match first.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => Err(frames.error(pipeline::error_text(e))),
        None => Err(frames.error(format!(
            "file did not start decoding within {} s",
            STALL_TIMEOUT.as_secs()
        ))),
        _ => {
            if frames.pipeline.set_state(gst::State::Playing).is_err() {
                let message = frames
                    .bus_error()
                    .unwrap_or_else(|| "pipeline could not start".into());
                return Err(frames.error(message));
            }
            let mut frames = frames;
            frames.duration_ms = frames
                .pipeline
                .query_duration::<gst::ClockTime>()
                .map(|d| d.mseconds());
            Ok(frames)
        }
    }
}

/// Decodes every frame of `path` in order, as fast as the decoder goes. Unreadable, non-video or
/// corrupt files give an error naming the file and GStreamer's message; a truncated file yields
/// the frames that decode and then an error.
pub fn decode_file(path: &Path, decoder: DecoderChoice) -> Result<FileFrames, VideoError> {
    ensure_gstreamer()?;
    std::fs::File::open(path).map_err(|source| VideoError::FileOpen {
        path: path.to_path_buf(),
        source,
    })?;
    let pick = pick_decoder(decoder)?;
    tracing::info!(file = %path.display(), decoder = %pick.element, hardware = pick.hardware, "decoder chosen");
    match start_file(path, &pick) {
        Err(e) if pick.hardware && decoder == DecoderChoice::Auto => {
            let soft = software_decoder()?;
            tracing::warn!(file = %path.display(), failed = %pick.element, decoder = %soft.element, error = %e,
                "hardware decoder failed; falling back to software");
            start_file(path, &soft)
        }
        other => other,
    }
}

/// Decode-only speed of the same pipeline: `(frames, seconds)` for the whole file.
pub fn decode_benchmark(path: &Path, decoder: DecoderChoice) -> Result<(u64, f64), VideoError> {
    let start = Instant::now();
    let mut frames = 0u64;
    for frame in decode_file(path, decoder)? {
        frame?;
        frames += 1;
    }
    Ok((frames, start.elapsed().as_secs_f64()))
}
