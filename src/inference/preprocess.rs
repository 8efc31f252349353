//! Frame → model input: bilinear resampling straight from I420 into the input tensor, with the
//! sidecar's normalisation and quantization folded into a 256-entry table per pixel value.

use super::sidecar::{Dtype, InputSpec};
use crate::video::{ColorRange, Frame};

/// How one 0..=255 channel value is written into the tensor.
pub(crate) enum PixelEncoder {
    /// int8 or uint8: one byte per channel.
    Bytes([u8; 256]),
    /// float32: four bytes per channel.
    Floats([f32; 256]),
}

impl PixelEncoder {
    /// Builds the table from the sidecar, preferring the model's own input quantization.
    pub fn new(spec: &InputSpec, model_quantization: Option<(f32, i64)>) -> PixelEncoder {
        let n = spec.normalisation;
        let real = |v: usize| v as f32 * n.scale + n.offset;
        match spec.dtype {
            Dtype::Float32 => PixelEncoder::Floats(std::array::from_fn(real)),
            Dtype::Int8 | Dtype::Uint8 => {
                let (scale, zp) = model_quantization
                    .filter(|(s, _)| *s > 0.0)
                    .or(spec.quantization.map(|q| (q.scale, q.zero_point)))
                    .unwrap_or((1.0, 0));
                let (lo, hi) = if spec.dtype == Dtype::Int8 {
                    (-128.0, 127.0)
                } else {
                    (0.0, 255.0)
                };
                PixelEncoder::Bytes(std::array::from_fn(|v| {
                    let q = ((real(v) / scale).round() + zp as f32).clamp(lo, hi);
                    if spec.dtype == Dtype::Int8 {
                        (q as i8) as u8
                    } else {
                        q as u8
                    }
                }))
            }
        }
    }

    fn bytes_per_value(&self) -> usize {
        match self {
            PixelEncoder::Bytes(_) => 1,
            PixelEncoder::Floats(_) => 4,
        }
    }

    #[inline]
    fn put(&self, out: &mut [u8], value_index: usize, v: u8) {
        match self {
            PixelEncoder::Bytes(t) => out[value_index] = t[v as usize],
            PixelEncoder::Floats(t) => out[value_index * 4..value_index * 4 + 4]
                .copy_from_slice(&t[v as usize].to_ne_bytes()),
        }
    }
}

/// Where a source rectangle lands in the tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placement {
    /// Source rectangle in frame pixels: x, y, width, height.
    pub src: [f32; 4],
    /// Destination rectangle in tensor pixels: x, y, width, height (inside the tensor).
    pub dst: [u32; 4],
}

impl Placement {
    /// Tensor pixel → frame pixel (continuous coordinates, pixel edges at integers).
    pub fn to_frame(&self, tx: f32, ty: f32) -> (f32, f32) {
        let [sx, sy, sw, sh] = self.src;
        let [dx, dy, dw, dh] = self.dst;
        (
            sx + (tx - dx as f32) * sw / dw as f32,
            sy + (ty - dy as f32) * sh / dh as f32,
        )
    }
}

/// Resampling weights along one axis: for each destination sample, the first source sample and
/// the weights of the consecutive source samples it averages.
struct Taps {
    first: Vec<u32>,
    /// `offsets[i]..offsets[i + 1]` indexes `weights` for destination sample `i`.
    offsets: Vec<usize>,
    weights: Vec<f32>,
}

impl Taps {
    #[inline]
    fn of(&self, i: usize) -> (usize, &[f32]) {
        (
            self.first[i] as usize,
            &self.weights[self.offsets[i]..self.offsets[i + 1]],
        )
    }
}

/// Taps for `n` destination samples covering frame coordinates `[start, start + len)` of an axis
/// with `size` source samples, each spanning `step` frame pixels (2 for subsampled chroma).
/// Shrinking averages the covered source samples by overlap (like OpenCV's INTER_AREA, which the
/// models were trained with); enlarging is bilinear between pixel centres.
fn taps(n: u32, start: f32, len: f32, size: u32, step: f32) -> Taps {
    let n = n.max(1) as usize;
    let size = size.max(1) as usize;
    let mut t = Taps {
        first: Vec::with_capacity(n),
        offsets: Vec::with_capacity(n + 1),
        weights: Vec::new(),
    };
    t.offsets.push(0);
    let span = len / n as f32 / step; // source samples per destination sample
    let max = (size - 1) as f32;
    for i in 0..n {
        let a = (start + i as f32 * len / n as f32) / step;
        if span > 1.0 {
            let b = a + span;
            let k0 = a.floor().max(0.0) as usize;
            let k1 = (b.ceil() as usize).min(size).max(k0 + 1);
            let k0 = k0.min(size - 1);
            let mut total = 0.0;
            let from = t.weights.len();
            for k in k0..k1 {
                let w = ((k + 1) as f32).min(b) - (k as f32).max(a);
                t.weights.push(w.max(0.0));
                total += w.max(0.0);
            }
            if total > 0.0 {
                t.weights[from..].iter_mut().for_each(|w| *w /= total);
            } else {
                t.weights[from..]
                    .iter_mut()
                    .for_each(|w| *w = 1.0 / (k1 - k0) as f32);
            }
            t.first.push(k0 as u32);
        } else {
            let c = (a + span / 2.0 - 0.5).clamp(0.0, max);
            let k0 = c.floor();
            let w1 = c - k0;
            t.first.push(k0 as u32);
            if (k0 as usize) + 1 < size && w1 > 0.0 {
                t.weights.extend_from_slice(&[1.0 - w1, w1]);
            } else {
                t.weights.push(1.0);
            }
        }
        t.offsets.push(t.weights.len());
    }
    t
}

