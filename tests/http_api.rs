//! The status page and HTTP API of a daemon running on a generated clip, over real sockets:
//! status, event filters and pages, media of a real event, Prometheus text, tokens and their
//! rate limit, hostile paths and bodies, the WebSocket feed with 50 clients, and the page in
//! headless Chromium receiving a live event.
mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "test-token-0123456789abcdef";

/// One HTTP/1.1 exchange over a fresh connection (`Connection: close`).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + size]);
        b = &b[end + 2 + size + 2..];
    }
}

/// Sends raw bytes (write errors ignored: the server may close early) and returns whatever came
/// back before the close or `timeout`.
fn exchange_lenient(addr: SocketAddr, bytes: &[u8], timeout: Option<Duration>) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(timeout.unwrap_or(Duration::from_secs(20))))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if timeout.is_some() && buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    raw(addr, req.as_bytes())
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, None, None)
}

/// A daemon with the status page on a free port, looping `plates` so events keep coming.
fn start_daemon(dir: &Path, seed: &str) -> (Daemon, SocketAddr) {
    let (clip, _) = clip(&[
        "--plates",
        "ABC1234:br-old,7KTR481:us",
        "--seed",
        seed,
        "--wait-s",
        "1",
        "--gap-s",
        "0.5",
    ]);
    let allow = write(
        dir,
        "allow.csv",
        "plate,list,label,valid_from,valid_until,schedule,relays\nABC1234,allow,staff,,,,\n",
    );
    let token = write(dir, "api.token", &format!("{TOKEN}\n"));
    let http = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"\n",
        token.display()
    );
    let cfg = gate_config(
        dir,
        &format!("file://{}", clip.display()),
        true,
        Some(&allow),
        &http,
    );
    let d = Daemon::start(&cfg);
    let addr = d.http_addr(Duration::from_secs(60));
    (d, addr)
}

fn wait_events(d: &Daemon, n: usize) {
    assert!(
        d.wait_log(Duration::from_secs(180), |l| l
            .matches("event stored")
            .count()
            >= n),
        "{}",
        d.log()
    );
}

/// Checks the Prometheus text format line by line; returns (name{labels}, value) samples.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split_whitespace();
            let (name, kind) = (p.next().unwrap(), p.next().unwrap());
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("boomgate_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| typed.contains(*b))
            .unwrap_or(name);
        assert!(typed.contains(base), "sample before its # TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for kv in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = kv
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label in {line}"));
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && v.starts_with('"')
                            && v.ends_with('"'),
                        "{line}"
                    );
                }
            }
        }
        samples.push((series.to_string(), value));
    }
    samples
}

