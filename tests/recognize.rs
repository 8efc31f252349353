//! `boomgate recognize` against ground truth: rendered stills, synthetic scenes and generated clips.
mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

fn bbox(v: &Value) -> [f64; 4] {
    let a = v.as_array().expect("bbox array");
    [
        a[0].as_f64().unwrap(),
        a[1].as_f64().unwrap(),
        a[2].as_f64().unwrap(),
        a[3].as_f64().unwrap(),
    ]
}

#[test]
fn rendered_plates_read_exactly() {
    let dir = repo().join("tests/fixtures/plates");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "fixtures missing in {}", dir.display());
    let (code, out, err) = run_cli(&["recognize", "--json", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    let by_source: BTreeMap<String, Value> = lines
        .into_iter()
        .map(|v| (v["source"].as_str().unwrap().to_string(), v))
        .collect();
    for f in files {
        let want = f
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .rsplit('_')
            .next()
            .unwrap()
            .to_string();
        let v = &by_source[f.to_str().unwrap()];
        let plates = v["plates"].as_array().unwrap();
        assert!(!plates.is_empty(), "{}: no plate found", f.display());
        assert_eq!(plates[0]["text"], want.as_str(), "{}: {v}", f.display());
        let c = plates[0]["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
    }
}

#[test]
fn scenes_give_truth_boxes_and_texts() {
    let dir = repo().join("tests/fixtures/plates");
    let truth: BTreeMap<String, Vec<(f64, f64, f64, f64, String)>> =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).expect("truth.json"))
            .unwrap();
    assert!(!truth.is_empty());
    let paths: Vec<String> = truth
        .keys()
        .map(|k| dir.join(k).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["recognize", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    for (v, (name, boxes)) in json_lines(&out).iter().zip(&truth) {
        assert!(v["source"].as_str().unwrap().ends_with(name.as_str()));
        let plates = v["plates"].as_array().unwrap();
        assert_eq!(plates.len(), boxes.len(), "{name}: {v}");
        for (x1, y1, x2, y2, text) in boxes {
            // Detector boxes include a margin around the plate: the truth box's centre must be
            // inside and the overlap substantial.
            let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            let hit = plates.iter().find(|p| {
                let b = bbox(&p["bbox"]);
                b[0] <= cx
                    && cx <= b[2]
                    && b[1] <= cy
                    && cy <= b[3]
                    && iou(b, [*x1, *y1, *x2, *y2]) >= 0.4
            });
            let hit = hit.unwrap_or_else(|| panic!("{name}: no box for {text}: {v}"));
            assert_eq!(hit["text"], text.as_str(), "{name}");
        }
        let w = v["width"].as_u64().unwrap();
        assert!(w > 0);
    }
}

fn check_clip(args: &[&str]) {
    let (clip, truth) = clip(args);
    let (code, out, err) = run_cli(&["recognize", "--json", clip.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let reads = json_lines(&out);
    let got: Vec<&str> = reads.iter().map(|r| r["text"].as_str().unwrap()).collect();
    let want: Vec<&str> = truth.vehicles.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(got, want, "one read per vehicle, in order: {out}");
    for (r, v) in reads.iter().zip(&truth.vehicles) {
        assert_eq!(r["source"], clip.to_str().unwrap());
        let pts = r["pts_ms"].as_f64().unwrap() / 1000.0;
        assert!(
            pts >= v.enter_s - 0.1 && pts <= v.exit_s + 0.1,
            "read of {} at {pts} s outside its pass {v:?}",
            v.text
        );
        let b = bbox(&r["bbox"]);
        assert!(
            b[2] > b[0] && b[3] > b[1] && b[2] <= truth.width as f64 && b[3] <= truth.height as f64,
            "{r}"
        );
    }
}

#[test]
fn clip_720p_reads_every_vehicle_once() {
    check_clip(&[
        "--width",
        "1280",
        "--height",
        "720",
        "--plates",
        "ABC1234:br-old,7KTR481:us,BRA2E19:br-mercosul",
        "--seed",
        "11",
    ]);
}

#[test]
#[ignore = "slow: 1080p clip"]
fn clip_1080p_reads_every_vehicle_once() {
    check_clip(&[
        "--width",
        "1920",
        "--height",
        "1080",
        "--plates",
        "QRS5678:br-old,4MNP920:us,RIO3B45:br-mercosul,KLM2T08:br-mercosul",
        "--seed",
        "12",
    ]);
}
