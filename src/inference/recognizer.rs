//! Detector + reader together: one call per frame.

use super::detector::Detector;
use super::litert::Runtime;
use super::reader::Reader;
use super::sidecar::LoadedSidecar;
use super::{InferenceError, PlateFinding, PlateText, Recognition};
use crate::config::{resolve_model_path, Config};
use crate::video::Frame;
use std::path::PathBuf;
use std::time::Instant;

/// Reads plates from frames. One per camera thread (it is `Send`, not shared).
pub struct Recognizer {
    detector: Detector,
    reader: Reader,
}

impl Recognizer {
    /// Loads both models named by the config, checking each against its sidecar.
    pub fn load(runtime: &Runtime, config: &Config) -> Result<Recognizer, InferenceError> {
        let (detector_json, ocr_json) = sidecar_paths(config);
        let detector = Detector::load(runtime, &detector_json, &config.detector)?;
        let reader = Reader::load(runtime, &ocr_json, &config.ocr)?;
        Ok(Recognizer { detector, reader })
    }

    /// Detects and reads the plates of one frame, inside `roi` (`[x1, y1, x2, y2]`) when given.
    /// Plates come sorted by reading confidence, best first.
    pub fn recognize(
        &mut self,
        frame: &Frame,
        roi: Option<[u32; 4]>,
    ) -> Result<Recognition, InferenceError> {
        self.recognize_skipping(frame, roi, &|_| false)
    }

    /// As [`Recognizer::recognize`], but boxes for which `skip` is true are not read: they come
    /// back with an empty text (what an illegible plate gives), which keeps a matching track
    /// alive without voting. The gate skips boxes of settled tracks (`crate::pipeline::SettledPlates`).
    pub fn recognize_skipping(
        &mut self,
        frame: &Frame,
        roi: Option<[u32; 4]>,
        skip: &dyn Fn(&crate::geometry::BBox) -> bool,
    ) -> Result<Recognition, InferenceError> {
        let started = Instant::now();
        let boxes = self.detector.detect(frame, roi)?;
        let detected = Instant::now();
        let mut plates = Vec::with_capacity(boxes.len());
        for plate_box in boxes {
            let text = if skip(&plate_box.bbox) {
                PlateText {
                    text: String::new(),
                    confidence: 0.0,
                    char_confidences: Vec::new(),
                    candidates: Vec::new(),
                }
            } else {
                self.reader.read(frame, &plate_box.bbox)?
            };
            plates.push(PlateFinding { plate_box, text });
        }
        let read = Instant::now();
        plates.sort_by(|a, b| b.text.confidence.total_cmp(&a.text.confidence));
        Ok(Recognition {
            plates,
            detect_ms: (detected - started).as_secs_f32() * 1000.0,
            ocr_ms: (read - detected).as_secs_f32() * 1000.0,
        })
    }

    /// `("name version", "name version")` of the detector and the OCR model.
    pub fn model_versions(&self) -> (String, String) {
        (
            self.detector.sidecar().name_version(),
            self.reader.sidecar().name_version(),
        )
    }

    /// The detector alone (benchmarks, tools).
    pub fn detector(&mut self) -> &mut Detector {
        &mut self.detector
    }

    /// The reader alone (benchmarks, tools).
    pub fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }
}

/// Paths of the detector and OCR sidecars the config points at.
pub fn sidecar_paths(config: &Config) -> (PathBuf, PathBuf) {
    let dir = config.runtime.models_dir.as_deref();
    (
        resolve_model_path(&config.detector.model, dir),
        resolve_model_path(&config.ocr.model, dir),
    )
}

/// One line naming both models (`plate-detector 1.0.0, plate-ocr 1.0.0`), from the sidecars
/// only, without loading LiteRT; a model that cannot be read shows as `NAME: error`.
pub fn models_summary(config: &Config) -> String {
    let (d, o) = sidecar_paths(config);
    let describe = |p: &PathBuf| match LoadedSidecar::read(p) {
        Ok(s) => s.name_version(),
        Err(e) => format!("{}: {e}", p.display()),
    };
    format!("{}, {}", describe(&d), describe(&o))
}
