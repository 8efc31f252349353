//! Plate detector: letterbox the frame (or its region of interest) into the model input, run it,
//! decode boxes (`boomgate-grid` or `yolov8` layout), threshold, map back to frame pixels, NMS.

use super::litert::{ModelRunner, Runtime};
use super::preprocess::{dequantize, fill_tensor, PixelEncoder, Placement};
use super::sidecar::{BoxUnits, DetectorFormat, LetterboxPlacement, LoadedSidecar, ModelKind};
use super::{InferenceError, PlateBox};
use crate::config::DetectorSettings;
use crate::geometry::BBox;
use crate::video::Frame;

/// A loaded detector model with its decoding settings.
pub struct Detector {
    runner: ModelRunner,
    sidecar: LoadedSidecar,
    encoder: PixelEncoder,
    /// Model output position for each sidecar output.
    positions: Vec<usize>,
    format: DetectorFormat,
    letterbox: LetterboxPlacement,
    fill: [u8; 3],
    box_units: BoxUnits,
    plate_class: usize,
    pub score_threshold: f32,
    pub nms_iou: f32,
    pub max_detections: usize,
    pub min_width_px: f32,
}

impl Detector {
    /// Loads the detector described by the sidecar at `sidecar_path`.
    pub fn load(
        runtime: &Runtime,
        sidecar_path: &std::path::Path,
        settings: &DetectorSettings,
    ) -> Result<Detector, InferenceError> {
        let sidecar = LoadedSidecar::read(sidecar_path)?;
        if sidecar.sidecar.kind != ModelKind::Detector {
            return Err(InferenceError::SidecarInvalid {
                path: sidecar.path.clone(),
                field: "kind".into(),
                message: "expected \"detector\"".into(),
            });
        }
        let model_path = sidecar.model_path();
        let runner = ModelRunner::open(runtime, &model_path, settings.threads)?;
        let positions = sidecar.validate(&model_path, &runner.input_info, &runner.output_info)?;
        let s = &sidecar.sidecar;
        let encoder = PixelEncoder::new(&s.input, runner.input_info[0].quantization);
        let format = s.format.unwrap_or(DetectorFormat::BoomgateGrid);
        let default_letterbox = match format {
            DetectorFormat::BoomgateGrid => LetterboxPlacement::TopLeft,
            DetectorFormat::Yolov8 => LetterboxPlacement::Centre,
        };
        Ok(Detector {
            encoder,
            positions,
            format,
            letterbox: s.letterbox.unwrap_or(default_letterbox),
            fill: s.letterbox_colour.unwrap_or([114, 114, 114]),
            box_units: s.box_units.unwrap_or_default(),
            plate_class: s.plate_class.unwrap_or(0),
            score_threshold: settings
                .score_threshold
                .or(s.score_threshold)
                .unwrap_or(0.5),
            nms_iou: settings.nms_iou.or(s.nms_iou).unwrap_or(0.45),
            max_detections: s.max_detections.unwrap_or(20).max(1),
            min_width_px: settings.min_width_px as f32,
            runner,
            sidecar,
        })
    }

    /// The sidecar this detector was loaded from.
    pub fn sidecar(&self) -> &LoadedSidecar {
        &self.sidecar
    }

    /// Where `region` (x, y, w, h of the frame) lands in the model input.
    fn placement(&self, region: [f32; 4]) -> Placement {
        let (mw, mh) = (
            self.sidecar.sidecar.input.width,
            self.sidecar.sidecar.input.height,
        );
        let scale = (mw as f32 / region[2]).min(mh as f32 / region[3]);
        let rw = ((region[2] * scale).round() as u32).clamp(1, mw);
        let rh = ((region[3] * scale).round() as u32).clamp(1, mh);
        let (px, py) = match self.letterbox {
            LetterboxPlacement::TopLeft => (0, 0),
            LetterboxPlacement::Centre => ((mw - rw) / 2, (mh - rh) / 2),
        };
        Placement {
            src: region,
            dst: [px, py, rw, rh],
        }
    }

