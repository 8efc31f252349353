//! A decoded picture as it leaves the camera stage.

use std::sync::Arc;
use std::time::Instant;

/// Whether luma spans 16..=235 (video) or 0..=255 (stills).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorRange {
    Limited,
    Full,
}

/// One full-resolution frame in planar I420 (Y, then U and V at half resolution), tightly packed.
/// Cloning is cheap: the pixels are shared.
#[derive(Clone)]
pub struct Frame {
    pub camera: Arc<str>,
    /// Frame number within this camera's stream, from 0.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    pub range: ColorRange,
    data: Arc<[u8]>,
    /// Position in a video file (presentation time). `None` for live sources (RTSP, V4L2,
    /// test pattern), whose clock restarts at every reconnect.
    pub pts_ms: Option<u64>,
    /// Wall-clock capture time (when the decoded frame reached boomgate).
    pub captured_at: jiff::Timestamp,
    /// Monotonic capture time, for latency measurements.
    pub captured_mono: Instant,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("size", &(self.width, self.height))
            .field("pts_ms", &self.pts_ms)
            .finish()
    }
}

/// Size in bytes of a tightly packed I420 picture.
pub fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
}

impl Frame {
    /// Wraps packed I420 pixels. Panics if `data` has the wrong length (a programming error).
    pub fn from_i420(
        camera: Arc<str>,
        seq: u64,
        width: u32,
        height: u32,
        range: ColorRange,
        data: Arc<[u8]>,
    ) -> Frame {
        assert_eq!(
            data.len(),
            i420_len(width, height),
            "I420 buffer size for {width}x{height}"
        );
        Frame {
            camera,
            seq,
            width,
            height,
            range,
            data,
            pts_ms: None,
            captured_at: jiff::Timestamp::now(),
            captured_mono: Instant::now(),
        }
    }

    /// Converts packed RGB8 (stills, tests) to a full-range frame.
    pub fn from_rgb(camera: Arc<str>, width: u32, height: u32, rgb: &[u8]) -> Frame {
        assert_eq!(
            rgb.len(),
            width as usize * height as usize * 3,
            "RGB buffer size for {width}x{height}"
        );
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut data = vec![0u8; i420_len(width, height)];
        let (y_plane, uv) = data.split_at_mut(w * h);
        let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            let (r, g, b) = (px[0] as f32, px[1] as f32, px[2] as f32);
            y_plane[i] = (0.299 * r + 0.587 * g + 0.114 * b)
                .round()
                .clamp(0.0, 255.0) as u8;
        }
        for cy in 0..ch {
            for cx in 0..cw {
                // Average the 2x2 block (edge blocks may be smaller).
                let (mut r, mut g, mut b, mut n) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
                for y in (2 * cy)..(2 * cy + 2).min(h) {
                    for x in (2 * cx)..(2 * cx + 2).min(w) {
                        let p = &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
                        r += p[0] as f32;
                        g += p[1] as f32;
                        b += p[2] as f32;
                        n += 1.0;
                    }
                }
                let (r, g, b) = (r / n, g / n, b / n);
                u_plane[cy * cw + cx] = (128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b)
                    .round()
                    .clamp(0.0, 255.0) as u8;
                v_plane[cy * cw + cx] = (128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
        Frame::from_i420(camera, 0, width, height, ColorRange::Full, data.into())
    }

    /// The packed I420 bytes.
    pub fn i420(&self) -> &[u8] {
        &self.data
    }

    /// The luma plane, `width * height` bytes, row stride `width`.
    pub fn luma(&self) -> &[u8] {
        &self.data[..self.width as usize * self.height as usize]
    }

    fn chroma(&self) -> (&[u8], &[u8], usize) {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let uv = &self.data[w * h..];
        (&uv[..cw * ch], &uv[cw * ch..2 * cw * ch], cw)
    }

    /// Full-range grey value of a luma sample.
    #[inline]
    pub fn gray_at(&self, x: u32, y: u32) -> u8 {
        let v = self.luma()[y as usize * self.width as usize + x as usize];
        expand_luma(v, self.range)
    }

    /// RGB of one pixel (BT.601).
    #[inline]
    pub fn rgb_at(&self, x: u32, y: u32) -> [u8; 3] {
        let (u_plane, v_plane, cw) = self.chroma();
        let yv = self.luma()[y as usize * self.width as usize + x as usize] as f32;
        let ci = (y as usize / 2) * cw + x as usize / 2;
        let (u, v) = (u_plane[ci] as f32 - 128.0, v_plane[ci] as f32 - 128.0);
        let (yv, u, v) = match self.range {
            ColorRange::Full => (yv, u, v),
            ColorRange::Limited => (
                (yv - 16.0) * (255.0 / 219.0),
                u * (255.0 / 224.0),
                v * (255.0 / 224.0),
            ),
        };
        let r = yv + 1.402 * v;
        let g = yv - 0.344_136 * u - 0.714_136 * v;
        let b = yv + 1.772 * u;
        [
            r.round().clamp(0.0, 255.0) as u8,
            g.round().clamp(0.0, 255.0) as u8,
            b.round().clamp(0.0, 255.0) as u8,
        ]
    }

    /// Packed RGB8 of the pixel rectangle `(x, y, w, h)` (must lie inside the frame).
    pub fn rgb_region(&self, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
        assert!(
            x + w <= self.width && y + h <= self.height,
            "region outside frame"
        );
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for yy in y..y + h {
            for xx in x..x + w {
                out.extend_from_slice(&self.rgb_at(xx, yy));
            }
        }
        out
    }

    /// The whole frame as packed RGB8.
    pub fn to_rgb(&self) -> Vec<u8> {
        self.rgb_region(0, 0, self.width, self.height)
    }
}

/// Maps a luma sample to full range.
#[inline]
pub fn expand_luma(v: u8, range: ColorRange) -> u8 {
    match range {
        ColorRange::Full => v,
        ColorRange::Limited => (((v as i32 - 16) * 255 + 109) / 219).clamp(0, 255) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_round_trip_is_close() {
        let (w, h) = (6u32, 4u32);
        let mut rgb = Vec::new();
        for i in 0..(w * h) {
            // Flat 2x2 blocks so chroma subsampling is lossless.
            let block = ((i % w) / 2 + (i / w) / 2 * 3) as u8;
            rgb.extend_from_slice(&[block * 40, 200 - block * 30, 30 + block * 20]);
        }
        let f = Frame::from_rgb("t".into(), w, h, &rgb);
        let back = f.to_rgb();
        for (a, b) in rgb.iter().zip(back.iter()) {
            assert!((*a as i32 - *b as i32).abs() <= 2, "{a} vs {b}");
        }
    }

    #[test]
    fn limited_range_expands_to_full() {
        assert_eq!(expand_luma(16, ColorRange::Limited), 0);
        assert_eq!(expand_luma(235, ColorRange::Limited), 255);
        assert_eq!(expand_luma(100, ColorRange::Full), 100);
    }

    #[test]
    fn odd_sizes_are_supported() {
        let rgb = vec![128u8; 5 * 3 * 3];
        let f = Frame::from_rgb("t".into(), 5, 3, &rgb);
        assert_eq!(f.i420().len(), i420_len(5, 3));
        assert_eq!(f.rgb_at(4, 2), [128, 128, 128]);
    }
}
