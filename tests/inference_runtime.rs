//! LiteRT runtime, sidecar validation and the YOLOv8 decoding path, against the real library and
//! a synthetic YOLOv8-layout model (made by scripts/make_yolov8_fixture.py).

use boomgate::config::{Config, DetectorSettings, RuntimeSettings};
use boomgate::inference::{Detector, InferenceError, Recognizer, Runtime};
use boomgate::video::Frame;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inference")
        .join(name)
}

fn runtime() -> Runtime {
    Runtime::load(&RuntimeSettings::default()).expect("LiteRT library (run scripts/bootstrap.sh)")
}

fn settings() -> DetectorSettings {
    DetectorSettings {
        min_width_px: 0,
        threads: 1,
        ..DetectorSettings::default()
    }
}

/// A black `w x h` frame with white rectangles `[x1, y1, x2, y2]`.
fn frame_with_white(w: u32, h: u32, rects: &[[u32; 4]]) -> Frame {
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    for r in rects {
        for y in r[1]..r[3] {
            for x in r[0]..r[2] {
                let i = ((y * w + x) * 3) as usize;
                rgb[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
    }
    Frame::from_rgb("test".into(), w, h, &rgb)
}

#[test]
fn missing_library_lists_the_paths_tried_and_the_fetch_script() {
    let missing = PathBuf::from("/nonexistent/boomgate/libLiteRt.so");
    let err = Runtime::load(&RuntimeSettings {
        litert_library: Some(missing.clone()),
        models_dir: None,
    })
    .unwrap_err();
    assert!(
        matches!(err, InferenceError::LibraryMissing { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/boomgate/libLiteRt.so")
            && msg.contains("scripts/fetch-litert.sh"),
        "{msg}"
    );
}

#[test]
fn a_file_that_is_not_a_library_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("libLiteRt.so");
    std::fs::write(&fake, b"not an ELF file").expect("write");
    let err = Runtime::load(&RuntimeSettings {
        litert_library: Some(fake.clone()),
        models_dir: None,
    })
    .unwrap_err();
    assert!(
        matches!(err, InferenceError::LibraryUnloadable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&fake.display().to_string()),
        "{err}"
    );
}

#[test]
fn runtime_reports_where_it_came_from_and_its_version() {
    let rt = runtime();
    assert!(rt.library_path().is_file());
    assert!(rt.version().starts_with("2.1."), "version {}", rt.version());
}

#[test]
fn missing_sidecar_and_missing_model_file_are_named() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.runtime.models_dir = Some(dir.path().to_path_buf());
    let err = Recognizer::load(&rt, &config)
        .err()
        .expect("no models there");
    assert!(
        matches!(err, InferenceError::ModelMissing { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&dir.path().join("plate-detector.json").display().to_string()),
        "{err}"
    );

    // The sidecar is there but its .tflite is not.
    std::fs::copy(fixture("yolov8-synthetic.json"), dir.path().join("d.json")).expect("copy");
    let err = Detector::load(&rt, &dir.path().join("d.json"), &settings())
        .err()
        .expect("no tflite");
    assert!(
        matches!(err, InferenceError::ModelMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("yolov8-synthetic.tflite"), "{err}");
}

/// Writes the fixture model with an edited sidecar into `dir`.
fn edited_fixture(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    std::fs::copy(
        fixture("yolov8-synthetic.tflite"),
        dir.join("yolov8-synthetic.tflite"),
    )
    .expect("copy model");
    let text = std::fs::read_to_string(fixture("yolov8-synthetic.json")).expect("read sidecar");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("fixture json");
    edit(&mut json);
    let path = dir.join("edited.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write");
    path
}

#[test]
fn sidecar_with_wrong_input_shape_names_model_tensor_and_both_shapes() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sidecar = edited_fixture(dir.path(), |j| j["input"]["width"] = 96.into());
    let msg = Detector::load(&rt, &sidecar, &settings())
        .err()
        .expect("mismatch")
        .to_string();
    assert!(msg.contains("yolov8-synthetic.tflite"), "{msg}");
    assert!(
        msg.contains("input") && msg.contains("[1, 64, 96, 3]") && msg.contains("[1, 64, 64, 3]"),
        "{msg}"
    );
}

#[test]
fn sidecar_with_wrong_dtypes_names_both_types() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sidecar = edited_fixture(dir.path(), |j| {
        j["input"]["dtype"] = "int8".into();
        j["input"]["quantization"] = serde_json::json!({"scale": 0.0039, "zero_point": -128});
    });
    let err = Detector::load(&rt, &sidecar, &settings())
        .err()
        .expect("mismatch");
    assert!(
        matches!(err, InferenceError::TensorMismatch { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("int8") && msg.contains("float32"), "{msg}");

    let sidecar = edited_fixture(dir.path(), |j| {
        j["outputs"][0]["shape"] = serde_json::json!([1, 5, 32])
    });
    let msg = Detector::load(&rt, &sidecar, &settings())
        .err()
        .expect("mismatch")
        .to_string();
    assert!(
        msg.contains("output0") && msg.contains("[1, 5, 32]") && msg.contains("[1, 5, 16]"),
        "{msg}"
    );
}

#[test]
fn sidecar_with_a_bad_field_names_the_field() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let sidecar = edited_fixture(dir.path(), |j| j["format"] = "yolov99".into());
    let err = Detector::load(&rt, &sidecar, &settings())
        .err()
        .expect("invalid");
    assert!(
        matches!(err, InferenceError::SidecarInvalid { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("edited.json") && msg.contains("format"),
        "{msg}"
    );
}

#[test]
fn yolov8_layout_decodes_to_the_known_box_in_frame_pixels() {
    let rt = runtime();
    let mut det =
        Detector::load(&rt, &fixture("yolov8-synthetic.json"), &settings()).expect("load fixture");
    // 128x64 frame, centred letterbox into 64x64 (scale 0.5, 16 px bars top and bottom): the white
    // 32x32 block fills grid cell 4 exactly, so that cell is the only detection.
    let frame = frame_with_white(128, 64, &[[0, 0, 32, 32]]);
    let found = det.detect(&frame, None).expect("detect");
    assert_eq!(found.len(), 1, "{found:?}");
    let b = found[0].bbox;
    for (got, want) in [b.x1, b.y1, b.x2, b.y2]
        .into_iter()
        .zip([0.0, 0.0, 32.0, 32.0])
    {
        assert!((got - want).abs() < 0.5, "box {b:?}");
    }
    assert!(found[0].score > 0.99, "score {}", found[0].score);

    // Nothing white: nothing found.
    assert!(det
        .detect(&frame_with_white(128, 64, &[]), None)
        .expect("detect")
        .is_empty());
}

#[test]
fn region_of_interest_is_analysed_alone_and_boxes_stay_in_frame_pixels() {
    let rt = runtime();
    let mut det =
        Detector::load(&rt, &fixture("yolov8-synthetic.json"), &settings()).expect("load fixture");
    let frame = frame_with_white(256, 64, &[[160, 0, 192, 32]]);
    let found = det.detect(&frame, Some([128, 0, 256, 64])).expect("detect");
    assert_eq!(found.len(), 1, "{found:?}");
    let b = found[0].bbox;
    assert!(
        (b.x1 - 160.0).abs() < 0.5
            && (b.x2 - 192.0).abs() < 0.5
            && b.y1.abs() < 0.5
            && (b.y2 - 32.0).abs() < 0.5,
        "{b:?}"
    );
    // A box narrower than min_width_px is dropped.
    let mut strict = Detector::load(
        &rt,
        &fixture("yolov8-synthetic.json"),
        &DetectorSettings {
            min_width_px: 40,
            ..settings()
        },
    )
    .expect("load fixture");
    assert!(strict
        .detect(&frame, Some([128, 0, 256, 64]))
        .expect("detect")
        .is_empty());
    // An empty region is an input error, not a panic.
    assert!(matches!(
        det.detect(&frame, Some([300, 0, 400, 64])),
        Err(InferenceError::BadInput(_))
    ));
}
