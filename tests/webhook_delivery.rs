//! Webhooks against a real local HTTP receiver: signature and bearer token, retries after
//! 500s (delivered once per event), filters, and a dead webhook that does not block MQTT.

mod mqtt_support;

use boomgate::access::Action;
use boomgate::config::{WebhookFilter, WebhookSettings};
use boomgate::metrics::Metrics;
use boomgate::publish::Publisher;
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::Event;
use mqtt_support::*;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the receiver saw it, and the status it answered.
#[derive(Debug, Clone)]
struct Seen {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    status: u16,
}

/// A tiny HTTP/1.1 receiver: answers statuses from `script` (then 200).
async fn receiver(script: Vec<u16>) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    receiver_on(0, script, std::time::Duration::ZERO).await
}

/// As `receiver`, on `port` (0: any free one), answering each request after `delay`.
async fn receiver_on(
    port: u16,
    script: Vec<u16>,
    delay: std::time::Duration,
) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = s.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let headers: BTreeMap<String, String> = head
                .lines()
                .skip(1)
                .filter_map(|l| {
                    l.split_once(':')
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                })
                .collect();
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[head_end + 4..].to_vec();
            while body.len() < len {
                let n = s.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            tokio::time::sleep(delay).await;
            let status = script.lock().unwrap().pop_front().unwrap_or(200);
            log.lock().unwrap().push(Seen {
                headers,
                body,
                status,
            });
            let _ = s
                .write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    (port, seen)
}

fn hook(id: &str, port: u16, filter: WebhookFilter, dir: &std::path::Path) -> WebhookSettings {
    let token = write_file(dir, &format!("{id}.token"), "tok-123\n");
    let secret = write_file(dir, &format!("{id}.secret"), "s3cret\n");
    WebhookSettings {
        id: id.into(),
        url: format!("http://127.0.0.1:{port}/hook"),
        filter,
        token_file: Some(token),
        secret_file: Some(secret),
        timeout_ms: 1000,
        max_backoff_s: 1,
    }
}

