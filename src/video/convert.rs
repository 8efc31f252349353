//! From GStreamer samples to [`Frame`]s, and small JPEG previews of frames.

use super::frame::{i420_len, ColorRange, Frame};
use gstreamer as gst;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// Copies an I420 sample into a tightly packed frame (GStreamer rows may be padded).
pub(crate) fn frame_from_sample(
    sample: &gst::SampleRef,
    camera: &Arc<str>,
    seq: u64,
    captured_at: jiff::Timestamp,
    captured_mono: Instant,
) -> Result<Frame, String> {
    let caps = sample.caps().ok_or("decoded sample has no caps")?;
    let info = gst_video::VideoInfo::from_caps(caps)
        .map_err(|e| format!("unreadable video caps {caps}: {e}"))?;
    if info.format() != gst_video::VideoFormat::I420 {
        return Err(format!("expected I420 frames, got {:?}", info.format()));
    }
    let buffer = sample.buffer().ok_or("decoded sample has no buffer")?;
    let video = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|e| format!("cannot map decoded frame: {e}"))?;
    let (width, height) = (info.width(), info.height());
    // Straight into the shared buffer: a Vec turned into `Arc<[u8]>` would be copied once more.
    let mut data: Arc<[u8]> = std::iter::repeat_n(0u8, i420_len(width, height)).collect();
    let out = Arc::get_mut(&mut data).expect("a new buffer has one owner");
    let mut at = 0;
    for plane in 0..3u32 {
        let (plane_w, plane_h) = if plane == 0 {
            (width as usize, height as usize)
        } else {
            ((width as usize).div_ceil(2), (height as usize).div_ceil(2))
        };
        let stride = video.plane_stride()[plane as usize] as usize;
        let pixels = video
            .plane_data(plane)
            .map_err(|e| format!("cannot read plane {plane}: {e}"))?;
        for row in 0..plane_h {
            let line = pixels
                .get(row * stride..row * stride + plane_w)
                .ok_or_else(|| {
                    format!("plane {plane} shorter than {plane_h} rows of {plane_w} bytes")
                })?;
            out[at..at + plane_w].copy_from_slice(line);
            at += plane_w;
        }
    }
    let range = match info.colorimetry().range() {
        gst_video::VideoColorRange::Range0_255 => ColorRange::Full,
        _ => ColorRange::Limited,
    };
    let mut frame = Frame::from_i420(camera.clone(), seq, width, height, range, data);
    frame.pts_ms = buffer.pts().map(|t| t.mseconds());
    frame.captured_at = captured_at;
    frame.captured_mono = captured_mono;
    Ok(frame)
}

/// A JPEG of the frame scaled to `width` pixels wide (nearest neighbour: it is a status-page
/// preview, not evidence).
pub fn thumbnail_jpeg(frame: &Frame, width: u32) -> Option<Vec<u8>> {
    if frame.width == 0 || frame.height == 0 {
        return None;
    }
    let out_w = width.clamp(1, frame.width);
    let out_h = ((frame.height as u64 * out_w as u64) / frame.width as u64).max(1) as u32;
    let mut rgb = Vec::with_capacity(out_w as usize * out_h as usize * 3);
    for y in 0..out_h {
        let sy = (y as u64 * frame.height as u64 / out_h as u64) as u32;
        for x in 0..out_w {
            let sx = (x as u64 * frame.width as u64 / out_w as u64) as u32;
            rgb.extend_from_slice(&frame.rgb_at(sx, sy));
        }
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75)
        .encode(&rgb, out_w, out_h, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(jpeg)
}
