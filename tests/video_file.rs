//! Whole-file decoding, stills and decoder choice, against real GStreamer on generated clips.

mod video_support;

use boomgate::config::DecoderChoice;
use boomgate::video::{
    decode_benchmark, decode_file, hardware_decoders, is_image_path, is_video_path, load_image,
    pick_decoder, VideoError,
};
use std::path::Path;
use video_support::make_clip;

/// Every item of a decode: the frames before the first error, and that error.
fn decode_all(path: &Path) -> (Vec<boomgate::video::Frame>, Option<VideoError>) {
    let mut frames = Vec::new();
    match decode_file(path, DecoderChoice::Auto) {
        Err(e) => (frames, Some(e)),
        Ok(iter) => {
            for item in iter {
                match item {
                    Ok(f) => frames.push(f),
                    Err(e) => return (frames, Some(e)),
                }
            }
            (frames, None)
        }
    }
}

#[test]
fn every_frame_of_a_file_comes_out_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "ball.mp4", 320, 240, 25, 50, false);
    let (frames, error) = decode_all(&clip);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(frames.len(), 50);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.width, f.height, f.seq), (320, 240, i as u64));
        assert_eq!(f.i420().len(), 320 * 240 * 3 / 2);
    }
    let pts: Vec<u64> = frames
        .iter()
        .map(|f| f.pts_ms.expect("file frames carry pts"))
        .collect();
    assert!(
        pts.windows(2).all(|w| w[0] < w[1]),
        "pts not increasing: {pts:?}"
    );
    assert_eq!(pts[0], 0);
    assert_eq!(pts[49], 1960, "frame 49 of a 25 fps clip is at 1.96 s");
    // The ball pattern is not a flat picture.
    let luma = frames[10].luma();
    assert!(luma.iter().max().unwrap() - luma.iter().min().unwrap() > 100);
}

#[test]
fn random_bytes_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.mp4");
    let bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    let (frames, error) = decode_all(&path);
    let error = error.expect("garbage must not decode cleanly").to_string();
    assert!(frames.is_empty());
    assert!(error.contains("garbage.mp4"), "{error}");
}

#[test]
fn truncated_mp4_yields_what_decodes_then_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for faststart in [false, true] {
        let clip = make_clip(
            dir.path(),
            &format!("full-{faststart}.mp4"),
            320,
            240,
            25,
            50,
            faststart,
        );
        let bytes = std::fs::read(&clip).unwrap();
        let cut = dir.path().join(format!("cut-{faststart}.mp4"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let (frames, error) = decode_all(&cut);
        let error = error.unwrap_or_else(|| {
            panic!(
                "truncated file (faststart={faststart}) gave {} frames and no error",
                frames.len()
            )
        });
        assert!(
            error
                .to_string()
                .contains(&*cut.file_name().unwrap().to_string_lossy()),
            "{error}"
        );
        assert!(
            frames.len() < 50,
            "faststart={faststart}: {} frames",
            frames.len()
        );
        println!(
            "faststart={faststart}: {} frames then: {error}",
            frames.len()
        );
    }
}

#[test]
fn missing_file_is_named() {
    let err = decode_file(Path::new("/nonexistent/clip.mp4"), DecoderChoice::Auto)
        .err()
        .expect("missing file");
    assert!(err.to_string().contains("/nonexistent/clip.mp4"), "{err}");
}

#[test]
fn decoder_choice_auto_falls_back_and_hardware_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "short.mp4", 320, 240, 25, 5, false);
    let hardware = hardware_decoders();
    for software in ["avdec_h264", "openh264dec"] {
        assert!(
            !hardware.iter().any(|h| h == software),
            "{software} counted as hardware: {hardware:?}"
        );
    }
    let auto = pick_decoder(DecoderChoice::Auto).unwrap();
    let frames = decode_file(&clip, DecoderChoice::Auto).unwrap();
    assert_eq!(frames.decoder(), auto.element);
    if hardware.is_empty() {
        assert!(!auto.hardware);
        assert_eq!(auto.element, "avdec_h264");
        let err = decode_file(&clip, DecoderChoice::Hardware)
            .err()
            .expect("no hardware decoder here")
            .to_string();
        assert!(err.contains("no hardware H.264 decoder"), "{err}");
    } else {
        assert!(auto.hardware && auto.element == hardware[0]);
    }
    let software = decode_file(&clip, DecoderChoice::Software).unwrap();
    assert_eq!(software.decoder(), "avdec_h264");
    assert_eq!(software.filter(|f| f.is_ok()).count(), 5);
}

#[test]
fn stills_load_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("red.png");
    let mut img = image::RgbImage::new(64, 32);
    for p in img.pixels_mut() {
        *p = image::Rgb([220, 20, 20]);
    }
    img.save(&png).unwrap();
    let frame = load_image(&png).unwrap();
    assert_eq!(
        (frame.width, frame.height, &*frame.camera),
        (64, 32, "still")
    );
    let [r, g, b] = frame.rgb_at(10, 10);
    assert!(r > 200 && g < 50 && b < 50, "{:?}", [r, g, b]);

    let bad = dir.path().join("broken.jpg");
    std::fs::write(&bad, b"not a jpeg at all").unwrap();
    let err = load_image(&bad).err().expect("garbage image").to_string();
    assert!(err.contains("broken.jpg"), "{err}");
}

#[test]
fn paths_are_classified_by_extension() {
    assert!(is_video_path(Path::new("a/b.MP4")) && is_video_path(Path::new("x.mkv")));
    assert!(is_image_path(Path::new("p.JPG")) && is_image_path(Path::new("p.png")));
    assert!(!is_video_path(Path::new("p.png")) && !is_image_path(Path::new("clip.mp4")));
    assert!(!is_video_path(Path::new("noext")));
}

/// Prints decode-only speed; not a timed assertion.
#[test]
fn decode_benchmark_counts_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "bench.mp4", 640, 360, 25, 50, false);
    let (frames, seconds) = decode_benchmark(&clip, DecoderChoice::Auto).unwrap();
    assert_eq!(frames, 50);
    println!(
        "decode-only 640x360: {frames} frames in {seconds:.3} s = {:.1} fps",
        frames as f64 / seconds
    );
}

/// Decode-only fps of a 1080p H.264 clip through the camera pipeline; prints, asserts no speed.
#[test]
#[ignore = "slow: encodes a 1080p clip first"]
fn decode_benchmark_1080p() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "bench-1080p.mp4", 1920, 1080, 25, 250, false);
    let (frames, seconds) = decode_benchmark(&clip, DecoderChoice::Auto).unwrap();
    assert_eq!(frames, 250);
    println!(
        "decode-only 1920x1080 H.264 ({}): {frames} frames in {seconds:.2} s = {:.1} fps",
        pick_decoder(DecoderChoice::Auto).unwrap().element,
        frames as f64 / seconds
    );
}
