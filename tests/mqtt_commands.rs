//! MQTT commands against a real broker: relay pulses within bounds, allow-list edits, and
//! every refusal path (malformed JSON, unknown relay, pulse above the maximum, unknown fields).

mod mqtt_support;

use boomgate::metrics::Metrics;
use boomgate::publish::{CommandResult, Publisher};
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::Store;
use mqtt_support::*;
use rumqttc::QoS;
use std::sync::Arc;

async fn command(sub: &mut Sub, topic: &str, payload: &str) -> CommandResult {
    sub.client
        .publish(
            format!("boomgate/test/{topic}"),
            QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    let got = collect_until(&mut sub.rx, 10, |m| {
        m.iter().any(|m| m.topic.ends_with("/command/result"))
    })
    .await;
    let m = got
        .iter()
        .find(|m| m.topic.ends_with("/command/result"))
        .unwrap();
    serde_json::from_slice(&m.payload).expect("result JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_path_gets_a_result_and_bad_ones_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(
        broker.port,
        "sub-cmd",
        &["boomgate/test/command/result", "boomgate/test/status"],
    )
    .await;
    let lines = SimulatedLines::new();
    let shutdown = Shutdown::new();
    let (wake, _) = tokio::sync::broadcast::channel(8);
    let metrics = Arc::new(Metrics::new());
    let publisher = Publisher::spawn(
        &mqtt_config(broker.port),
        &data,
        relays(&lines),
        metrics.clone(),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .unwrap();
    // The publisher subscribes before it publishes `status`, and the broker handles one
    // client's packets in order: once `status` arrives, the command subscriptions are active.
    collect_until(&mut sub.rx, 10, |m| {
        m.iter().any(|m| m.topic.ends_with("/status"))
    })
    .await;
    assert!(metrics
        .mqtt_connected
        .load(std::sync::atomic::Ordering::Relaxed));
    let r = command(&mut sub, "relay/nope/set", "OPEN").await;
    assert!(
        !r.ok && r.error.as_deref().unwrap().contains("unknown relay 'nope'"),
        "{r:?}"
    );

    let r = command(
        &mut sub,
        "relay/gate/set",
        r#"{"pulse_ms": 5000, "correlation_id": "big"}"#,
    )
    .await;
    assert_eq!(r.correlation_id.as_deref(), Some("big"));
    assert!(
        !r.ok && r.error.as_deref().unwrap().contains("max_pulse_ms 1000"),
        "{r:?}"
    );
    let r = command(&mut sub, "relay/gate/set", "{not json").await;
    assert!(
        !r.ok && r.error.as_deref().unwrap().contains("neither OPEN nor"),
        "{r:?}"
    );
    let r = command(
        &mut sub,
        "relay/gate/set",
        r#"{"pulse_ms": 100, "colour": "red", "correlation_id": "x"}"#,
    )
    .await;
    assert_eq!(r.correlation_id.as_deref(), Some("x"));
    assert!(
        !r.ok
            && r.error
                .as_deref()
                .unwrap()
                .contains("unknown field `colour`"),
        "{r:?}"
    );
    assert!(
        lines.transitions().iter().all(|t| !t.active),
        "refused commands never drive the relay"
    );

    let r = command(
        &mut sub,
        "relay/gate/set",
        r#"{"pulse_ms": 300, "correlation_id": "p1"}"#,
    )
    .await;
    assert!(
        r.ok && r.correlation_id.as_deref() == Some("p1") && r.command == "relay/gate/set",
        "{r:?}"
    );
    wait_for("relay released", 10, || {
        lines.transitions().iter().filter(|t| t.active).count() == 1
            && !lines.transitions().last().unwrap().active
    })
    .await;

    let store = Store::open(&data).unwrap();
    let good = r#"{"correlation_id": "a1", "upsert": [
        {"plate": "ab-123 cd", "label": "Alice", "relays": ["gate"], "schedule": [{"days": ["mon","fri"], "start": "07:00", "end": "19:00"}]},
        {"plate": "XY999ZZ", "list": "deny", "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}]}"#;
    let r = command(&mut sub, "allowlist/set", good).await;
    assert!(r.ok && r.correlation_id.as_deref() == Some("a1"), "{r:?}");
    let plates: Vec<String> = store
        .access_list()
        .unwrap()
        .into_iter()
        .map(|e| e.plate)
        .collect();
    assert_eq!(plates, ["AB123CD", "XY999ZZ"]);

    for (bad, needle) in [
        (
            r#"{"correlation_id": "b1", "upsert": [{"plate": "NEW1", "colour": "red"}]}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"correlation_id": "b2", "upsert": [{"plate": "NEW1", "schedule": [{"days": ["monday"], "start": "07:00", "end": "08:00"}]}], "delete": ["XY999ZZ"]}"#,
            "upsert[0].schedule[0].days",
        ),
        (
            r#"{"correlation_id": "b3", "upsert": [{"plate": "NEW1", "relays": ["side"]}], "delete": ["XY999ZZ"]}"#,
            "unknown relay 'side'",
        ),
        (
            r#"{"correlation_id": "b4", "upsert": [{"plate": "NEW/1"}]}"#,
            "upsert[0].plate",
        ),
        (
            r#"{"correlation_id": "b5", "delete": ["XY999ZZ"], "purge": true}"#,
            "unknown field `purge`",
        ),
        (
            r#"{"correlation_id": "b6", "upsert": "#,
            "invalid allowlist/set JSON",
        ),
    ] {
        let r = command(&mut sub, "allowlist/set", bad).await;
        assert!(
            !r.ok && r.error.as_deref().unwrap().contains(needle),
            "{bad}: {r:?}"
        );
        let now: Vec<String> = store
            .access_list()
            .unwrap()
            .into_iter()
            .map(|e| e.plate)
            .collect();
        assert_eq!(now, plates, "a refused command changed nothing: {bad}");
    }

    let r = command(
        &mut sub,
        "allowlist/set",
        r#"{"correlation_id": "d1", "delete": ["xy 999 zz"]}"#,
    )
    .await;
    assert!(r.ok, "{r:?}");
    let now: Vec<String> = store
        .access_list()
        .unwrap()
        .into_iter()
        .map(|e| e.plate)
        .collect();
    assert_eq!(now, ["AB123CD"]);
    shutdown.trigger();
    publisher.stopped().await;
}
