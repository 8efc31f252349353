//! Shutdown signalling shared by threads and async tasks.
//!
//! One `Shutdown` is created at start; every stage holds a clone. `trigger()` tells everyone to
//! stop; stages poll `is_triggered()` (threads) or await `wait()` (tasks).

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: Arc::new(tx),
            rx,
        }
    }

    /// Asks every holder to stop. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once `trigger()` has been called.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Sleeps up to `d` in a thread; returns `true` if shutdown was triggered meanwhile.
    pub fn sleep(&self, d: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + d;
        loop {
            if self.is_triggered() {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(50)));
        }
    }
}
