//! Routes, the read/write guard, and the JSON API handlers.

use super::{live, page, App};
use crate::access::{AccessEntry, Action};
use crate::publish::command::{self, AllowlistSet, Command, UpsertEntry};
use crate::relay::{PulseOutcome, RelayPulse};
use crate::store::{AccessKey, EventFilter, Page};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// An API failure: status and a message naming what was wrong; sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after_s: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, error = %self.message, "HTTP request failed");
        }
        let mut r = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after_s {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{file}", get(page::asset))
        .route("/api/status", get(status))
        .route("/api/events", get(events))
        .route("/api/events/{id}", get(event))
        .route("/api/stats/days", get(stats_days))
        .route("/api/cameras/{id}/frame.jpg", get(camera_frame))
        .route("/api/allowlist", get(allowlist).post(allowlist_upsert))
        .route("/api/allowlist/{plate}", delete(allowlist_delete))
        .route("/api/relay/{id}/open", post(relay_open))
        .route("/api/openapi.json", get(openapi))
        .route("/media/{*path}", get(media))
        .route("/ws/events", get(live::ws))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(DefaultBodyLimit::max(super::MAX_BODY_BYTES))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

/// Pages and assets, the health check and the API description are always open; other reads
/// need the token when `http.protect_reads`; every other method needs it always.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    // Refuse a declared oversize body before reading any of it (the limit layer would only
    // notice after reading up to the limit).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::MAX_BODY_BYTES as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {} bytes", super::MAX_BODY_BYTES),
        )
        .into_response();
    }
    let path = req.uri().path();
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    let open = read
        && (path == "/"
            || path.starts_with("/assets/")
            || path == "/healthz"
            || path == "/api/openapi.json");
    if open || (read && !app.config.http.protect_reads) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    // Browsers cannot set headers on WebSocket or <img> requests: reads may carry the token as
    // `?access_token=`; writes only in the header.
    let query_token = if read {
        req.uri().query().and_then(access_token_param)
    } else {
        None
    };
    match authorize(&app, req.headers(), query_token.as_deref(), peer, !read) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn access_token_param(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .map(|v| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn authorize(
    app: &App,
    headers: &HeaderMap,
    query_token: Option<&str>,
    peer: std::net::IpAddr,
    write: bool,
) -> Result<(), ApiError> {
    let Some(token) = &app.token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "changes over HTTP are disabled: set http.token_file in the configuration",
        ));
    };
    let now = Instant::now();
    let mut limiter = app.limiter.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(wait) = limiter.locked(peer, now) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed token attempts from {peer}; retry in {} s",
                wait.as_secs()
            ),
        );
        e.retry_after_s = Some(wait.as_secs().max(1));
        return Err(e);
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .or(query_token);
    match presented {
        Some(t) if token.matches(t) => {
            limiter.succeed(peer);
            Ok(())
        }
        Some(_) => {
            limiter.fail(peer, now);
            tracing::warn!(client = %peer, write, "HTTP request with a wrong token");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong bearer token",
            ))
        }
        // No token at all is a forgotten header, not a guess: refused but not counted.
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this request needs 'Authorization: Bearer <token>' (http.token_file)",
        )),
    }
}

