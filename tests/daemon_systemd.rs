//! The systemd notify protocol as systemd speaks it, over a datagram socket the test owns:
//! READY=1 once the daemon is up, WATCHDOG=1 pings while frames flow and while an unreachable
//! camera is being reconnected, STOPPING=1 on SIGTERM. Also `/healthz`, which does report that
//! camera.
mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Notifications received on `sock`, one string per datagram, until `done` holds for them or
/// `window` has passed.
fn collect_until(
    sock: &UnixDatagram,
    window: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if done(&out) {
            break;
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    out
}

/// Everything received within `window`.
fn collect(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    collect_until(sock, window, |_| false)
}

fn has(msgs: &[String], line: &str) -> bool {
    msgs.iter().any(|m| m.lines().any(|l| l == line))
}

fn daemon_with_notify(dir: &std::path::Path, camera_url: &str) -> (Daemon, UnixDatagram) {
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let cfg = gate_config(dir, camera_url, false, None, "");
    let d = Daemon::start_with_env(
        &cfg,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    (d, sock)
}

#[test]
fn ready_then_watchdog_pings_while_frames_flow_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, sock) = daemon_with_notify(dir.path(), "test://");
    let first = collect_until(&sock, Duration::from_secs(60), |m| has(m, "READY=1"));
    let ready = first
        .iter()
        .position(|m| m.lines().any(|l| l == "READY=1"))
        .unwrap_or_else(|| panic!("READY=1 in {first:?}: {}", d.log()));
    assert!(
        d.log().contains("models loaded") && d.log().contains("database open"),
        "READY comes after models and database"
    );
    // Pings every half interval (0.5 s) while the test pattern delivers frames.
    let later = collect(&sock, Duration::from_secs(3));
    let pings = first[ready..]
        .iter()
        .chain(&later)
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(
        pings >= 3,
        "watchdog pings while frames flow: {pings} in {:?}",
        later
    );
    assert_eq!(d.terminate(), Some(0));
    let last = collect(&sock, Duration::from_millis(500));
    assert!(has(&last, "STOPPING=1"), "STOPPING=1 on SIGTERM: {last:?}");
}

#[test]
fn an_unreachable_camera_is_unhealthy_but_does_not_get_the_daemon_restarted() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the camera keeps reconnecting and never delivers a frame.
    let url = format!("rtsp://127.0.0.1:{}/lane", free_port());
    let (d, sock) = daemon_with_notify(dir.path(), &url);
    let addr = d.http_addr(Duration::from_secs(60));
    let msgs = collect(&sock, Duration::from_secs(8));
    assert!(
        msgs.iter().any(|m| m.lines().any(|l| l == "READY=1")),
        "READY=1 even while the camera is down: {msgs:?}"
    );
    // Its supervisor keeps reconnecting: a restart would not bring the camera back and would
    // stop the gate on every other lane, so the watchdog stays fed.
    let pings = msgs
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(pings >= 5, "watchdog pings while reconnecting: {msgs:?}");
    assert!(
        !d.log().contains("withholding watchdog pings"),
        "{}",
        d.log()
    );
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("camera 'lane'"), "names the camera: {reply}");
}
