//! Building the GStreamer pipeline for a source: source → (depay/parse → decoder) → I420 → appsink.

use super::decoder::DecoderPick;
use super::url::SourceSpec;
use super::VideoError;
use crate::config::RtspTransport;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// RTSP jitter buffer: small, the gate wants the newest picture, not a smooth one.
const RTSP_LATENCY_MS: u32 = 100;

pub(crate) struct BuiltPipeline {
    pub pipeline: gst::Pipeline,
    pub sink: gst_app::AppSink,
    /// Element doing the decoding, for logs and the camera state.
    pub decoder: String,
}

/// How the appsink hands frames over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SinkMode {
    /// Newest frame only, never blocks upstream; `sync` plays files at their real speed.
    Newest { sync: bool },
    /// Every frame, in order, as fast as the decoder goes (upstream waits for the consumer).
    Every,
}

/// The decode chain after an H.264 elementary stream.
fn decode_chain(decoder: &DecoderPick) -> String {
    let mut chain = format!("h264parse ! {} name=decoder", decoder.element);
    // Jetson's decoder outputs NVMM memory that only nvvidconv can bring to system memory.
    if decoder.element == "nvv4l2decoder" && gst::ElementFactory::find("nvvidconv").is_some() {
        chain.push_str(" ! nvvidconv");
    }
    chain
}

pub(crate) fn build(
    spec: &SourceSpec,
    decoder: Option<&DecoderPick>,
    transport: RtspTransport,
    mode: SinkMode,
    source_name: &str,
) -> Result<BuiltPipeline, VideoError> {
    let need_decoder = || {
        decoder.ok_or_else(|| VideoError::Pipeline {
            source_name: source_name.to_string(),
            message: "internal: no decoder chosen for an encoded source".into(),
        })
    };
    let (head, decoder_name) = match spec {
        SourceSpec::File { .. } => {
            let d = need_decoder()?;
            (
                format!("filesrc name=src ! parsebin ! {}", decode_chain(d)),
                d.element.clone(),
            )
        }
        SourceSpec::Rtsp { .. } => {
            let d = need_decoder()?;
            (
                format!("rtspsrc name=src ! rtph264depay ! {}", decode_chain(d)),
                d.element.clone(),
            )
        }
        SourceSpec::V4l2 { .. } => (
            "v4l2src name=src ! decodebin".to_string(),
            "decodebin".to_string(),
        ),
        SourceSpec::Test {
            pattern,
            width,
            height,
            fps,
            h264,
        } => {
            let raw = format!(
                "videotestsrc name=src is-live=true pattern={pattern} ! video/x-raw,width={width},height={height},framerate={fps}/1"
            );
            if *h264 {
                let d = need_decoder()?;
                (
                    format!(
                        "{raw} ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} ! {}",
                        decode_chain(d)
                    ),
                    d.element.clone(),
                )
            } else {
                (raw, "none (raw test pattern)".to_string())
            }
        }
    };
    let description = format!("{head} ! videoconvert ! appsink name=sink");
    let pipeline_error = |message: String| VideoError::Pipeline {
        source_name: source_name.to_string(),
        message,
    };
    let element = gst::parse::launch(&description)
        .map_err(|e| pipeline_error(format!("cannot build pipeline `{description}`: {e}")))?;
    let pipeline = element
        .downcast::<gst::Pipeline>()
        .map_err(|_| pipeline_error("pipeline description did not produce a pipeline".into()))?;
    let by_name = |name: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| pipeline_error(format!("internal: pipeline has no element {name}")))
    };
    if let Some(dec) = pipeline.by_name("decoder") {
        // gst-libav already picks slice threading for live sources but frame threading for
        // files, which delays each frame's output by one frame per extra thread and keeps a
        // decoded picture per thread (at 1080p about 24 MiB, BENCHMARKS.md). Files decode like
        // cameras, so `bench` and `recognize` measure the path cameras take; one core decodes
        // a 1080p stream several times faster than the detector reads it.
        if dec.find_property("thread-type").is_some() {
            dec.set_property_from_str("thread-type", "slice");
        }
    }
    let src = by_name("src")?;
    match spec {
        SourceSpec::File { path } => src.set_property("location", path.to_string_lossy().as_ref()),
        SourceSpec::Rtsp {
            location,
            username,
            password,
        } => {
            src.set_property("location", location.as_str());
            src.set_property("latency", RTSP_LATENCY_MS);
            let protocols = match transport {
                RtspTransport::Tcp => "tcp",
                RtspTransport::Udp => "udp",
                RtspTransport::Auto => "udp+tcp",
            };
            src.set_property_from_str("protocols", protocols);
            if let Some(user) = username {
                src.set_property("user-id", user.as_str());
            }
            if let Some(pw) = password {
                src.set_property("user-pw", pw.as_str());
            }
        }
        SourceSpec::V4l2 { device } => {
            src.set_property("device", device.to_string_lossy().as_ref())
        }
        SourceSpec::Test { .. } => {}
    }
    let sink = by_name("sink")?
        .downcast::<gst_app::AppSink>()
        .map_err(|_| pipeline_error("internal: sink is not an appsink".into()))?;
    sink.set_caps(Some(
        &gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .build(),
    ));
    sink.set_property("enable-last-sample", false);
    match mode {
        SinkMode::Newest { sync } => {
            sink.set_max_buffers(1);
            sink.set_drop(true);
            sink.set_sync(sync);
        }
        SinkMode::Every => {
            // The analysis is far slower than the decoder: a deeper queue only holds more frames.
            sink.set_max_buffers(1);
            sink.set_drop(false);
            sink.set_sync(false);
        }
    }
    Ok(BuiltPipeline {
        pipeline,
        sink,
        decoder: decoder_name,
    })
}

