//! The store writer thread: JPEGs from frames, broadcast of stored events, relay log, shedding.

use boomgate::access::{Action, Decision};
use boomgate::geometry::BBox;
use boomgate::relay::{relay_log_channel, PulseOutcome, RelayLogEntry};
use boomgate::shutdown::Shutdown;
use boomgate::store::{Event, StageLatencies, Store, StoreWriter, WriterOptions};
use boomgate::video::Frame;
use std::sync::Arc;
use std::time::Duration;

fn event(id: &str) -> Event {
    Event {
        event_id: id.into(),
        site: "gate1".into(),
        camera: "cam1".into(),
        captured_at: jiff::Timestamp::now(),
        plate: "ABC123".into(),
        confidence: 0.9,
        char_confidences: vec![0.9; 6],
        candidates: vec![],
        bbox: BBox::new(40.0, 30.0, 200.0, 80.0),
        format: None,
        decision: Decision {
            action: Action::Open,
            reason: "allow_list".into(),
            matched_entry: None,
            distance: Some(0.0),
        },
        relay: None,
        crop_url: None,
        frame_url: None,
        latency: StageLatencies::default(),
        reads: 2,
    }
}

fn frame(w: u32, h: u32) -> Frame {
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    for (i, px) in rgb.chunks_mut(3).enumerate() {
        px[0] = (i % 251) as u8;
        px[1] = (i % 127) as u8;
        px[2] = (i / 7 % 255) as u8;
    }
    Frame::from_rgb(Arc::from("cam1"), w, h, &rgb)
}

fn options(capacity: usize) -> WriterOptions {
    WriterOptions {
        queue_capacity: capacity,
        jpeg_quality: 80,
        save_crops: true,
        save_frames: true,
        channels: vec!["mqtt".into()],
        retention: None,
        retention_every: Duration::from_secs(600),
    }
}

#[test]
fn writer_stores_jpegs_broadcasts_and_logs_relays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let (log, log_rx) = relay_log_channel(16);
    let writer = StoreWriter::spawn(store, options(16), Shutdown::new(), log_rx);
    let mut stored_rx = writer.subscribe();
    let f = frame(320, 240);
    writer
        .sender()
        .try_submit(
            event("w-1"),
            Some((f.clone(), BBox::new(40.0, 30.0, 200.0, 80.0))),
            Some(f),
        )
        .expect("queued");
    writer
        .sender()
        .try_submit(event("w-2"), None, None)
        .expect("queued");
    log.send(RelayLogEntry {
        relay: "gate".into(),
        at: jiff::Timestamp::now(),
        duration_ms: 800,
        reason: "plate".into(),
        plate: Some("ABC123".into()),
        event_id: Some("w-1".into()),
        outcome: PulseOutcome::Pulsed,
    });
    writer.shutdown();

    let first = stored_rx.try_recv().expect("stored event announced");
    assert_eq!(first.event_id, "w-1");
    assert!(first.crop_url.is_some() && first.frame_url.is_some());
    assert_eq!(stored_rx.try_recv().expect("second").event_id, "w-2");

    let store = Store::open(dir.path()).expect("reopen");
    let ev = store.event_by_id("w-1").expect("q").expect("stored");
    let rel = ev
        .crop_url
        .as_deref()
        .and_then(|u| u.strip_prefix("/media/"))
        .expect("crop url");
    let crop = image::open(store.media_file(rel).expect("crop file")).expect("crop is a JPEG");
    assert_eq!(
        (crop.width(), crop.height()),
        (160, 50),
        "crop has the box's size"
    );
    let rel = ev
        .frame_url
        .as_deref()
        .and_then(|u| u.strip_prefix("/media/"))
        .expect("frame url");
    let full = image::open(store.media_file(rel).expect("frame file")).expect("frame is a JPEG");
    assert_eq!((full.width(), full.height()), (320, 240));
    assert_eq!(store.outbox_pending("mqtt", 10).expect("pending").len(), 2);
    let log = store.relay_log_recent(10).expect("relay log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event_id.as_deref(), Some("w-1"));
}

