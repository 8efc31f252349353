//! Plate reader: crop from the full-resolution frame, stretch to the model input, run the CTC
//! model, greedy-decode text with per-character confidences and alternative readings.

use super::litert::{ModelRunner, Runtime};
use super::preprocess::{dequantize, fill_tensor, PixelEncoder, Placement};
use super::sidecar::{LoadedSidecar, ModelKind, OutputActivation};
use super::{Candidate, InferenceError, PlateText};
use crate::config::OcrSettings;
use crate::geometry::BBox;
use crate::video::Frame;

/// How many alternative readings a plate gets at most.
const MAX_CANDIDATES: usize = 4;

/// A loaded OCR model.
pub struct Reader {
    runner: ModelRunner,
    sidecar: LoadedSidecar,
    encoder: PixelEncoder,
    logits_position: usize,
    decoder: CtcDecoder,
    crop_margin: f32,
}

impl Reader {
    /// Loads the reader described by the sidecar at `sidecar_path`.
    pub fn load(
        runtime: &Runtime,
        sidecar_path: &std::path::Path,
        settings: &OcrSettings,
    ) -> Result<Reader, InferenceError> {
        let sidecar = LoadedSidecar::read(sidecar_path)?;
        if sidecar.sidecar.kind != ModelKind::Ocr {
            return Err(InferenceError::SidecarInvalid {
                path: sidecar.path.clone(),
                field: "kind".into(),
                message: "expected \"ocr\"".into(),
            });
        }
        let model_path = sidecar.model_path();
        let runner = ModelRunner::open(runtime, &model_path, settings.threads)?;
        let positions = sidecar.validate(&model_path, &runner.input_info, &runner.output_info)?;
        let s = &sidecar.sidecar;
        let logits_at = s
            .outputs
            .iter()
            .position(|o| o.name == "logits")
            .unwrap_or(0);
        let shape = &s.outputs[logits_at].shape;
        let decoder = CtcDecoder {
            steps: shape[1] as usize,
            classes: shape[2] as usize,
            blank: s.blank_index.unwrap_or(0),
            alphabet: s.alphabet.clone().unwrap_or_default().chars().collect(),
            softmax: s.output_activation.unwrap_or_default() == OutputActivation::None,
        };
        Ok(Reader {
            encoder: PixelEncoder::new(&s.input, runner.input_info[0].quantization),
            logits_position: positions[logits_at],
            decoder,
            crop_margin: settings.crop_margin.max(0.0),
            runner,
            sidecar,
        })
    }

    pub fn sidecar(&self) -> &LoadedSidecar {
        &self.sidecar
    }

    /// The decoder settings taken from the sidecar.
    pub fn decoder(&self) -> &CtcDecoder {
        &self.decoder
    }

    /// Per-step class probabilities `[T][C]` for the crop `bbox` (no margin added), for
    /// comparing with reference outputs.
    pub fn step_probabilities(
        &mut self,
        frame: &Frame,
        bbox: &BBox,
    ) -> Result<Vec<Vec<f32>>, InferenceError> {
        let crop = bbox.clamp(frame.width, frame.height);
        let input = &self.sidecar.sidecar.input;
        let (w, h, ch) = (input.width, input.height, input.channels);
        let placement = Placement {
            src: [
                crop.x1,
                crop.y1,
                crop.width().max(1.0),
                crop.height().max(1.0),
            ],
            dst: [0, 0, w, h],
        };
        fill_tensor(
            frame,
            &placement,
            w,
            h,
            ch,
            [0, 0, 0],
            &self.encoder,
            self.runner.input_mut(0),
        );
        self.runner.run()?;
        let info = &self.runner.output_info[self.logits_position];
        let values = dequantize(
            self.runner.output(self.logits_position),
            info.dtype,
            info.quantization,
        );
        let d = &self.decoder;
        Ok(values
            .chunks(d.classes)
            .take(d.steps)
            .map(|row| d.probabilities(row))
            .collect())
    }

