//! One webhook channel: drains `webhook:<id>` outbox rows one at a time, in order. A POST that
//! fails (connection error, timeout, non-2xx) is retried with capped backoff; the row stays in
//! the outbox until a 2xx answer. Events the filter excludes are acked without sending.

use super::http::{post, HttpUrl};
use super::{
    backoff, count, filter_accepts, read_secret, webhook_channel, ChannelStats, PublishError,
};
use crate::config::{WebhookFilter, WebhookSettings};
use crate::shutdown::Shutdown;
use crate::store::{Event, Store};
use ring::hmac;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Header carrying `sha256=<hex HMAC-SHA256 of the body>` keyed with the webhook's secret.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Boomgate-Signature";

/// The signature header value for `body` under `secret`: `sha256=<lowercase hex>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

pub(crate) struct WebhookTask {
    id: String,
    channel: String,
    url: HttpUrl,
    url_text: String,
    filter: WebhookFilter,
    token: Option<String>,
    secret: Option<Vec<u8>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    max_backoff: Duration,
    store: Arc<Mutex<Store>>,
    stats: Arc<ChannelStats>,
    shutdown: Shutdown,
}

impl WebhookTask {
    pub fn new(
        s: &WebhookSettings,
        store: Store,
        stats: Arc<ChannelStats>,
        shutdown: Shutdown,
    ) -> Result<WebhookTask, PublishError> {
        let url = HttpUrl::parse(&s.url)?;
        let token = s
            .token_file
            .as_deref()
            .map(|p| read_secret(p, "webhook token"))
            .transpose()?;
        let secret = s
            .secret_file
            .as_deref()
            .map(|p| read_secret(p, "webhook secret").map(String::into_bytes))
            .transpose()?;
        let tls = if url.tls {
            Some(super::tls::client_config(None, None)?)
        } else {
            None
        };
        Ok(WebhookTask {
            id: s.id.clone(),
            channel: webhook_channel(&s.id),
            url,
            url_text: s.url.clone(),
            filter: s.filter,
            token,
            secret,
            tls,
            timeout: Duration::from_millis(s.timeout_ms.max(1)),
            max_backoff: Duration::from_secs(s.max_backoff_s.max(1)),
            store: Arc::new(Mutex::new(store)),
            stats,
            shutdown,
        })
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Waits for a stored event, one second, or shutdown. Returns `false` on shutdown.
    async fn idle(
        &self,
        wake: &mut Option<broadcast::Receiver<Arc<Event>>>,
        max: Duration,
    ) -> bool {
        tokio::select! {
            _ = self.shutdown.wait() => false,
            _ = tokio::time::sleep(max) => true,
            r = async { match wake { Some(w) => w.recv().await.map(|_| ()), None => std::future::pending().await } } => {
                if let Err(broadcast::error::RecvError::Closed) = r { *wake = None; }
                true
            }
        }
    }

    pub async fn run(self, wake: broadcast::Receiver<Arc<Event>>) {
        let mut wake = Some(wake);
        let mut failures: u32 = 0;
        tracing::info!(webhook = %self.id, url = %self.url_text, "webhook delivery started");
        loop {
            if self.shutdown.is_triggered() {
                break;
            }
            let channel = self.channel.clone();
            let next = self.db(move |s| s.outbox_pending_raw(&channel, 0, 1)).await;
            let (event_id, json) = match next {
                Ok(mut rows) if !rows.is_empty() => {
                    let (_, id, json) = rows.remove(0);
                    (id, json)
                }
                Ok(_) => {
                    if !self.idle(&mut wake, Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(webhook = %self.id, error = %e, "reading the outbox failed");
                    if !self.idle(&mut None, Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            };
            let wanted = match serde_json::from_str::<Event>(&json) {
                Ok(ev) => filter_accepts(self.filter, &ev),
                Err(e) => {
                    tracing::error!(webhook = %self.id, event_id, error = %e, "stored event JSON unreadable; sending it as is");
                    true
                }
            };
            if wanted {
                match self.deliver(&event_id, json.as_bytes()).await {
                    Ok(()) => {
                        failures = 0;
                        self.stats
                            .connected
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        self.stats.set_error(None);
                    }
                    Err(e) => {
                        count(&self.stats.failures);
                        self.stats
                            .connected
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                        let wait = backoff(failures, self.max_backoff);
                        failures = failures.saturating_add(1);
                        tracing::warn!(webhook = %self.id, url = %self.url_text, event_id, error = %e, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed");
                        self.stats.set_error(Some(e));
                        let channel = self.channel.clone();
                        let id = event_id.clone();
                        let _ = self.db(move |s| s.outbox_note_attempt(&channel, &id)).await;
                        if !self.idle(&mut None, wait).await {
                            break;
                        }
                        continue;
                    }
                }
            } else {
                count(&self.stats.skipped);
            }
            let channel = self.channel.clone();
            let id = event_id.clone();
            match self.db(move |s| s.outbox_ack(&channel, &id)).await {
                Ok(_) => {
                    if wanted {
                        count(&self.stats.acked);
                    }
                }
                Err(e) => {
                    tracing::error!(webhook = %self.id, event_id, error = %e, "acknowledging the outbox row failed");
                    if !self.idle(&mut None, Duration::from_secs(1)).await {
                        break;
                    }
                }
            }
        }
        tracing::info!(webhook = %self.id, "webhook delivery stopped");
    }

    async fn deliver(&self, event_id: &str, body: &[u8]) -> Result<(), String> {
        let mut headers: Vec<(&str, String)> = vec![("X-Boomgate-Event-Id", event_id.to_string())];
        if let Some(t) = &self.token {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        if let Some(k) = &self.secret {
            headers.push((WEBHOOK_SIGNATURE_HEADER, signature(k, body)));
        }
        count(&self.stats.sent);
        match tokio::time::timeout(
            self.timeout,
            post(&self.url, self.tls.as_ref(), &headers, body),
        )
        .await
        {
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(e)) => Err(e),
            Ok(Ok(code)) if (200..300).contains(&code) => Ok(()),
            Ok(Ok(code)) => Err(format!("HTTP status {code}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe".
        let s = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
