//! The gate daemon: wires the stages together and owns start-up order and shutdown.
//!
//! Start-up order matters for safety: relays are driven inactive before anything else, then the
//! database, models and cameras come up, and only then is systemd told READY. Shutdown (SIGTERM,
//! SIGINT, or every file camera at its end) stops the cameras, lets the analysis threads finish
//! their current frame, releases every relay and drains the store queue.

mod gate;
mod logging;
mod notify;
mod policy;

pub use gate::{GateContext, GateLane};
pub use notify::Notifier;
pub use policy::PolicyCell;

use crate::cli::{ExitKind, Failure};
use crate::config::Config;
use crate::inference::{Recognizer, Runtime};
use crate::metrics::Metrics;
use crate::relay::{relay_log_channel, LineFactory, RelayController, SystemLines};
use crate::shutdown::Shutdown;
use crate::store::{Store, StoreWriter, WriterOptions};
use crate::tracker::PlateFormats;
use crate::video::Camera;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `boomgate run`: runs until a signal (exit 0) or a start-up failure (documented exit code).
pub fn run_from_cli(config: Config, config_label: &str) -> Result<ExitCode, Failure> {
    logging::init(&config.logging);
    tracing::info!(
        version = crate::VERSION,
        config = config_label,
        "boomgate starting"
    );
    let shutdown = Shutdown::new();
    let metrics = Arc::new(Metrics::new());
    run(config, &SystemLines, shutdown, metrics)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the daemon with the given hardware until `shutdown` triggers, a signal arrives, or every
/// camera has ended.
pub fn run(
    config: Config,
    lines: &dyn LineFactory,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(), Failure> {
    // 1. Relays first: every line inactive before anything can fail or take time.
    let (relay_log, relay_log_rx) = relay_log_channel(256);
    let relays = Arc::new(RelayController::new(&config.relays, lines, relay_log)?);
    tracing::info!(relays = config.relays.len(), "relays driven inactive");

    let result = run_with_relays(&config, relays.clone(), relay_log_rx, shutdown, metrics);
    relays.release_all();
    tracing::info!("relays released; boomgate stopped");
    result
}

fn run_with_relays(
    config: &Config,
    relays: Arc<RelayController>,
    relay_log_rx: crossbeam_channel::Receiver<crate::relay::RelayLogEntry>,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(), Failure> {
    // Async services (signals; HTTP and MQTT) share one small runtime; the gate path is threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("boomgate-io")
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                ExitKind::Runtime,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    // Signals are caught from here on: a SIGTERM during start-up is a clean stop once ready, not
    // the default action (death by signal) that an early `systemctl stop` would otherwise cause.
    let signals = {
        let _entered = rt.enter();
        StopSignals::install().map_err(|e| {
            Failure::new(
                ExitKind::Runtime,
                format!("cannot install signal handlers: {e}"),
            )
        })?
    };

    // 2. Storage and the allow list.
    let data_dir = &config.storage.data_dir;
    let mut store = Store::open(data_dir)?;
    if let Some(csv) = &config.access.import_csv {
        let entries = crate::access::read_csv_file(csv)
            .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
        let n = entries.len();
        for entry in &entries {
            store.access_upsert(entry)?;
        }
        tracing::info!(file = %csv.display(), entries = n, "allow/deny list imported");
    }
    let policy = Arc::new(PolicyCell::load(&store, config)?);
    tracing::info!(data_dir = %data_dir.display(), entries = policy.entry_count(), "database open");

    // 3. Models, one recognizer per camera (each analysis thread owns its interpreter).
    let runtime = Runtime::load(&config.runtime)?;
    let formats = PlateFormats::from_settings(&config.formats)
        .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
    let mut recognizers = Vec::new();
    for _ in &config.cameras {
        recognizers.push(Recognizer::load(&runtime, config)?);
    }
    let model_names = recognizers
        .first()
        .map(|r| r.model_versions())
        .unwrap_or_default();
    tracing::info!(litert = %runtime.library_path().display(), detector = %model_names.0, ocr = %model_names.1, "models loaded");

    // 4. The store writer: the gate path hands events over without waiting for disk.
    let channels = crate::publish::outbox_channels(config);
    let writer = StoreWriter::spawn(
        store,
        WriterOptions::from_settings(&config.storage, channels),
        shutdown.clone(),
        relay_log_rx,
    );

    // Back-office delivery drains the outbox on its own connection; a broker that is down is
    // retried, unreadable secrets or a bad URL stop the start.
    let publisher = crate::publish::Publisher::spawn(
        config,
        data_dir,
        relays.clone(),
        metrics.clone(),
        writer.subscribe(),
        shutdown.clone(),
        rt.handle(),
    )
    .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;

    // The status page and API; a busy port or unreadable token file stops the start.
    let (decisions, _) = tokio::sync::broadcast::channel(64);
    let http = if config.http.enabled {
        let versions = crate::http::Versions {
            daemon: crate::VERSION.to_string(),
            detector: model_names.0.clone(),
            ocr: model_names.1.clone(),
            litert: runtime.version(),
        };
        let server = crate::http::HttpServer::spawn(
            config,
            metrics.clone(),
            relays.clone(),
            crate::http::EventFeeds {
                decided: decisions.subscribe(),
                stored: writer.subscribe(),
            },
            versions,
            shutdown.clone(),
            rt.handle(),
        )
        .map_err(|e| Failure::new(ExitKind::Usage, e.to_string()))?;
        Some(server)
    } else {
        None
    };

    // 5. Cameras and their analysis lanes.
    let ctx = Arc::new(GateContext {
        config: config.clone(),
        relays: relays.clone(),
        policy: policy.clone(),
        cooldown: std::sync::Mutex::new(crate::access::PlateCooldown::new(Duration::from_secs(
            config.access.plate_cooldown_s as u64,
        ))),
        events: writer.sender(),
        metrics: metrics.clone(),
        decisions,
    });
    let mut lanes = Vec::new();
    for (camera, recognizer) in config.cameras.iter().zip(recognizers) {
        let stats = metrics.camera(&camera.id);
        let source = Camera::start(camera, stats, shutdown.clone())?;
        lanes.push(GateLane::spawn(
            ctx.clone(),
            camera.clone(),
            Box::new(source),
            recognizer,
            formats.clone(),
            shutdown.clone(),
        ));
    }
    let refresher = policy::spawn_refresher(
        policy.clone(),
        data_dir.clone(),
        config.clone(),
        shutdown.clone(),
    );

    // 6. Ready: systemd gets READY=1 and watchdog pings while frames flow.
    let notifier = Notifier::from_env();
    notifier.ready(&format!(
        "{} camera(s), {} relay(s)",
        config.cameras.len(),
        config.relays.len()
    ));
    let watchdog = notify::spawn_watchdog(
        notifier.clone(),
        metrics.clone(),
        config.cameras.clone(),
        shutdown.clone(),
    );
    let state_log = spawn_state_logger(metrics.clone(), shutdown.clone());
    let sampler = spawn_store_sampler(
        metrics.clone(),
        writer.sender(),
        data_dir.clone(),
        shutdown.clone(),
    );
    tracing::info!(cameras = config.cameras.len(), "boomgate ready");

    wait_for_stop(&rt, signals, &shutdown, &lanes);
    shutdown.trigger();
    notifier.stopping();
    for lane in lanes {
        lane.join();
    }
    relays.release_all();
    let _ = refresher.join();
    let _ = watchdog.join();
    let _ = state_log.join();
    let _ = sampler.join();
    writer.shutdown();
    // MQTT says `offline` and disconnects cleanly; bounded so a dead broker cannot hold the stop.
    let _ = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), publisher.stopped()).await
    });
    if let Some(http) = http {
        let _ = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(3), http.stopped()).await });
    }
    Ok(())
}