    /// Finds plates in `frame`, inside `roi` (`[x1, y1, x2, y2]` frame pixels) when given.
    /// Boxes are in full-frame pixels, best score first.
    pub fn detect(
        &mut self,
        frame: &Frame,
        roi: Option<[u32; 4]>,
    ) -> Result<Vec<PlateBox>, InferenceError> {
        if frame.width == 0 || frame.height == 0 {
            return Err(InferenceError::BadInput("empty frame".into()));
        }
        let region = match roi {
            None => [0.0, 0.0, frame.width as f32, frame.height as f32],
            Some([x1, y1, x2, y2]) => {
                let (x1, x2) = (x1.min(frame.width), x2.min(frame.width));
                let (y1, y2) = (y1.min(frame.height), y2.min(frame.height));
                if x2 <= x1 || y2 <= y1 {
                    return Err(InferenceError::BadInput(format!(
                        "region of interest {:?} is empty inside a {}x{} frame",
                        roi.unwrap_or_default(),
                        frame.width,
                        frame.height
                    )));
                }
                [x1 as f32, y1 as f32, (x2 - x1) as f32, (y2 - y1) as f32]
            }
        };
        let placement = self.placement(region);
        let input = &self.sidecar.sidecar.input;
        let (mw, mh, ch) = (input.width, input.height, input.channels);
        fill_tensor(
            frame,
            &placement,
            mw,
            mh,
            ch,
            self.fill,
            &self.encoder,
            self.runner.input_mut(0),
        );
        self.runner.run()?;

        let mut raw = match self.format {
            DetectorFormat::BoomgateGrid => self.decode_grid(),
            DetectorFormat::Yolov8 => self.decode_yolov8(),
        };
        // Model-input pixels → frame pixels, clipped to the analysed region.
        let (rx2, ry2) = (region[0] + region[2], region[1] + region[3]);
        for d in raw.iter_mut() {
            let (x1, y1) = placement.to_frame(d.bbox.x1, d.bbox.y1);
            let (x2, y2) = placement.to_frame(d.bbox.x2, d.bbox.y2);
            d.bbox = BBox::new(
                x1.max(region[0]),
                y1.max(region[1]),
                x2.min(rx2),
                y2.min(ry2),
            );
        }
        raw.retain(|d| d.bbox.width() > 0.0 && d.bbox.height() > 0.0);
        let mut kept = nms(raw, self.nms_iou, self.max_detections);
        kept.retain(|d| d.bbox.width() >= self.min_width_px);
        Ok(kept)
    }

    /// Runs the model on `frame` and returns its dequantized outputs in sidecar order, before any
    /// decoding (for comparing with reference outputs and for tools).
    pub fn raw_outputs(&mut self, frame: &Frame) -> Result<Vec<Vec<f32>>, InferenceError> {
        let placement = self.placement([0.0, 0.0, frame.width as f32, frame.height as f32]);
        let input = &self.sidecar.sidecar.input;
        let (mw, mh, ch) = (input.width, input.height, input.channels);
        fill_tensor(
            frame,
            &placement,
            mw,
            mh,
            ch,
            self.fill,
            &self.encoder,
            self.runner.input_mut(0),
        );
        self.runner.run()?;
        Ok((0..self.positions.len()).map(|i| self.output(i)).collect())
    }

    fn output(&self, sidecar_index: usize) -> Vec<f32> {
        let pos = self.positions[sidecar_index];
        let info = &self.runner.output_info[pos];
        dequantize(self.runner.output(pos), info.dtype, info.quantization)
    }

    /// Boxes above the threshold, in model-input pixels.
    fn decode_grid(&self) -> Vec<PlateBox> {
        let outs = &self.sidecar.sidecar.outputs;
        let boxes_at = outs.iter().position(|o| o.name == "boxes").unwrap_or(0);
        let scores_at = outs.iter().position(|o| o.name == "scores").unwrap_or(1);
        let boxes = self.output(boxes_at);
        let scores = self.output(scores_at);
        let input = &self.sidecar.sidecar.input;
        let (w, h) = (input.width as f32, input.height as f32);
        scores
            .iter()
            .enumerate()
            .filter(|(i, &s)| s >= self.score_threshold && boxes.len() >= 4 * i + 4)
            .map(|(i, &s)| {
                let b = &boxes[4 * i..4 * i + 4];
                PlateBox {
                    bbox: BBox::new(b[0] * w, b[1] * h, b[2] * w, b[3] * h),
                    score: s,
                }
            })
            .collect()
    }