fn write_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A publisher over `data` with no wake-ups (it finds the rows by polling) and a simulated relay.
fn start_publisher(
    config: &boomgate::config::Config,
    data: &std::path::Path,
) -> (Publisher, Shutdown) {
    let shutdown = Shutdown::new();
    let (wake, _) = tokio::sync::broadcast::channel::<Arc<Event>>(8);
    let publisher = Publisher::spawn(
        config,
        data,
        relays(&SimulatedLines::new()),
        Arc::new(Metrics::new()),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .expect("publisher starts");
    (publisher, shutdown)
}

fn channel_depth(data: &std::path::Path, channel: &str) -> usize {
    boomgate::store::Store::open(data)
        .unwrap()
        .outbox_pending(channel, 100_000)
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_posts_retried_after_500s_and_delivered_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (port, seen) = receiver(vec![500, 500, 503]).await;
    let mut config = mqtt_config(1);
    config.mqtt.enabled = false;
    config.webhooks = vec![hook("office", port, WebhookFilter::All, tmp.path())];
    let expected = insert_events(&data, 0..6, &["webhook:office"], |i| {
        if i % 2 == 0 {
            Action::Open
        } else {
            Action::Deny
        }
    });
    let (publisher, shutdown) = start_publisher(&config, &data);
    wait_for("webhook outbox drained", 30, || {
        channel_depth(&data, "webhook:office") == 0
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 9, "6 events + 3 retries of the first one");
    let delivered: Vec<Event> = seen
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| serde_json::from_slice(&s.body).unwrap())
        .collect();
    assert_eq!(
        delivered, expected,
        "each event delivered once, in order, with the stored payload"
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
    for s in &seen {
        assert_eq!(
            s.headers.get("authorization").map(String::as_str),
            Some("Bearer tok-123")
        );
        let sig = s
            .headers
            .get("x-boomgate-signature")
            .expect("signature header");
        let hex = sig.strip_prefix("sha256=").expect("sha256= prefix");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        ring::hmac::verify(&key, &s.body, &bytes).expect("signature verifies over the body");
        let ev: Event = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(s.headers.get("x-boomgate-event-id"), Some(&ev.event_id));
    }
    shutdown.trigger();
    publisher.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_does_not_block_mqtt_and_filters_skip_without_sending() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(broker.port, "sub-hooks", &["boomgate/test/event"]).await;
    let (port, seen) = receiver(vec![]).await;
    let mut config = mqtt_config(broker.port);
    config.webhooks = vec![
        hook("dead", free_port(), WebhookFilter::All, tmp.path()),
        hook("denies", port, WebhookFilter::Denies, tmp.path()),
    ];
    let channels = ["mqtt", "webhook:dead", "webhook:denies"];
    let expected = insert_events(&data, 0..20, &channels, |i| {
        if i % 3 == 0 {
            Action::Deny
        } else {
            Action::Open
        }
    });
    let (publisher, shutdown) = start_publisher(&config, &data);
    let got = collect_until(&mut sub.rx, 20, |m| m.len() >= 20).await;
    assert_eq!(
        first_seen_ids(&got).0,
        expected
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<Vec<_>>(),
        "MQTT delivers everything while a webhook is dead"
    );
    wait_for("mqtt and denies drained", 20, || {
        channel_depth(&data, "mqtt") == 0 && channel_depth(&data, "webhook:denies") == 0
    })
    .await;
    assert_eq!(
        channel_depth(&data, "webhook:dead"),
        20,
        "the dead webhook keeps every row"
    );
    let denied: Vec<String> = expected
        .iter()
        .filter(|e| e.decision.action == Action::Deny)
        .map(|e| e.event_id.clone())
        .collect();
    let posted: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_slice::<Event>(&s.body).unwrap().event_id)
        .collect();
    assert_eq!(
        posted, denied,
        "a denies-only webhook gets deny events only"
    );
    shutdown.trigger();
    publisher.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_does_not_delay_mqtt_and_one_down_for_a_while_gets_everything_later() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = Broker::start(&tmp.path().join("broker"), "allow_anonymous true");
    let mut sub = subscribe(broker.port, "sub-slow", &["boomgate/test/event"]).await;
    // Answers every post after 700 ms (inside the 1 s timeout): 20 events take it 14 s or more.
    let (slow_port, slow_seen) =
        receiver_on(0, vec![], std::time::Duration::from_millis(700)).await;
    // Nothing listens here until later.
    let late_port = free_port();
    let mut config = mqtt_config(broker.port);
    config.webhooks = vec![
        hook("slow", slow_port, WebhookFilter::All, tmp.path()),
        hook("late", late_port, WebhookFilter::All, tmp.path()),
    ];
    let channels = ["mqtt", "webhook:slow", "webhook:late"];
    let expected = insert_events(&data, 0..20, &channels, |_| Action::Deny);
    let ids: Vec<String> = expected.iter().map(|e| e.event_id.clone()).collect();
    let (publisher, shutdown) = start_publisher(&config, &data);
    let got = collect_until(&mut sub.rx, 20, |m| m.len() >= 20).await;
    assert_eq!(first_seen_ids(&got).0, ids, "MQTT delivers everything");
    let slow_done = slow_seen.lock().unwrap().len();
    println!("when MQTT had all 20 events the slow webhook had {slow_done}");
    assert!(
        slow_done < 20,
        "MQTT did not wait for the slow webhook ({slow_done} posts done)"
    );
    assert_eq!(
        channel_depth(&data, "webhook:late"),
        20,
        "the unreachable webhook keeps every row"
    );

    // The receiver comes up: every event arrives, in order (a resend may repeat an id).
    let (_, late_seen) = receiver_on(late_port, vec![], std::time::Duration::ZERO).await;
    wait_for("late webhook drained", 30, || {
        channel_depth(&data, "webhook:late") == 0
    })
    .await;
    wait_for("slow webhook drained", 60, || {
        channel_depth(&data, "webhook:slow") == 0
    })
    .await;
    for (name, seen) in [("late", &late_seen), ("slow", &slow_seen)] {
        let mut order: Vec<String> = Vec::new();
        for s in seen.lock().unwrap().iter() {
            let id = serde_json::from_slice::<Event>(&s.body).unwrap().event_id;
            if !order.contains(&id) {
                order.push(id);
            }
        }
        assert_eq!(order, ids, "{name} webhook: every event, in order");
    }
    shutdown.trigger();
    publisher.stopped().await;
}
