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
    let cache = std::env::var_os("BOOMGATE_CACHE").map(PathBuf::from).unwrap_or_else(|| repo().join(".cache"));
    let venv = cache.join("venv-tools/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
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
    let mut files: Vec<_> = std::fs::read_dir(&synth).expect("scripts/synth").flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "py")) {
        hasher.write(&std::fs::read(f).unwrap());
    }
    let dir = repo().join("target/test-clips");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = format!("{:016x}", hasher.0);
    let mp4 = dir.join(format!("{stem}.mp4"));
    let json = dir.join(format!("{stem}.json"));
    if !(mp4.exists() && json.exists()) {
        let tmp_mp4 = dir.join(format!("{stem}.tmp.mp4"));
        let status = Command::new(python())
            .arg(repo().join("scripts/clips/make_clip.py"))
            .arg("--out")
            .arg(&tmp_mp4)
            .arg("--truth")
            .arg(&json)
            .args(args)
            .status()
            .expect("run make_clip.py");
        assert!(status.success(), "make_clip.py {args:?} failed");
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
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
