//! A real RTSP camera (gst-rtsp-server in the test): the daemon reads plates, survives the server
//! going away (camera state shows the outage), reconnects when it returns and reads again.
mod common;

use common::*;
use std::time::Duration;

#[test]
fn rtsp_camera_outage_and_return() {
    let (clip, _) = clip(&[
        "--plates",
        "ABC1234:br-old",
        "--seed",
        "31",
        "--wait-s",
        "1",
    ]);
    let port = free_port();
    let server = RtspServer::start(port, &clip);
    let dir = tempfile::tempdir().unwrap();
    let cfg = gate_config(
        dir.path(),
        &format!("rtsp://127.0.0.1:{port}/lane"),
        false,
        None,
        "",
    );
    let d = Daemon::start(&cfg);
    let passes = |l: &str| l.matches("vehicle pass").count();
    assert!(
        d.wait_log(Duration::from_secs(90), |l| passes(l) >= 1),
        "no read from RTSP: {}",
        d.log()
    );
    server.stop();
    assert!(
        d.wait_log(Duration::from_secs(60), |l| l.contains("camera state")
            && l.contains("reconnecting")),
        "outage not visible: {}",
        d.log()
    );
    let before = passes(&d.log());
    let _server = RtspServer::start(port, &clip);
    assert!(
        d.wait_log(Duration::from_secs(90), |l| passes(l) > before),
        "no read after the server came back: {}",
        d.log()
    );
    assert!(d.log().matches("ABC1234").count() >= 2);
}
