//! The live feed behind `/ws/events`. One hub task turns decided and stored events, relay changes, camera
//! state changes and a periodic metrics snapshot into JSON text once; each WebSocket client
//! reads the shared broadcast. A client that falls more than `http.live_buffer` messages behind
//! is skipped ahead (it gets a `lagged` message with the count) and one that cannot take a
//! message for [`SEND_TIMEOUT`] is dropped, so a slow client never slows the others or the gate.

use super::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often `metrics` and camera-state checks go out.
const METRICS_EVERY: Duration = Duration::from_secs(2);
const CAMERA_CHECK_EVERY: Duration = Duration::from_millis(500);
/// A client whose socket does not take a message within this time is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

fn publish(app: &App, v: serde_json::Value) {
    // No subscribers is fine: nobody is watching.
    let _ = app.live.send(Arc::from(v.to_string()));
}

/// Produces the live messages until shutdown.
pub(crate) async fn hub(
    app: Arc<App>,
    feeds: super::EventFeeds,
    shutdown: crate::shutdown::Shutdown,
) {
    let super::EventFeeds {
        decided: mut events,
        mut stored,
    } = feeds;
    let mut stored_open = true;
    let mut relays = app.relays.subscribe();
    let mut metrics_tick = tokio::time::interval(METRICS_EVERY);
    let mut camera_tick = tokio::time::interval(CAMERA_CHECK_EVERY);
    let mut cameras: BTreeMap<String, crate::video::CameraState> = BTreeMap::new();
    let mut events_open = true;
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            ev = events.recv(), if events_open => match ev {
                Ok(ev) => publish(&app, json!({ "type": "detection", "event": ev.as_ref() })),
                Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(skipped = n, "live feed fell behind the gate"),
                Err(broadcast::error::RecvError::Closed) => events_open = false,
            },
            ev = stored.recv(), if stored_open => match ev {
                Ok(ev) => publish(&app, json!({ "type": "event_stored", "event": ev.as_ref() })),
                Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(skipped = n, "live feed fell behind the store"),
                Err(broadcast::error::RecvError::Closed) => stored_open = false,
            },
            change = relays.recv() => match change {
                Ok(c) => publish(&app, json!({
                    "type": "relay", "relay": c.relay,
                    "state": c.state.as_str(),
                    "at": c.at.to_string(),
                })),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => relays = app.relays.subscribe(),
            },
            _ = camera_tick.tick() => {
                for cam in app.metrics.cameras() {
                    let state = cam.state();
                    if cameras.get(&cam.id) != Some(&state) {
                        let detail = match &state {
                            crate::video::CameraState::Streaming { decoder } => json!({ "decoder": decoder }),
                            crate::video::CameraState::Reconnecting { attempt, retry_in_ms, error } => json!({ "attempt": attempt, "retry_in_ms": retry_in_ms, "error": error }),
                            crate::video::CameraState::Failed { error } => json!({ "error": error }),
                            _ => json!({}),
                        };
                        publish(&app, json!({ "type": "camera_state", "camera": cam.id, "state": state.label(), "detail": detail }));
                        cameras.insert(cam.id.clone(), state);
                    }
                }
            }
            _ = metrics_tick.tick() => {
                if app.live.receiver_count() > 0 {
                    let status = super::api::status_value(&app, None);
                    publish(&app, json!({ "type": "metrics", "status": status }));
                }
            }
        }
    }
}

/// `GET /ws/events`.
pub(crate) async fn ws(State(app): State<Arc<App>>, upgrade: WebSocketUpgrade) -> Response {
    let rx = app.live.subscribe();
    upgrade
        .max_message_size(4096)
        .on_upgrade(move |socket| client(app, socket, rx))
}

async fn client(app: Arc<App>, mut socket: WebSocket, mut rx: broadcast::Receiver<Arc<str>>) {
    let hello = json!({ "type": "hello", "site": app.config.site.id, "version": crate::VERSION })
        .to_string();
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        let out = tokio::select! {
            _ = app.shutdown.wait() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // Clients only listen; anything they send is ignored, a close ends the session.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            msg = rx.recv() => match msg {
                Ok(text) => text.to_string(),
                Err(broadcast::error::RecvError::Lagged(n)) => json!({ "type": "lagged", "skipped": n }).to_string(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(out.into()))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::warn!("WebSocket client too slow: disconnected");
                return;
            }
        }
    }
}
