//! Bearer-token checks for the HTTP API: constant-time comparison and a per-client lockout after
//! repeated failures, so a token cannot be guessed at network speed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Failed attempts allowed per client address within [`FAILURE_WINDOW`] before it is locked out
/// until the oldest failure leaves the window.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Bound on tracked client addresses; the oldest are forgotten first.
const MAX_TRACKED: usize = 4096;

/// The API token, kept as a SHA-256 digest so comparisons take the same time whatever the
/// length of the guess.
pub struct Token {
    digest: [u8; 32],
}

impl Token {
    /// Reads the token from `path` (surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<Token, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read http.token_file {}: {e}", path.display()))?;
        let token = text.trim();
        if token.len() < 16 {
            return Err(format!(
                "http.token_file {}: the token must have at least 16 characters",
                path.display()
            ));
        }
        Ok(Token::new(token))
    }

    pub fn new(token: &str) -> Token {
        Token {
            digest: sha256(token.as_bytes()),
        }
    }

    pub fn matches(&self, candidate: &str) -> bool {
        bool::from(self.digest.ct_eq(&sha256(candidate.as_bytes())))
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Recent failed attempts per client address.
#[derive(Default)]
pub struct FailureLimiter {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl FailureLimiter {
    /// `Some(wait)` while `ip` is locked out.
    pub fn locked(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let q = self.failures.get_mut(&ip)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            q.pop_front();
        }
        if q.is_empty() {
            self.failures.remove(&ip);
            return None;
        }
        (q.len() >= MAX_FAILURES).then(|| {
            FAILURE_WINDOW
                .saturating_sub(now.duration_since(q[0]))
                .max(Duration::from_secs(1))
        })
    }

    pub fn fail(&mut self, ip: IpAddr, now: Instant) {
        if self.failures.len() >= MAX_TRACKED && !self.failures.contains_key(&ip) {
            self.failures.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
            });
            if self.failures.len() >= MAX_TRACKED {
                if let Some(oldest) = self
                    .failures
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied())
                    .map(|(k, _)| *k)
                {
                    self.failures.remove(&oldest);
                }
            }
        }
        let q = self.failures.entry(ip).or_default();
        q.push_back(now);
        while q.len() > MAX_FAILURES {
            q.pop_front();
        }
    }

    pub fn succeed(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_only_itself() {
        let t = Token::new("correct-horse-battery");
        assert!(t.matches("correct-horse-battery"));
        assert!(!t.matches("correct-horse-batterY"));
        assert!(!t.matches(""));
    }

    #[test]
    fn lockout_after_five_failures_then_released_by_time() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let other: IpAddr = "10.0.0.10".parse().unwrap();
        let mut l = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..4 {
            l.fail(ip, t0 + Duration::from_secs(i));
        }
        assert!(l.locked(ip, t0 + Duration::from_secs(5)).is_none());
        l.fail(ip, t0 + Duration::from_secs(5));
        let wait = l.locked(ip, t0 + Duration::from_secs(6)).expect("locked");
        assert_eq!(wait, Duration::from_secs(54));
        assert!(
            l.locked(other, t0 + Duration::from_secs(6)).is_none(),
            "other clients are not affected"
        );
        assert!(
            l.locked(ip, t0 + Duration::from_secs(61)).is_none(),
            "the first failure left the window"
        );
    }
}
