//! The event store on real SQLite files in temp dirs: what the daemon, the HTTP API and the
//! MQTT outbox rely on.

use boomgate::access::{AccessEntry, Action, Decision, ListKind, ScheduleWindow};
use boomgate::config::StorageSettings;
use boomgate::geometry::BBox;
use boomgate::relay::{PulseOutcome, RelayLogEntry};
use boomgate::store::{
    AccessKey, Event, EventFilter, NewEvent, Page, StageLatencies, Store, StoreError,
    SCHEMA_VERSION,
};
use std::io::{BufRead, BufReader};
use std::path::Path;

fn event(id: &str, plate: &str, at: jiff::Timestamp, action: Action, camera: &str) -> Event {
    Event {
        event_id: id.into(),
        site: "gate1".into(),
        camera: camera.into(),
        captured_at: at,
        plate: plate.into(),
        confidence: 0.93,
        char_confidences: vec![0.9; plate.len()],
        candidates: vec![],
        bbox: BBox::new(10.0, 20.0, 110.0, 50.0),
        format: Some("us".into()),
        decision: Decision {
            action,
            reason: "not_listed".into(),
            matched_entry: None,
            distance: None,
        },
        relay: None,
        crop_url: None,
        frame_url: None,
        latency: StageLatencies::default(),
        reads: 3,
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

#[test]
fn round_trip_with_media_and_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let ev = event(
        "ev-1",
        "ABC123",
        ts("2026-03-04T05:06:07Z"),
        Action::Open,
        "cam1",
    );
    let stored = store
        .insert_event(
            &ev,
            &["mqtt", "webhook0"],
            Some(b"crop-bytes"),
            Some(b"frame-bytes"),
        )
        .expect("insert");
    assert_eq!(
        stored.crop_url.as_deref(),
        Some("/media/2026-03-04/ev-1-crop.jpg")
    );
    assert_eq!(
        stored.frame_url.as_deref(),
        Some("/media/2026-03-04/ev-1-frame.jpg")
    );
    let back = store.event_by_id("ev-1").expect("query").expect("present");
    assert_eq!(back, stored);
    assert_eq!(store.event_by_id("nope").expect("query"), None);

    let crop = store
        .media_file("2026-03-04/ev-1-crop.jpg")
        .expect("crop file served");
    assert_eq!(std::fs::read(crop).expect("read"), b"crop-bytes");
    assert!(dir.path().join("media/2026-03-04/ev-1-frame.jpg").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("media/2026-03-04"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left");

    for ch in ["mqtt", "webhook0"] {
        let pending = store.outbox_pending(ch, 10).expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1, stored);
    }
    assert_eq!(store.outbox_stats().expect("stats").0, 2);
    assert!(store.outbox_ack("mqtt", "ev-1").expect("ack"));
    assert!(
        !store.outbox_ack("mqtt", "ev-1").expect("ack twice"),
        "second ack finds nothing"
    );
    assert!(store
        .outbox_pending("mqtt", 10)
        .expect("pending")
        .is_empty());
    assert_eq!(
        store.outbox_pending("webhook0", 10).expect("pending").len(),
        1,
        "channels are independent"
    );
    assert_eq!(store.outbox_stats().expect("stats").0, 1);
}

#[test]
fn outbox_is_in_insertion_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let base = ts("2026-03-04T05:06:07Z");
    for i in 0..20 {
        // Capture times deliberately not monotonic: the outbox follows storage order.
        let at = base
            .checked_add(jiff::SignedDuration::from_secs(if i % 2 == 0 {
                i
            } else {
                -i
            }))
            .expect("time");
        store
            .insert_event(
                &event(&format!("ev-{i}"), "ABC123", at, Action::Deny, "cam1"),
                &["mqtt"],
                None,
                None,
            )
            .expect("insert");
    }
    let ids: Vec<String> = store
        .outbox_pending("mqtt", 100)
        .expect("pending")
        .into_iter()
        .map(|(_, e)| e.event_id)
        .collect();
    let want: Vec<String> = (0..20).map(|i| format!("ev-{i}")).collect();
    assert_eq!(ids, want);
    let first5 = store.outbox_pending("mqtt", 5).expect("pending");
    assert_eq!(first5.len(), 5);
    assert!(
        first5.windows(2).all(|w| w[0].0 < w[1].0),
        "sequence numbers ascend"
    );
}

#[test]
fn event_and_outbox_rows_commit_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let at = ts("2026-03-04T05:06:07Z");
    let a = event("ev-a", "AAA111", at, Action::Open, "cam1");
    let b = event("ev-b", "BBB222", at, Action::Open, "cam1");
    let a_again = event("ev-a", "AAA111", at, Action::Open, "cam1");
    let batch = [
        NewEvent {
            event: &a,
            crop_jpeg: Some(b"a"),
            frame_jpeg: None,
        },
        NewEvent {
            event: &b,
            crop_jpeg: Some(b"b"),
            frame_jpeg: None,
        },
        NewEvent {
            event: &a_again,
            crop_jpeg: None,
            frame_jpeg: None,
        },
    ];
    assert!(
        store.insert_events(&batch, &["mqtt"]).is_err(),
        "duplicate id in the batch fails it"
    );
    assert_eq!(
        store.event_count().expect("count"),
        0,
        "no event of the failed batch stored"
    );
    assert_eq!(
        store.outbox_stats().expect("stats").0,
        0,
        "no outbox row of the failed batch"
    );
    assert!(
        !dir.path().join("media/2026-03-04/ev-b-crop.jpg").exists(),
        "files of the failed batch removed"
    );

    store
        .insert_event(&a, &["mqtt"], Some(b"original"), None)
        .expect("insert");
    let err = store
        .insert_event(&a, &["mqtt"], Some(b"retry"), None)
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::DuplicateEvent(_)), "{err}");
    let crop = store.media_file("2026-03-04/ev-a-crop.jpg").expect("crop");
    assert_eq!(
        std::fs::read(crop).expect("read"),
        b"original",
        "a retried insert does not touch stored media"
    );
    assert_eq!(store.outbox_stats().expect("stats").0, 1);
}

