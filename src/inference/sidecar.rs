//! The JSON sidecar that describes a model file (see the model contract in DESIGN.md), and the
//! check that the model's real tensors agree with it.

use super::litert::{ElementType, TensorInfo};
use super::InferenceError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Detector,
    Ocr,
}

/// Tensor element type as the sidecar spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Int8,
    Uint8,
    Float32,
}

impl Dtype {
    fn matches(self, t: ElementType) -> bool {
        matches!(
            (self, t),
            (Dtype::Int8, ElementType::Int8)
                | (Dtype::Uint8, ElementType::UInt8)
                | (Dtype::Float32, ElementType::Float32)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::Int8 => "int8",
            Dtype::Uint8 => "uint8",
            Dtype::Float32 => "float32",
        }
    }
}

/// `real = pixel * scale + offset`, pixel in 0..=255.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Normalisation {
    pub scale: f32,
    pub offset: f32,
}

/// `q = round(real / scale) + zero_point`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Quantization {
    pub scale: f32,
    pub zero_point: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InputSpec {
    pub width: u32,
    pub height: u32,
    /// 3 = RGB, 1 = grayscale (luma).
    pub channels: u32,
    pub dtype: Dtype,
    pub normalisation: Normalisation,
    pub quantization: Option<Quantization>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub index: usize,
    pub shape: Vec<i64>,
    pub dtype: Dtype,
    pub quantization: Option<Quantization>,
    /// The model's own name for the tensor, when the exporter recorded it.
    pub tensor_name: Option<String>,
}

/// Detector output layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DetectorFormat {
    /// boxes [1,N,4] x1y1x2y2 normalised + scores [1,N] or [1,N,1].
    #[serde(rename = "boomgate-grid")]
    BoomgateGrid,
    /// One tensor [1, 4+classes, N]: cx, cy, w, h, class scores.
    #[serde(rename = "yolov8")]
    Yolov8,
}

/// Where the resized frame sits in the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LetterboxPlacement {
    #[default]
    #[serde(rename = "top-left")]
    TopLeft,
    #[serde(alias = "center")]
    Centre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BoxUnits {
    #[default]
    Pixels,
    #[serde(alias = "normalized")]
    Normalised,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OutputActivation {
    #[default]
    Softmax,
    None,
}

/// The parsed sidecar. Free-form fields (`training`, `metrics`, `created`) are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sidecar {
    pub name: String,
    pub kind: ModelKind,
    pub version: String,
    pub model_file: PathBuf,
    pub input: InputSpec,
    pub outputs: Vec<OutputSpec>,
    // Detector fields.
    pub format: Option<DetectorFormat>,
    pub letterbox: Option<LetterboxPlacement>,
    pub letterbox_colour: Option<[u8; 3]>,
    pub box_units: Option<BoxUnits>,
    pub plate_class: Option<usize>,
    pub score_threshold: Option<f32>,
    pub nms_iou: Option<f32>,
    pub max_detections: Option<usize>,
    // OCR fields.
    pub decoder: Option<String>,
    pub output_activation: Option<OutputActivation>,
    pub blank_index: Option<usize>,
    pub alphabet: Option<String>,
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
}

/// A sidecar read from disk, with the path it came from.
#[derive(Debug, Clone)]
pub struct LoadedSidecar {
    pub path: PathBuf,
    pub sidecar: Sidecar,
}

