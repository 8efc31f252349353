//! Home Assistant discovery: retained configs tied to availability, re-published when Home
//! Assistant announces itself.

mod mqtt_support;

use boomgate::metrics::Metrics;
use boomgate::publish::Publisher;
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::Event;
use mqtt_support::*;
use rumqttc::QoS;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_configs_are_retained_and_republished_on_ha_online() {
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(broker.port, "sub-ha", &["homeassistant/+/+/+/config"]).await;
    let mut config = mqtt_config(broker.port);
    config.homeassistant.enabled = true;
    let shutdown = Shutdown::new();
    let (wake, _) = tokio::sync::broadcast::channel::<Arc<Event>>(8);
    let p = Publisher::spawn(
        &config,
        &tmp.path().join("data"),
        relays(&SimulatedLines::new()),
        Arc::new(Metrics::new()),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    let want = [
        "homeassistant/sensor/boomgate_test/last_plate/config",
        "homeassistant/sensor/boomgate_test/outbox_depth/config",
        "homeassistant/binary_sensor/boomgate_test/gate_state/config",
        "homeassistant/button/boomgate_test/gate_open/config",
    ];
    let got = collect_until(&mut sub.rx, 10, |m| m.len() >= want.len()).await;
    let mut topics: Vec<&str> = got.iter().map(|m| m.topic.as_str()).collect();
    topics.sort();
    let mut sorted = want.to_vec();
    sorted.sort();
    assert_eq!(topics, sorted);
    for m in &got {
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(
            v["availability_topic"], "boomgate/test/availability",
            "{}",
            m.topic
        );
        assert!(v["unique_id"]
            .as_str()
            .unwrap()
            .starts_with("boomgate_test_"));
    }
    let button = got.iter().find(|m| m.topic.contains("/button/")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&button.payload).unwrap();
    assert_eq!(
        (v["command_topic"].as_str(), v["payload_press"].as_str()),
        (Some("boomgate/test/relay/gate/set"), Some("OPEN"))
    );
    // A late subscriber sees them retained.
    let mut late = subscribe(broker.port, "sub-ha-late", &["homeassistant/+/+/+/config"]).await;
    let again = collect_until(&mut late.rx, 10, |m| m.len() >= want.len()).await;
    assert!(again.iter().all(|m| m.retain));
    // Home Assistant restarts: it announces `online`, the configs come again.
    sub.client
        .publish("homeassistant/status", QoS::AtLeastOnce, false, "online")
        .await
        .unwrap();
    let again = collect_until(&mut sub.rx, 10, |m| m.len() >= want.len()).await;
    assert_eq!(again.len(), want.len());
    shutdown.trigger();
    p.stopped().await;
}