    /// Reads the plate inside `bbox` (full-frame pixels). The crop is widened by the configured
    /// margin and cut from the full-resolution frame.
    pub fn read(&mut self, frame: &Frame, bbox: &BBox) -> Result<PlateText, InferenceError> {
        let crop = bbox
            .expand(self.crop_margin)
            .clamp(frame.width, frame.height);
        if crop.width() < 1.0 || crop.height() < 1.0 {
            return Ok(PlateText {
                text: String::new(),
                confidence: 0.0,
                char_confidences: Vec::new(),
                candidates: Vec::new(),
            });
        }
        let input = &self.sidecar.sidecar.input;
        let (w, h, ch) = (input.width, input.height, input.channels);
        let placement = Placement {
            src: [crop.x1, crop.y1, crop.width(), crop.height()],
            dst: [0, 0, w, h],
        };
        fill_tensor(
            frame,
            &placement,
            w,
            h,
            ch,
            [0, 0, 0],
            &self.encoder,
            self.runner.input_mut(0),
        );
        self.runner.run()?;
        let info = &self.runner.output_info[self.logits_position];
        let values = dequantize(
            self.runner.output(self.logits_position),
            info.dtype,
            info.quantization,
        );
        Ok(self.decoder.decode(&values))
    }
}

/// Greedy CTC decoding per the model contract.
#[derive(Debug, Clone)]
pub struct CtcDecoder {
    pub steps: usize,
    pub classes: usize,
    pub blank: usize,
    /// Characters of the non-blank classes, in class order (class i ↦ alphabet[i-1] for blank 0).
    pub alphabet: Vec<char>,
    /// Apply a softmax first (the model outputs raw logits).
    pub softmax: bool,
}

/// One decoded character before filtering.
struct DecodedChar {
    ch: char,
    prob: f32,
    /// Best other non-blank reading at the step that gave `prob`.
    runner_up: Option<(char, f32)>,
}

impl CtcDecoder {
    fn char_of(&self, class: usize) -> Option<char> {
        if class == self.blank {
            return None;
        }
        let i = if class > self.blank { class - 1 } else { class };
        self.alphabet
            .get(i)
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }

