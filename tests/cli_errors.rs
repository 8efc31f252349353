//! Bad input gets a clear error naming the thing and a documented exit code, never a panic.
mod common;

use common::*;
use std::time::Duration;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn version_names_daemon_models_and_litert() {
    let (code, out, _) = run_cli(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("boomgate {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("detector model: plate-detector"), "{out}");
    assert!(out.contains("ocr model: plate-ocr"), "{out}");
    assert!(out.contains("LiteRT: 2.1.4"), "{out}");
}

#[test]
fn check_config_accepts_the_example_and_rejects_unknown_fields() {
    let (code, out, err) = run_cli(&[
        "check-config",
        repo().join("boomgate.example.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("camera entry"), "{out}");
    let dir = tmp();
    let cfg = write(
        dir.path(),
        "bad.toml",
        "[site]\nid = \"x\"\n\n[[relays]]\nid = \"gate\"\npulse_msec = 500\n",
    );
    let (code, _, err) = run_cli(&["check-config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{}:6", cfg.display())),
        "error names file and line: {err}"
    );
    assert!(err.contains("pulse_msec"), "error names the field: {err}");
}

#[test]
fn malformed_value_names_field() {
    let dir = tmp();
    let cfg = write(
        dir.path(),
        "bad.toml",
        "[[cameras]]\nid = \"a\"\nurl = \"http://cam\"\n",
    );
    let (code, _, err) = run_cli(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cameras[0].url"), "{err}");
}

#[test]
fn missing_model_is_exit_3_naming_the_file() {
    let dir = tmp();
    let cfg = gate_config(
        dir.path(),
        "test://",
        false,
        None,
        "[detector]\nmodel = \"/nonexistent/models/det.json\"\n",
    );
    let (code, _, err) = run_cli(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("/nonexistent/models/det.json"), "{err}");
}

#[test]
fn missing_litert_library_is_exit_3_naming_the_path() {
    let dir = tmp();
    let cfg = gate_config(
        dir.path(),
        "test://",
        false,
        None,
        "[runtime]\nlitert_library = \"/nonexistent/libLiteRt.so\"\n",
    );
    let (code, _, err) = run_cli(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("/nonexistent/libLiteRt.so"), "{err}");
}

#[test]
fn nonexistent_device_is_exit_4_naming_it() {
    let dir = tmp();
    let cfg = gate_config(dir.path(), "v4l2:///dev/video99", false, None, "");
    let (code, _, err) = run_cli(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("/dev/video99"), "{err}");
}

#[test]
fn unreachable_rtsp_camera_retries_with_a_redacted_url_and_relay_stays_inactive() {
    let dir = tmp();
    let port = free_port();
    let url = format!("rtsp://viewer:s3cret@127.0.0.1:{port}/lane");
    let cfg = gate_config(dir.path(), &url, false, None, "");
    let mut d = Daemon::start(&cfg);
    let ok = d.wait_log(Duration::from_secs(40), |l| {
        l.contains("boomgate ready") && l.to_lowercase().contains("reconnect")
    });
    let code = d.terminate();
    let log = d.log();
    assert!(ok, "daemon should stay up and retry: {log}");
    assert!(
        log.contains(&format!("127.0.0.1:{port}")),
        "log names the camera: {log}"
    );
    assert!(
        !log.contains("s3cret"),
        "password leaked into the log: {log}"
    );
    assert_eq!(code, Some(0), "SIGTERM is a clean stop");
    let t = transitions(&dir.path().join("transitions.jsonl"));
    assert!(
        !t.is_empty() && !t[0].0,
        "relay driven inactive at start: {t:?}"
    );
    assert!(
        t.iter().all(|(active, _)| !active),
        "no pulse without a plate: {t:?}"
    );
}

#[test]
fn recognize_reports_broken_inputs_and_processes_the_rest() {
    let dir = tmp();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x42u8; 50_000]).unwrap();
    let missing = dir.path().join("missing.jpg");
    let good = first_fixture_still();
    let (code, out, err) = run_cli(&[
        "recognize",
        "--json",
        junk.to_str().unwrap(),
        missing.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["source"], junk.to_str().unwrap());
    assert!(
        lines[0]["error"].as_str().unwrap().contains("junk.mp4"),
        "{out}"
    );
    assert!(
        lines[1]["error"].as_str().unwrap().contains("missing.jpg"),
        "{out}"
    );
    assert!(
        lines[2]["plates"].is_array(),
        "the good image is still read: {out}"
    );
}

#[test]
fn recognize_on_truncated_video_reports_it_without_hanging() {
    let (clip, _) = clip(&[
        "--width",
        "640",
        "--height",
        "360",
        "--count",
        "1",
        "--plates",
        "ABC1234:br-old",
        "--seed",
        "3",
    ]);
    let dir = tmp();
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, err) = run_cli(&["recognize", "--json", cut.to_str().unwrap()]);
    assert_eq!(code, 4, "{out} {err}");
    assert!(
        out.contains("cut.mp4") && out.contains("\"error\""),
        "{out}"
    );
}

fn first_fixture_still() -> std::path::PathBuf {
    let dir = repo().join("tests/fixtures/plates");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/plates")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.into_iter().next().expect("a fixture still")
}
