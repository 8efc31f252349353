//! The status page: HTML rendered on the server with the current state (useful even without
//! JavaScript), a stylesheet and one script, all embedded in the binary.

use super::App;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;

const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index(State(app): State<Arc<App>>) -> Response {
    let recent = if app.config.http.protect_reads {
        Vec::new()
    } else {
        app.db(|s| {
            s.events_query(
                &Default::default(),
                &crate::store::Page {
                    limit: 20,
                    before: None,
                },
            )
        })
        .await
        .unwrap_or_default()
    };
    let status = super::api::status_value(&app, None);
    Html(render(&app, &status, &recent)).into_response()
}

fn render(app: &App, status: &serde_json::Value, recent: &[crate::store::Event]) -> String {
    let site = if app.config.site.name.is_empty() {
        app.config.site.id.clone()
    } else {
        app.config.site.name.clone()
    };
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>boomgate · {site}</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
</head><body data-protect-reads="{protect}">
<header><h1>boomgate <span class="site">{site}</span></h1><span id="link" class="pill">connecting…</span></header>
<main>
<section id="cameras"><h2>Cameras</h2><div class="grid">"#,
        site = escape(&site),
        protect = app.config.http.protect_reads,
    );
    for c in status["cameras"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().unwrap_or("");
        let _ = write!(
            h,
            r#"<article class="camera" data-camera="{id}"><img class="frame" alt="last frame of {id}" {src}="{url}">
<div><b>{id}</b> <span class="state {state}">{state}</span></div>
<div class="small">decoder <span class="decoder">{decoder}</span> · <span class="fps">{fps}</span> fps</div></article>"#,
            id = escape(id),
            url = escape(c["frame_url"].as_str().unwrap_or("")),
            // Protected reads: no request the browser would send without the token.
            src = if app.config.http.protect_reads {
                "data-src"
            } else {
                "src"
            },
            state = escape(c["state"].as_str().unwrap_or("")),
            decoder = escape(c["decoder"].as_str().unwrap_or("–")),
            fps = c["fps"],
        );
    }
    h.push_str(
        r#"</div></section>
<section id="relays"><h2>Relays</h2><div class="grid">"#,
    );
    for r in status["relays"].as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or("");
        let _ = write!(
            h,
            r#"<article class="relay" data-relay="{id}"><b>{id}</b> <span class="state {st}">{st}</span>
<button type="button" class="open" data-relay="{id}"{disabled}>Open</button></article>"#,
            id = escape(id),
            st = escape(r["state"].as_str().unwrap_or("")),
            disabled = if status["writes_enabled"].as_bool() == Some(true) {
                ""
            } else {
                r#" disabled title="set http.token_file to allow opening""#
            },
        );
    }
    let f = |v: &serde_json::Value| {
        v.as_f64()
            .map(|x| format!("{x:.1} ms"))
            .unwrap_or_else(|| "–".into())
    };
    let _ = write!(
        h,
        r#"</div></section>
<section id="system"><h2>System</h2><dl>
<dt>Detector</dt><dd id="lat-detect">{det}</dd><dt>OCR</dt><dd id="lat-ocr">{ocr}</dd>
<dt>Frame → decision</dt><dd id="lat-decision">{dec}</dd>
<dt>MQTT</dt><dd id="mqtt">{mqtt}</dd><dt>Outbox</dt><dd id="outbox">{outbox}</dd>
<dt>Disk</dt><dd id="disk">{disk}</dd>
<dt>Versions</dt><dd id="versions">daemon {vd} · {vdet} · {vocr} · LiteRT {vl}</dd>
</dl></section>
<section id="events"><h2>Recent events</h2><table><thead><tr><th>Crop</th><th>Plate</th><th>Conf.</th><th>Decision</th><th>Camera</th><th>Time</th></tr></thead><tbody id="event-rows">"#,
        det = f(&status["latency_ms"]["detect"]),
        ocr = f(&status["latency_ms"]["ocr"]),
        dec = f(&status["latency_ms"]["frame_to_decision"]),
        mqtt = if status["mqtt"]["enabled"] == true {
            if status["mqtt"]["connected"] == true {
                "connected"
            } else {
                "disconnected"
            }
        } else {
            "off"
        },
        outbox = status["outbox"]["depth"],
        disk = format!(
            "{:.1} MB used · {:.1} GB free · keep {} days",
            status["disk"]["used_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            status["disk"]["free_bytes"].as_f64().unwrap_or(0.0) / 1e9,
            status["disk"]["retention_days"]
        ),
        vd = escape(&app.versions.daemon),
        vdet = escape(&app.versions.detector),
        vocr = escape(&app.versions.ocr),
        vl = escape(&app.versions.litert),
    );
    for e in recent {
        let _ = write!(
            h,
            r#"<tr data-event="{id}"><td>{img}</td><td class="plate">{plate}</td><td>{conf:.0} %</td><td class="decision {act}">{act} <span class="small">{reason}</span></td><td>{cam}</td><td class="small">{at}</td></tr>"#,
            id = escape(&e.event_id),
            img = e
                .crop_url
                .as_deref()
                .map(|u| format!(r#"<img class="crop" alt="" src="{}">"#, escape(u)))
                .unwrap_or_default(),
            plate = escape(&e.plate),
            conf = e.confidence * 100.0,
            act = serde_json::to_value(e.decision.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            reason = escape(&e.decision.reason),
            cam = escape(&e.camera),
            at = escape(&e.captured_at.to_string()),
        );
    }
    h.push_str("</tbody></table></section>\n</main></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape(r#"<img src=x onerror="a">&'"#),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
    }
}