/// SIGTERM and SIGINT streams, installed early so no signal is lost to the default action.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Needs a tokio runtime context.
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Blocks until SIGTERM/SIGINT, an external trigger, or every lane has ended.
fn wait_for_stop(
    rt: &tokio::runtime::Runtime,
    signals: StopSignals,
    shutdown: &Shutdown,
    lanes: &[GateLane],
) {
    let lanes_done = || !lanes.is_empty() && lanes.iter().all(|l| l.is_finished());
    let StopSignals { mut term, mut int } = signals;
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
                _ = shutdown.wait() => break,
                _ = tick.tick() => {
                    if lanes_done() {
                        tracing::info!("every camera has ended: stopping");
                        break;
                    }
                }
            }
        }
    });
}

/// Copies the store writer's counters into the metrics every second, and every 30 s the disk
/// use, free space and outbox depth (read on a connection of its own, off the gate path).
fn spawn_store_sampler(
    metrics: Arc<Metrics>,
    sender: crate::store::StoreSender,
    data_dir: std::path::PathBuf,
    shutdown: Shutdown,
) -> std::thread::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new()
        .name("store-sampler".into())
        .spawn(move || {
            let store = Store::open(&data_dir)
                .map_err(|e| tracing::warn!(error = %e, "disk and outbox figures unavailable"))
                .ok();
            let mut tick: u64 = 0;
            loop {
                let stats = sender.stats();
                metrics.events_stored.store(stats.stored, Ordering::Relaxed);
                metrics.store_errors.store(stats.errors, Ordering::Relaxed);
                metrics
                    .store_queue_depth
                    .store(stats.queue_depth as i64, Ordering::Relaxed);
                if tick % 30 == 0 {
                    if let Some(store) = &store {
                        if let Ok(used) = store.disk_usage_bytes() {
                            metrics.disk_used_bytes.store(used, Ordering::Relaxed);
                        }
                        if let Ok((depth, age)) = store.outbox_stats() {
                            metrics.outbox_depth.store(depth, Ordering::Relaxed);
                            metrics
                                .outbox_oldest_age_s
                                .store(age as u64, Ordering::Relaxed);
                        }
                    }
                    if let Some(free) = crate::store::free_bytes(&data_dir) {
                        metrics.disk_free_bytes.store(free, Ordering::Relaxed);
                    }
                }
                tick += 1;
                if shutdown.sleep(Duration::from_secs(1)) {
                    break;
                }
            }
        })
        .expect("spawn store sampler")
}

