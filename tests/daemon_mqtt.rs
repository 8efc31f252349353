//! End to end: `boomgate run` on a generated clip with MQTT on → every vehicle pass arrives at a
//! real mosquitto as one `event` message, in order, and the gate announces itself `online`.
mod common;
mod mqtt_support;

use common::*;
use mqtt_support::{collect_until, subscribe, Broker};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_events_reach_the_broker_in_order() {
    let (clip, truth) = clip(&[
        "--plates",
        "ABC1234:br-old,7KTR481:us,BRA2E19:br-mercosul",
        "--seed",
        "21",
        "--long-wait",
        "1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(
        broker.port,
        "daemon-test-sub",
        &["boomgate/test/event", "boomgate/test/availability"],
    )
    .await;
    let mqtt = format!(
        "[mqtt]\nenabled = true\nurl = \"mqtt://127.0.0.1:{}\"\nclient_id = \"gate-test\"\n",
        broker.port
    );
    let cfg = gate_config(
        dir.path(),
        &format!("file://{}", clip.display()),
        false,
        None,
        &mqtt,
    );
    let mut d = Daemon::start(&cfg);
    let want: Vec<String> = truth.vehicles.iter().map(|v| v.text.clone()).collect();
    let n = want.len();
    let msgs = collect_until(&mut sub.rx, 180, |m| {
        m.iter().filter(|m| m.topic.ends_with("/event")).count() >= n
    })
    .await;
    let code = tokio::task::spawn_blocking(move || {
        let code = d.wait_exit(Duration::from_secs(120));
        (code, d.log())
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(0), "{}", code.1);
    assert!(
        msgs.iter()
            .any(|m| m.topic.ends_with("/availability") && m.text() == "online"),
        "no `online`"
    );
    let events: Vec<serde_json::Value> = msgs
        .iter()
        .filter(|m| m.topic.ends_with("/event"))
        .map(|m| serde_json::from_slice(&m.payload).expect("event JSON"))
        .collect();
    let plates: Vec<String> = events
        .iter()
        .map(|e| e["plate"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(plates, want, "one message per vehicle pass, in order");
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), n, "distinct event ids");
    for e in &events {
        assert_eq!(e["site"], "test");
        assert!(e["decision"]["action"].is_string());
    }
}