#[test]
fn filters_and_pagination() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let base = ts("2026-03-01T00:00:00Z");
    let plates = ["ABC123", "ABD999", "XYZ123", "ABC777", "QQQ000"];
    let mut batch = Vec::new();
    for i in 0..50i64 {
        let at = base
            .checked_add(jiff::SignedDuration::from_hours(i * 6))
            .expect("time");
        let action = [Action::Open, Action::Deny, Action::Ignore][(i % 3) as usize];
        let cam = if i % 2 == 0 { "cam1" } else { "cam2" };
        batch.push(event(
            &format!("ev-{i:03}"),
            plates[(i % 5) as usize],
            at,
            action,
            cam,
        ));
    }
    let items: Vec<NewEvent> = batch
        .iter()
        .map(|e| NewEvent {
            event: e,
            crop_jpeg: None,
            frame_jpeg: None,
        })
        .collect();
    store.insert_events(&items, &[]).expect("insert");

    let all = store
        .events_query(
            &EventFilter::default(),
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("query");
    assert_eq!(all.len(), 50);
    assert_eq!(all[0].event_id, "ev-049", "newest first");

    let prefix = EventFilter {
        plate_prefix: Some("ab".into()),
        ..Default::default()
    };
    let got = store
        .events_query(
            &prefix,
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("query");
    assert_eq!(got.len(), 30, "ABC123, ABD999, ABC777");
    assert!(got.iter().all(|e| e.plate.starts_with("AB")));
    let plan = store
        .events_query_plan(
            &prefix,
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("plan");
    assert!(
        plan.contains("events_plate"),
        "prefix search uses the plate index: {plan}"
    );
    assert!(!plan.contains("SCAN events"), "no full scan: {plan}");

    let contains = EventFilter {
        plate_contains: Some("123".into()),
        ..Default::default()
    };
    let got = store
        .events_query(
            &contains,
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("query");
    assert_eq!(got.len(), 20);

    let range = EventFilter {
        from: Some(ts("2026-03-02T00:00:00Z")),
        to: Some(ts("2026-03-03T00:00:00Z")),
        ..Default::default()
    };
    let got = store
        .events_query(
            &range,
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("query");
    assert_eq!(
        got.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["ev-007", "ev-006", "ev-005", "ev-004"]
    );

    let deny_cam2 = EventFilter {
        decision: Some(Action::Deny),
        camera: Some("cam2".into()),
        ..Default::default()
    };
    let got = store
        .events_query(
            &deny_cam2,
            &Page {
                limit: 100,
                before: None,
            },
        )
        .expect("query");
    assert!(
        !got.is_empty()
            && got
                .iter()
                .all(|e| e.decision.action == Action::Deny && e.camera == "cam2")
    );
    assert_eq!(got.len(), 50 / 6 + 1);

    // Pages of 7 cover everything exactly once, in order.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .events_query(
                &EventFilter::default(),
                &Page {
                    limit: 7,
                    before: before.clone(),
                },
            )
            .expect("page");
        if page.is_empty() {
            break;
        }
        before = page.last().map(|e| e.event_id.clone());
        seen.extend(page.into_iter().map(|e| e.event_id));
    }
    let want: Vec<String> = all.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(seen, want);
    let err = store
        .events_query(
            &EventFilter::default(),
            &Page {
                limit: 7,
                before: Some("gone".into()),
            },
        )
        .expect_err("cursor");
    assert!(err.to_string().contains("gone"));

    let days = store
        .day_stats(ts("2026-03-01T00:00:00Z"), ts("2026-03-03T00:00:00Z"))
        .expect("days");
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].day.to_string(), "2026-03-01");
    // ev-000..003 on day 1: open, deny, ignore, open.
    assert_eq!((days[0].open, days[0].deny, days[0].ignore), (2, 1, 1));

    let mut csv = Vec::new();
    let n = store.events_export_csv(&mut csv).expect("csv");
    assert_eq!(n, 50);
    let text = String::from_utf8(csv).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 51);
    assert!(lines[0].starts_with("event_id,captured_at,"));
    assert!(
        lines[1].starts_with("ev-000,2026-03-01T00:00:00Z,gate1,cam1,ABC123,"),
        "{}",
        lines[1]
    );
}