/// Logs every camera state change (streaming, reconnecting with its backoff, failed, ended) so an
/// outage is visible in the journal as well as on the status page.
fn spawn_state_logger(metrics: Arc<Metrics>, shutdown: Shutdown) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("camera-states".into())
        .spawn(move || {
            let mut last: std::collections::BTreeMap<String, crate::video::CameraState> = Default::default();
            while !shutdown.sleep(Duration::from_millis(200)) {
                for cam in metrics.cameras() {
                    let state = cam.state();
                    if last.get(&cam.id) != Some(&state) {
                        match &state {
                            crate::video::CameraState::Reconnecting { attempt, retry_in_ms, error } => tracing::warn!(
                                camera = %cam.id, state = state.label(), attempt, retry_in_ms, error = %error, "camera state"
                            ),
                            crate::video::CameraState::Failed { error } => {
                                tracing::error!(camera = %cam.id, state = state.label(), error = %error, "camera state")
                            }
                            crate::video::CameraState::Streaming { decoder } => {
                                tracing::info!(camera = %cam.id, state = state.label(), decoder = %decoder, "camera state")
                            }
                            _ => tracing::info!(camera = %cam.id, state = state.label(), "camera state"),
                        }
                        last.insert(cam.id.clone(), state);
                    }
                }
            }
        })
        .expect("spawn camera state logger")
}