#[test]
fn writer_sheds_when_full_and_drains_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let (_log, log_rx) = relay_log_channel(4);
    let writer = StoreWriter::spawn(store, options(2), Shutdown::new(), log_rx);
    // A large frame keeps the writer busy encoding while the queue fills.
    let big = frame(2560, 1440);
    let sender = writer.sender();
    let mut shed_ids = Vec::new();
    for i in 0..20 {
        let frame = if i < 3 { Some(big.clone()) } else { None };
        if let Err(ev) = sender.try_submit(event(&format!("s-{i:02}")), None, frame) {
            shed_ids.push(ev.event_id);
        }
    }
    assert!(
        !shed_ids.is_empty(),
        "a full queue sheds instead of blocking"
    );
    let stats = writer.stats();
    assert_eq!(stats.shed as usize, shed_ids.len());
    writer.shutdown();

    let store = Store::open(dir.path()).expect("reopen");
    let stored = store.event_count().expect("count");
    assert_eq!(
        stored as usize + shed_ids.len(),
        20,
        "everything accepted was stored on shutdown"
    );
    for id in &shed_ids {
        assert!(
            store.event_by_id(id).expect("q").is_none(),
            "shed event {id} not stored"
        );
    }
}

#[test]
fn writer_stops_on_shutdown_signal_and_sheds_afterwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let (_log, log_rx) = relay_log_channel(4);
    let shutdown = Shutdown::new();
    let writer = StoreWriter::spawn(store, options(8), shutdown.clone(), log_rx);
    writer
        .sender()
        .try_submit(event("x-1"), None, None)
        .expect("queued");
    shutdown.trigger();
    // The thread notices within its tick; afterwards submissions are shed, never block.
    let mut refused = false;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(10));
        if writer
            .sender()
            .try_submit(event("x-late"), None, None)
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "a stopped writer refuses events");
    writer.shutdown();
    let store = Store::open(dir.path()).expect("reopen");
    assert!(store.event_by_id("x-1").expect("q").is_some());
}

#[test]
fn media_write_failure_still_stores_the_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    // The day folder cannot be created: a file sits where it should be (as with a full or
    // broken file system, writing the images fails).
    let ev = event("m-1");
    let day = ev
        .captured_at
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    std::fs::write(dir.path().join("media").join(&day), b"in the way").expect("write");
    let (_log, log_rx) = relay_log_channel(4);
    let writer = StoreWriter::spawn(store, options(4), Shutdown::new(), log_rx);
    let f = frame(64, 48);
    writer
        .sender()
        .try_submit(ev, None, Some(f))
        .expect("queued");
    let stats = {
        let w = &writer;
        let mut s = w.stats();
        for _ in 0..500 {
            if s.stored > 0 || s.errors > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            s = w.stats();
        }
        s
    };
    writer.shutdown();
    assert_eq!((stats.stored, stats.errors), (1, 0), "{stats:?}");
    assert_eq!(
        stats.image_errors, 1,
        "the failed image is counted: {stats:?}"
    );
    let store = Store::open(dir.path()).expect("reopen");
    let stored = store
        .event_by_id("m-1")
        .expect("q")
        .expect("event stored without its image");
    assert_eq!(stored.frame_url, None);
}

#[test]
fn disk_short_of_free_space_runs_retention_right_after_a_stored_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let (_log, log_rx) = relay_log_channel(4);
    // More free space wanted than the file system has: the disk counts as full. The periodic
    // run is 10 minutes away, so only the check after storing can free space in this test.
    let free_mb = boomgate::store::free_bytes(dir.path()).expect("statvfs") / (1024 * 1024);
    let mut opts = options(16);
    opts.retention = Some(boomgate::config::StorageSettings {
        data_dir: dir.path().to_path_buf(),
        retention_days: 0,
        max_disk_mb: 0,
        min_free_mb: free_mb + 100_000,
        ..Default::default()
    });
    let writer = StoreWriter::spawn(store, opts, Shutdown::new(), log_rx);
    let mut stored_rx = writer.subscribe();
    let f = frame(320, 240);
    writer
        .sender()
        .try_submit(
            event("full-1"),
            Some((f.clone(), BBox::new(40.0, 30.0, 200.0, 80.0))),
            Some(f),
        )
        .expect("queued");
    let stored = stored_rx.blocking_recv().expect("stored");
    assert_eq!(stored.event_id, "full-1");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while writer.stats().retention_runs < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = writer.stats();
    writer.shutdown();
    assert_eq!(
        stats.retention_runs, 2,
        "one run at start, one after the event"
    );
    let report = stats.last_retention.expect("retention report");
    assert!(report.deleted_by_quota >= 1, "{report:?}");
    let store = Store::open(dir.path()).expect("reopen");
    assert!(
        store.event_by_id("full-1").expect("query").is_none(),
        "the event with media was deleted to free space"
    );
}
