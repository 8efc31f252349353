//! Query and insert cost over 100k events. Prints numbers, asserts nothing about speed.
//! Run: `cargo test --test store_bench -- --ignored --nocapture` (dev profile: deps at opt-level 2)

use boomgate::access::{Action, Decision};
use boomgate::geometry::BBox;
use boomgate::store::{Event, EventFilter, NewEvent, Page, StageLatencies, Store};
use std::time::Instant;

const EVENTS: usize = 100_000;
const BATCH: usize = 500;
const RUNS: usize = 200;

fn plate(i: usize) -> String {
    // Spread over many prefixes, like real traffic.
    let letters = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let a = letters[i % letters.len()] as char;
    let b = letters[(i / 23) % letters.len()] as char;
    let c = letters[(i / 529) % letters.len()] as char;
    format!("{a}{b}{c}{:04}", (i * 7919) % 10_000)
}

fn event(i: usize, at: jiff::Timestamp) -> Event {
    Event {
        event_id: format!("b-{i:07}"),
        site: "gate1".into(),
        camera: if i % 3 == 0 {
            "cam2".into()
        } else {
            "cam1".into()
        },
        captured_at: at,
        plate: plate(i),
        confidence: 0.9,
        char_confidences: vec![0.9; 7],
        candidates: vec![],
        bbox: BBox::new(1.0, 2.0, 3.0, 4.0),
        format: Some("eu".into()),
        decision: Decision {
            action: [Action::Open, Action::Deny, Action::Ignore][i % 3],
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

fn p95(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

#[test]
#[ignore = "slow: benchmark over 100k events, prints numbers"]
fn bench_queries_over_100k_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path()).expect("open");
    let start = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * 60))
        .expect("time");
    let step_ms = (60 * 24 * 3600 * 1000 / EVENTS) as i64;
    let t0 = Instant::now();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(BATCH) {
        let evs: Vec<Event> = chunk
            .iter()
            .map(|&i| {
                event(
                    i,
                    start
                        .checked_add(jiff::SignedDuration::from_millis(i as i64 * step_ms))
                        .expect("time"),
                )
            })
            .collect();
        let items: Vec<NewEvent> = evs
            .iter()
            .map(|e| NewEvent {
                event: e,
                crop_jpeg: None,
                frame_jpeg: None,
            })
            .collect();
        store.insert_events(&items, &["mqtt"]).expect("insert");
    }
    let insert_s = t0.elapsed().as_secs_f64();
    println!(
        "insert: {EVENTS} events + outbox rows in batches of {BATCH}: {:.0} events/s",
        EVENTS as f64 / insert_s
    );

    let t0 = Instant::now();
    let single = 200;
    for i in 0..single {
        store
            .insert_event(
                &event(EVENTS + i, jiff::Timestamp::now()),
                &["mqtt"],
                None,
                None,
            )
            .expect("insert");
    }
    println!(
        "insert: one event per transaction (fsync each): {:.0} events/s",
        single as f64 / t0.elapsed().as_secs_f64()
    );

    let page = Page {
        limit: 50,
        before: None,
    };
    let mut cases: Vec<(&str, Box<dyn Fn(usize) -> EventFilter>)> = Vec::new();
    cases.push((
        "plate prefix (3 chars)",
        Box::new(|i| EventFilter {
            plate_prefix: Some(plate(i * 31)[..3].to_string()),
            ..Default::default()
        }),
    ));
    cases.push((
        "plate substring (4 digits)",
        Box::new(|i| EventFilter {
            plate_contains: Some(plate(i * 31)[3..].to_string()),
            ..Default::default()
        }),
    ));
    cases.push((
        "time range (1 day) + decision",
        Box::new(move |i| {
            let from = start
                .checked_add(jiff::SignedDuration::from_hours((i % 59) as i64 * 24))
                .expect("time");
            EventFilter {
                from: Some(from),
                to: from.checked_add(jiff::SignedDuration::from_hours(24)).ok(),
                decision: Some(Action::Deny),
                ..Default::default()
            }
        }),
    ));
    cases.push((
        "newest page, no filter",
        Box::new(|_| EventFilter::default()),
    ));
    for (name, make) in &cases {
        let mut times = Vec::new();
        for i in 0..RUNS {
            let f = make(i);
            let t = Instant::now();
            let got = store.events_query(&f, &page).expect("query");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(got);
        }
        let (p50, p95) = p95(times);
        println!("query {name}: p50 {p50:.3} ms, p95 {p95:.3} ms");
    }
    let plan = store
        .events_query_plan(&cases[0].1(0), &page)
        .expect("plan");
    println!("plan of prefix query: {}", plan.replace('\n', " | "));

    let mut times = Vec::new();
    let end = jiff::Timestamp::now();
    for _ in 0..20 {
        let t = Instant::now();
        let days = store.day_stats(start, end).expect("days");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(days);
    }
    let (p50, p95) = p95(times);
    println!("day_stats over 60 days / {EVENTS} events: p50 {p50:.2} ms, p95 {p95:.2} ms");

    let t = Instant::now();
    let mut drained = 0;
    loop {
        let batch = store.outbox_pending("mqtt", 500).expect("pending");
        if batch.is_empty() || drained >= 50_000 {
            break;
        }
        let ids: Vec<&str> = batch.iter().map(|(_, e)| e.event_id.as_str()).collect();
        store.outbox_ack_many("mqtt", &ids).expect("ack");
        drained += batch.len();
    }
    println!(
        "outbox: read 500 + ack 500 per transaction: {:.0} rows/s",
        drained as f64 / t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut drained = 0;
    loop {
        let batch = store.outbox_pending("mqtt", 500).expect("pending");
        if batch.is_empty() || drained >= 2_000 {
            break;
        }
        for (_, e) in &batch {
            store.outbox_ack("mqtt", &e.event_id).expect("ack");
        }
        drained += batch.len();
    }
    println!(
        "outbox: read + ack one by one (autocommit, fsync each): {:.0} rows/s",
        drained as f64 / t.elapsed().as_secs_f64()
    );
}
