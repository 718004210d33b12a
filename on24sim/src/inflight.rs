//! Calls in flight per ON24 client id: how many are being served now and the most at once
//! since the last reset. Tests read it to check that a client (for example several replicas
//! of the integration service together) never runs more calls at once than it promises.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::faults::lock;

/// One client's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightCount {
    /// Calls being served now (from arrival, before any injected latency, to the answer).
    pub current: u64,
    /// The most served at once since start or the last reset.
    pub max: u64,
}

/// Counters keyed by the client id of the path (as sent, before authentication).
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    counts: Arc<Mutex<BTreeMap<String, InFlightCount>>>,
}

impl InFlight {
    /// Counts a call until the returned guard is dropped (answer sent, or connection dropped).
    pub fn enter(&self, client: &str) -> InFlightGuard {
        {
            let mut g = lock(&self.counts);
            let c = g.entry(client.to_owned()).or_default();
            c.current += 1;
            c.max = c.max.max(c.current);
        }
        InFlightGuard {
            counts: self.counts.clone(),
            client: client.to_owned(),
        }
    }

    /// Every client's figures.
    pub fn snapshot(&self) -> BTreeMap<String, InFlightCount> {
        lock(&self.counts).clone()
    }

    /// Sets every maximum back to the current count.
    pub fn reset(&self) {
        for c in lock(&self.counts).values_mut() {
            c.max = c.current;
        }
    }
}

/// Decrements its client's count when dropped.
#[derive(Debug)]
pub struct InFlightGuard {
    counts: Arc<Mutex<BTreeMap<String, InFlightCount>>>,
    client: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(c) = lock(&self.counts).get_mut(&self.client) {
            c.current = c.current.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_concurrent_calls_and_resets_the_maximum() {
        let f = InFlight::default();
        let a = f.enter("1");
        let b = f.enter("1");
        let _c = f.enter("2");
        assert_eq!(f.snapshot()["1"], InFlightCount { current: 2, max: 2 });
        drop(a);
        drop(b);
        assert_eq!(f.snapshot()["1"], InFlightCount { current: 0, max: 2 });
        f.reset();
        assert_eq!(f.snapshot()["1"].max, 0);
        assert_eq!(f.snapshot()["2"], InFlightCount { current: 1, max: 1 });
    }
}
