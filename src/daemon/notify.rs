//! systemd integration: READY once cameras, models and database are up; watchdog pings only while
//! no camera is stuck (streaming without frames reaching the analysis, or a supervisor that stopped
//! making progress), so a hung pipeline gets the service restarted. An unreachable camera is not
//! stuck: its supervisor keeps reconnecting, and a restart would stop every other lane too.

use crate::config::CameraSettings;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use sd_notify::NotifyState;
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
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some(),
            watchdog: sd_notify::watchdog_enabled(),
        }
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

/// Pings the watchdog at half its interval while no camera is stuck; stays silent while one is.
pub fn spawn_watchdog(
    notifier: Notifier,
    metrics: Arc<Metrics>,
    cameras: Vec<CameraSettings>,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let Some(interval) = notifier.watchdog else {
                return;
            };
            let mut warned = false;
            while !shutdown.sleep(interval / 2) {
                let stuck =
                    metrics.stuck_cameras(&cameras, jiff::Timestamp::now().as_millisecond());
                if stuck.is_empty() {
                    notifier.ping();
                    warned = false;
                } else if !warned {
                    tracing::error!(cameras = ?stuck, "camera stuck: withholding watchdog pings");
                    warned = true;
                }
            }
        })
        .expect("spawn watchdog")
}
