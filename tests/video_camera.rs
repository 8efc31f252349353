//! Live cameras through `Camera` (file, test pattern, v4l2), against real GStreamer.

mod video_support;

use boomgate::config::DecoderChoice;
use boomgate::shutdown::Shutdown;
use boomgate::video::{Camera, CameraState, FrameSource, FrameWait};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use video_support::{camera, make_clip, stats, wait_until};

/// Frames until the source says something other than `Frame`, with a generous overall bound.
fn drain(cam: &mut Camera, limit: Duration) -> (Vec<boomgate::video::Frame>, FrameWait) {
    let deadline = Instant::now() + limit;
    let mut frames = Vec::new();
    while Instant::now() < deadline {
        match cam.next_frame(Duration::from_secs(2)) {
            FrameWait::Frame(f) => frames.push(f),
            FrameWait::Timeout => continue,
            other => return (frames, other),
        }
    }
    (frames, FrameWait::Timeout)
}

#[test]
fn file_without_loop_plays_then_ends() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "one-second.mp4", 320, 240, 25, 25, false);
    let st = stats("door");
    let mut cam = Camera::start(
        &camera("door", &format!("file://{}", clip.display())),
        st.clone(),
        Shutdown::new(),
    )
    .unwrap();
    let (frames, end) = drain(&mut cam, Duration::from_secs(60));
    assert!(matches!(end, FrameWait::Ended), "{end:?}");
    assert_eq!(st.state(), CameraState::Ended);
    assert!(!frames.is_empty());
    let pts: Vec<u64> = frames.iter().map(|f| f.pts_ms.unwrap()).collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "{pts:?}");
    assert_eq!(
        st.frames_decoded.load(Ordering::Relaxed),
        25,
        "a file camera decodes the whole file"
    );
    assert!(matches!(
        cam.next_frame(Duration::from_millis(10)),
        FrameWait::Ended
    ));
}

#[test]
fn looping_file_keeps_producing_frames_past_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), "loop.mp4", 320, 240, 25, 15, false);
    let mut settings = camera("loop", &format!("file://{}", clip.display()));
    settings.loop_file = true;
    let st = stats("loop");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    let mut pts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Two and a half times the clip's length in decoded frames.
    while st.frames_decoded.load(Ordering::Relaxed) < 38 && Instant::now() < deadline {
        match cam.next_frame(Duration::from_secs(2)) {
            FrameWait::Frame(f) => pts.push(f.pts_ms.unwrap()),
            FrameWait::Timeout => {}
            other => panic!("looping file stopped: {other:?}, state {:?}", st.state()),
        }
    }
    assert!(
        st.frames_decoded.load(Ordering::Relaxed) >= 38,
        "state {:?}",
        st.state()
    );
    assert!(
        pts.windows(2).any(|w| w[1] < w[0]),
        "playback never restarted: {pts:?}"
    );
    assert!(
        matches!(st.state(), CameraState::Streaming { .. }),
        "{:?}",
        st.state()
    );
}

#[test]
fn slow_consumer_gets_only_the_newest_frames() {
    let st = stats("live");
    let mut cam = Camera::start(
        &camera("live", "test://?pattern=ball&width=320&height=240&fps=25"),
        st.clone(),
        Shutdown::new(),
    )
    .unwrap();
    let mut seqs = Vec::new();
    let mut ages = Vec::new();
    while seqs.len() < 10 {
        match cam.next_frame(Duration::from_secs(10)) {
            FrameWait::Frame(f) => {
                ages.push(
                    jiff::Timestamp::now()
                        .duration_since(f.captured_at)
                        .as_secs_f64(),
                );
                seqs.push(f.seq);
                std::thread::sleep(Duration::from_millis(200));
            }
            other => panic!("{other:?} state {:?}", st.state()),
        }
    }
    let dropped = st.frames_dropped.load(Ordering::Relaxed);
    assert!(
        dropped >= 10,
        "25 fps against 5 fps consumption must drop frames, dropped {dropped}"
    );
    assert!(
        seqs.windows(2).skip(1).all(|w| w[1] > w[0] + 1),
        "old frames were queued: {seqs:?}"
    );
    // A queueing camera would hand out frames ever older (over a second by the tenth frame).
    assert!(ages.iter().all(|a| *a < 0.5), "frame ages {ages:?}");
    assert_eq!(st.frames_analysed.load(Ordering::Relaxed), 10);
    assert_eq!(
        st.state(),
        CameraState::Streaming {
            decoder: "none (raw test pattern)".into()
        }
    );
    let thumb = st
        .thumbnail_jpeg
        .lock()
        .unwrap()
        .clone()
        .expect("thumbnail after frames");
    let img = image::load_from_memory(&thumb).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
}