#[test]
fn media_paths_cannot_escape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    store
        .insert_event(
            &event(
                "ev-1",
                "ABC123",
                ts("2026-03-04T05:06:07Z"),
                Action::Open,
                "cam1",
            ),
            &[],
            Some(b"x"),
            None,
        )
        .expect("insert");
    std::fs::write(dir.path().join("secret.jpg"), b"secret").expect("write");
    std::fs::write(dir.path().join("media/2026-03-04/ev-2-crop.jpg"), b"stray").expect("write");
    assert!(store.media_file("2026-03-04/ev-1-crop.jpg").is_some());
    for bad in [
        "../secret.jpg",
        "2026-03-04/../../secret.jpg",
        "/etc/passwd",
        "2026-03-04/ev-1-crop.jpg\0",
        "./2026-03-04/ev-1-crop.jpg",
        "2026-03-04/ev-2-crop.jpg",
        "2026-03-04/ev-1-frame.jpg",
        "../boomgate.db",
        "",
        "2026-03-04\\ev-1-crop.jpg",
    ] {
        assert_eq!(store.media_file(bad), None, "{bad:?} must not be served");
    }
    let err = store
        .insert_event(
            &event(
                "../evil",
                "ABC123",
                ts("2026-03-04T05:06:07Z"),
                Action::Open,
                "cam1",
            ),
            &[],
            Some(b"x"),
            None,
        )
        .expect_err("bad id");
    assert!(matches!(err, StoreError::BadEventId(_)), "{err}");
}

#[test]
fn migrations_from_empty_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("nested/data");
    {
        let mut store = Store::open(&data).expect("open creates the folders");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        store
            .insert_event(
                &event(
                    "ev-1",
                    "ABC123",
                    ts("2026-03-04T05:06:07Z"),
                    Action::Open,
                    "cam1",
                ),
                &["mqtt"],
                None,
                None,
            )
            .expect("insert");
    }
    assert!(data.join("boomgate.db").is_file() && data.join("media").is_dir());
    let store = Store::open(&data).expect("reopen");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert!(store.event_by_id("ev-1").expect("query").is_some());
    assert_eq!(store.outbox_pending("mqtt", 10).expect("pending").len(), 1);
    let mode: String = rusqlite::Connection::open(data.join("boomgate.db"))
        .and_then(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .expect("pragma");
    assert_eq!(mode, "wal");
    drop(store);

    // A database from a newer build is refused, naming the file.
    let c = rusqlite::Connection::open(data.join("boomgate.db")).expect("raw open");
    c.execute(
        "INSERT INTO schema_version(version, applied_at) VALUES (?1, 0)",
        [SCHEMA_VERSION + 5],
    )
    .expect("bump");
    drop(c);
    let err = Store::open(&data).err().expect("too new");
    assert!(err.to_string().contains("boomgate.db"), "{err}");
}

