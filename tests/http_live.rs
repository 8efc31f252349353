//! The live feed's fan-out policy, driven directly: a client that stops reading is dropped (or
//! skipped ahead) while a client that keeps reading gets every message in order, and the sender
//! of events never waits.

use boomgate::access::{Action, Decision};
use boomgate::config::{Config, RelaySettings};
use boomgate::geometry::BBox;
use boomgate::http::{EventFeeds, HttpServer, Versions};
use boomgate::metrics::Metrics;
use boomgate::relay::{relay_log_channel, RelayController, SimulatedLines};
use boomgate::shutdown::Shutdown;
use boomgate::store::{Event, StageLatencies};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

fn event(i: usize) -> Event {
    Event {
        event_id: format!("live-{i:05}"),
        site: "test".into(),
        camera: "lane".into(),
        captured_at: jiff::Timestamp::now(),
        plate: "ABC1234".into(),
        confidence: 0.9,
        // Bulk, so a client that does not read fills its socket buffers quickly.
        char_confidences: vec![0.123_456; 1500],
        candidates: vec![],
        bbox: BBox {
            x1: 1.0,
            y1: 2.0,
            x2: 3.0,
            y2: 4.0,
        },
        format: None,
        decision: Decision {
            action: Action::Deny,
            reason: "not_listed".into(),
            matched_entry: None,
            distance: None,
        },
        relay: None,
        crop_url: None,
        frame_url: None,
        latency: StageLatencies::default(),
        reads: 1,
    }
}

#[test]
fn a_stalled_client_is_dropped_while_a_reading_client_gets_everything_in_order() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.site.id = "test".into();
    config.storage.data_dir = dir.path().join("data");
    config.http.listen = "127.0.0.1:0".into();
    config.http.live_buffer = 8;
    config.relays = vec![RelaySettings {
        id: "gate".into(),
        ..RelaySettings::default()
    }];
    let (sink, _log) = relay_log_channel(16);
    let relays =
        Arc::new(RelayController::new(&config.relays, &SimulatedLines::new(), sink).unwrap());
    let (decided, _) = broadcast::channel(64);
    let (_stored_tx, stored) = broadcast::channel(4);
    let shutdown = Shutdown::new();
    let feeds = EventFeeds {
        decided: decided.subscribe(),
        stored,
    };
    let server = HttpServer::spawn(
        &config,
        Arc::new(Metrics::new()),
        relays,
        feeds,
        Versions::default(),
        shutdown.clone(),
        rt.handle(),
    )
    .expect("server");
    let url = format!("ws://{}/ws/events", server.local_addr());

    const N: usize = 3000;
    rt.block_on(async {
        // Connected, then never polled: the kernel buffers fill and the server's send blocks.
        let (mut stalled, _) = tokio_tungstenite::connect_async(&url).await.expect("stalled client");
        let (mut reader, _) = tokio_tungstenite::connect_async(&url).await.expect("reading client");
        let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = reader.next().await {
                if let Message::Text(t) = msg {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    let _ = got_tx.send(match v["type"].as_str() {
                        Some("detection") => v["event"]["event_id"].as_str().unwrap().to_string(),
                        Some(other) => format!("<{other}>"),
                        None => "<untyped>".into(),
                    });
                }
            }
        });
        // Both clients are subscribed once the reader has its hello.
        assert_eq!(got_rx.recv().await.as_deref(), Some("<hello>"));

        let mut received = Vec::with_capacity(N);
        let mut longest_send = Duration::ZERO;
        for i in 0..N {
            let t = Instant::now();
            decided.send(Arc::new(event(i))).expect("the hub listens");
            longest_send = longest_send.max(t.elapsed());
            // Paced by the reading client, so only the stalled one can fall behind.
            loop {
                let m = tokio::time::timeout(Duration::from_secs(20), got_rx.recv()).await.expect("reading client keeps up").unwrap();
                if !m.starts_with('<') {
                    received.push(m);
                    break;
                }
            }
        }
        let want: Vec<String> = (0..N).map(|i| format!("live-{i:05}")).collect();
        assert_eq!(received, want, "the reading client got every event, in order");
        println!("longest send of an event into the live feed: {longest_send:?}");

        // The stalled client's connection is closed by the server once a send to it has waited
        // SEND_TIMEOUT (or it is told it skipped messages); it never receives all N.
        tokio::time::sleep(Duration::from_secs(12)).await;
        let mut detections = 0;
        let mut lagged = false;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(10), stalled.next()).await {
                Err(_) => break false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break true,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("detection") => detections += 1,
                        Some("lagged") => lagged = true,
                        _ => {}
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        };
        println!("stalled client: {detections} of {N} events before the end, lagged notice: {lagged}, connection ended: {ended}");
        assert!(ended || lagged, "a stalled client is dropped or skipped ahead");
        assert!(detections < N, "the stalled client did not get everything");
    });
    shutdown.trigger();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), server.stopped())
            .await
            .expect("server stops")
    });
}