/// Resamples one plane region into `dw x dh` values (separable: rows first, then columns).
fn resample_plane(
    plane: &[u8],
    stride: usize,
    xs: &Taps,
    ys: &Taps,
    dw: usize,
    dh: usize,
) -> Vec<f32> {
    // Source rows actually used.
    let row_lo = ys.first.iter().copied().min().unwrap_or(0) as usize;
    let row_hi = (0..dh)
        .map(|j| {
            let (f, w) = ys.of(j);
            f + w.len()
        })
        .max()
        .unwrap_or(row_lo + 1);
    let mut horizontal = vec![0f32; (row_hi - row_lo) * dw];
    for r in row_lo..row_hi {
        let src = &plane[r * stride..(r + 1) * stride];
        let dst = &mut horizontal[(r - row_lo) * dw..(r - row_lo + 1) * dw];
        for (i, out) in dst.iter_mut().enumerate() {
            let (f, w) = xs.of(i);
            *out = w
                .iter()
                .zip(&src[f..f + w.len()])
                .map(|(w, &p)| w * p as f32)
                .sum();
        }
    }
    let mut out = vec![0f32; dw * dh];
    for j in 0..dh {
        let (f, w) = ys.of(j);
        let row = &mut out[j * dw..(j + 1) * dw];
        for (k, &wk) in w.iter().enumerate() {
            let src = &horizontal[(f + k - row_lo) * dw..(f + k - row_lo + 1) * dw];
            for (o, &v) in row.iter_mut().zip(src) {
                *o += wk * v;
            }
        }
    }
    out
}

/// Fills a `width x height x channels` NHWC tensor: `placement.src` of the frame is resampled
/// into `placement.dst`, everything else gets `fill` (RGB). One channel means luma.
pub(crate) fn fill_tensor(
    frame: &Frame,
    placement: &Placement,
    width: u32,
    height: u32,
    channels: u32,
    fill: [u8; 3],
    encoder: &PixelEncoder,
    out: &mut [u8],
) {
    let ch = channels as usize;
    let needed = width as usize * height as usize * ch * encoder.bytes_per_value();
    debug_assert!(out.len() >= needed);
    if out.len() < needed || frame.width == 0 || frame.height == 0 {
        return;
    }
    let [sx, sy, sw, sh] = placement.src;
    let [dx, dy, dw, dh] = placement.dst;
    let (dw, dh) = (
        dw.min(width.saturating_sub(dx)),
        dh.min(height.saturating_sub(dy)),
    );
    let (fw, fh) = (frame.width, frame.height);
    let (cw, chh) = (fw.div_ceil(2), fh.div_ceil(2));
    let i420 = frame.i420();
    let luma = &i420[..(fw * fh) as usize];
    let y_vals = resample_plane(
        luma,
        fw as usize,
        &taps(dw, sx, sw, fw, 1.0),
        &taps(dh, sy, sh, fh, 1.0),
        dw as usize,
        dh as usize,
    );
    let chroma = (ch == 3).then(|| {
        let u_plane = &i420[(fw * fh) as usize..(fw * fh + cw * chh) as usize];
        let v_plane = &i420[(fw * fh + cw * chh) as usize..];
        let (xs, ys) = (taps(dw, sx, sw, cw, 2.0), taps(dh, sy, sh, chh, 2.0));
        (
            resample_plane(u_plane, cw as usize, &xs, &ys, dw as usize, dh as usize),
            resample_plane(v_plane, cw as usize, &xs, &ys, dw as usize, dh as usize),
        )
    });
    let fill_grey =
        ((fill[0] as u32 * 299 + fill[1] as u32 * 587 + fill[2] as u32 * 114) / 1000) as u8;
    let limited = frame.range == ColorRange::Limited;
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;

    for ty in 0..height {
        let row_base = ty as usize * width as usize;
        let inside_y = ty >= dy && ty < dy + dh;
        for tx in 0..width {
            let idx = (row_base + tx as usize) * ch;
            if !inside_y || tx < dx || tx >= dx + dw {
                if ch == 1 {
                    encoder.put(out, idx, fill_grey);
                } else {
                    for (c, &v) in fill.iter().enumerate() {
                        encoder.put(out, idx + c, v);
                    }
                }
                continue;
            }
            let k = (ty - dy) as usize * dw as usize + (tx - dx) as usize;
            let y = y_vals[k];
            let y = if limited {
                (y - 16.0) * (255.0 / 219.0)
            } else {
                y
            };
            let Some((u_vals, v_vals)) = &chroma else {
                encoder.put(out, idx, clamp(y));
                continue;
            };
            let (u, v) = (u_vals[k] - 128.0, v_vals[k] - 128.0);
            let (u, v) = if limited {
                (u * (255.0 / 224.0), v * (255.0 / 224.0))
            } else {
                (u, v)
            };
            encoder.put(out, idx, clamp(y + 1.402 * v));
            encoder.put(out, idx + 1, clamp(y - 0.344_136 * u - 0.714_136 * v));
            encoder.put(out, idx + 2, clamp(y + 1.772 * u));
        }
    }
}