#[test]
fn unusable_data_dir_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let bad = file.join("data");
    let err = Store::open(&bad).err().expect("must fail");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );

    // A database file that is not SQLite.
    let d2 = dir.path().join("d2");
    std::fs::create_dir_all(&d2).expect("mkdir");
    std::fs::write(d2.join("boomgate.db"), vec![0x42u8; 8192]).expect("write");
    let err = Store::open(&d2).err().expect("must fail");
    assert!(err.to_string().contains("boomgate.db"), "{err}");
}

#[test]
fn access_list_and_relay_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let v0 = store.access_version().expect("version");
    let entry = AccessEntry {
        id: 0,
        plate: "ABC123".into(),
        list: ListKind::Allow,
        label: "Alice".into(),
        valid_from: Some(ts("2026-01-01T00:00:00Z")),
        valid_until: None,
        schedule: vec![ScheduleWindow {
            days: vec!["mon".into(), "tue".into()],
            start: "08:00".into(),
            end: "18:00".into(),
        }],
        relays: vec!["gate".into()],
    };
    let id = store.access_upsert(&entry).expect("insert");
    assert!(id > 0);
    let v1 = store.access_version().expect("version");
    assert!(v1 > v0, "version bumps on change");
    let list = store.access_list().expect("list");
    assert_eq!(
        list,
        vec![AccessEntry {
            id,
            ..entry.clone()
        }]
    );

    // Upsert by plate keeps the id.
    let id2 = store
        .access_upsert(&AccessEntry {
            label: "Alice B".into(),
            list: ListKind::Deny,
            ..entry.clone()
        })
        .expect("upsert");
    assert_eq!(id2, id);
    assert_eq!(store.access_list().expect("list")[0].label, "Alice B");
    assert!(store.access_version().expect("version") > v1);
    let err = store
        .access_upsert(&AccessEntry {
            id: 999,
            ..entry.clone()
        })
        .expect_err("unknown id");
    assert!(err.to_string().contains("999"));

    assert!(store
        .access_delete(&AccessKey::Plate("ABC123".into()))
        .expect("delete"));
    assert!(!store
        .access_delete(&AccessKey::Id(id))
        .expect("delete again"));
    assert!(store.access_list().expect("list").is_empty());

    for i in 0..3 {
        store
            .relay_log_insert(&RelayLogEntry {
                relay: "gate".into(),
                at: ts("2026-03-04T05:06:07Z"),
                duration_ms: 800 + i,
                reason: "plate".into(),
                plate: Some("ABC123".into()),
                event_id: None,
                outcome: if i == 2 {
                    PulseOutcome::Cooldown
                } else {
                    PulseOutcome::Pulsed
                },
            })
            .expect("relay log");
    }
    let recent = store.relay_log_recent(2).expect("recent");
    assert_eq!(recent.len(), 2);
    assert_eq!(
        (recent[0].duration_ms, recent[0].outcome),
        (802, PulseOutcome::Cooldown),
        "newest first"
    );
}

fn media_count(dir: &Path) -> usize {
    let mut n = 0;
    for day in std::fs::read_dir(dir.join("media"))
        .expect("media")
        .flatten()
    {
        n += std::fs::read_dir(day.path())
            .map(|d| d.count())
            .unwrap_or(0);
    }
    n
}

#[test]
fn retention_by_age_removes_rows_and_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let now = jiff::Timestamp::now();
    let old = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 40))
        .expect("time");
    store
        .insert_event(
            &event("old-delivered", "AAA111", old, Action::Open, "cam1"),
            &["mqtt"],
            Some(b"c"),
            Some(b"f"),
        )
        .expect("insert");
    store.outbox_ack("mqtt", "old-delivered").expect("ack");
    store
        .insert_event(
            &event("old-pending", "AAA112", old, Action::Open, "cam1"),
            &["mqtt"],
            Some(b"c"),
            None,
        )
        .expect("insert");
    store
        .insert_event(
            &event("new", "AAA113", now, Action::Open, "cam1"),
            &["mqtt"],
            Some(b"c"),
            None,
        )
        .expect("insert");
    assert_eq!(media_count(dir.path()), 4);

    let settings = StorageSettings {
        data_dir: dir.path().into(),
        retention_days: 30,
        max_disk_mb: 0,
        min_free_mb: 0,
        ..Default::default()
    };
    let report = store.run_retention(&settings).expect("retention");
    assert_eq!(report.deleted_by_age, 2);
    assert_eq!(
        report.undelivered_deleted, 1,
        "the undelivered old event is reported"
    );
    assert_eq!(report.files_deleted, 3);
    assert_eq!(media_count(dir.path()), 1);
    assert!(store.event_by_id("old-delivered").expect("q").is_none());
    assert!(store.event_by_id("new").expect("q").is_some());
    let pending: Vec<String> = store
        .outbox_pending("mqtt", 10)
        .expect("pending")
        .into_iter()
        .map(|(_, e)| e.event_id)
        .collect();
    assert_eq!(pending, ["new"], "outbox rows of deleted events are gone");
    let old_day = old.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    assert!(
        !dir.path().join("media").join(old_day).exists(),
        "empty day folder removed"
    );
}