/// Headers on every response: no sniffing, no framing, scripts and styles only from this server.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Everything the status page shows, as JSON.
pub(crate) fn status_value(app: &App, outbox: Option<(u64, f64)>) -> serde_json::Value {
    let m = &app.metrics;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let cameras: Vec<serde_json::Value> = m
        .cameras()
        .iter()
        .map(|c| {
            let state = c.state();
            let last = c.last_frame_unix_ms.load(Ordering::Relaxed);
            let (decoder, error) = match &state {
                crate::video::CameraState::Streaming { decoder } => (Some(decoder.clone()), None),
                crate::video::CameraState::Reconnecting { error, .. }
                | crate::video::CameraState::Failed { error } => (None, Some(error.clone())),
                _ => (None, None),
            };
            json!({
                "id": c.id,
                "state": state.label(),
                "decoder": decoder,
                "error": error,
                "fps": (c.fps() * 10.0).round() / 10.0,
                "frames_decoded": c.frames_decoded.load(Ordering::Relaxed),
                "frames_analysed": c.frames_analysed.load(Ordering::Relaxed),
                "frames_dropped": c.frames_dropped.load(Ordering::Relaxed),
                "last_frame_age_s": (last > 0).then(|| (now_ms - last).max(0) as f64 / 1000.0),
                "frame_url": format!("/api/cameras/{}/frame.jpg", c.id),
            })
        })
        .collect();
    let relays: Vec<serde_json::Value> = app
        .relays
        .status()
        .into_iter()
        .map(|(id, st)| json!({"id": id, "state": st.as_str()}))
        .collect();
    let (depth, age) = outbox.unwrap_or((
        m.outbox_depth.load(Ordering::Relaxed),
        m.outbox_oldest_age_s.load(Ordering::Relaxed) as f64,
    ));
    let storage = &app.config.storage;
    json!({
        "site": {"id": app.config.site.id, "name": app.config.site.name},
        "at": jiff::Timestamp::now().to_string(),
        "uptime_s": (now_ms - m.started_unix_ms).max(0) / 1000,
        "versions": app.versions,
        "cameras": cameras,
        "latency_ms": m.mean_latencies_ms(),
        "relays": relays,
        "decisions": {
            "open": m.decisions_open.load(Ordering::Relaxed),
            "deny": m.decisions_deny.load(Ordering::Relaxed),
            "ignore": m.decisions_ignore.load(Ordering::Relaxed),
        },
        "events_stored": m.events_stored.load(Ordering::Relaxed),
        "mqtt": {
            "enabled": app.config.mqtt.enabled,
            "connected": m.mqtt_connected.load(Ordering::Relaxed),
            "published": m.mqtt_published.load(Ordering::Relaxed),
        },
        "outbox": {"depth": depth, "oldest_age_s": age},
        "disk": {
            "used_bytes": m.disk_used_bytes.load(Ordering::Relaxed),
            "free_bytes": m.disk_free_bytes.load(Ordering::Relaxed),
            "retention_days": storage.retention_days,
            "max_disk_mb": storage.max_disk_mb,
        },
        "writes_enabled": app.token.is_some(),
    })
}

async fn status(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    let outbox = app.db(|s| s.outbox_stats()).await.ok();
    Ok(Json(status_value(&app, outbox)))
}

/// Parameters of `/api/events`; anything else is refused by name.
const EVENT_PARAMS: &[&str] = &[
    "plate",
    "prefix",
    "from",
    "to",
    "decision",
    "camera",
    "limit",
    "before",
    "access_token",
];
pub const MAX_PAGE: u32 = 500;

fn timestamp_param(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<jiff::Timestamp>, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<jiff::Timestamp>()
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("query parameter '{name}': '{v}' is not an RFC 3339 time such as 2026-12-01T08:00:00Z ({e})"))),
    }
}

fn event_query(q: &HashMap<String, String>) -> Result<(EventFilter, Page), ApiError> {
    if let Some(k) = q.keys().find(|k| !EVENT_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter '{k}' (known: {})",
            EVENT_PARAMS[..8].join(", ")
        )));
    }
    let text = |name: &str| q.get(name).filter(|v| !v.is_empty()).cloned();
    let decision = match text("decision").as_deref() {
        None => None,
        Some("open") => Some(Action::Open),
        Some("deny") => Some(Action::Deny),
        Some("ignore") => Some(Action::Ignore),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "query parameter 'decision': '{other}' is not open, deny or ignore"
            )))
        }
    };
    let limit = match text("limit") {
        None => 50,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "query parameter 'limit': '{v}' is not a number from 1 to {MAX_PAGE}"
                )))
            }
        },
    };
    for name in ["plate", "prefix"] {
        if let Some(v) = text(name) {
            if v.len() > 32
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            {
                return Err(ApiError::bad_request(format!("query parameter '{name}': '{v}' must be up to 32 letters, digits, spaces or '-'")));
            }
        }
    }
    let filter = EventFilter {
        plate_contains: text("plate"),
        plate_prefix: text("prefix"),
        from: timestamp_param(q, "from")?,
        to: timestamp_param(q, "to")?,
        decision,
        camera: text("camera"),
    };
    Ok((
        filter,
        Page {
            limit,
            before: text("before"),
        },
    ))
}

