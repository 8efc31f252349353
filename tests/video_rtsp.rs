//! RTSP cameras against an in-process gst-rtsp-server: streaming, outage and reconnect,
//! credentials, unreachable servers.

mod video_support;

use boomgate::shutdown::Shutdown;
use boomgate::video::{Camera, CameraState, FrameSource, FrameWait};
use std::time::Duration;
use video_support::{camera, free_port, stats, wait_until, RtspServer};

fn got_frame(cam: &mut Camera, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let FrameWait::Frame(_) = cam.next_frame(Duration::from_millis(500)) {
            return true;
        }
    }
    false
}

#[test]
fn rtsp_camera_streams_and_reconnects_after_an_outage() {
    let port = free_port();
    let server = RtspServer::start(port, None);
    let mut settings = camera("gate", &format!("rtsp://127.0.0.1:{port}/cam"));
    settings.frame_timeout_s = 3;
    let st = stats("gate");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    assert!(
        got_frame(&mut cam, Duration::from_secs(20)),
        "no frame: {:?}",
        st.state()
    );
    assert!(
        matches!(st.state(), CameraState::Streaming { .. }),
        "{:?}",
        st.state()
    );

    server.stop();
    let mut seen = Vec::new();
    let outage_seen = wait_until(Duration::from_secs(30), || {
        if let CameraState::Reconnecting {
            attempt,
            retry_in_ms,
            ..
        } = st.state()
        {
            if !seen.contains(&(attempt, retry_in_ms)) {
                seen.push((attempt, retry_in_ms));
            }
        }
        seen.len() >= 2
    });
    assert!(
        outage_seen,
        "reconnect attempts seen: {seen:?}, state {:?}",
        st.state()
    );
    assert!(
        seen[1].0 > seen[0].0 && seen[1].1 > seen[0].1,
        "backoff must grow: {seen:?}"
    );
    // Drain what was delivered before the outage.
    while let FrameWait::Frame(_) = cam.next_frame(Duration::from_millis(10)) {}

    let _server = RtspServer::start(port, None);
    assert!(
        got_frame(&mut cam, Duration::from_secs(30)),
        "no frame after restart: {:?}",
        st.state()
    );
    assert!(
        matches!(st.state(), CameraState::Streaming { .. }),
        "{:?}",
        st.state()
    );
}

#[test]
fn unreachable_rtsp_url_reconnects_with_a_redacted_error() {
    let port = free_port();
    let st = stats("far");
    let _cam = Camera::start(
        &camera(
            "far",
            &format!("rtsp://admin:topsecret@127.0.0.1:{port}/cam"),
        ),
        st.clone(),
        Shutdown::new(),
    )
    .expect("an unreachable camera is not a start error");
    assert!(
        wait_until(Duration::from_secs(20), || matches!(
            st.state(),
            CameraState::Reconnecting { .. }
        )),
        "{:?}",
        st.state()
    );
    let CameraState::Reconnecting { attempt, error, .. } = st.state() else {
        unreachable!()
    };
    assert!(attempt >= 1);
    assert!(
        error.contains(&format!("rtsp://admin:***@127.0.0.1:{port}/cam")),
        "{error}"
    );
    assert!(!error.contains("topsecret"), "{error}");
}

#[test]
fn rtsp_credentials_from_a_password_file() {
    let port = free_port();
    let _server = RtspServer::start(port, Some(("viewer", "s3cret pass")));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cam.pass");
    std::fs::write(&good, "s3cret pass\n").unwrap();
    let url = format!("rtsp://127.0.0.1:{port}/cam");

    let mut settings = camera("auth", &url);
    settings.username = Some("viewer".into());
    settings.password_file = Some(good);
    let st = stats("auth");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    assert!(
        got_frame(&mut cam, Duration::from_secs(20)),
        "{:?}",
        st.state()
    );
    drop(cam);

    let bad = dir.path().join("wrong.pass");
    std::fs::write(&bad, "guess\n").unwrap();
    settings.password_file = Some(bad);
    let st = stats("auth");
    let _cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || matches!(
            st.state(),
            CameraState::Reconnecting { .. }
        )),
        "{:?}",
        st.state()
    );
    let CameraState::Reconnecting { error, .. } = st.state() else {
        unreachable!()
    };
    assert!(
        error.to_lowercase().contains("unauthorized") || error.contains("authentication"),
        "{error}"
    );
    assert!(!error.contains("guess"), "{error}");
}

#[test]
fn rtsp_over_udp() {
    let port = free_port();
    let _server = RtspServer::start(port, None);
    let mut settings = camera("udp", &format!("rtsp://127.0.0.1:{port}/cam"));
    settings.rtsp_transport = boomgate::config::RtspTransport::Udp;
    let st = stats("udp");
    let mut cam = Camera::start(&settings, st.clone(), Shutdown::new()).unwrap();
    assert!(
        got_frame(&mut cam, Duration::from_secs(20)),
        "{:?}",
        st.state()
    );
    let expected = boomgate::video::pick_decoder(boomgate::config::DecoderChoice::Auto)
        .unwrap()
        .element;
    assert_eq!(st.state(), CameraState::Streaming { decoder: expected });
}