#[test]
fn retention_by_quota_deletes_oldest_delivered_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let base = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(10))
        .expect("time");
    let blob = vec![7u8; 256 * 1024];
    for i in 0..12i64 {
        let at = base
            .checked_add(jiff::SignedDuration::from_mins(i))
            .expect("time");
        store
            .insert_event(
                &event(&format!("ev-{i:02}"), "ABC123", at, Action::Open, "cam1"),
                &["mqtt"],
                Some(&blob),
                None,
            )
            .expect("insert");
        // ev-00 and ev-01 stay undelivered; the rest are delivered.
        if i >= 2 {
            store
                .outbox_ack("mqtt", &format!("ev-{i:02}"))
                .expect("ack");
        }
    }
    assert!(store.disk_usage_bytes().expect("usage") > 3 * 1024 * 1024);
    let settings = StorageSettings {
        data_dir: dir.path().into(),
        retention_days: 0,
        max_disk_mb: 2,
        min_free_mb: 0,
        ..Default::default()
    };
    let report = store.run_retention(&settings).expect("retention");
    assert!(
        store.disk_usage_bytes().expect("usage") <= 2 * 1024 * 1024,
        "under quota after: {report:?}"
    );
    assert!(report.deleted_by_quota >= 4, "{report:?}");
    assert_eq!(
        report.undelivered_deleted, 0,
        "delivered events went first: {report:?}"
    );
    assert!(
        store.event_by_id("ev-00").expect("q").is_some(),
        "undelivered oldest kept while others could go"
    );
    assert!(
        store.event_by_id("ev-02").expect("q").is_none(),
        "oldest delivered deleted"
    );
    assert!(
        store.event_by_id("ev-11").expect("q").is_some(),
        "newest kept"
    );
    assert_eq!(media_count(dir.path()) as u64, 12 - report.deleted_by_quota);
    assert!(!report.still_over_quota);
}

/// Child half of `committed_events_survive_kill_9`: only acts when re-executed with the env var.
#[test]
#[ignore = "helper: run by committed_events_survive_kill_9 in a child process"]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var("BOOMGATE_KILL9_DIR") else {
        return;
    };
    let mut store = Store::open(Path::new(&dir)).expect("open");
    let now = jiff::Timestamp::now();
    for i in 0.. {
        let id = format!("k9-{i:06}");
        store
            .insert_event(
                &event(&id, "ABC123", now, Action::Open, "cam1"),
                &["mqtt"],
                Some(b"crop"),
                None,
            )
            .expect("insert");
        println!("stored {id}");
    }
}