async fn events(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (filter, page) = event_query(&q)?;
    let limit = page.limit as usize;
    let events = app
        .db(move |s| {
            // An unknown cursor is the caller's mistake, not a server error.
            if let Some(before) = &page.before {
                if s.event_by_id(before)?.is_none() {
                    return Ok(None);
                }
            }
            s.events_query(&filter, &page).map(Some)
        })
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "query parameter 'before': no such event (use next_before of the previous page)",
            )
        })?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.event_id.clone()))
        .flatten();
    Ok(Json(json!({ "events": events, "next_before": next })))
}

async fn event(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<crate::store::Event>, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::bad_request("event id is too long"));
    }
    let wanted = id.clone();
    app.db(move |s| s.event_by_id(&wanted))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no event '{id}'")))
}

async fn stats_days(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(k) = q
        .keys()
        .find(|k| !["from", "to", "access_token"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter '{k}' (known: from, to)"
        )));
    }
    let to = timestamp_param(&q, "to")?.unwrap_or_else(jiff::Timestamp::now);
    let from = match timestamp_param(&q, "from")? {
        Some(f) => f,
        None => to
            .checked_sub(jiff::SignedDuration::from_hours(24 * 30))
            .map_err(|e| ApiError::internal(e.to_string()))?,
    };
    let days = app.db(move |s| s.day_stats(from, to)).await?;
    Ok(Json(json!({ "days": days })))
}

async fn camera_frame(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cam = app
        .metrics
        .cameras()
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no camera '{id}'")))?;
    let jpeg = cam
        .thumbnail_jpeg
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let jpeg =
        jpeg.ok_or_else(|| ApiError::not_found(format!("camera '{id}' has no frame yet")))?;
    Ok((
        [(header::CONTENT_TYPE, "image/jpeg")],
        Body::from(jpeg.as_ref().clone()),
    )
        .into_response())
}

/// `/media/<relative>`: only crop and frame files of stored events; anything that could leave
/// the media folder (`..`, absolute paths, NUL, symlinks) is a 404.
async fn media(State(app): State<Arc<App>>, Path(rel): Path<String>) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found("no such media file");
    if rel.len() > 256 {
        return Err(missing());
    }
    let wanted = rel.clone();
    let path = app
        .db(move |s| Ok(s.media_file(&wanted)))
        .await?
        .ok_or_else(missing)?;
    let media_dir = app.media_dir.clone();
    let bytes = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        // Every component below the media folder must be a real directory or file.
        let rel = path.strip_prefix(&media_dir).ok()?;
        let mut at = media_dir.clone();
        for c in rel.components() {
            at.push(c);
            if std::fs::symlink_metadata(&at)
                .ok()?
                .file_type()
                .is_symlink()
            {
                return None;
            }
        }
        std::fs::read(&path).ok()
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .ok_or_else(missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        Body::from(bytes),
    )
        .into_response())
}