impl LoadedSidecar {
    /// Reads and parses a sidecar; errors name the file and the field.
    pub fn read(path: &Path) -> Result<LoadedSidecar, InferenceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(InferenceError::ModelMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(InferenceError::SidecarInvalid {
                    path: path.to_path_buf(),
                    field: "(file)".into(),
                    message: e.to_string(),
                })
            }
        };
        LoadedSidecar::parse(path, &text)
    }

    /// Parses sidecar text; `path` is only used in errors and to find the model file.
    pub fn parse(path: &Path, text: &str) -> Result<LoadedSidecar, InferenceError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let sidecar: Sidecar = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            InferenceError::SidecarInvalid {
                path: path.to_path_buf(),
                field: if field == "." {
                    "(document)".into()
                } else {
                    field
                },
                message: e.into_inner().to_string(),
            }
        })?;
        let loaded = LoadedSidecar {
            path: path.to_path_buf(),
            sidecar,
        };
        loaded.check_values()?;
        Ok(loaded)
    }

    fn invalid(&self, field: &str, message: impl Into<String>) -> InferenceError {
        InferenceError::SidecarInvalid {
            path: self.path.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The `.tflite` file, relative paths taken from the sidecar's folder.
    pub fn model_path(&self) -> PathBuf {
        if self.sidecar.model_file.is_absolute() {
            self.sidecar.model_file.clone()
        } else {
            self.path
                .parent()
                .unwrap_or(Path::new("."))
                .join(&self.sidecar.model_file)
        }
    }

    /// `"name version"`, as shown by `--version` and stored with events.
    pub fn name_version(&self) -> String {
        format!("{} {}", self.sidecar.name, self.sidecar.version)
    }

    fn check_values(&self) -> Result<(), InferenceError> {
        let s = &self.sidecar;
        let i = &s.input;
        if i.width == 0 || i.height == 0 {
            return Err(self.invalid("input.width", "width and height must be positive"));
        }
        if i.channels != 1 && i.channels != 3 {
            return Err(self.invalid(
                "input.channels",
                format!("must be 1 or 3, got {}", i.channels),
            ));
        }
        if i.dtype != Dtype::Float32 {
            match i.quantization {
                None => {
                    return Err(self.invalid("input.quantization", "required for int8/uint8 input"))
                }
                Some(q) if !(q.scale > 0.0) => {
                    return Err(self.invalid("input.quantization.scale", "must be > 0"))
                }
                _ => {}
            }
        }
        if s.outputs.is_empty() {
            return Err(self.invalid("outputs", "at least one output is required"));
        }
        for (n, o) in s.outputs.iter().enumerate() {
            if o.shape.iter().any(|&d| d <= 0) {
                return Err(self.invalid(
                    &format!("outputs[{n}].shape"),
                    "dimensions must be positive",
                ));
            }
            if o.index >= s.outputs.len() {
                return Err(self.invalid(
                    &format!("outputs[{n}].index"),
                    format!("{} is out of range", o.index),
                ));
            }
        }
        match s.kind {
            ModelKind::Detector => {
                let Some(format) = s.format else {
                    return Err(self.invalid("format", "required for a detector"));
                };
                match format {
                    DetectorFormat::BoomgateGrid => {
                        self.output_named("boxes")?;
                        self.output_named("scores")?;
                    }
                    DetectorFormat::Yolov8 => {
                        if s.outputs.len() != 1 {
                            return Err(
                                self.invalid("outputs", "a yolov8 detector has exactly one output")
                            );
                        }
                        let shape = &s.outputs[0].shape;
                        if shape.len() != 3 || shape[1].min(shape[2]) < 5 {
                            return Err(
                                self.invalid("outputs[0].shape", "expected [1, 4+classes, N]")
                            );
                        }
                    }
                }
                if let Some(t) = s.score_threshold {
                    if !(0.0..=1.0).contains(&t) {
                        return Err(self.invalid("score_threshold", "must be within 0..1"));
                    }
                }
                if let Some(t) = s.nms_iou {
                    if !(0.0..=1.0).contains(&t) {
                        return Err(self.invalid("nms_iou", "must be within 0..1"));
                    }
                }
            }
            ModelKind::Ocr => {
                if let Some(d) = &s.decoder {
                    if d != "ctc" {
                        return Err(self
                            .invalid("decoder", format!("only \"ctc\" is supported, got {d:?}")));
                    }
                }
                let Some(alphabet) = &s.alphabet else {
                    return Err(self.invalid("alphabet", "required for OCR"));
                };
                let logits = self.output_named("logits").or_else(|_| {
                    if s.outputs.len() == 1 {
                        Ok(&s.outputs[0])
                    } else {
                        Err(self.invalid("outputs", "no output named \"logits\""))
                    }
                })?;
                if logits.shape.len() != 3 {
                    return Err(self.invalid("outputs.logits.shape", "expected [1, T, C]"));
                }
                let classes = logits.shape[2] as usize;
                if alphabet.chars().count() + 1 != classes {
                    return Err(self.invalid(
                        "alphabet",
                        format!(
                            "{} characters + blank do not match {} output classes",
                            alphabet.chars().count(),
                            classes
                        ),
                    ));
                }
                if s.blank_index.unwrap_or(0) >= classes {
                    return Err(self.invalid("blank_index", "outside the output classes"));
                }
            }
        }
        Ok(())
    }

    /// The output spec with this `name`.
    pub fn output_named(&self, name: &str) -> Result<&OutputSpec, InferenceError> {
        self.sidecar
            .outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| self.invalid("outputs", format!("no output named {name:?}")))
    }

    /// Compares the sidecar with the model's real tensors. Returns, for each sidecar output (in
    /// sidecar order), the model output position that holds it.
    pub fn validate(
        &self,
        model: &Path,
        inputs: &[TensorInfo],
        outputs: &[TensorInfo],
    ) -> Result<Vec<usize>, InferenceError> {
        let mismatch =
            |tensor: String, expected: String, found: String| InferenceError::TensorMismatch {
                model: model.to_path_buf(),
                tensor,
                expected,
                found,
            };
        let i = &self.sidecar.input;
        if inputs.len() != 1 {
            return Err(mismatch(
                "input count".into(),
                "1".into(),
                inputs.len().to_string(),
            ));
        }
        let want_in = [1i64, i.height as i64, i.width as i64, i.channels as i64];
        let input_name = format!("input {}", inputs[0].name);
        if !shape_eq(&want_in, &inputs[0].shape) {
            return Err(mismatch(
                input_name,
                format!("shape {want_in:?}"),
                format!("shape {:?}", inputs[0].shape),
            ));
        }
        if !i.dtype.matches(inputs[0].dtype) {
            return Err(mismatch(
                input_name,
                format!("dtype {}", i.dtype.name()),
                format!("dtype {}", inputs[0].dtype.name()),
            ));
        }
        let outs = &self.sidecar.outputs;
        if outputs.len() != outs.len() {
            return Err(mismatch(
                "output count".into(),
                outs.len().to_string(),
                outputs.len().to_string(),
            ));
        }
        // Signature order is not always the converter's output order; prefer the declared index,
        // then a tensor with the declared name, then the only unclaimed tensor of that shape.
        let fits = |spec: &OutputSpec, t: &TensorInfo| {
            shape_eq(&spec.shape, &t.shape) && spec.dtype.matches(t.dtype)
        };
        let mut taken = vec![false; outputs.len()];
        let mut positions = vec![usize::MAX; outs.len()];
        for (n, spec) in outs.iter().enumerate() {
            if spec.index < outputs.len() && !taken[spec.index] && fits(spec, &outputs[spec.index])
            {
                taken[spec.index] = true;
                positions[n] = spec.index;
            }
        }
        for (n, spec) in outs.iter().enumerate() {
            if positions[n] != usize::MAX {
                continue;
            }
            let by_name = outputs.iter().enumerate().position(|(k, t)| {
                !taken[k]
                    && (t.name == spec.name || spec.tensor_name.as_deref() == Some(t.name.as_str()))
                    && fits(spec, t)
            });
            let by_shape = || {
                let c: Vec<usize> = (0..outputs.len())
                    .filter(|&k| !taken[k] && fits(spec, &outputs[k]))
                    .collect();
                (c.len() == 1).then(|| c[0])
            };
            match by_name.or_else(by_shape) {
                Some(k) => {
                    taken[k] = true;
                    positions[n] = k;
                }
                None => {
                    // Show the closest tensor: an unclaimed one of the same shape, else the one
                    // at the declared index.
                    let t = (0..outputs.len())
                        .find(|&k| !taken[k] && shape_eq(&spec.shape, &outputs[k].shape))
                        .map(|k| &outputs[k])
                        .or(outputs.get(spec.index))
                        .unwrap_or(&outputs[0]);
                    return Err(mismatch(
                        format!("output {:?} (index {})", spec.name, spec.index),
                        format!("shape {:?} dtype {}", spec.shape, spec.dtype.name()),
                        format!("shape {:?} dtype {}", t.shape, t.dtype.name()),
                    ));
                }
            }
        }
        Ok(positions)
    }
}

