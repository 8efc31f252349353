//! The local status page and HTTP API (axum on the shared tokio runtime).
//!
//! Reads are open unless `http.protect_reads`; every write needs the bearer token from
//! `http.token_file` (no file: writes are refused). Endpoints are listed in
//! `src/http/openapi.json`, served at `/api/openapi.json`; the WebSocket messages are
//! documented in `docs/http.md`.

mod api;
pub mod auth;
mod live;
mod page;
pub mod prometheus;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::relay::RelayController;
use crate::shutdown::Shutdown;
use crate::store::{Event, Store, StoreError};
use auth::{FailureLimiter, Token};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Largest request body accepted (allow-list entries, relay commands).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on http.listen {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Token(String),
    #[error(
        "http.protect_reads is set but http.token_file is not: reads could never be authorised"
    )]
    ReadsWithoutToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Daemon, model and LiteRT versions shown on the page and in `/api/status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Versions {
    pub daemon: String,
    pub detector: String,
    pub ocr: String,
    pub litert: String,
}

/// What the server reads and drives; shared by every handler.
pub(crate) struct App {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub relays: Arc<RelayController>,
    /// A read (and allow-list write) connection of its own; queries run on blocking threads.
    pub store: Arc<Mutex<Store>>,
    pub media_dir: PathBuf,
    pub token: Option<Token>,
    pub limiter: Mutex<FailureLimiter>,
    /// Serialised live messages for `/ws/events`, produced once and shared by every client.
    pub live: broadcast::Sender<Arc<str>>,
    pub versions: Versions,
    /// Ends WebSocket sessions so a graceful stop is not held open by them.
    pub shutdown: Shutdown,
}

impl App {
    /// Runs `f` on the store connection on a blocking thread.
    pub async fn db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, api::ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| api::ApiError::internal(format!("database task failed: {e}")))?
        .map_err(|e| api::ApiError::internal(e.to_string()))
    }
}

/// Where the live view's events come from.
pub struct EventFeeds {
    /// Events at the access decision, before they are stored (sent as `detection`).
    pub decided: broadcast::Receiver<Arc<Event>>,
    /// Events once committed with their images (sent as `event_stored`).
    pub stored: broadcast::Receiver<Arc<Event>>,
}

/// A running HTTP server; stops when the shutdown it was given triggers.
pub struct HttpServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Binds `http.listen` now (so a busy port fails the start with its address) and serves on
    /// `rt`. `events` feeds the live view.
    pub fn spawn(
        config: &Config,
        metrics: Arc<Metrics>,
        relays: Arc<RelayController>,
        events: EventFeeds,
        versions: Versions,
        shutdown: Shutdown,
        rt: &tokio::runtime::Handle,
    ) -> Result<HttpServer, HttpError> {
        let settings = &config.http;
        let token = match &settings.token_file {
            Some(path) => Some(Token::from_file(path).map_err(HttpError::Token)?),
            None => None,
        };
        if settings.protect_reads && token.is_none() {
            return Err(HttpError::ReadsWithoutToken);
        }
        let store = Store::open(&config.storage.data_dir)?;
        let media_dir = store.media_dir().to_path_buf();
        let listener = std::net::TcpListener::bind(&settings.listen)
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .map_err(|source| HttpError::Bind {
                addr: settings.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| HttpError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        let (live, _) = broadcast::channel(settings.live_buffer.max(1));
        let app = Arc::new(App {
            config: config.clone(),
            metrics,
            relays,
            store: Arc::new(Mutex::new(store)),
            media_dir,
            token,
            limiter: Mutex::new(FailureLimiter::default()),
            live,
            versions,
            shutdown: shutdown.clone(),
        });
        let _entered = rt.enter();
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| HttpError::Bind {
                addr: settings.listen.clone(),
                source,
            })?;
        rt.spawn(live::hub(app.clone(), events, shutdown.clone()));
        let router = api::router(app);
        let task = rt.spawn(async move {
            let stop = shutdown.clone();
            let served = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.wait().await })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        tracing::info!(addr = %addr, "HTTP status page listening");
        Ok(HttpServer { addr, task })
    }

    /// The bound address (the real port when `http.listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}
