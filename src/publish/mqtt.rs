//! The MQTT connection task.
//!
//! One session per connection: a fresh rumqttc client and event loop (clean session), so after
//! a reconnect nothing is replayed by rumqttc and the outbox alone decides what is sent: every
//! row not yet acknowledged, from the oldest, in order. Within a session at most
//! `max_inflight` events wait for their PUBACK.
//!
//! PUBACK correlation: `publish()` returns no packet id, so every publish this task queues is
//! recorded in a FIFO (event id, or none for availability/status/results). rumqttc emits
//! `Outgoing::Publish(pkid)` once per publish, in queue order; popping the FIFO there maps the
//! packet id to its event, and `Incoming::PubAck(pkid)` then acknowledges exactly that row.

use super::command::{parse_allowlist_set, parse_relay_set, Command, CommandResult};
use super::http::split_host_port;
use super::{backoff, count, read_secret, ChannelStats, PublishError, MQTT_CHANNEL};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::relay::{PulseOutcome, RelayController, RelayPulse};
use crate::shutdown::Shutdown;
use crate::store::{AccessKey, Event, Store, StoreError};
use rumqttc::{
    AsyncClient, ConnectionError, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Longest wait between two connection attempts.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(30);
/// Acknowledged rows deleted per transaction while a backlog drains.
const ACK_BATCH: usize = 1024;
/// Outbox rows read per database round trip.
const READ_AHEAD: usize = 256;
/// Seconds allowed for TCP (+TLS) connect and CONNACK.
const CONNECT_TIMEOUT_S: u64 = 15;
/// How long a clean shutdown waits for `offline` to be acknowledged.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct MqttTask {
    options: MqttOptions,
    url: String,
    root: String,
    site_id: String,
    site_name: String,
    max_inflight: usize,
    status_every: Duration,
    commands: bool,
    ha_prefix: Option<String>,
    relays: Arc<RelayController>,
    metrics: Arc<Metrics>,
    store: Arc<Mutex<Store>>,
    stats: Arc<ChannelStats>,
    shutdown: Shutdown,
}

/// Why a session ended.
enum SessionEnd {
    Shutdown,
    Failed { was_connected: bool, error: String },
}

/// One queued publish, in queue order: the event it carries, if any.
type Tag = Option<String>;

/// Per-session delivery state.
struct Session {
    client: AsyncClient,
    tags: VecDeque<Tag>,
    by_pkid: HashMap<u16, String>,
    /// Events published and not yet acknowledged.
    inflight: usize,
    /// Outbox sequence of the last row read into `ahead` in this session.
    last_seq: i64,
    /// Rows read from the outbox, in order, not yet published: one database read serves many
    /// publishes, so the window can be refilled on every PUBACK.
    ahead: VecDeque<(i64, String, String)>,
    /// The last database read returned fewer rows than asked for.
    read_short: bool,
    /// PUBACKed events whose outbox rows are still to be deleted.
    acked: Vec<String>,
    /// The last fetch found no more rows; cleared by a wake-up.
    drained: bool,
    connected: bool,
}

impl Session {
    /// Queues a non-event publish (QoS 1). Never blocks the event loop's task.
    fn send(&mut self, topic: String, retain: bool, payload: impl Into<Vec<u8>>) {
        match self
            .client
            .try_publish(topic.clone(), QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => self.tags.push_back(None),
            Err(e) => tracing::warn!(topic, error = %e, "MQTT publish not queued"),
        }
    }
}

