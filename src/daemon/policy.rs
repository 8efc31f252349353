//! The allow/deny list as the gate sees it: an in-memory snapshot, swapped when the database copy
//! changes, so a decision never waits for SQLite.

use crate::access::{site_time_zone, AccessPolicy, Decision};
use crate::cli::Failure;
use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct PolicyCell {
    current: RwLock<(u64, Arc<AccessPolicy>, usize)>,
}

impl PolicyCell {
    pub fn load(store: &Store, config: &Config) -> Result<PolicyCell, Failure> {
        let version = store.access_version()?;
        let entries = store.access_list()?;
        let n = entries.len();
        let policy = AccessPolicy::new(entries, &config.access, site_time_zone(&config.site));
        Ok(PolicyCell {
            current: RwLock::new((version, Arc::new(policy), n)),
        })
    }

    pub fn snapshot(&self) -> Arc<AccessPolicy> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    pub fn entry_count(&self) -> usize {
        self.current.read().unwrap_or_else(|e| e.into_inner()).2
    }

    pub fn decide(
        &self,
        plate: &str,
        format: Option<&str>,
        relay: Option<&str>,
        at: jiff::Timestamp,
    ) -> Decision {
        self.snapshot().decide(plate, format, relay, at)
    }

    fn version(&self) -> u64 {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0
    }

    fn replace(&self, version: u64, policy: AccessPolicy, n: usize) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (version, Arc::new(policy), n);
    }
}

/// Polls the database's access-list version every 2 s on its own connection and swaps the
/// snapshot when it changed (edits come from HTTP, MQTT or another process).
pub fn spawn_refresher(
    cell: Arc<PolicyCell>,
    data_dir: PathBuf,
    config: Config,
    shutdown: Shutdown,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("policy-refresh".into())
        .spawn(move || {
            let store = match Store::open(&data_dir) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "allow-list refresher cannot open the database; edits need a restart");
                    return;
                }
            };
            while !shutdown.sleep(Duration::from_secs(2)) {
                let version = match store.access_version() {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the allow-list version");
                        continue;
                    }
                };
                if version == cell.version() {
                    continue;
                }
                match store.access_list() {
                    Ok(entries) => {
                        let n = entries.len();
                        cell.replace(version, AccessPolicy::new(entries, &config.access, site_time_zone(&config.site)), n);
                        tracing::info!(entries = n, "allow/deny list reloaded");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the allow list"),
                }
            }
        })
        .expect("spawn policy refresher")
}