    fn decode_yolov8(&self) -> Vec<PlateBox> {
        let values = self.output(0);
        let shape = &self.sidecar.sidecar.outputs[0].shape;
        let (a, b) = (shape[1] as usize, shape[2] as usize);
        // [1, 4+classes, N] per the contract; accept the transposed [1, N, 4+classes] too.
        let transposed = a > b && b >= 5;
        let (attrs, n, channels_first) = if transposed {
            (b, a, false)
        } else {
            (a, b, true)
        };
        let at = |attr: usize, i: usize| {
            if channels_first {
                values[attr * n + i]
            } else {
                values[i * attrs + attr]
            }
        };
        let class_attr = 4 + self.plate_class.min(attrs.saturating_sub(5));
        let input = &self.sidecar.sidecar.input;
        let (sx, sy) = match self.box_units {
            BoxUnits::Pixels => (1.0, 1.0),
            BoxUnits::Normalised => (input.width as f32, input.height as f32),
        };
        (0..n)
            .filter_map(|i| {
                let score = at(class_attr, i);
                (score >= self.score_threshold).then(|| {
                    let (cx, cy, w, h) =
                        (at(0, i) * sx, at(1, i) * sy, at(2, i) * sx, at(3, i) * sy);
                    PlateBox {
                        bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
                        score,
                    }
                })
            })
            .collect()
    }
}

/// Share of the smaller box covered by another box above which the two are one plate. Plates
/// never overlap like that in a picture, but a loose and a tight box on the same plate can have
/// an IoU below the NMS threshold.
const SAME_PLATE_COVER: f32 = 0.7;

/// Greedy non-maximum suppression: best score first, drop boxes overlapping a kept one by more
/// than `iou` (or mostly covering / covered by it), keep at most `max`.
pub fn nms(mut boxes: Vec<PlateBox>, iou: f32, max: usize) -> Vec<PlateBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<PlateBox> = Vec::new();
    for b in boxes {
        if kept.len() >= max {
            break;
        }
        if kept
            .iter()
            .all(|k| k.bbox.iou(&b.bbox) <= iou && cover(&k.bbox, &b.bbox) < SAME_PLATE_COVER)
        {
            kept.push(b);
        }
    }
    kept
}

/// Intersection over the smaller area.
fn cover(a: &BBox, b: &BBox) -> f32 {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let smaller = a.area().min(b.area());
    if smaller <= 0.0 {
        0.0
    } else {
        ix * iy / smaller
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_keeps_best_of_overlapping_and_all_disjoint() {
        let b = |x: f32, s: f32| PlateBox {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score: s,
        };
        let kept = nms(vec![b(0.0, 0.6), b(1.0, 0.9), b(50.0, 0.7)], 0.45, 20);
        let scores: Vec<f32> = kept.iter().map(|k| k.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
        assert_eq!(nms(vec![b(0.0, 0.6), b(50.0, 0.7)], 0.45, 1).len(), 1);
    }

    #[test]
    fn a_loose_box_around_a_tight_one_is_the_same_plate() {
        // IoU 0.43 (below the NMS threshold) but the tight box lies 77 % inside the loose one.
        let tight = PlateBox {
            bbox: BBox::new(0.0, 30.0, 246.0, 108.0),
            score: 0.9,
        };
        let loose = PlateBox {
            bbox: BBox::new(65.0, 0.0, 316.0, 111.0),
            score: 0.8,
        };
        assert!(tight.bbox.iou(&loose.bbox) < 0.45);
        assert_eq!(nms(vec![loose, tight], 0.45, 20), vec![tight]);
        // Side-by-side plates stay apart.
        let other = PlateBox {
            bbox: BBox::new(250.0, 30.0, 496.0, 108.0),
            score: 0.7,
        };
        assert_eq!(nms(vec![tight, other], 0.45, 20).len(), 2);
    }
}
