//! `boomgate recognize`: plate reads from stills, folders of stills and video files.
//!
//! With `--json` every line on stdout is one JSON object (stable contract):
//! stills `{"source","width","height","plates":[{"text","confidence","bbox"}]}`, video reads
//! `{"source","pts_ms","text","confidence","bbox"}`, failures `{"source","error"}`. A failing
//! input does not stop the others; the exit code reports the first failure.

use super::{ExitKind, Failure};
use crate::config::Config;
use crate::inference::{Recognition, Recognizer, Runtime};
use crate::pipeline::{plausible, ReadFilter};
use crate::tracker::{PlateFormats, PlateRead, Tracker};
use crate::video::{decode_file, is_image_path, is_video_path, load_image};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(config: &Config, paths: &[PathBuf], json: bool) -> Result<ExitCode, Failure> {
    let runtime = Runtime::load(&config.runtime)?;
    let mut recognizer = Recognizer::load(&runtime, config)?;
    let formats = PlateFormats::from_settings(&config.formats)
        .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
    let mut first_failure: Option<ExitKind> = None;
    let mut fail = |source: &Path, kind: ExitKind, message: String| {
        if json {
            println!(
                "{}",
                json!({"source": source.display().to_string(), "error": message})
            );
        }
        eprintln!("boomgate: {}: {message}", source.display());
        first_failure.get_or_insert(kind);
    };
    for input in expand(paths, &mut fail) {
        if is_video_path(&input) {
            if let Err((kind, msg)) = video(&input, config, &formats, &mut recognizer, json) {
                fail(&input, kind, msg);
            }
        } else {
            match still(&input, &mut recognizer) {
                Ok((w, h, rec)) => print_still(&input, w, h, &rec, json),
                Err((kind, msg)) => fail(&input, kind, msg),
            }
        }
    }
    Ok(match first_failure {
        None => ExitCode::SUCCESS,
        Some(kind) => ExitCode::from(kind as u8),
    })
}

/// Folders become their image and video files, sorted by name; other paths pass through.
fn expand(paths: &[PathBuf], fail: &mut impl FnMut(&Path, ExitKind, String)) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|f| f.is_file() && (is_image_path(f) || is_video_path(f)))
                        .collect();
                    files.sort();
                    out.extend(files);
                }
                Err(e) => fail(p, ExitKind::Video, format!("cannot list folder: {e}")),
            }
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn still(
    path: &Path,
    recognizer: &mut Recognizer,
) -> Result<(u32, u32, Recognition), (ExitKind, String)> {
    let frame = load_image(path).map_err(|e| (ExitKind::Video, e.to_string()))?;
    let mut rec = if looks_like_plate_crop(frame.width, frame.height) {
        // A tight plate crop leaves the detector no context; read the whole image instead.
        let bbox = crate::geometry::BBox::new(0.0, 0.0, frame.width as f32, frame.height as f32);
        let text = recognizer
            .reader()
            .read(&frame, &bbox)
            .map_err(|e| (ExitKind::Model, e.to_string()))?;
        Recognition {
            plates: vec![crate::inference::PlateFinding {
                plate_box: crate::inference::PlateBox { bbox, score: 1.0 },
                text,
            }],
            ..Recognition::default()
        }
    } else {
        recognizer
            .recognize(&frame, None)
            .map_err(|e| (ExitKind::Model, e.to_string()))?
    };
    rec.plates
        .retain(|p| plausible(&p.text.text, p.text.confidence));
    Ok((frame.width, frame.height, rec))
}

/// Plate crops (as exported by other ANPR tools or the datasets) are small and wide.
fn looks_like_plate_crop(width: u32, height: u32) -> bool {
    let aspect = width as f32 / height.max(1) as f32;
    height <= 200 && (1.4..=6.0).contains(&aspect)
}

fn bbox_json(b: &crate::geometry::BBox) -> serde_json::Value {
    json!([
        b.x1.round() as i64,
        b.y1.round() as i64,
        b.x2.round() as i64,
        b.y2.round() as i64
    ])
}

fn round3(v: f32) -> f64 {
    (v as f64 * 1000.0).round() / 1000.0
}

fn print_still(path: &Path, width: u32, height: u32, rec: &Recognition, json: bool) {
    let plates: Vec<_> = rec
        .plates
        .iter()
        .filter(|p| !p.text.text.is_empty())
        .collect();
    if json {
        let list: Vec<_> = plates
            .iter()
            .map(|p| json!({"text": p.text.text, "confidence": round3(p.text.confidence), "bbox": bbox_json(&p.plate_box.bbox)}))
            .collect();
        println!(
            "{}",
            json!({"source": path.display().to_string(), "width": width, "height": height, "plates": list})
        );
    } else if plates.is_empty() {
        println!("{}: no plate", path.display());
    } else {
        for p in plates {
            let b = &p.plate_box.bbox;
            println!(
                "{}: {} ({:.2}) at [{:.0}, {:.0}, {:.0}, {:.0}]",
                path.display(),
                p.text.text,
                p.text.confidence,
                b.x1,
                b.y1,
                b.x2,
                b.y2
            );
        }
    }
}

fn print_read(path: &Path, read: &PlateRead, json: bool) {
    let pts = read.frame.pts_ms.unwrap_or(0);
    if json {
        println!(
            "{}",
            json!({"source": path.display().to_string(), "pts_ms": pts, "text": read.text,
                   "confidence": round3(read.confidence), "bbox": bbox_json(&read.bbox)})
        );
    } else {
        println!(
            "{} @ {} ms: {} ({:.2}, {} reads)",
            path.display(),
            pts,
            read.text,
            read.confidence,
            read.reads
        );
    }
}

/// Every frame of the file goes through detector, reader and tracker; one line per vehicle pass.
fn video(
    path: &Path,
    config: &Config,
    formats: &PlateFormats,
    recognizer: &mut Recognizer,
    json: bool,
) -> Result<(), (ExitKind, String)> {
    let frames = decode_file(
        path,
        config
            .cameras
            .first()
            .map(|c| c.decoder)
            .unwrap_or_default(),
    )
    .map_err(|e| (ExitKind::Video, e.to_string()))?;
    let mut tracker = Tracker::new("recognize", &config.tracker, formats.clone());
    let mut filter = ReadFilter::new();
    let mut result = Ok(());
    for frame in frames {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                // Report reads of what decoded before the damage, then the error.
                result = Err((ExitKind::Video, e.to_string()));
                break;
            }
        };
        let rec = recognizer
            .recognize(&frame, None)
            .map_err(|e| (ExitKind::Model, e.to_string()))?;
        for read in tracker.push(&frame, &rec) {
            if filter.accept(&read, read.frame.pts_ms.unwrap_or(0)) {
                print_read(path, &read, json);
            }
        }
    }
    for read in tracker.flush() {
        if filter.accept(&read, read.frame.pts_ms.unwrap_or(0)) {
            print_read(path, &read, json);
        }
    }
    result
}
