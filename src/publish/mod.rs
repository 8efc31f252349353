//! Back-office delivery: the MQTT client (outbox drain, availability, status, commands, Home
//! Assistant discovery) and webhooks. Every channel drains its own outbox rows over its own
//! SQLite connection, so a dead webhook never holds back MQTT and the reverse. Delivery is at
//! least once and in order per channel; consumers de-duplicate on `event_id` (docs/mqtt.md).

pub(crate) mod command;
mod error;
mod http;
mod mqtt;
mod tls;
mod webhook;

pub use command::{AllowlistSet, CommandResult, RelaySet, UpsertEntry};
pub use error::PublishError;
pub use webhook::{signature, WEBHOOK_SIGNATURE_HEADER};

use crate::config::{Config, WebhookFilter};
use crate::metrics::Metrics;
use crate::relay::RelayController;
use crate::shutdown::Shutdown;
use crate::store::{Event, Store};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Outbox channel name of the MQTT publisher.
pub const MQTT_CHANNEL: &str = "mqtt";

/// Outbox channel name of webhook `id`.
pub fn webhook_channel(id: &str) -> String {
    format!("webhook:{id}")
}

/// The outbox channels the store writer must create rows for under `config`: `mqtt` when MQTT
/// is enabled, then `webhook:<id>` per webhook. Pass this to `WriterOptions`.
pub fn outbox_channels(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.mqtt.enabled {
        out.push(MQTT_CHANNEL.to_string());
    }
    out.extend(config.webhooks.iter().map(|w| webhook_channel(&w.id)));
    out
}

/// The MQTT topic root: `mqtt.topic_prefix` with `{site}` replaced, without a trailing slash.
pub fn topic_root(config: &Config) -> String {
    config
        .mqtt
        .topic_prefix
        .replace("{site}", &config.site.id)
        .trim_end_matches('/')
        .to_string()
}

/// Whether a webhook with `filter` receives `event`.
pub fn filter_accepts(filter: WebhookFilter, event: &Event) -> bool {
    use crate::access::Action;
    match filter {
        WebhookFilter::All => true,
        WebhookFilter::Decisions => matches!(event.decision.action, Action::Open | Action::Deny),
        WebhookFilter::Denies => event.decision.action == Action::Deny,
    }
}

/// Delivery counters of one channel, for the status page and tests.
#[derive(Debug, Default)]
pub struct ChannelStats {
    pub channel: String,
    /// Events sent (including resends).
    pub sent: AtomicU64,
    /// Events acknowledged (PUBACK or 2xx) and removed from the outbox.
    pub acked: AtomicU64,
    /// Events acked without sending because the channel's filter excludes them.
    pub skipped: AtomicU64,
    /// Failed connection attempts or deliveries.
    pub failures: AtomicU64,
    pub connected: AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

impl ChannelStats {
    fn new(channel: &str) -> Arc<ChannelStats> {
        Arc::new(ChannelStats {
            channel: channel.to_string(),
            ..Default::default()
        })
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The running delivery tasks. Trigger the `Shutdown` given to `spawn` and await `stopped()`
/// for a clean stop (MQTT publishes `offline` and disconnects); `abort()` kills the tasks
/// like a crash would (the broker then publishes the Last Will).
pub struct Publisher {
    tasks: Vec<JoinHandle<()>>,
    stats: Vec<Arc<ChannelStats>>,
}

impl Publisher {
    /// Starts the MQTT task (when `mqtt.enabled`) and one task per webhook on `rt`. Each opens
    /// its own connection to the store in `data_dir`. `stored` is the store writer's broadcast
    /// of stored events (`StoreWriter::subscribe()`), used as a wake-up; the outbox is also
    /// polled every second. Fails on unreadable secret files, bad URLs or TLS material; a broker
    /// or receiver that is down is not an error (retried with backoff).
    pub fn spawn(
        config: &Config,
        data_dir: &Path,
        relays: Arc<RelayController>,
        metrics: Arc<Metrics>,
        stored: broadcast::Receiver<Arc<Event>>,
        shutdown: Shutdown,
        rt: &tokio::runtime::Handle,
    ) -> Result<Publisher, PublishError> {
        // Idempotent; rumqttc and tokio-rustls need a process-wide provider for default builders.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut tasks = Vec::new();
        let mut stats = Vec::new();
        let mut prepared_mqtt = None;
        if config.mqtt.enabled {
            let st = ChannelStats::new(MQTT_CHANNEL);
            let store = Store::open(data_dir)?;
            let task = mqtt::MqttTask::new(
                config,
                store,
                relays.clone(),
                metrics.clone(),
                st.clone(),
                shutdown.clone(),
            )?;
            stats.push(st);
            prepared_mqtt = Some(task);
        }
        let mut prepared_hooks = Vec::new();
        for hook in &config.webhooks {
            let st = ChannelStats::new(&webhook_channel(&hook.id));
            let store = Store::open(data_dir)?;
            let task = webhook::WebhookTask::new(hook, store, st.clone(), shutdown.clone())?;
            stats.push(st);
            prepared_hooks.push(task);
        }
        if let Some(task) = prepared_mqtt {
            tasks.push(rt.spawn(task.run(stored.resubscribe())));
        }
        for task in prepared_hooks {
            tasks.push(rt.spawn(task.run(stored.resubscribe())));
        }
        Ok(Publisher { tasks, stats })
    }

    /// Per-channel delivery counters (`mqtt` first when enabled, then webhooks in config order).
    pub fn stats(&self) -> &[Arc<ChannelStats>] {
        &self.stats
    }

    /// Waits for every task to finish after the shutdown was triggered.
    pub async fn stopped(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Kills every task at once without a clean disconnect, as a crash would: unacknowledged
    /// rows stay in the outbox and the broker publishes the Last Will.
    pub fn abort(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub(crate) fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Reads the first line of a secret file (password, token, key), without the line end.
pub(crate) fn read_secret(path: &Path, what: &'static str) -> Result<String, PublishError> {
    let text = std::fs::read_to_string(path).map_err(|source| PublishError::SecretFile {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string())
}

/// Capped exponential backoff: 0.5 s, 1 s, 2 s, ... up to `max`.
pub(crate) fn backoff(attempt: u32, max: std::time::Duration) -> std::time::Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.min(16));
    std::time::Duration::from_millis(ms).min(max)
}
