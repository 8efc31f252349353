//! Connection failures: wrong password and a CA that does not match the broker's certificate
//! give a clear error, are retried with backoff (no busy loop), and the right settings connect.

mod mqtt_support;

use boomgate::metrics::Metrics;
use boomgate::publish::Publisher;
use boomgate::relay::SimulatedLines;
use boomgate::shutdown::Shutdown;
use boomgate::store::Event;
use mqtt_support::*;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn start(config: &boomgate::config::Config, data: &Path) -> (Publisher, Shutdown, Arc<Metrics>) {
    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    let (wake, _) = tokio::sync::broadcast::channel::<Arc<Event>>(8);
    let p = Publisher::spawn(
        config,
        data,
        relays(&SimulatedLines::new()),
        metrics.clone(),
        wake.subscribe(),
        shutdown.clone(),
        &tokio::runtime::Handle::current(),
    )
    .expect("set-up succeeds even if the broker refuses us");
    (p, shutdown, metrics)
}

/// Fails with `needle` in the error, retries a few times with backoff, never connects.
async fn refused(config: &boomgate::config::Config, data: &Path, needle: &str) {
    let (p, shutdown, metrics) = start(config, data);
    wait_for("two failed attempts", 20, || {
        metrics.mqtt_connect_failures.load(Ordering::Relaxed) >= 2
    })
    .await;
    let err = p.stats()[0].last_error().unwrap_or_default();
    assert!(
        err.contains(needle),
        "error '{err}' names the cause ({needle})"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = metrics.mqtt_connect_failures.load(Ordering::Relaxed);
    println!("{needle}: {attempts} attempts in about 3 s");
    assert!(
        attempts < 10,
        "backoff, not a busy loop: {attempts} attempts"
    );
    assert!(!metrics.mqtt_connected.load(Ordering::Relaxed));
    shutdown.trigger();
    p.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused_with_backoff_and_the_right_one_connects() {
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("passwd");
    let ok = Command::new("mosquitto_passwd")
        .arg("-c")
        .arg("-b")
        .arg(&pw)
        .args(["gate", "right-pw"])
        .status()
        .unwrap();
    assert!(ok.success());
    let broker = Broker::start(
        &tmp.path().join("broker"),
        &format!("allow_anonymous false\npassword_file {}", pw.display()),
    );
    let data = tmp.path().join("data");
    let mut config = mqtt_config(broker.port);
    config.mqtt.username = Some("gate".into());
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "nope\n").unwrap();
    config.mqtt.password_file = Some(wrong);
    refused(&config, &data, "refused").await;

    let right = tmp.path().join("right");
    std::fs::write(&right, "right-pw\n").unwrap();
    config.mqtt.password_file = Some(right);
    let (p, shutdown, metrics) = start(&config, &data);
    wait_for("connected", 10, || {
        metrics.mqtt_connected.load(Ordering::Relaxed)
    })
    .await;
    shutdown.trigger();
    p.stopped().await;
}

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl {args:?}");
}

/// A CA `name`-ca.pem/-ca.key made by the test.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.pem"),
        ],
    );
}

/// `name`.pem/.key signed by the CA `ca` (from `make_ca`), with the v3 extension line `ext`.
fn issue_cert(dir: &Path, ca: &str, name: &str, subject: &str, ext: &str) {
    let (key, csr, pem, ext_file) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key, "-out", &csr,
        ],
    );
    std::fs::write(dir.join(&ext_file), format!("{ext}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext_file,
            "-out",
            &pem,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_foreign_ca_fails_clearly_and_the_right_ca_delivers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    make_ca(d, "good");
    make_ca(d, "other");
    issue_cert(
        d,
        "good",
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    );
    let tls_port = free_port();
    let broker = Broker::start(&d.join("broker"), &format!(
        "allow_anonymous true\nlistener {tls_port} 127.0.0.1\ncafile {0}/good-ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key",
        d.display()
    ));
    let data = d.join("data");
    let mut config = mqtt_config(broker.port);
    config.mqtt.url = format!("mqtts://127.0.0.1:{tls_port}");
    config.mqtt.ca_file = Some(d.join("other-ca.pem"));
    refused(&config, &data, "TLS").await;

    // The subscriber uses the plain listener of the same broker.
    let mut sub = subscribe(broker.port, "sub-tls", &["boomgate/test/event"]).await;
    let expected = insert_events(&data, 0..3, &["mqtt"], |_| boomgate::access::Action::Deny);
    config.mqtt.ca_file = Some(d.join("good-ca.pem"));
    let (p, shutdown, _) = start(&config, &data);
    let got = collect_until(&mut sub.rx, 20, |m| first_seen_ids(m).0.len() >= 3).await;
    assert_eq!(
        first_seen_ids(&got).0,
        expected
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<Vec<_>>()
    );
    shutdown.trigger();
    p.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_requiring_a_client_certificate_refuses_without_one_and_accepts_ours() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    make_ca(d, "good");
    issue_cert(
        d,
        "good",
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    );
    // The gate's own certificate, issued by the CA the broker trusts for clients.
    issue_cert(
        d,
        "good",
        "client",
        "/CN=north-gate",
        "extendedKeyUsage=clientAuth",
    );
    let tls_port = free_port();
    let broker = Broker::start(&d.join("broker"), &format!(
        "allow_anonymous true\nlistener {tls_port} 127.0.0.1\ncafile {0}/good-ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\nrequire_certificate true",
        d.display()
    ));
    let data = d.join("data");
    let mut config = mqtt_config(broker.port);
    config.mqtt.url = format!("mqtts://127.0.0.1:{tls_port}");
    config.mqtt.ca_file = Some(d.join("good-ca.pem"));
    refused(
        &config,
        &data,
        "requires a client certificate: set mqtt.client_cert_file",
    )
    .await;

    let mut sub = subscribe(broker.port, "sub-mtls", &["boomgate/test/event"]).await;
    let expected = insert_events(&data, 0..3, &["mqtt"], |_| boomgate::access::Action::Deny);
    config.mqtt.client_cert_file = Some(d.join("client.pem"));
    config.mqtt.client_key_file = Some(d.join("client.key"));
    let (p, shutdown, _) = start(&config, &data);
    let got = collect_until(&mut sub.rx, 20, |m| first_seen_ids(m).0.len() >= 3).await;
    assert_eq!(
        first_seen_ids(&got).0,
        expected
            .iter()
            .map(|e| e.event_id.clone())
            .collect::<Vec<_>>()
    );
    shutdown.trigger();
    p.stopped().await;
}