async fn allowlist(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    let entries = app.db(|s| s.access_list()).await?;
    Ok(Json(json!({ "entries": entries })))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

async fn allowlist_upsert(
    State(app): State<Arc<App>>,
    body: Bytes,
) -> Result<(StatusCode, Json<AccessEntry>), ApiError> {
    let entry: UpsertEntry = parse_json(&body, "allow-list entry")?;
    let cmd = AllowlistSet {
        correlation_id: None,
        upsert: vec![entry],
        delete: vec![],
    };
    let Command::Allowlist { mut upsert, .. } =
        command::validate_allowlist(cmd, &app.relays).map_err(ApiError::bad_request)?
    else {
        return Err(ApiError::internal(
            "allow-list validation returned another command",
        ));
    };
    let mut entry = upsert.remove(0);
    let stored = entry.clone();
    entry.id = app.db(move |s| s.access_upsert(&stored)).await?;
    tracing::info!(plate = %entry.plate, list = ?entry.list, "allow/deny entry saved over HTTP");
    Ok((StatusCode::OK, Json(entry)))
}

async fn allowlist_delete(
    State(app): State<Arc<App>>,
    Path(plate): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let plate = command::normalise_plate(&plate).map_err(ApiError::bad_request)?;
    let key = plate.clone();
    if app
        .db(move |s| s.access_delete(&AccessKey::Plate(key)))
        .await?
    {
        tracing::info!(plate = %plate, "allow/deny entry deleted over HTTP");
        Ok(Json(json!({ "deleted": plate })))
    } else {
        Err(ApiError::not_found(format!(
            "plate '{plate}' is not on the allow/deny list"
        )))
    }
}

async fn relay_open(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    if app.relays.settings(&id).is_none() {
        return Err(ApiError::not_found(format!("no relay '{id}'")));
    }
    let payload: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"OPEN"
    } else {
        &body
    };
    let (_, cmd) = command::parse_relay_set(&id, payload, &app.relays);
    let Command::Pulse { relay, duration_ms } = cmd.map_err(ApiError::bad_request)? else {
        return Err(ApiError::internal(
            "relay validation returned another command",
        ));
    };
    let pulse_ms = if duration_ms == 0 {
        app.relays.settings(&relay).map(|s| s.pulse_ms).unwrap_or(0)
    } else {
        duration_ms
    };
    let outcome = app.relays.pulse(RelayPulse {
        relay: relay.clone(),
        duration_ms,
        reason: "manual_http".into(),
        plate: None,
        event_id: None,
    });
    tracing::info!(relay = %relay, ?outcome, "relay opened over HTTP");
    match outcome {
        PulseOutcome::Pulsed => Ok(Json(
            json!({ "relay": relay, "outcome": outcome, "pulse_ms": pulse_ms }),
        )),
        other => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "relay '{relay}' refused the pulse: {}",
                serde_json::to_value(other).unwrap_or_default()
            ),
        )),
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let outbox = app.db(|s| s.outbox_stats()).await.ok();
    let text = super::prometheus::render(&app.metrics, &app.relays, outbox);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// 200 while every camera delivered a frame within its `frame_timeout_s` (a file camera that
/// ended counts as healthy); else 503 naming the cameras. Stricter than the systemd watchdog,
/// which leaves an unreachable camera to its reconnects.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let problems = app
        .metrics
        .stalled_cameras(&app.config.cameras, jiff::Timestamp::now().as_millisecond());
    if problems.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "problems": problems })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn event_queries_are_validated_by_name() {
        let (f, p) = event_query(&q(&[
            ("plate", "ab1"),
            ("decision", "open"),
            ("limit", "10"),
        ]))
        .unwrap();
        assert_eq!(f.plate_contains.as_deref(), Some("ab1"));
        assert_eq!(f.decision, Some(Action::Open));
        assert_eq!(p.limit, 10);
        let err = |pairs: &[(&str, &str)]| event_query(&q(pairs)).unwrap_err().message;
        assert!(err(&[("limit", "0")]).contains("'limit'"));
        assert!(err(&[("limit", "9999")]).contains("'limit'"));
        assert!(err(&[("from", "yesterday")]).contains("'from'"));
        assert!(err(&[("decision", "maybe")]).contains("'decision'"));
        assert!(err(&[("plate", "'; DROP TABLE events")]).contains("'plate'"));
        assert!(err(&[("sort", "x")]).contains("'sort'"));
    }

    #[test]
    fn access_token_is_taken_from_the_query() {
        assert_eq!(
            access_token_param("a=1&access_token=ab%2Bc").as_deref(),
            Some("ab+c")
        );
        assert_eq!(access_token_param("a=1"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