/// One-line text of a GStreamer error message: the element, the error and its debug detail.
pub(crate) fn error_text(err: &gst::message::Error) -> String {
    let element = err
        .src()
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| "pipeline".into());
    let mut text = format!("{element}: {}", err.error());
    if let Some(debug) = err.debug() {
        let debug: String = debug.split_whitespace().collect::<Vec<_>>().join(" ");
        // The tail holds the useful part (the element path and reason); keep it readable.
        let short: String = debug
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        text.push_str(&format!(" ({short})"));
    }
    text
}

/// Whether the element named `name`, or one inside it, posted the error.
pub(crate) fn error_from(err: &gst::message::Error, name: &str) -> bool {
    let mut object = err.src().cloned();
    while let Some(o) = object {
        if o.name() == name {
            return true;
        }
        object = o.parent();
    }
    false
}

/// Sets the pipeline to Null when dropped, so every exit path releases the camera.
pub(crate) struct NullOnDrop(pub gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    /// A file decodes like a live camera: each frame is handed on as soon as it is decoded, so
    /// `bench` and `recognize` measure the path cameras take (gst-libav picks slice threading
    /// for live sources by itself).
    #[test]
    fn file_decoding_holds_no_frame_back() {
        crate::video::ensure_gstreamer().unwrap();
        if gst::ElementFactory::find("avdec_h264").is_none()
            || gst::ElementFactory::find("x264enc").is_none()
        {
            eprintln!("avdec_h264 or x264enc not installed: nothing to check");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("ball.mp4");
        let encode = gst::parse::launch(&format!(
            "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! x264enc speed-preset=ultrafast bframes=0 ! mp4mux ! filesink location={}",
            clip.display()
        ))
        .unwrap();
        encode.set_state(gst::State::Playing).unwrap();
        let bus = encode.bus().unwrap();
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Eos])
            .expect("test clip written");
        encode.set_state(gst::State::Null).unwrap();
        let spec = SourceSpec::File { path: clip };
        let pick = DecoderPick {
            element: "avdec_h264".into(),
            hardware: false,
        };
        let built = build(
            &spec,
            Some(&pick),
            RtspTransport::Tcp,
            SinkMode::Every,
            "test",
        )
        .unwrap();
        let decoder = built.pipeline.by_name("decoder").unwrap();
        let inside = Arc::new(AtomicI64::new(0));
        let most_inside = Arc::new(AtomicI64::new(0));
        let (i, m) = (inside.clone(), most_inside.clone());
        decoder
            .static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                let now = i.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            });
        let i = inside.clone();
        decoder
            .static_pad("src")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                i.fetch_sub(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            });
        built.pipeline.set_state(gst::State::Playing).unwrap();
        for _ in 0..50 {
            built
                .sink
                .try_pull_sample(gst::ClockTime::from_seconds(10))
                .expect("a decoded frame within 10 s");
        }
        built.pipeline.set_state(gst::State::Null).unwrap();
        // One frame inside while it is being decoded; frame threading with n threads holds n.
        assert_eq!(most_inside.load(Ordering::SeqCst), 1);
    }
}
