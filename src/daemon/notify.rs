//! systemd integration: READY once cameras, models and database are up; watchdog pings only while
//! every camera delivers frames, so a stalled pipeline gets the service restarted.

use crate::config::CameraSettings;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use sd_notify::NotifyState;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Talks to systemd when started by it (`NOTIFY_SOCKET` set); does nothing otherwise.
#[derive(Clone)]
pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        Notifier { enabled: std::env::var_os("NOTIFY_SOCKET").is_some(), watchdog: sd_notify::watchdog_enabled() }
    }

    fn send(&self, state: &[NotifyState]) {
        if self.enabled {
            if let Err(e) = sd_notify::notify(state) {
                tracing::warn!(error = %e, "cannot notify systemd");
            }
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    fn ping(&self) {
        self.send(&[NotifyState::Watchdog]);
    }
}

/// True when every camera delivered a frame within its `frame_timeout_s`. File cameras that
/// ended count as healthy (nothing more to deliver).
pub fn frames_flowing(metrics: &Metrics, cameras: &[CameraSettings], now_ms: i64) -> bool {
    cameras.iter().all(|c| {
        let stats = metrics.camera(&c.id);
        if stats.state().label() == "ended" {
            return true;
        }
        let last = stats.last_frame_unix_ms.load(Ordering::Relaxed);
        last > 0 && now_ms - last <= c.frame_timeout_s as i64 * 1000
    })
}

/// Pings the watchdog at half its interval while frames flow; stays silent when they stop.
pub fn spawn_watchdog(notifier: Notifier, metrics: Arc<Metrics>, cameras: Vec<CameraSettings>, shutdown: Shutdown) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let Some(interval) = notifier.watchdog else { return };
            let mut warned = false;
            while !shutdown.sleep(interval / 2) {
                if frames_flowing(&metrics, &cameras, jiff::Timestamp::now().as_millisecond()) {
                    notifier.ping();
                    warned = false;
                } else if !warned {
                    tracing::error!("frames stopped flowing: withholding watchdog pings");
                    warned = true;
                }
            }
        })
        .expect("spawn watchdog")
}