impl MqttTask {
    pub fn new(
        config: &Config,
        store: Store,
        relays: Arc<RelayController>,
        metrics: Arc<Metrics>,
        stats: Arc<ChannelStats>,
        shutdown: Shutdown,
    ) -> Result<MqttTask, PublishError> {
        let m = &config.mqtt;
        let bad = |reason: &str| PublishError::BadUrl {
            url: m.url.clone(),
            reason: reason.to_string(),
        };
        let (tls, rest) = if let Some(r) = m.url.strip_prefix("mqtt://") {
            (false, r)
        } else if let Some(r) = m.url.strip_prefix("mqtts://") {
            (true, r)
        } else {
            return Err(bad("must start with mqtt:// or mqtts://"));
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) =
            split_host_port(authority, if tls { 8883 } else { 1883 }).map_err(|r| bad(&r))?;
        let client_id = if m.client_id.is_empty() {
            format!("boomgate-{}", config.site.id)
        } else {
            m.client_id.clone()
        };
        let root = super::topic_root(config);
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_keep_alive(Duration::from_secs(m.keep_alive_s.max(5)))
            .set_clean_session(true)
            .set_inflight(m.max_inflight.saturating_add(16))
            .set_max_packet_size(1 << 20, 1 << 20)
            .set_request_channel_capacity(usize::from(m.max_inflight) + 256)
            .set_last_will(LastWill::new(
                format!("{root}/availability"),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &m.username {
            let password = match &m.password_file {
                Some(p) => read_secret(p, "MQTT password")?,
                None => String::new(),
            };
            options.set_credentials(user.clone(), password);
        }
        if tls {
            let client_cert = match (&m.client_cert_file, &m.client_key_file) {
                (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
                (None, None) => None,
                _ => {
                    return Err(PublishError::Tls(
                        "client_cert_file and client_key_file must be set together".into(),
                    ))
                }
            };
            let cfg = super::tls::client_config(m.ca_file.as_deref(), client_cert)?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(cfg)));
        }
        Ok(MqttTask {
            options,
            url: m.url.clone(),
            root,
            site_id: config.site.id.clone(),
            site_name: config.site.name.clone(),
            max_inflight: usize::from(m.max_inflight.max(1)),
            status_every: Duration::from_secs(m.status_interval_s.max(1)),
            commands: m.commands,
            ha_prefix: config.homeassistant.enabled.then(|| {
                config
                    .homeassistant
                    .discovery_prefix
                    .trim_end_matches('/')
                    .to_string()
            }),
            relays,
            metrics,
            store: Arc::new(Mutex::new(store)),
            stats,
            shutdown,
        })
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    pub async fn run(self, wake: broadcast::Receiver<Arc<Event>>) {
        let mut wake = Some(wake);
        let mut relay_rx = self.relays.subscribe();
        let mut last_plate: Option<String> = None;
        let mut failures: u32 = 0;
        tracing::info!(url = %self.url, root = %self.root, "MQTT delivery started");
        loop {
            if self.shutdown.is_triggered() {
                break;
            }
            let end = self
                .session(&mut wake, &mut relay_rx, &mut last_plate)
                .await;
            self.metrics.mqtt_connected.store(false, Ordering::Relaxed);
            self.stats.connected.store(false, Ordering::Relaxed);
            match end {
                SessionEnd::Shutdown => break,
                SessionEnd::Failed {
                    was_connected,
                    error,
                } => {
                    if was_connected {
                        failures = 0;
                        tracing::warn!(url = %self.url, error, "MQTT connection lost");
                    } else {
                        self.metrics
                            .mqtt_connect_failures
                            .fetch_add(1, Ordering::Relaxed);
                        count(&self.stats.failures);
                    }
                    let wait = backoff(failures, MAX_RECONNECT_BACKOFF);
                    failures = failures.saturating_add(1);
                    if !was_connected {
                        tracing::warn!(url = %self.url, error, retry_in_ms = wait.as_millis() as u64, "MQTT connection failed");
                    }
                    self.stats.set_error(Some(error));
                    tokio::select! {
                        _ = self.shutdown.wait() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        tracing::info!(url = %self.url, "MQTT delivery stopped");
    }

    async fn session(
        &self,
        wake: &mut Option<broadcast::Receiver<Arc<Event>>>,
        relay_rx: &mut broadcast::Receiver<crate::relay::RelayStateChange>,
        last_plate: &mut Option<String>,
    ) -> SessionEnd {
        let (client, mut el) = AsyncClient::new(self.options.clone(), self.max_inflight + 256);
        // No Nagle: refills of the in-flight window are small writes that would otherwise wait
        // for the broker's delayed ACK (~40 ms each). A loaded board may take a while to finish
        // CONNECT/CONNACK; rumqttc's 5 s default gave up on connections the broker had accepted.
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(CONNECT_TIMEOUT_S);
        el.set_network_options(net);
        let mut s = Session {
            client,
            tags: VecDeque::new(),
            by_pkid: HashMap::new(),
            inflight: 0,
            last_seq: 0,
            ahead: VecDeque::new(),
            read_short: false,
            acked: Vec::new(),
            drained: false,
            connected: false,
        };
        let mut poll_tick = tokio::time::interval(Duration::from_secs(1));
        let mut status_tick = tokio::time::interval(self.status_every);
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = loop {
            tokio::select! {
                ev = el.poll() => match ev {
                    Ok(ev) => self.on_event(&mut s, ev, last_plate).await,
                    Err(e) => break SessionEnd::Failed { was_connected: s.connected, error: describe(&e) },
                },
                _ = self.shutdown.wait() => {
                    if s.connected {
                        self.goodbye(&mut s, &mut el).await;
                    }
                    break SessionEnd::Shutdown;
                }
                r = recv_or_pending(wake) => {
                    match r {
                        Ok(ev) => {
                            *last_plate = Some(ev.plate.clone());
                            if s.connected {
                                s.send(format!("{}/last_plate", self.root), true, ev.plate.clone());
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => *wake = None,
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                    }
                    s.drained = false;
                }
                r = relay_rx.recv() => {
                    if s.connected {
                        match r {
                            Ok(change) => s.send(format!("{}/relay/{}/state", self.root, change.relay), true, change.state.as_str()),
                            Err(_) => self.publish_relay_states(&mut s),
                        }
                    }
                }
                _ = poll_tick.tick() => {
                    s.drained = false;
                    self.flush_acks(&mut s).await;
                }
                _ = status_tick.tick() => {
                    if s.connected {
                        self.publish_status(&mut s).await;
                    }
                }
            }
            // Deleting acked rows costs an fsync: batch it while draining a backlog (a crash
            // before the flush only means resends with the same event_id), flush when idle.
            if s.acked.len() >= ACK_BATCH || (s.drained && s.inflight == 0 && !s.acked.is_empty()) {
                self.flush_acks(&mut s).await;
            }
            // Refill on every PUBACK (from `ahead`, no database read): keeping data flowing lets
            // TCP ACKs ride on it, where batched refills stalled ~40 ms per round on brokers that
            // leave Nagle on (mosquitto's default).
            if s.connected && !s.drained && s.inflight < self.max_inflight {
                self.fill_window(&mut s).await;
            }
        };
        self.flush_acks(&mut s).await;
        end
    }

    async fn on_event(&self, s: &mut Session, ev: rumqttc::Event, last_plate: &Option<String>) {
        match ev {
            rumqttc::Event::Incoming(Packet::ConnAck(_)) => {
                s.connected = true;
                s.drained = false;
                self.metrics.mqtt_connected.store(true, Ordering::Relaxed);
                self.stats.connected.store(true, Ordering::Relaxed);
                self.stats.set_error(None);
                tracing::info!(url = %self.url, "MQTT connected");
                s.send(format!("{}/availability", self.root), true, "online");
                if self.commands {
                    for t in [
                        format!("{}/relay/+/set", self.root),
                        format!("{}/allowlist/set", self.root),
                    ] {
                        if let Err(e) = s.client.try_subscribe(t.clone(), QoS::AtLeastOnce) {
                            tracing::warn!(topic = t, error = %e, "MQTT subscribe not queued");
                        }
                    }
                }
                if let Some(ha) = &self.ha_prefix {
                    let _ = s
                        .client
                        .try_subscribe(format!("{ha}/status"), QoS::AtLeastOnce);
                    self.publish_discovery(s);
                }
                self.publish_relay_states(s);
                if let Some(p) = last_plate {
                    s.send(format!("{}/last_plate", self.root), true, p.clone());
                }
                self.publish_status(s).await;
            }
            rumqttc::Event::Outgoing(Outgoing::Publish(pkid)) => match s.tags.pop_front() {
                Some(Some(event_id)) => {
                    s.by_pkid.insert(pkid, event_id);
                }
                Some(None) => {}
                None => tracing::warn!(pkid, "MQTT publish sent that this task did not queue"),
            },
            rumqttc::Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(event_id) = s.by_pkid.remove(&ack.pkid) {
                    s.inflight = s.inflight.saturating_sub(1);
                    s.acked.push(event_id);
                    count(&self.stats.acked);
                    self.metrics.mqtt_published.fetch_add(1, Ordering::Relaxed);
                }
            }
            rumqttc::Event::Incoming(Packet::Publish(p)) => self.on_message(s, &p).await,
            _ => {}
        }
    }

    /// Queues outbox rows after the last one sent until the window is full.
    async fn fill_window(&self, s: &mut Session) {
        if s.inflight >= self.max_inflight {
            return;
        }
        if s.ahead.is_empty() {
            let after = s.last_seq;
            match self
                .db(move |st| st.outbox_pending_raw(MQTT_CHANNEL, after, READ_AHEAD as u32))
                .await
            {
                Ok(rows) => {
                    s.read_short = rows.len() < READ_AHEAD;
                    if let Some((seq, _, _)) = rows.last() {
                        s.last_seq = *seq;
                    }
                    s.ahead.extend(rows);
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the MQTT outbox failed");
                    s.drained = true;
                    return;
                }
            }
        }
        let topic = format!("{}/event", self.root);
        while s.inflight < self.max_inflight {
            let Some((seq, event_id, json)) = s.ahead.pop_front() else {
                break;
            };
            if let Err(e) =
                s.client
                    .try_publish(topic.clone(), QoS::AtLeastOnce, false, json.clone())
            {
                // Request channel full: try again on the next round, from this row.
                tracing::debug!(error = %e, "MQTT event publish not queued");
                s.ahead.push_front((seq, event_id, json));
                break;
            }
            s.tags.push_back(Some(event_id));
            s.inflight += 1;
            count(&self.stats.sent);
        }
        s.drained = s.ahead.is_empty() && s.read_short;
    }

    /// Deletes the outbox rows of acknowledged events (one transaction).
    async fn flush_acks(&self, s: &mut Session) {
        if s.acked.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut s.acked);
        let n = ids.len();
        if let Err(e) = self
            .db(move |st| {
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                st.outbox_ack_many(MQTT_CHANNEL, &refs)
            })
            .await
        {
            // The rows stay and are sent again after the next reconnect (same event_id).
            tracing::error!(error = %e, events = n, "acknowledging MQTT outbox rows failed");
        }
    }

    /// Clean stop: retained `offline`, wait briefly for its PUBACK (and pending event acks),
    /// then DISCONNECT so the broker does not send the Last Will.
    async fn goodbye(&self, s: &mut Session, el: &mut EventLoop) {
        s.send(format!("{}/availability", self.root), true, "offline");
        let _ = s.client.try_disconnect();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        loop {
            match tokio::time::timeout_at(deadline, el.poll()).await {
                Ok(Ok(rumqttc::Event::Outgoing(Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => {
                    break
                }
                Ok(Ok(rumqttc::Event::Outgoing(Outgoing::Publish(pkid)))) => {
                    if let Some(Some(id)) = s.tags.pop_front() {
                        s.by_pkid.insert(pkid, id);
                    }
                }
                Ok(Ok(rumqttc::Event::Incoming(Packet::PubAck(ack)))) => {
                    if let Some(id) = s.by_pkid.remove(&ack.pkid) {
                        s.acked.push(id);
                        count(&self.stats.acked);
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
        tracing::info!(url = %self.url, "MQTT disconnected");
    }

    fn publish_relay_states(&self, s: &mut Session) {
        for (id, state) in self.relays.status() {
            s.send(
                format!("{}/relay/{id}/state", self.root),
                true,
                state.as_str(),
            );
        }
    }

    async fn publish_status(&self, s: &mut Session) {
        let outbox = self.db(|st| st.outbox_stats()).await;
        let (depth, age) = outbox.unwrap_or((0, 0.0));
        self.metrics.outbox_depth.store(depth, Ordering::Relaxed);
        self.metrics
            .outbox_oldest_age_s
            .store(age as u64, Ordering::Relaxed);
        let data_dir = self
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .data_dir()
            .to_path_buf();
        let free = crate::store::free_bytes(&data_dir);
        let body = status_json(
            &self.site_id,
            &self.metrics,
            &self.relays,
            depth,
            age,
            free,
            s.inflight,
        );
        s.send(format!("{}/status", self.root), true, body.to_string());
    }

    fn publish_discovery(&self, s: &mut Session) {
        let Some(ha) = &self.ha_prefix else { return };
        let node = format!("boomgate_{}", self.site_id);
        let avail = format!("{}/availability", self.root);
        let device = json!({
            "identifiers": [node],
            "name": if self.site_name.is_empty() { format!("boomgate {}", self.site_id) } else { self.site_name.clone() },
            "manufacturer": "boomgate",
            "sw_version": crate::VERSION,
        });
        let mut configs = vec![
            (
                format!("{ha}/sensor/{node}/last_plate/config"),
                json!({"name": "Last plate", "unique_id": format!("{node}_last_plate"), "state_topic": format!("{}/last_plate", self.root),
                       "availability_topic": avail, "icon": "mdi:car", "device": device}),
            ),
            (
                format!("{ha}/sensor/{node}/outbox_depth/config"),
                json!({"name": "Outbox depth", "unique_id": format!("{node}_outbox_depth"), "state_topic": format!("{}/status", self.root),
                       "value_template": "{{ value_json.outbox.depth }}", "unit_of_measurement": "events", "state_class": "measurement",
                       "availability_topic": avail, "device": device}),
            ),
        ];
        for (id, _) in self.relays.status() {
            configs.push((
                format!("{ha}/binary_sensor/{node}/{id}_state/config"),
                json!({"name": format!("Relay {id}"), "unique_id": format!("{node}_{id}_state"),
                       "state_topic": format!("{}/relay/{id}/state", self.root), "payload_on": "open", "payload_off": "closed",
                       "availability_topic": avail, "device": device}),
            ));
            if self.commands {
                configs.push((
                    format!("{ha}/button/{node}/{id}_open/config"),
                    json!({"name": format!("Open {id}"), "unique_id": format!("{node}_{id}_open"),
                           "command_topic": format!("{}/relay/{id}/set", self.root), "payload_press": "OPEN",
                           "availability_topic": avail, "device": device}),
                ));
            }
        }
        for (topic, body) in configs {
            s.send(topic, true, body.to_string());
        }
    }

    async fn on_message(&self, s: &mut Session, p: &rumqttc::Publish) {
        if let Some(ha) = &self.ha_prefix {
            if p.topic == format!("{ha}/status") {
                if p.payload.as_ref() == b"online" {
                    tracing::info!("Home Assistant is online; re-publishing discovery");
                    self.publish_discovery(s);
                }
                return;
            }
        }
        let Some(command) = p
            .topic
            .strip_prefix(&format!("{}/", self.root))
            .map(str::to_string)
        else {
            return;
        };
        if !self.commands {
            return;
        }
        let (correlation_id, parsed) = if let Some(relay) = command
            .strip_prefix("relay/")
            .and_then(|r| r.strip_suffix("/set"))
        {
            parse_relay_set(relay, &p.payload, &self.relays)
        } else if command == "allowlist/set" {
            parse_allowlist_set(&p.payload, &self.relays)
        } else {
            return;
        };
        let outcome = if p.retain {
            // A retained command would run again on every reconnect (a gate opening by itself).
            Err(
                "retained commands are ignored; publish commands without the retain flag"
                    .to_string(),
            )
        } else {
            match parsed {
                Ok(cmd) => self.execute(cmd).await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = &outcome {
            tracing::warn!(command, correlation_id, error = %e, "MQTT command refused");
        } else {
            tracing::info!(command, correlation_id, "MQTT command done");
        }
        let result = CommandResult {
            correlation_id,
            ok: outcome.is_ok(),
            error: outcome.err(),
            command,
        };
        match serde_json::to_string(&result) {
            Ok(body) => s.send(format!("{}/command/result", self.root), false, body),
            Err(e) => tracing::error!(error = %e, "command result not encodable"),
        }
    }

    async fn execute(&self, cmd: Command) -> Result<(), String> {
        match cmd {
            Command::Pulse { relay, duration_ms } => {
                let outcome = self.relays.pulse(RelayPulse {
                    relay: relay.clone(),
                    duration_ms,
                    reason: "manual_mqtt".into(),
                    plate: None,
                    event_id: None,
                });
                match outcome {
                    PulseOutcome::Pulsed => Ok(()),
                    other => Err(format!(
                        "relay '{relay}' refused the pulse: {}",
                        serde_json::to_string(&other)
                            .unwrap_or_default()
                            .trim_matches('"')
                    )),
                }
            }
            Command::Allowlist { upsert, delete } => {
                self.db(move |st| {
                    for e in &upsert {
                        st.access_upsert(e)?;
                    }
                    for p in delete {
                        st.access_delete(&AccessKey::Plate(p))?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }
}

async fn recv_or_pending(
    wake: &mut Option<broadcast::Receiver<Arc<Event>>>,
) -> Result<Arc<Event>, broadcast::error::RecvError> {
    match wake {
        Some(w) => w.recv().await,
        None => std::future::pending().await,
    }
}

/// A connection error as an operator reads it.
fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("broker refused the connection: {code:?} (check username and password file)")
        }
        ConnectionError::Tls(t) => format!("TLS: {t} (check ca_file and the broker certificate)"),
        // TLS 1.3 reports a refused client certificate only on the first read, as an I/O error.
        other if other.to_string().contains("CertificateRequired") => {
            format!("TLS: the broker requires a client certificate: set mqtt.client_cert_file and mqtt.client_key_file ({other})")
        }
        other
            if other.to_string().contains("alert: BadCertificate")
                || other.to_string().contains("alert: UnknownCA") =>
        {
            format!("TLS: the broker rejected the client certificate (check mqtt.client_cert_file and its CA) ({other})")
        }
        other => other.to_string(),
    }
}

/// The retained `status` payload.
pub(crate) fn status_json(
    site: &str,
    metrics: &Metrics,
    relays: &RelayController,
    outbox_depth: u64,
    outbox_age_s: f64,
    disk_free: Option<u64>,
    mqtt_inflight: usize,
) -> serde_json::Value {
    let cameras: serde_json::Map<String, serde_json::Value> = metrics
        .cameras()
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                json!({
                    "fps": c.fps(),
                    "frames_decoded": c.frames_decoded.load(Ordering::Relaxed),
                    "frames_analysed": c.frames_analysed.load(Ordering::Relaxed),
                    "frames_dropped": c.frames_dropped.load(Ordering::Relaxed),
                }),
            )
        })
        .collect();
    let relays: serde_json::Map<String, serde_json::Value> = relays
        .status()
        .into_iter()
        .map(|(id, st)| (id, json!(st.as_str())))
        .collect();
    json!({
        "site": site,
        "at": jiff::Timestamp::now().to_string(),
        "uptime_s": (jiff::Timestamp::now().as_millisecond() - metrics.started_unix_ms).max(0) / 1000,
        "cameras": cameras,
        "latency_ms": metrics.mean_latencies_ms(),
        "queues": {
            "store": metrics.store_queue_depth.load(Ordering::Relaxed),
            "mqtt_inflight": mqtt_inflight,
        },
        "outbox": { "depth": outbox_depth, "oldest_age_s": outbox_age_s },
        "disk": { "used_bytes": metrics.disk_used_bytes.load(Ordering::Relaxed), "free_bytes": disk_free },
        "events_stored": metrics.events_stored.load(Ordering::Relaxed),
        "relays": relays,
    })
}
