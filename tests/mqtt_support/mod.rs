//! Helpers of the MQTT and webhook tests: a mosquitto broker per test on a free port, a
//! recording subscriber, sample events, a simulated relay controller, a tiny HTTP receiver.
#![allow(dead_code)]

use boomgate::access::{Action, Decision};
use boomgate::config::{Config, RelaySettings};
use boomgate::geometry::BBox;
use boomgate::relay::{relay_log_channel, RelayController, SimulatedLines};
use boomgate::store::{Event, StageLatencies, Store};
use rumqttc::{AsyncClient, MqttOptions, Packet, QoS};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A mosquitto process listening on 127.0.0.1:`port`, killed on drop.
pub struct Broker {
    pub port: u16,
    pub dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts mosquitto with `listener <port>`, persistence in `dir` and the `extra` lines
    /// (auth, TLS). Waits until the port accepts connections.
    pub fn start(dir: &Path, extra: &str) -> Broker {
        let port = free_port();
        std::fs::create_dir_all(dir).unwrap();
        let conf = dir.join("mosquitto.conf");
        // As root, mosquitto drops to user `mosquitto`, which cannot read the test's temp dir.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root\n"
        } else {
            ""
        };
        let text = format!(
            "{user}listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\nlog_dest stderr\nlog_type error\nlog_type warning\n{extra}\n",
            dir.display()
        );
        std::fs::write(&conf, text).unwrap();
        let mut b = Broker {
            port,
            dir: dir.to_path_buf(),
            conf,
            child: None,
        };
        b.resume();
        b
    }

    /// (Re)starts the process on the same port.
    pub fn resume(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process with SIGTERM (it saves its sessions) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Msg {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).to_string()
    }
}

/// A recording subscriber; it reconnects and subscribes again after a broker restart.
pub struct Sub {
    pub client: AsyncClient,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    /// Subscriptions acknowledged so far (grows after each reconnect).
    pub subacks: tokio::sync::watch::Receiver<usize>,
}

impl Sub {
    /// Waits until `n` subscriptions in all were acknowledged.
    pub async fn wait_subacks(&mut self, n: usize) {
        tokio::time::timeout(Duration::from_secs(20), self.subacks.wait_for(|v| *v >= n))
            .await
            .expect("suback in time")
            .expect("subscriber alive");
    }
}

/// Subscribes to `topics` (QoS 1); returns once the subscriptions are acknowledged.
pub async fn subscribe(port: u16, client_id: &str, topics: &[&str]) -> Sub {
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(opts, 1000);
    let (tx, rx) = mpsc::unbounded_channel();
    let (ack_tx, subacks) = tokio::sync::watch::channel(0usize);
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    let n = topics.len();
    let resub = client.clone();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(Packet::ConnAck(_))) => {
                    for t in &topics {
                        let _ = resub.try_subscribe(t.clone(), QoS::AtLeastOnce);
                    }
                }
                Ok(rumqttc::Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(Msg {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                    });
                }
                Ok(rumqttc::Event::Incoming(Packet::SubAck(_))) => {
                    ack_tx.send_modify(|v| *v += 1);
                }
                Ok(_) => {}
                Err(_) => {
                    if tx.is_closed() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    let mut sub = Sub {
        client,
        rx,
        subacks,
    };
    sub.wait_subacks(n).await;
    sub
}

/// A TCP proxy in front of the broker: `cut()` refuses new connections and drops open ones
/// (the broker is unreachable for whoever connects through it), `restore()` undoes that.
pub struct Proxy {
    pub port: u16,
    target: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        let mut p = Proxy {
            port: free_port(),
            target,
            task: None,
        };
        p.restore().await;
        p
    }

    pub async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("proxy port free again");
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut down, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
            }
        }));
    }

    pub async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Receives messages until `done` says so (panics after `secs`).
pub async fn collect_until(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    secs: u64,
    mut done: impl FnMut(&[Msg]) -> bool,
) -> Vec<Msg> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done(&got) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => got.push(m),
            Ok(None) => panic!("subscriber ended; got {} messages", got.len()),
            Err(_) => panic!(
                "timed out after {secs} s; got {} messages: {:?}",
                got.len(),
                got.iter().map(|m| (&m.topic, m.text())).collect::<Vec<_>>()
            ),
        }
    }
    got
}

/// Waits until `cond` holds (panics after `secs`).
pub async fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn sample_event(i: usize, action: Action) -> Event {
    Event {
        event_id: format!("ev-{i:06}"),
        site: "test".into(),
        camera: "cam1".into(),
        captured_at: jiff::Timestamp::from_second(1_780_000_000 + i as i64).unwrap(),
        plate: format!("AB{i:04}"),
        confidence: 0.9,
        char_confidences: vec![0.9; 6],
        candidates: Vec::new(),
        bbox: BBox::new(10.0, 20.0, 110.0, 50.0),
        format: Some("eu".into()),
        decision: Decision {
            action,
            reason: "not_listed".into(),
            matched_entry: None,
            distance: None,
        },
        relay: None,
        crop_url: None,
        frame_url: None,
        latency: StageLatencies {
            detect_ms: 3.0,
            ocr_ms: 2.0,
            frame_to_decision_ms: 9.0,
            frame_to_relay_ms: None,
        },
        reads: 3,
    }
}

/// Stores events `range` with outbox rows for `channels`.
pub fn insert_events(
    data: &Path,
    range: std::ops::Range<usize>,
    channels: &[&str],
    action: impl Fn(usize) -> Action,
) -> Vec<Event> {
    let mut store = Store::open(data).unwrap();
    range
        .map(|i| {
            store
                .insert_event(&sample_event(i, action(i)), channels, None, None)
                .unwrap()
        })
        .collect()
}

pub fn outbox_depth(data: &Path) -> u64 {
    Store::open(data).unwrap().outbox_stats().unwrap().0
}

pub fn relay_settings() -> Vec<RelaySettings> {
    vec![RelaySettings {
        id: "gate".into(),
        pulse_ms: 200,
        max_pulse_ms: 1000,
        cooldown_ms: 0,
        ..RelaySettings::default()
    }]
}

pub fn relays(lines: &SimulatedLines) -> Arc<RelayController> {
    let (sink, _rx) = relay_log_channel(64);
    Arc::new(RelayController::new(&relay_settings(), lines, sink).unwrap())
}

/// A config with MQTT on `port` (anonymous), site `test`.
pub fn mqtt_config(port: u16) -> Config {
    let mut c = Config::default();
    c.site.id = "test".into();
    c.relays = relay_settings();
    c.mqtt.enabled = true;
    c.mqtt.url = format!("mqtt://127.0.0.1:{port}");
    c.mqtt.client_id = "boomgate-test".into();
    c.mqtt.max_inflight = 8;
    c.mqtt.status_interval_s = 1;
    c
}

/// Event ids in order of first appearance, and how many messages there were in all.
pub fn first_seen_ids(msgs: &[Msg]) -> (Vec<String>, usize) {
    let mut seen = std::collections::BTreeSet::new();
    let mut order = Vec::new();
    for m in msgs {
        let ev: Event =
            serde_json::from_slice(&m.payload).expect("event payload parses as store::Event");
        if seen.insert(ev.event_id.clone()) {
            order.push(ev.event_id);
        }
    }
    (order, msgs.len())
}
