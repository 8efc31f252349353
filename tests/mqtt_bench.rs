//! Benchmark (prints numbers, asserts only completeness): batched SQLite insert of events with
//! outbox rows; drain of a backlog to a local mosquitto at QoS 1 through the outbox, next to
//! the raw QoS 1 publish rate of the same client library without the outbox.
//! `BOOMGATE_BENCH_EVENTS=100000 cargo test --release --test mqtt_bench -- --ignored --nocapture`

mod mqtt_support;

use boomgate::access::Action;
use boomgate::metrics::Metrics;
use boomgate::publish::Publisher;
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::{Event, NewEvent, Store};
use mqtt_support::*;
use rumqttc::{AsyncClient, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: benchmark"]
async fn outbox_drain_versus_raw_qos1() {
    let n: usize = std::env::var("BOOMGATE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(
        &tmp.path().join("broker"),
        "allow_anonymous true\nmax_queued_messages 0",
    );

    let events: Vec<Event> = (0..n).map(|i| sample_event(i, Action::Deny)).collect();
    let t = Instant::now();
    let mut store = Store::open(&data).unwrap();
    for chunk in events.chunks(500) {
        let batch: Vec<NewEvent> = chunk
            .iter()
            .map(|e| NewEvent {
                event: e,
                crop_jpeg: None,
                frame_jpeg: None,
            })
            .collect();
        store.insert_events(&batch, &["mqtt"]).unwrap();
    }
    let insert_rate = n as f64 / t.elapsed().as_secs_f64();
    let payload = serde_json::to_vec(&events[0]).unwrap();

    let mut config = mqtt_config(broker.port);
    config.mqtt.max_inflight = 64;
    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    let (wake, _) = tokio::sync::broadcast::channel::<Arc<Event>>(8);
    let t = Instant::now();
    let p = Publisher::spawn(
        &config,
        &data,
        relays(&SimulatedLines::new()),
        metrics.clone(),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    loop {
        if store.outbox_stats().unwrap().0 == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "drain did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_rate = n as f64 / t.elapsed().as_secs_f64();
    shutdown.trigger();
    p.stopped().await;

    // Raw: same library, same window, QoS 1, PUBACKs counted, no database.
    let mut opts = MqttOptions::new("bench-raw", "127.0.0.1", broker.port);
    opts.set_inflight(64).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(opts, 128);
    let t = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..n {
            client
                .publish("bench/raw", QoS::AtLeastOnce, false, payload.clone())
                .await
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < n {
        if let Ok(rumqttc::Event::Incoming(Packet::PubAck(_))) = el.poll().await {
            acked += 1;
        }
    }
    let raw_rate = n as f64 / t.elapsed().as_secs_f64();
    let _ = sender.await;
    println!("events: {n}");
    println!("sqlite insert (500/transaction, event + outbox row): {insert_rate:.0} events/s");
    println!("outbox drain to mosquitto, QoS 1, window 64: {drain_rate:.0} msg/s");
    println!("raw rumqttc QoS 1 publish, window 64: {raw_rate:.0} msg/s");
    println!("drain / raw: {:.2}", drain_rate / raw_rate);
}
