//! Outbox drain over a real mosquitto broker: order, broker outages, crashes, availability.

mod mqtt_support;

use boomgate::access::Action;
use boomgate::metrics::Metrics;
use boomgate::publish::Publisher;
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::Event;
use mqtt_support::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::broadcast;

fn spawn(
    config: &boomgate::config::Config,
    data: &std::path::Path,
    wake: &broadcast::Sender<Arc<Event>>,
) -> (Publisher, Shutdown, Arc<Metrics>) {
    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    let lines = SimulatedLines::new();
    let p = Publisher::spawn(
        config,
        data,
        relays(&lines),
        metrics.clone(),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .expect("publisher starts");
    (p, shutdown, metrics)
}

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_in_order_with_the_stored_payload() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(broker.port, "sub-order", &["boomgate/test/event"]).await;
    let rx = &mut sub.rx;
    // A backlog stored before the publisher starts, then events arriving while it runs.
    let mut expected = insert_events(&data, 0..40, &["mqtt"], |_| Action::Deny);
    let (wake, _) = broadcast::channel(64);
    let (publisher, shutdown, metrics) = spawn(&mqtt_config(broker.port), &data, &wake);
    for ev in insert_events(&data, 40..60, &["mqtt"], |i| {
        if i % 2 == 0 {
            Action::Open
        } else {
            Action::Ignore
        }
    }) {
        let _ = wake.send(Arc::new(ev.clone()));
        expected.push(ev);
    }
    let got = collect_until(rx, 20, |m| m.len() >= expected.len()).await;
    let payloads: Vec<Event> = got
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).expect("payload is a store::Event"))
        .collect();
    assert_eq!(
        payloads, expected,
        "events arrive in store order with the stored JSON"
    );
    wait_for("outbox empty", 10, || outbox_depth(&data) == 0).await;
    assert_eq!(metrics.mqtt_published.load(Ordering::Relaxed), 60);
    assert!(metrics.mqtt_connected.load(Ordering::Relaxed));
    shutdown.trigger();
    publisher.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_nothing_and_keeps_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    // The publisher reaches the broker through a proxy, so the test decides when it may
    // reconnect: only after the subscriber is back (otherwise the broker would have no one to
    // deliver the first resent events to).
    let mut proxy = Proxy::start(broker.port).await;
    let mut sub = subscribe(broker.port, "sub-outage", &["boomgate/test/event"]).await;
    let (wake, _) = broadcast::channel(64);
    let (publisher, shutdown, metrics) = spawn(&mqtt_config(proxy.port), &data, &wake);
    let mut expected = insert_events(&data, 0..10, &["mqtt"], |_| Action::Deny);
    collect_until(&mut sub.rx, 20, |m| m.len() >= 10).await;
    broker.stop();
    proxy.cut().await;
    wait_for("publisher notices the outage", 20, || {
        !metrics.mqtt_connected.load(Ordering::Relaxed)
    })
    .await;
    // Events keep coming while the broker is away.
    for ev in insert_events(&data, 10..40, &["mqtt"], |_| Action::Open) {
        let _ = wake.send(Arc::new(ev.clone()));
        expected.push(ev);
    }
    wait_for("a failed reconnect", 20, || {
        metrics.mqtt_connect_failures.load(Ordering::Relaxed) >= 1
    })
    .await;
    // The last of the first ten may still wait for a PUBACK that the outage swallowed.
    assert!(
        outbox_depth(&data) >= 30,
        "undelivered events wait in the outbox"
    );
    broker.resume();
    sub.wait_subacks(2).await;
    proxy.restore().await;
    let after_outage = |m: &[Msg]| -> Vec<String> {
        let early = ids(&expected[..10]);
        first_seen_ids(m)
            .0
            .into_iter()
            .filter(|id| !early.contains(id))
            .collect()
    };
    let got = collect_until(&mut sub.rx, 30, |m| after_outage(m).len() >= 30).await;
    let total = got.len();
    assert_eq!(
        after_outage(&got),
        ids(&expected[10..]),
        "every event after the outage, in order (resends of earlier ones allowed)"
    );
    println!("outage: {} messages for 30 events", total);
    wait_for("outbox empty", 10, || outbox_depth(&data) == 0).await;
    shutdown.trigger();
    publisher.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_publisher_leaves_rows_that_the_next_one_delivers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(broker.port, "sub-crash", &["boomgate/test/event"]).await;
    let expected = insert_events(&data, 0..300, &["mqtt"], |_| Action::Deny);
    let (wake, _) = broadcast::channel(64);
    let mut config = mqtt_config(broker.port);
    config.mqtt.max_inflight = 4;
    let (first, _s1, _) = spawn(&config, &data, &wake);
    let mut got = collect_until(&mut sub.rx, 20, |m| !m.is_empty()).await;
    // Crash: the tasks die mid-drain, no clean disconnect, no final ack flush.
    first.abort();
    let left = outbox_depth(&data);
    println!("rows left after the crash: {left} of 300");
    assert!(left > 0, "the crash left undelivered rows");
    let (second, shutdown, _) = spawn(&config, &data, &wake);
    let seen_before = got.clone();
    let rest = collect_until(&mut sub.rx, 30, |m| {
        let mut all = seen_before.clone();
        all.extend_from_slice(m);
        first_seen_ids(&all).0.len() >= 300
    })
    .await;
    got.extend(rest);
    wait_for("outbox empty", 20, || outbox_depth(&data) == 0).await;
    let (order, total) = first_seen_ids(&got);
    assert_eq!(
        order,
        ids(&expected),
        "every event, in first-seen order; duplicates only of delivered ids"
    );
    println!("crash: {total} messages for 300 events");
    shutdown.trigger();
    second.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_will_on_crash_online_on_restart_offline_on_clean_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(
        broker.port,
        "sub-avail",
        &[
            "boomgate/test/availability",
            "boomgate/test/relay/+/state",
            "boomgate/test/status",
        ],
    )
    .await;
    let rx = &mut sub.rx;
    let (wake, _) = broadcast::channel(64);
    let config = mqtt_config(broker.port);
    // Availability is a retained state: what counts is its latest value (a reconnect on a loaded
    // machine may legitimately add an `offline`/`online` pair).
    let avail = |m: &[Msg]| {
        m.iter()
            .filter(|m| m.topic.ends_with("/availability"))
            .map(Msg::text)
            .last()
    };
    let is = |want: &'static str| move |m: &[Msg]| avail(m).as_deref() == Some(want);
    let (first, _s1, _) = spawn(&config, &data, &wake);
    let got = collect_until(rx, 10, |m| {
        is("online")(m) && m.iter().any(|m| m.topic.ends_with("/status"))
    })
    .await;
    assert!(
        got.iter()
            .any(|m| m.topic == "boomgate/test/relay/gate/state" && m.text() == "closed"),
        "relay state published on connect"
    );
    let status = got.iter().find(|m| m.topic.ends_with("/status")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status.payload).unwrap();
    assert!(
        v["outbox"]["depth"].is_u64() && v["relays"]["gate"] == "closed",
        "status payload: {v}"
    );
    first.abort();
    collect_until(rx, 10, is("offline")).await;
    let (second, shutdown, _) = spawn(&config, &data, &wake);
    collect_until(rx, 10, is("online")).await;
    shutdown.trigger();
    second.stopped().await;
    collect_until(rx, 10, is("offline")).await;
    // The retained value is what a late subscriber sees.
    let mut late = subscribe(broker.port, "sub-late", &["boomgate/test/availability"]).await;
    let got = collect_until(&mut late.rx, 10, |m| !m.is_empty()).await;
    assert!(got[0].retain && got[0].text() == "offline");
}