/// Output tensor bytes → real values.
pub(crate) fn dequantize(
    bytes: &[u8],
    dtype: super::litert::ElementType,
    quantization: Option<(f32, i64)>,
) -> Vec<f32> {
    use super::litert::ElementType;
    let (scale, zp) = quantization.unwrap_or((1.0, 0));
    match dtype {
        ElementType::Float32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        ElementType::Int8 => bytes
            .iter()
            .map(|&b| ((b as i8) as i64 - zp) as f32 * scale)
            .collect(),
        ElementType::UInt8 => bytes
            .iter()
            .map(|&b| (b as i64 - zp) as f32 * scale)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::sidecar::{Normalisation, Quantization};

    fn spec(dtype: Dtype) -> InputSpec {
        InputSpec {
            width: 4,
            height: 2,
            channels: 3,
            dtype,
            normalisation: Normalisation {
                scale: 1.0 / 255.0,
                offset: 0.0,
            },
            quantization: Some(Quantization {
                scale: 1.0 / 255.0,
                zero_point: -128,
            }),
        }
    }

    #[test]
    fn int8_table_maps_black_and_white_to_range_ends() {
        let PixelEncoder::Bytes(t) = PixelEncoder::new(&spec(Dtype::Int8), None) else {
            panic!("int8 is bytes")
        };
        assert_eq!(t[0] as i8, -128);
        assert_eq!(t[255] as i8, 127);
    }

    #[test]
    fn letterbox_keeps_colours_and_fills_the_rest() {
        // 8x4 frame: left half red, right half blue; into an 8x8 tensor, top-left.
        let (w, h) = (8u32, 4u32);
        let mut rgb = Vec::new();
        for _y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(if x < 4 {
                    &[200, 30, 30]
                } else {
                    &[30, 30, 200]
                });
            }
        }
        let frame = Frame::from_rgb("t".into(), w, h, &rgb);
        let enc = PixelEncoder::new(
            &InputSpec {
                dtype: Dtype::Float32,
                ..spec(Dtype::Float32)
            },
            None,
        );
        let mut out = vec![0u8; 8 * 8 * 3 * 4];
        let placement = Placement {
            src: [0.0, 0.0, 8.0, 4.0],
            dst: [0, 0, 8, 4],
        };
        fill_tensor(&frame, &placement, 8, 8, 3, [114, 114, 114], &enc, &mut out);
        let px = |x: usize, y: usize| -> [f32; 3] {
            let i = (y * 8 + x) * 3 * 4;
            std::array::from_fn(|c| {
                f32::from_ne_bytes(out[i + 4 * c..i + 4 * c + 4].try_into().unwrap()) * 255.0
            })
        };
        let red = px(1, 1);
        assert!(red[0] > 190.0 && red[2] < 45.0, "{red:?}");
        let blue = px(6, 2);
        assert!(blue[2] > 190.0 && blue[0] < 45.0, "{blue:?}");
        let pad = px(3, 6);
        assert!(pad.iter().all(|&v| (v - 114.0).abs() < 0.5), "{pad:?}");
        assert_eq!(placement.to_frame(8.0, 4.0), (8.0, 4.0));
    }

    #[test]
    fn shrinking_averages_instead_of_skipping_pixels() {
        // A 1-pixel checkerboard shrunk 4x must come out mid-grey, not black or white.
        let (w, h) = (16u32, 16u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = if (i % w + i / w) % 2 == 0 { 255 } else { 0 };
                [v, v, v]
            })
            .collect();
        let frame = Frame::from_rgb("t".into(), w, h, &rgb);
        let enc = PixelEncoder::new(
            &InputSpec {
                channels: 1,
                ..spec(Dtype::Uint8)
            },
            Some((1.0 / 255.0, 0)),
        );
        let mut out = vec![0u8; 4 * 4];
        fill_tensor(
            &frame,
            &Placement {
                src: [0.0, 0.0, 16.0, 16.0],
                dst: [0, 0, 4, 4],
            },
            4,
            4,
            1,
            [0, 0, 0],
            &enc,
            &mut out,
        );
        assert!(out.iter().all(|&v| (v as i32 - 128).abs() <= 2), "{out:?}");
    }
}
