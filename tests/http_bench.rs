//! HTTP and live-feed cost while the pipeline runs on a 1080p clip. Prints numbers measured in
//! one run (req/s, WebSocket delivery latency percentiles, pipeline fps with and without HTTP
//! load and their ratio); asserts nothing about speed.
//! Run: `cargo test --release --test http_bench -- --ignored --nocapture`
mod common;

use common::*;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOAD_CLIENTS: usize = 20;
const WS_CLIENTS: usize = 50;
const PHASE: Duration = Duration::from_secs(30);

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Keep-alive HTTP/1.1 GETs in a loop until `stop`; counts complete 200 responses.
async fn load_client(
    addr: SocketAddr,
    paths: &'static [&'static str],
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: bench\r\n\r\n",
            paths[i % paths.len()]
        );
        i += 1;
        s.write_all(req.as_bytes()).await.expect("write");
        buf.clear();
        // Read the head, then exactly Content-Length bytes of body.
        let (head_end, len) = loop {
            let mut chunk = [0u8; 16 * 1024];
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .expect("content-length")
                    .trim()
                    .parse()
                    .unwrap();
                break (p + 4, len);
            }
        };
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 16 * 1024];
            let n = s.read(&mut chunk).await.expect("read body");
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

fn frames_analysed(addr: SocketAddr) -> u64 {
    let text = ureq_get(addr, "/api/status");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["cameras"][0]["frames_analysed"].as_u64().unwrap()
}

fn ureq_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn http_load_and_live_feed_beside_the_pipeline() {
    let (clip, _) = clip(&[
        "--width",
        "1920",
        "--height",
        "1080",
        "--plates",
        "QRS5678:br-old,4MNP920:us,RIO3B45:br-mercosul,KLM2T08:br-mercosul",
        "--seed",
        "12",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = gate_config(
        dir.path(),
        &format!("file://{}", clip.display()),
        true,
        None,
        "",
    );
    let d = Daemon::start(&cfg);
    let addr = d.http_addr(Duration::from_secs(60));
    assert!(
        d.wait_log(Duration::from_secs(60), |l| l.contains("camera streaming")),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_secs(3));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Live-feed clients for the whole run: delivery latency = receive time - decision time
    // (capture time + frame_to_decision_ms, both on this host's clock).
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let ws_stop = Arc::new(AtomicBool::new(false));
    let mut ws_tasks = Vec::new();
    for _ in 0..WS_CLIENTS {
        let (lat, stop) = (latencies.clone(), ws_stop.clone());
        let (mut ws, _) = rt
            .block_on(tokio_tungstenite::connect_async(format!(
                "ws://{addr}/ws/events"
            )))
            .expect("ws connect");
        ws_tasks.push(rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_millis(500), ws.next()).await
                else {
                    continue;
                };
                let now = jiff::Timestamp::now();
                if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "detection" {
                        let captured: jiff::Timestamp =
                            v["event"]["captured_at"].as_str().unwrap().parse().unwrap();
                        let decided_ms = captured.as_millisecond() as f64
                            + v["event"]["latency"]["frame_to_decision_ms"]
                                .as_f64()
                                .unwrap();
                        lat.lock()
                            .unwrap()
                            .push(now.as_millisecond() as f64 - decided_ms);
                    }
                }
            }
        }));
    }

    // Phase 1: pipeline alone.
    let f0 = frames_analysed(addr);
    let t0 = Instant::now();
    std::thread::sleep(PHASE);
    let fps_alone = (frames_analysed(addr) - f0) as f64 / t0.elapsed().as_secs_f64();

    // Phase 2: the same with 20 clients hammering the API.
    static PATHS: &[&str] = &["/api/status", "/api/events?limit=20"];
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let f1 = frames_analysed(addr);
    let t1 = Instant::now();
    let load: Vec<_> = (0..LOAD_CLIENTS)
        .map(|_| rt.spawn(load_client(addr, PATHS, stop.clone(), done.clone())))
        .collect();
    std::thread::sleep(PHASE);
    stop.store(true, Ordering::Relaxed);
    let requests = done.load(Ordering::Relaxed);
    let secs = t1.elapsed().as_secs_f64();
    let fps_loaded = (frames_analysed(addr) - f1) as f64 / secs;
    for t in load {
        rt.block_on(t).unwrap();
    }
    ws_stop.store(true, Ordering::Relaxed);
    for t in ws_tasks {
        rt.block_on(t).unwrap();
    }
    let mut lat = latencies.lock().unwrap().clone();
    let n = lat.len();
    println!("HTTP: {LOAD_CLIENTS} keep-alive clients on /api/status + /api/events?limit=20: {:.0} req/s ({requests} in {secs:.1} s)", requests as f64 / secs);
    println!(
        "pipeline: {fps_alone:.1} fps alone, {fps_loaded:.1} fps under HTTP load: ratio {:.2}",
        fps_loaded / fps_alone
    );
    println!(
        "live feed: {n} detections to {WS_CLIENTS} clients, decision-to-client p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.95),
        percentile(&mut lat, 1.0)
    );
    assert!(n > 0, "no detections reached the clients: {}", d.log());
}
