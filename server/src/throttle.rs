//! Login throttling: growing delays after repeated failures, per account and per client
//! address, so that password guessing slows down without locking a user out for good.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first delay.
const FREE_FAILURES: u32 = 5;
/// Maximum delay between two attempts on one key.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Maximum number of keys kept. Past it, entries whose last failure is older than
/// `MAX_DELAY` are dropped, so that a flood of random usernames cannot grow memory without
/// bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failed logins by key (`user:<name>` or `address:<ip>`).
///
/// NOTE: the counts live in this process's memory, so each Rekey instance sharing a
/// PostgreSQL database throttles on its own, and a restart clears them.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

/// Delay after `count` failures: none for the first few, then doubling from one second.
fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exponent = (count - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

impl LoginThrottle {
    /// Time left before `keys` may try again; zero when every key may try now.
    pub fn wait_time(&self, keys: &[String]) -> Duration {
        let failures = self.failures.lock().expect("throttle lock");
        let now = Instant::now();
        keys.iter()
            .filter_map(|key| failures.get(key))
            .map(|f| (f.last + delay_after(f.count)).saturating_duration_since(now))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn record_failure(&self, keys: &[String]) {
        let mut failures = self.failures.lock().expect("throttle lock");
        let now = Instant::now();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, f| now.duration_since(f.last) < MAX_DELAY);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures { count: 0, last: now });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    pub fn record_success(&self, keys: &[String]) {
        let mut failures = self.failures.lock().expect("throttle lock");
        for key in keys {
            failures.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_after_free_failures() {
        assert_eq!(delay_after(4), Duration::ZERO);
        assert_eq!(delay_after(5), Duration::from_secs(1));
        assert_eq!(delay_after(7), Duration::from_secs(4));
        assert_eq!(delay_after(40), MAX_DELAY);
    }

    #[test]
    fn failures_then_success_clears() {
        let throttle = LoginThrottle::default();
        let keys = vec!["user:alice".to_string()];
        for _ in 0..6 {
            throttle.record_failure(&keys);
        }
        assert!(throttle.wait_time(&keys) > Duration::ZERO);
        throttle.record_success(&keys);
        assert_eq!(throttle.wait_time(&keys), Duration::ZERO);
    }
}
