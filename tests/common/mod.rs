//! Helpers shared by the integration tests: the binary under test, generated clips with ground
//! truth (cached by content hash so reruns are quick), and free ports.
#![allow(dead_code)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `boomgate` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_boomgate"))
}

/// Python with numpy, Pillow and OpenCV: the bootstrap's tools venv, else the system one.
pub fn python() -> PathBuf {
    let cache = std::env::var_os("BOOMGATE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache"));
    let venv = cache.join("venv-tools/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Ground truth written by scripts/clips/make_clip.py.
#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub frames: u32,
    pub vehicles: Vec<Vehicle>,
    /// Per frame: `[x1, y1, x2, y2, "TEXT"]` of every fully visible plate.
    pub boxes: Vec<Vec<(f32, f32, f32, f32, String)>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Vehicle {
    pub text: String,
    pub style: String,
    pub enter_s: f64,
    pub stop_s: f64,
    pub leave_s: f64,
    pub exit_s: f64,
}

/// A generated clip and its truth. `args` go to make_clip.py (besides --out/--truth). Clips are
/// cached under target/test-clips by a hash of the arguments and the generator sources.
pub fn clip(args: &[&str]) -> (PathBuf, Truth) {
    let mut hasher = Fnv::default();
    for a in args {
        hasher.write(a.as_bytes());
        hasher.write(b"\0");
    }
    for src in ["scripts/clips/make_clip.py"] {
        hasher.write(&std::fs::read(repo().join(src)).expect("generator source"));
    }
    let synth = repo().join("scripts/synth");
    let mut files: Vec<_> = std::fs::read_dir(&synth)
        .expect("scripts/synth")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "py"))
    {
        hasher.write(&std::fs::read(f).unwrap());
    }
    let dir = repo().join("target/test-clips");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = format!("{:016x}", hasher.0);
    let mp4 = dir.join(format!("{stem}.mp4"));
    let json = dir.join(format!("{stem}.json"));
    if !(mp4.exists() && json.exists()) {
        let unique = format!("{}.{:?}", std::process::id(), std::thread::current().id())
            .replace(['(', ')'], "");
        let tmp_mp4 = dir.join(format!("{stem}.{unique}.tmp.mp4"));
        let tmp_json = dir.join(format!("{stem}.{unique}.tmp.json"));
        let status = Command::new(python())
            .arg(repo().join("scripts/clips/make_clip.py"))
            .arg("--out")
            .arg(&tmp_mp4)
            .arg("--truth")
            .arg(&tmp_json)
            .args(args)
            .status()
            .expect("run make_clip.py");
        assert!(status.success(), "make_clip.py {args:?} failed");
        std::fs::rename(&tmp_json, &json).unwrap();
        std::fs::rename(&tmp_mp4, &mp4).unwrap();
    }
    let truth: Truth = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (mp4, truth)
}

#[derive(Default)]
struct Fnv(u64);

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        if self.0 == 0 {
            self.0 = 0xcbf29ce484222325;
        }
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A config for `boomgate run` on `clip` (not looped) with one simulated relay `gate` that
/// records its transitions, data in `dir/data`. `extra` is appended (more sections).
pub fn gate_config(
    dir: &Path,
    camera_url: &str,
    loop_file: bool,
    allow_csv: Option<&Path>,
    extra: &str,
) -> PathBuf {
    let import = allow_csv
        .map(|p| format!("import_csv = \"{}\"\n", p.display()))
        .unwrap_or_default();
    let text = format!(
        r#"[site]
id = "test"
timezone = "UTC"

[[cameras]]
id = "lane"
url = "{camera_url}"
loop = {loop_file}
decoder = "software"
relay = "gate"
reconnect_max_s = 2
frame_timeout_s = 5

[access]
plate_cooldown_s = 60
{import}
[[relays]]
id = "gate"
driver = "simulated"
pulse_ms = 400
max_pulse_ms = 2000
cooldown_ms = 500
transitions_file = "{transitions}"

[storage]
data_dir = "{data}"

[logging]
level = "info"
{http}
{extra}
"#,
        // Port 0: parallel daemons never collide; tests read the bound port from the log.
        http = if extra.contains("[http]") {
            ""
        } else {
            "[http]\nlisten = \"127.0.0.1:0\"\n"
        },
        transitions = dir.join("transitions.jsonl").display(),
        data = dir.join("data").display(),
    );
    write(dir, "boomgate.toml", &text)
}