    /// One step's class probabilities (softmax applied when the model gives raw logits).
    pub fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        let mut probs = row.to_vec();
        if self.softmax {
            softmax(&mut probs);
        }
        probs
    }

    /// `values` is `[T, C]` row-major (probabilities or logits).
    pub fn decode(&self, values: &[f32]) -> PlateText {
        let mut chars: Vec<DecodedChar> = Vec::new();
        let mut prev: Option<usize> = None;
        let mut probs = vec![0f32; self.classes];
        for t in 0..self.steps {
            let Some(row) = values.get(t * self.classes..(t + 1) * self.classes) else {
                break;
            };
            probs.copy_from_slice(row);
            if self.softmax {
                softmax(&mut probs);
            }
            let (best, best_p) =
                probs
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |a, (i, p)| if p > a.1 { (i, p) } else { a },
                    );
            let repeat = prev == Some(best);
            prev = Some(best);
            if best == self.blank {
                continue;
            }
            let Some(ch) = self.char_of(best) else {
                continue;
            };
            let runner_up = probs
                .iter()
                .copied()
                .enumerate()
                .filter(|&(i, _)| i != best && i != self.blank)
                .filter_map(|(i, p)| self.char_of(i).map(|c| (c, p)))
                .fold(None, |a: Option<(char, f32)>, (c, p)| {
                    if a.is_none_or(|(_, ap)| p > ap) {
                        Some((c, p))
                    } else {
                        a
                    }
                });
            if repeat {
                if let Some(last) = chars.last_mut() {
                    if best_p > last.prob {
                        last.prob = best_p;
                        last.runner_up = runner_up;
                    }
                    continue;
                }
            }
            chars.push(DecodedChar {
                ch,
                prob: best_p,
                runner_up,
            });
        }
        let text: String = chars.iter().map(|c| c.ch).collect();
        let char_confidences: Vec<f32> = chars.iter().map(|c| c.prob.clamp(0.0, 1.0)).collect();
        let confidence = if chars.is_empty() {
            0.0
        } else {
            char_confidences.iter().product()
        };
        // Alternatives: swap one of the least confident characters for its runner-up.
        let mut order: Vec<usize> = (0..chars.len()).collect();
        order.sort_by(|&a, &b| char_confidences[a].total_cmp(&char_confidences[b]));
        let mut candidates: Vec<Candidate> = Vec::new();
        for &i in order.iter().take(MAX_CANDIDATES) {
            let Some((alt, alt_p)) = chars[i].runner_up.filter(|&(_, p)| p > 0.0) else {
                continue;
            };
            let mut alt_text: Vec<char> = text.chars().collect();
            alt_text[i] = alt;
            let alt_text: String = alt_text.into_iter().collect();
            let conf = if char_confidences[i] > 0.0 {
                confidence / char_confidences[i] * alt_p.clamp(0.0, 1.0)
            } else {
                0.0
            };
            if alt_text != text && !candidates.iter().any(|c| c.text == alt_text) {
                candidates.push(Candidate {
                    text: alt_text,
                    confidence: conf,
                });
            }
        }
        candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        PlateText {
            text,
            confidence,
            char_confidences,
            candidates,
        }
    }
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for p in values.iter_mut() {
        *p = (*p - max).exp();
        sum += *p;
    }
    if sum > 0.0 {
        values.iter_mut().for_each(|p| *p /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder(alphabet: &str) -> CtcDecoder {
        CtcDecoder {
            steps: 0,
            classes: alphabet.chars().count() + 1,
            blank: 0,
            alphabet: alphabet.chars().collect(),
            softmax: false,
        }
    }

    /// One-hot-ish rows: (class, prob, runner-up class, its prob).
    fn rows(d: &CtcDecoder, steps: &[(usize, f32, usize, f32)]) -> Vec<f32> {
        let mut v = vec![0.0; steps.len() * d.classes];
        for (t, &(c, p, c2, p2)) in steps.iter().enumerate() {
            v[t * d.classes + c2] = p2;
            v[t * d.classes + c] = p;
        }
        v
    }

    #[test]
    fn collapses_repeats_drops_blanks_and_keeps_doubled_letters() {
        let mut d = decoder("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        // A A _ A B B _ 1  → "AAB1"
        let a = 11;
        let b = 12;
        let one = 2;
        let steps = [
            (a, 0.9, 0, 0.1),
            (a, 0.95, 0, 0.05),
            (0, 0.9, a, 0.1),
            (a, 0.8, 0, 0.2),
            (b, 0.7, 9, 0.3),
            (b, 0.6, 0, 0.4),
            (0, 1.0, 0, 0.0),
            (one, 0.99, 0, 0.01),
        ];
        d.steps = steps.len();
        let out = d.decode(&rows(&d, &steps));
        assert_eq!(out.text, "AAB1");
        assert_eq!(out.char_confidences, vec![0.95, 0.8, 0.7, 0.99]);
        assert!((out.confidence - 0.95 * 0.8 * 0.7 * 0.99).abs() < 1e-6);
        // B (0.7) is the least confident; its runner-up at that step is class 9 = '8'.
        assert_eq!(out.candidates[0].text, "AA81");
    }

    #[test]
    fn raw_logits_get_a_softmax_and_non_alphanumerics_are_dropped() {
        let mut d = decoder("AB-");
        d.softmax = true;
        d.steps = 3;
        // Steps: A, '-', B as large logits.
        let v = vec![0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 9.0, 0.0];
        let out = d.decode(&v);
        assert_eq!(out.text, "AB");
        assert!(out.char_confidences.iter().all(|&c| c > 0.99 && c <= 1.0));
    }

    #[test]
    fn empty_output_reads_nothing() {
        let mut d = decoder("AB");
        d.steps = 2;
        let out = d.decode(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(out.text, "");
        assert_eq!(out.confidence, 0.0);
    }
}