#[test]
fn committed_events_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe)
        .args([
            "kill9_child_writer",
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BOOMGATE_KILL9_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut printed = Vec::new();
    let mut line = String::new();
    while printed.len() < 40 {
        line.clear();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if let Some(id) = line.trim().strip_prefix("stored ") {
            printed.push(id.to_string());
        }
    }
    child.kill().expect("kill -9");
    // Whatever the child printed before dying was committed before it printed.
    for l in reader.lines().map_while(Result::ok) {
        if let Some(id) = l.trim().strip_prefix("stored ") {
            printed.push(id.to_string());
        }
    }
    let _ = child.wait();
    assert!(
        printed.len() >= 40,
        "child stored {} events before the kill",
        printed.len()
    );
    let store = Store::open(dir.path()).expect("reopen after kill");
    for id in &printed {
        let ev = store.event_by_id(id).expect("query");
        assert!(
            ev.is_some(),
            "event {id} was reported stored but is missing"
        );
    }
    let pending = store.outbox_pending("mqtt", 100_000).expect("pending");
    assert!(
        pending.len() >= printed.len(),
        "every stored event has its outbox row"
    );
}

#[test]
fn orphan_media_sweep_keeps_files_of_stored_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    store
        .insert_event(
            &event(
                "kept",
                "ABC123",
                ts("2026-03-04T05:06:07Z"),
                Action::Open,
                "cam1",
            ),
            &[],
            Some(b"c"),
            Some(b"f"),
        )
        .expect("insert");
    let day = dir.path().join("media/2026-03-04");
    std::fs::write(day.join("never-committed-crop.jpg"), b"x").expect("write");
    std::fs::write(day.join("kept-crop.jpg.tmp"), b"x").expect("write");
    let other_day = dir.path().join("media/2026-03-05");
    std::fs::create_dir_all(&other_day).expect("mkdir");
    std::fs::write(other_day.join("lost-frame.jpg"), b"x").expect("write");

    // Young files are left alone (they may belong to a write in flight).
    assert_eq!(
        store
            .sweep_orphan_media(std::time::Duration::from_secs(3600))
            .expect("sweep"),
        0
    );
    assert_eq!(
        store
            .sweep_orphan_media(std::time::Duration::ZERO)
            .expect("sweep"),
        3
    );
    assert!(store.media_file("2026-03-04/kept-crop.jpg").is_some());
    assert!(store.media_file("2026-03-04/kept-frame.jpg").is_some());
    assert!(!day.join("never-committed-crop.jpg").exists());
    assert!(!other_day.exists(), "emptied day folder removed");
}

#[test]
fn day_statistics_match_the_events_for_any_range_and_follow_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    // 120 events over five days, at uneven hours, relative to now so retention applies.
    let now = jiff::Timestamp::now();
    let mut all = Vec::new();
    for i in 0..120i64 {
        let at = now - jiff::SignedDuration::from_mins(i * 61 + 7);
        let action = [Action::Open, Action::Deny, Action::Ignore][(i % 3) as usize];
        let e = event(&format!("d-{i:03}"), "ABC123", at, action, "cam1");
        store.insert_event(&e, &[], None, None).expect("insert");
        all.push(e);
    }
    let brute = |from: jiff::Timestamp, to: jiff::Timestamp, all: &[Event]| {
        let mut m: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
        for e in all
            .iter()
            .filter(|e| e.captured_at >= from && e.captured_at < to)
        {
            let day = e
                .captured_at
                .to_zoned(jiff::tz::TimeZone::UTC)
                .date()
                .to_string();
            let c = m.entry(day).or_default();
            match e.decision.action {
                Action::Open => c.0 += 1,
                Action::Deny => c.1 += 1,
                Action::Ignore => c.2 += 1,
            }
        }
        m.into_iter().collect::<Vec<_>>()
    };
    let got = |store: &Store, from, to| {
        store
            .day_stats(from, to)
            .expect("days")
            .into_iter()
            .map(|d| (d.day.to_string(), (d.open, d.deny, d.ignore)))
            .collect::<Vec<_>>()
    };
    let h = jiff::SignedDuration::from_hours;
    let ranges = [
        (now - h(200), now + h(1)),
        (now - h(50), now - h(3)),
        (now - h(30), now - h(29)),
        (
            now - h(24 * 3)
                .checked_add(jiff::SignedDuration::from_mins(13))
                .unwrap(),
            now,
        ),
    ];
    for (from, to) in ranges {
        assert_eq!(
            got(&store, from, to),
            brute(from, to, &all),
            "range {from} .. {to}"
        );
    }
    // Midnight-aligned bounds use whole days only.
    let midnight = now
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    assert_eq!(
        got(&store, midnight - h(72), midnight),
        brute(midnight - h(72), midnight, &all)
    );
    // Retention deletes rows; the day counts follow.
    let settings = StorageSettings {
        retention_days: 2,
        max_disk_mb: 0,
        min_free_mb: 0,
        ..StorageSettings::default()
    };
    store.run_retention(&settings).expect("retention");
    let kept: Vec<Event> = all
        .iter()
        .filter(|e| e.captured_at >= now - h(48) - jiff::SignedDuration::from_secs(60))
        .cloned()
        .collect();
    let left = store.event_count().expect("count") as usize;
    assert!(
        left < all.len() && left >= kept.len() - 1,
        "retention removed old events: {left}"
    );
    let remaining: Vec<Event> = all
        .iter()
        .filter(|e| store.event_by_id(&e.event_id).unwrap().is_some())
        .cloned()
        .collect();
    assert_eq!(
        got(&store, now - h(200), now + h(1)),
        brute(now - h(200), now + h(1), &remaining)
    );
}