/// Runs `boomgate` with `args`, returning (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run boomgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running daemon whose stderr is collected; killed on drop.
pub struct Daemon {
    pub child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_with_env(config, &[])
    }

    /// As `start`, with extra environment variables (e.g. systemd's `NOTIFY_SOCKET`).
    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Daemon {
        use std::io::BufRead;
        let mut child = Command::new(bin())
            .args(["run", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start boomgate run");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("[daemon] {line}");
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log satisfies `pred`, up to `timeout`.
    pub fn wait_log(&self, timeout: std::time::Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if pred(&self.log()) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        pred(&self.log())
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    pub fn terminate(&mut self) -> Option<i32> {
        unsafe_kill(self.child.id(), "TERM");
        self.wait_exit(std::time::Duration::from_secs(20))
    }

    /// The status page address, from the "HTTP status page listening" log line.
    pub fn http_addr(&self, timeout: std::time::Duration) -> std::net::SocketAddr {
        assert!(
            self.wait_log(timeout, |l| l.contains("HTTP status page listening")),
            "HTTP server did not start: {}",
            self.log()
        );
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("HTTP status page listening"))
            .unwrap();
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("addr= in the log line");
        addr.parse()
            .unwrap_or_else(|e| panic!("bad address '{addr}' in '{line}': {e}"))
    }

    pub fn kill9(&mut self) {
        unsafe_kill(self.child.id(), "KILL");
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Relay transitions recorded by the simulated line: (active, monotonic ns).
pub fn transitions(path: &Path) -> Vec<(bool, u64)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["active"].as_bool().unwrap_or(false),
                v["mono_ns"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Pulse lengths in ms from a transition list (active edge to the next inactive edge).
pub fn pulse_lengths_ms(t: &[(bool, u64)]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut on: Option<u64> = None;
    for &(active, ns) in t {
        match (active, on) {
            (true, None) => on = Some(ns),
            (false, Some(start)) => {
                out.push((ns - start) as f64 / 1e6);
                on = None;
            }
            _ => {}
        }
    }
    out
}

/// An RTSP server (gst-rtsp-server) serving `clip` at `rtsp://127.0.0.1:PORT/lane`; every client
/// gets the clip from its start. Dropping it (or `stop`) closes the port and every session.
pub struct RtspServer {
    main_loop: gstreamer_rtsp_server::glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtspServer {
    pub fn start(port: u16, clip: &Path) -> RtspServer {
        use gstreamer_rtsp_server::glib;
        use gstreamer_rtsp_server::prelude::*;
        gstreamer::init().unwrap();
        let ctx = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let launch = format!(
            "( filesrc location={} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )",
            clip.display()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let ml = main_loop.clone();
        let thread = std::thread::spawn(move || {
            let guard = ctx.acquire().unwrap();
            let server = gstreamer_rtsp_server::RTSPServer::new();
            server.set_address("127.0.0.1");
            server.set_service(&port.to_string());
            let factory = gstreamer_rtsp_server::RTSPMediaFactory::new();
            factory.set_launch(&launch);
            server.mount_points().unwrap().add_factory("/lane", factory);
            let source = server.attach(Some(&ctx)).expect("RTSP server attach");
            tx.send(()).unwrap();
            ml.run();
            server.client_filter(Some(&mut |_, _| {
                gstreamer_rtsp_server::RTSPFilterResult::Remove
            }));
            // Closing the sessions may already have destroyed the listening source.
            if let Some(listening) = ctx.find_source_by_id(&source) {
                listening.destroy();
            }
            drop(guard);
        });
        rx.recv().unwrap();
        RtspServer {
            main_loop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