#[test]
fn status_events_media_metrics_auth_and_hostile_input() {
    let dir = tempfile::tempdir().unwrap();
    let (d, addr) = start_daemon(dir.path(), "31");
    wait_events(&d, 2);

    // Status: cameras, relays, versions; store counters are sampled every second.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let s = loop {
        let r = get(addr, "/api/status");
        assert_eq!(r.status, 200, "{}", r.text());
        let s = r.json();
        if s["events_stored"].as_u64().unwrap() >= 2 || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(s["cameras"][0]["id"], "lane");
    assert_eq!(s["cameras"][0]["state"], "streaming", "{s}");
    assert_eq!(s["relays"][0]["id"], "gate");
    assert!(
        s["versions"]["detector"]
            .as_str()
            .unwrap()
            .contains("plate-detector"),
        "{s}"
    );
    assert!(s["events_stored"].as_u64().unwrap() >= 2);

    // Events: newest first, filters, pages.
    let all = get(addr, "/api/events").json();
    let events = all["events"].as_array().unwrap().clone();
    assert!(events.len() >= 2, "{all}");
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["captured_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<jiff::Timestamp> = times.iter().map(|t| t.parse().unwrap()).collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let open = events
        .iter()
        .find(|e| e["plate"] == "ABC1234")
        .expect("ABC1234 read")
        .clone();
    assert_eq!(open["decision"]["action"], "open");
    let by_plate = get(addr, "/api/events?plate=BC12").json();
    let plates: Vec<&str> = by_plate["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["plate"].as_str().unwrap())
        .collect();
    assert!(
        !plates.is_empty() && plates.iter().all(|p| p.contains("BC12")),
        "{plates:?}"
    );
    let denied = get(addr, "/api/events?decision=deny").json();
    assert!(
        denied["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["decision"]["action"] == "deny"),
        "{denied}"
    );
    assert!(
        denied["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["plate"] == "7KTR481"),
        "{denied}"
    );
    assert_eq!(
        get(addr, "/api/events?camera=gate-2").json()["events"],
        serde_json::json!([])
    );
    assert_eq!(
        get(addr, "/api/events?to=2001-01-01T00:00:00Z").json()["events"],
        serde_json::json!([])
    );
    assert_eq!(
        get(addr, "/api/events?from=2099-01-01T00:00:00Z").json()["events"],
        serde_json::json!([])
    );
    let first = get(addr, "/api/events?limit=1").json();
    assert_eq!(first["events"].as_array().unwrap().len(), 1);
    let next = first["next_before"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = get(addr, &format!("/api/events?limit=1&before={next}")).json();
    let second_id = second["events"][0]["event_id"].as_str().unwrap();
    assert_ne!(second_id, next, "the second page starts after the first");
    assert!(events.iter().any(|e| e["event_id"] == second_id));
    let bad = get(addr, "/api/events?from=yesterday");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"].as_str().unwrap().contains("'from'"),
        "{}",
        bad.text()
    );
    assert_eq!(get(addr, "/api/events?limit=100000").status, 400);
    let gone = get(addr, "/api/events?before=no-such-event");
    assert!(
        gone.status == 400 && gone.text().contains("'before'"),
        "{}",
        gone.text()
    );

    // One event by id, and its crop.
    let id = open["event_id"].as_str().unwrap();
    let one = get(addr, &format!("/api/events/{id}"));
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["plate"], "ABC1234");
    assert_eq!(
        get(addr, "/api/events/00000000-0000-0000-0000-000000000000").status,
        404
    );
    let crop_url = open["crop_url"].as_str().expect("crop saved");
    let crop = get(addr, crop_url);
    assert_eq!(crop.status, 200, "{crop_url}");
    assert_eq!(crop.header("content-type"), Some("image/jpeg"));
    assert_eq!(&crop.body[..2], &[0xFF, 0xD8], "a JPEG");
    let frame = get(addr, "/api/cameras/lane/frame.jpg");
    assert_eq!(
        (frame.status, &frame.body[..2]),
        (200, &[0xFFu8, 0xD8][..]),
        "camera thumbnail"
    );

    // Metrics in Prometheus text.
    let m = get(addr, "/metrics");
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let samples = parse_prometheus(&m.text());
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {series}"))
    };
    assert!(value("boomgate_events_stored_total") >= 2.0);
    assert!(value("boomgate_decisions_total{decision=\"open\"}") >= 1.0);
    assert!(value("boomgate_frames_analysed_total{camera=\"lane\"}") > 10.0);
    assert!(value("boomgate_detect_seconds_count") > 10.0);
    assert_eq!(
        value("boomgate_detect_seconds_bucket{le=\"+Inf\"}"),
        value("boomgate_detect_seconds_count")
    );

    // Health, page, API description, headers.
    assert_eq!(get(addr, "/healthz").status, 200);
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("ABC1234") && page.text().contains("/assets/app.js"),
        "events rendered on the server"
    );
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        get(addr, "/assets/app.js").header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let api = get(addr, "/api/openapi.json").json();
    for p in [
        "/api/status",
        "/api/events",
        "/api/events/{id}",
        "/media/{path}",
        "/ws/events",
        "/metrics",
        "/healthz",
        "/api/relay/{id}/open",
        "/api/allowlist",
    ] {
        assert!(api["paths"].get(p).is_some(), "OpenAPI lists {p}");
    }

    // Writes: no token and a wrong token are refused, the right one works.
    let writes: [(&str, &str, Option<&str>); 3] = [
        (
            "POST",
            "/api/allowlist",
            Some(r#"{"plate": "xyz-987", "label": "visitor"}"#),
        ),
        ("DELETE", "/api/allowlist/XYZ987", None),
        ("POST", "/api/relay/gate/open", None),
    ];
    let transitions_before = transitions(&dir.path().join("transitions.jsonl")).len();
    for (method, path, body) in writes {
        let none = request(addr, method, path, None, body);
        assert_eq!(
            none.status,
            401,
            "{method} {path} without a token: {}",
            none.text()
        );
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert_eq!(
            request(addr, method, path, Some("not-the-token-at-all"), body).status,
            401,
            "{method} {path} wrong token"
        );
        let mut ok = request(addr, method, path, Some(TOKEN), body);
        if ok.status == 409 && ok.text().contains("cooldown") {
            // A plate of the looping clip pulsed the relay within its 500 ms cooldown just now.
            std::thread::sleep(Duration::from_millis(700));
            ok = request(addr, method, path, Some(TOKEN), body);
        }
        assert_eq!(
            ok.status,
            200,
            "{method} {path} with the token: {}",
            ok.text()
        );
        if path == "/api/allowlist" {
            assert_eq!(ok.json()["plate"], "XYZ987", "plates are normalised");
            let list = request(addr, "GET", "/api/allowlist", None, None).json();
            assert!(
                list["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["plate"] == "XYZ987"),
                "{list}"
            );
        }
    }
    let list = get(addr, "/api/allowlist").json();
    assert!(
        !list["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["plate"] == "XYZ987"),
        "deleted: {list}"
    );
    assert!(
        d.wait_log(Duration::from_secs(10), |l| l
            .contains("reason=manual_http")),
        "manual pulse logged: {}",
        d.log()
    );
    // The simulated line writes its transitions file from a thread of its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while transitions(&dir.path().join("transitions.jsonl")).len() <= transitions_before {
        assert!(std::time::Instant::now() < deadline, "the relay line moved");
        std::thread::sleep(Duration::from_millis(50));
    }
    let too_long = request(
        addr,
        "POST",
        "/api/relay/gate/open",
        Some(TOKEN),
        Some(r#"{"pulse_ms": 99999}"#),
    );
    assert_eq!(too_long.status, 400);
    assert!(
        too_long.text().contains("max_pulse_ms"),
        "{}",
        too_long.text()
    );
    assert_eq!(
        request(addr, "POST", "/api/relay/nope/open", Some(TOKEN), None).status,
        404
    );
    let bad_entry = request(
        addr,
        "POST",
        "/api/allowlist",
        Some(TOKEN),
        Some(r#"{"plate": "AB/12"}"#),
    );
    assert_eq!(bad_entry.status, 400);
    assert!(bad_entry.text().contains("plate"), "{}", bad_entry.text());
    let bad_json = request(
        addr,
        "POST",
        "/api/allowlist",
        Some(TOKEN),
        Some("{\"plate\": "),
    );
    assert_eq!(bad_json.status, 400, "{}", bad_json.text());
    let unknown_field = request(
        addr,
        "POST",
        "/api/allowlist",
        Some(TOKEN),
        Some(r#"{"plate": "AB12", "colour": "red"}"#),
    );
    assert!(
        unknown_field.status == 400 && unknown_field.text().contains("colour"),
        "{}",
        unknown_field.text()
    );

    // Hostile paths: nothing outside the media files of known events, never a crash.
    let media_dir = dir.path().join("data").join("media");
    let crop_rel = crop_url.strip_prefix("/media/").unwrap();
    let hostile = [
        "/media/../boomgate.db".to_string(),
        "/media/%2e%2e/boomgate.db".into(),
        "/media/%2e%2e%2fboomgate.db".into(),
        "/media/..%2f..%2f..%2fetc%2fpasswd".into(),
        "/media/%2fetc%2fpasswd".into(),
        "/media//etc/passwd".into(),
        "/media/x%00.jpg".into(),
        format!("/media/{crop_rel}%00"),
        format!("/media/{crop_rel}/.."),
        "/media/%c0%ae%c0%ae/boomgate.db".into(),
        "/media/..\\..\\boomgate.db".replace('\\', "%5c"),
        "/assets/..%2f..%2fCargo.toml".into(),
        "/api/events/..%2f..%2fboomgate.db".into(),
        "/media/".into(),
        format!("/media/{}", "a/".repeat(400)),
    ];
    for path in &hostile {
        let r = get(addr, path);
        assert!(
            [400, 404].contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(
            !r.text().contains("root:") && !r.text().contains("SQLite format"),
            "{path} leaked a file"
        );
    }
    // A symlink put in place of a known crop is not followed.
    let crop_file = media_dir.join(crop_rel);
    std::fs::remove_file(&crop_file).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &crop_file).unwrap();
    assert_eq!(
        get(addr, crop_url).status,
        404,
        "symlinked media is refused"
    );
    let junk: Vec<Vec<u8>> = vec![
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"\x00\x01\x02 garbage\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n".to_vec(),
        format!("POST /api/allowlist HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n").into_bytes(),
        format!("GET /api/status HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\nConnection: close\r\n\r\n", "a".repeat(1_000_000)).into_bytes(),
    ];
    for junk in &junk {
        let text = exchange_lenient(addr, junk, None);
        let shown: String = String::from_utf8_lossy(&junk[..junk.len().min(80)]).into_owned();
        assert!(
            !text.contains("root:") && !text.starts_with("HTTP/1.1 2"),
            "junk {shown:?} got {text}"
        );
    }
    // A body over the limit is refused from its Content-Length, before it is sent.
    let head = format!("POST /api/allowlist HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n");
    let text = exchange_lenient(addr, head.as_bytes(), Some(Duration::from_secs(10)));
    assert!(text.starts_with("HTTP/1.1 413"), "body limit: {text}");

    // Requests without a token are refused but are not guesses: no lockout from them.
    for _ in 0..8 {
        assert_eq!(
            request(addr, "POST", "/api/relay/gate/open", None, None).status,
            401
        );
    }
    assert_ne!(
        request(addr, "DELETE", "/api/allowlist/NOPE1", Some(TOKEN), None).status,
        429,
        "not locked out by missing tokens"
    );
    // Five wrong tokens lock the client out, even for the right token, with Retry-After.
    for _ in 0..5 {
        assert_eq!(
            request(
                addr,
                "POST",
                "/api/relay/gate/open",
                Some("guess-guess-guess"),
                None
            )
            .status,
            401
        );
    }
    let locked = request(addr, "POST", "/api/relay/gate/open", Some(TOKEN), None);
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert!(
        locked
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );

    // Still serving after all of it.
    assert_eq!(get(addr, "/healthz").status, 200);
    assert!(!d.log().contains("panicked"), "{}", d.log());
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_detection(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .expect("a live message in time")
            .expect("open")
            .expect("ok");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "detection" {
                return v;
            }
        }
    }
}

#[test]
fn fifty_websocket_clients_get_every_event_in_order_beside_a_stalled_one() {
    let dir = tempfile::tempdir().unwrap();
    let (d, addr) = start_daemon(dir.path(), "32");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A client that completes the handshake and then never reads.
        let (_stalled, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/events"))
            .await
            .expect("stalled client connects");
        let mut clients = Vec::new();
        for _ in 0..50 {
            let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/events"))
                .await
                .expect("connect");
            clients.push(ws);
        }
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut ws| {
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    let mut times = Vec::new();
                    for _ in 0..3 {
                        let v = next_detection(&mut ws).await;
                        ids.push(v["event"]["event_id"].as_str().unwrap().to_string());
                        times.push(
                            v["event"]["captured_at"]
                                .as_str()
                                .unwrap()
                                .parse::<jiff::Timestamp>()
                                .unwrap(),
                        );
                    }
                    (ids, times)
                })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        let (ids, times) = &seen[0];
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "in capture order: {times:?}"
        );
        for (other, _) in &seen[1..] {
            assert_eq!(
                other, ids,
                "every client sees the same events in the same order"
            );
        }
        // Each of them is stored a moment after the decision.
        for id in ids {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while get(addr, &format!("/api/events/{id}")).status != 200 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "event {id} announced live but never stored"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    drop(d);
}

/// A minimal WebDriver client for chromedriver (JSON over HTTP).
fn webdriver(port: u16, method: &str, path: &str, body: Option<Value>) -> Value {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let body = body.map(|b| b.to_string());
    let r = request(addr, method, path, None, body.as_deref());
    let v = r.json();
    assert!(
        r.status == 200,
        "WebDriver {method} {path}: {} {v}",
        r.status
    );
    v["value"].clone()
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| {
            acc | (u32::from(val(*c)) << (18 - 6 * i))
        });
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
#[ignore = "slow tier (headless Chromium): run by scripts/test.sh or with --include-ignored"]
fn status_page_in_chromium_shows_a_live_event_without_reload() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Debian chromium is needed (scripts/bootstrap.sh --test installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (d, addr) = start_daemon(dir.path(), "33");
    let port = free_port();
    let mut driver = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver runs (scripts/bootstrap.sh --test installs chromium-driver)");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = dir.path().join("chromium-profile");
    // A closed network: no sync, updates, or background fetches; nothing leaves localhost.
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1280,1000",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let session = webdriver(
        port,
        "POST",
        "/session",
        Some(
            serde_json::json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": chromium, "args": args}}}}),
        ),
    );
    let sid = session["sessionId"]
        .as_str()
        .expect("session id")
        .to_string();
    let script = |js: &str| {
        webdriver(
            port,
            "POST",
            &format!("/session/{sid}/execute/sync"),
            Some(serde_json::json!({"script": js, "args": []})),
        )
    };
    webdriver(
        port,
        "POST",
        &format!("/session/{sid}/url"),
        Some(serde_json::json!({"url": format!("http://{addr}/")})),
    );
    let loaded_at = script("return window.boomgatePageLoadedAt;");
    assert!(loaded_at.is_number(), "the page script ran: {loaded_at}");
    // Wait for an event that arrives after the page was loaded.
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    loop {
        let live = script("return document.body.dataset.liveEvents || '0';");
        if live.as_str().unwrap_or("0") != "0" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no live event on the page: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        script("return window.boomgatePageLoadedAt;"),
        loaded_at,
        "the page was not reloaded"
    );
    let row = script("const r = document.querySelector('#event-rows tr.new'); return r ? r.querySelector('td.plate').textContent : null;");
    let plate = row.as_str().expect("a live row").to_string();
    assert!(
        ["ABC1234", "7KTR481"].contains(&plate.as_str()),
        "live row plate {plate}"
    );
    assert_eq!(
        script("return document.getElementById('link').textContent;"),
        "live"
    );
    let png = base64_decode(
        webdriver(port, "GET", &format!("/session/{sid}/screenshot"), None)
            .as_str()
            .unwrap(),
    );
    assert_eq!(&png[1..4], b"PNG");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("http_api");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("status-page.png"), &png).unwrap();
    println!("screenshot: {}", out.join("status-page.png").display());
    let _ = request(
        ([127, 0, 0, 1], port).into(),
        "DELETE",
        &format!("/session/{sid}"),
        None,
        None,
    );
    let _ = driver.kill();
    let _ = driver.wait();
    drop(d);
}

#[test]
fn reads_can_be_protected_and_writes_are_off_without_a_token_file() {
    // Protected reads: the page shell is open, everything with data needs the token.
    let dir = tempfile::tempdir().unwrap();
    let token = write(dir.path(), "api.token", TOKEN);
    let http = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"{}\"\nprotect_reads = true\n",
        token.display()
    );
    let cfg = gate_config(dir.path(), "test://", false, None, &http);
    let d = Daemon::start(&cfg);
    let addr = d.http_addr(Duration::from_secs(60));
    for path in [
        "/api/status",
        "/api/events",
        "/metrics",
        "/api/allowlist",
        "/api/cameras/lane/frame.jpg",
    ] {
        assert_eq!(get(addr, path).status, 401, "{path} without a token");
        assert_ne!(
            request(addr, "GET", path, Some(TOKEN), None).status,
            401,
            "{path} with the token"
        );
    }
    assert_eq!(
        get(addr, &format!("/api/status?access_token={TOKEN}")).status,
        200,
        "token in the query for reads"
    );
    assert_eq!(get(addr, "/").status, 200, "the page shell is open");
    let page = get(addr, "/").text();
    assert!(
        !page.contains("event-rows\"><tr"),
        "no events rendered without the token"
    );
    assert!(
        !page.contains(" src=\"/api/") && page.contains("data-src=\"/api/cameras/lane/frame.jpg\""),
        "the page makes no token-less data request"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/events")).await;
        assert!(refused.is_err(), "live feed without a token");
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws/events?access_token={TOKEN}"))
                .await
                .expect("with the token");
        let hello = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello:?}");
    });
    drop(d);

    // No token file: the API is read-only and says why.
    let dir = tempfile::tempdir().unwrap();
    let cfg = gate_config(dir.path(), "test://", false, None, "");
    let d = Daemon::start(&cfg);
    let addr = d.http_addr(Duration::from_secs(60));
    assert_eq!(get(addr, "/api/status").status, 200);
    let r = request(addr, "POST", "/api/relay/gate/open", Some(TOKEN), None);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("token_file"), "{}", r.text());
    assert!(
        transitions(&dir.path().join("transitions.jsonl"))
            .iter()
            .all(|t| !t.0),
        "the relay never moved"
    );
}