#[test]
fn max_fps_limits_frames_handed_out() {
    let mut settings = camera("capped", "test://?pattern=ball&width=160&height=120&fps=25");
    settings.max_fps = 5.0;
    let st = stats("capped");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 6 {
        if let FrameWait::Frame(f) = cam.next_frame(Duration::from_secs(10)) {
            seqs.push(f.seq);
        }
    }
    let decoded = st.frames_decoded.load(Ordering::Relaxed);
    // Each handed-out frame stands for about five decoded ones; no frames were dropped by the
    // (fast) consumer, so numbering stays contiguous.
    assert!(
        decoded >= 4 * seqs.len() as u64,
        "decoded {decoded} for {} frames",
        seqs.len()
    );
    assert_eq!(seqs, (seqs[0]..seqs[0] + 6).collect::<Vec<_>>());
}

#[test]
fn encoded_test_source_reports_its_decoder() {
    let mut settings = camera("enc", "test://?width=320&height=240&fps=25&codec=h264");
    settings.decoder = DecoderChoice::Auto;
    let st = stats("enc");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    assert!(
        matches!(cam.next_frame(Duration::from_secs(20)), FrameWait::Frame(_)),
        "{:?}",
        st.state()
    );
    let expected = boomgate::video::pick_decoder(DecoderChoice::Auto)
        .unwrap()
        .element;
    assert_eq!(st.state(), CameraState::Streaming { decoder: expected });
    if boomgate::video::hardware_decoders().is_empty() {
        settings.decoder = DecoderChoice::Hardware;
        let err = Camera::start(&settings, stats("enc"), Shutdown::new())
            .err()
            .expect("no hardware decoder");
        assert!(
            err.to_string().contains("no hardware H.264 decoder"),
            "{err}"
        );
    }
}

#[test]
fn missing_v4l2_device_fails_naming_it() {
    let st = stats("usb");
    let err = Camera::start(
        &camera("usb", "v4l2:///dev/video99"),
        st.clone(),
        Shutdown::new(),
    )
    .err()
    .expect("no such device");
    assert!(err.to_string().contains("/dev/video99"), "{err}");
    match st.state() {
        CameraState::Failed { error } => assert!(error.contains("/dev/video99"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_urls_are_refused_with_the_url() {
    let err = Camera::start(
        &camera("x", "http://admin:hunter2@cam/stream"),
        stats("x"),
        Shutdown::new(),
    )
    .err()
    .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("http://admin:***@cam/stream") && !text.contains("hunter2"),
        "{text}"
    );
    let err = Camera::start(
        &camera("x", "file:///nonexistent/a.mp4"),
        stats("x"),
        Shutdown::new(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("/nonexistent/a.mp4"), "{err}");
}

#[test]
fn shutdown_stops_the_camera() {
    let shutdown = Shutdown::new();
    let st = stats("stop");
    let mut cam = Camera::start(
        &camera("stop", "test://?width=160&height=120&fps=25"),
        st.clone(),
        shutdown.clone(),
    )
    .unwrap();
    assert!(matches!(
        cam.next_frame(Duration::from_secs(10)),
        FrameWait::Frame(_)
    ));
    shutdown.trigger();
    assert!(matches!(
        cam.next_frame(Duration::from_secs(10)),
        FrameWait::Stopped
    ));
    assert!(
        wait_until(Duration::from_secs(10), || st.state()
            == CameraState::Stopped),
        "{:?}",
        st.state()
    );
    drop(cam);
}

#[test]
fn several_cameras_run_at_once() {
    let shutdown = Shutdown::new();
    let (a, b) = (stats("a"), stats("b"));
    let mut cam_a = Camera::start(
        &camera("a", "test://?width=160&height=120&fps=25"),
        a.clone(),
        shutdown.clone(),
    )
    .unwrap();
    let mut cam_b = Camera::start(
        &camera("b", "test://?pattern=snow&width=320&height=240&fps=15"),
        b.clone(),
        shutdown.clone(),
    )
    .unwrap();
    for _ in 0..5 {
        match (
            cam_a.next_frame(Duration::from_secs(10)),
            cam_b.next_frame(Duration::from_secs(10)),
        ) {
            (FrameWait::Frame(fa), FrameWait::Frame(fb)) => {
                assert_eq!((&*fa.camera, fa.width), ("a", 160));
                assert_eq!((&*fb.camera, fb.width), ("b", 320));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(cam_a.camera_id(), "a");
    assert!(
        a.frames_decoded.load(Ordering::Relaxed) >= 5
            && b.frames_decoded.load(Ordering::Relaxed) >= 5
    );
    shutdown.trigger();
    assert!(matches!(
        cam_a.next_frame(Duration::from_secs(5)),
        FrameWait::Stopped
    ));
    assert!(matches!(
        cam_b.next_frame(Duration::from_secs(5)),
        FrameWait::Stopped
    ));
}