fn shape_eq(want: &[i64], found: &[i32]) -> bool {
    want.len() == found.len() && want.iter().zip(found).all(|(&a, &b)| a == b as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETECTOR: &str = r#"{
      "name": "plate-detector", "kind": "detector", "version": "1.0.0",
      "model_file": "plate-detector.tflite",
      "input": {"width": 640, "height": 384, "channels": 3, "dtype": "int8",
                "normalisation": {"scale": 0.00392156862745098, "offset": 0.0},
                "quantization": {"scale": 0.0039215, "zero_point": -128}},
      "outputs": [{"name": "boxes", "index": 0, "shape": [1, 2520, 4], "dtype": "int8",
                   "quantization": {"scale": 0.01, "zero_point": 0}},
                  {"name": "scores", "index": 1, "shape": [1, 2520], "dtype": "int8",
                   "quantization": {"scale": 0.0039, "zero_point": -128}}],
      "format": "boomgate-grid", "letterbox": "top-left", "letterbox_colour": [114,114,114],
      "score_threshold": 0.5, "nms_iou": 0.45, "max_detections": 20,
      "training": {"epochs": 3}, "metrics": {"map50": 0.9}, "created": "2026-12-01"
    }"#;

    fn info(name: &str, dtype: ElementType, shape: &[i32]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            quantization: None,
        }
    }

    #[test]
    fn contract_example_parses_and_model_path_is_next_to_sidecar() {
        let s = LoadedSidecar::parse(Path::new("/m/plate-detector.json"), DETECTOR).expect("parse");
        assert_eq!(s.model_path(), Path::new("/m/plate-detector.tflite"));
        assert_eq!(s.name_version(), "plate-detector 1.0.0");
        assert_eq!(s.sidecar.format, Some(DetectorFormat::BoomgateGrid));
    }

    #[test]
    fn wrong_type_names_file_and_field() {
        let bad = DETECTOR.replace(r#""width": 640"#, r#""width": "wide""#);
        let e = LoadedSidecar::parse(Path::new("/m/d.json"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/m/d.json") && e.contains("input.width"), "{e}");
    }

    #[test]
    fn grid_detector_without_scores_output_is_refused() {
        let bad = DETECTOR.replace(r#""name": "scores""#, r#""name": "conf""#);
        let e = LoadedSidecar::parse(Path::new("/m/d.json"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("scores"), "{e}");
    }

    #[test]
    fn validation_names_tensor_and_both_shapes() {
        let s = LoadedSidecar::parse(Path::new("/m/d.json"), DETECTOR).expect("parse");
        let input = [info("images", ElementType::Int8, &[1, 320, 320, 3])];
        let outputs = [
            info("a", ElementType::Int8, &[1, 2520, 4]),
            info("b", ElementType::Int8, &[1, 2520]),
        ];
        let e = s
            .validate(Path::new("/m/d.tflite"), &input, &outputs)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/m/d.tflite")
                && e.contains("[1, 384, 640, 3]")
                && e.contains("[1, 320, 320, 3]"),
            "{e}"
        );
    }

    #[test]
    fn outputs_are_matched_by_shape_when_signature_order_differs() {
        let s = LoadedSidecar::parse(Path::new("/m/d.json"), DETECTOR).expect("parse");
        let input = [info("images", ElementType::Int8, &[1, 384, 640, 3])];
        let outputs = [
            info("x", ElementType::Int8, &[1, 2520]),
            info("y", ElementType::Int8, &[1, 2520, 4]),
        ];
        assert_eq!(
            s.validate(Path::new("/m/d.tflite"), &input, &outputs)
                .expect("valid"),
            vec![1, 0]
        );
        let wrong = [
            info("x", ElementType::Float32, &[1, 2520]),
            info("y", ElementType::Int8, &[1, 2520, 4]),
        ];
        let e = s
            .validate(Path::new("/m/d.tflite"), &input, &wrong)
            .unwrap_err()
            .to_string();
        assert!(e.contains("scores") && e.contains("float32"), "{e}");
    }
}
