//! ON24's call quota: a budget of calls per client per fixed window. ON24 publishes no numbers
//! and sends no Retry-After, so the budget is configurable and exhaustion is only the 403 message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// ON24's exact message for an exhausted quota (HTTP 403).
pub const QUOTA_MESSAGE: &str = "You have reached the maximum number of calls for this api";

/// A budget: `calls` per `window_ms`. `calls = None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaConfig {
    #[serde(default)]
    /// Calls allowed per window; `None` for no limit.
    pub calls: Option<u64>,
    #[serde(default = "default_window_ms")]
    /// Window length in milliseconds.
    pub window_ms: u64,
}

fn default_window_ms() -> u64 {
    60_000
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            calls: None,
            window_ms: default_window_ms(),
        }
    }
}

/// A control-API request to change the budget of one client, or the default of all clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuotaUpdate {
    /// `None` changes the default for every client without its own budget.
    #[serde(default)]
    pub client_id: Option<i64>,
    #[serde(flatten)]
    /// The new budget.
    pub quota: QuotaConfig,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    used: u64,
}

/// Budgets and the calls counted in each client's current window.
#[derive(Debug)]
pub struct Quota {
    default: QuotaConfig,
    per_client: HashMap<i64, QuotaConfig>,
    windows: HashMap<i64, Window>,
}

impl Quota {
    /// Budgets starting from `default` for every client.
    pub fn new(default: QuotaConfig) -> Self {
        Self {
            default,
            per_client: HashMap::new(),
            windows: HashMap::new(),
        }
    }

    /// Changes a budget and starts a fresh window for the clients it affects, so a test that sets
    /// a budget of N gets exactly N calls.
    pub fn update(&mut self, u: QuotaUpdate) {
        match u.client_id {
            Some(id) => {
                self.per_client.insert(id, u.quota);
                self.windows.remove(&id);
            }
            None => {
                self.default = u.quota;
                self.windows.clear();
            }
        }
    }

    /// Counts one call; false if the client has no budget left in this window.
    pub fn take(&mut self, client_id: i64) -> bool {
        let cfg = self
            .per_client
            .get(&client_id)
            .copied()
            .unwrap_or(self.default);
        let Some(limit) = cfg.calls else { return true };
        let now = Instant::now();
        let window = Duration::from_millis(cfg.window_ms.max(1));
        let w = self.windows.entry(client_id).or_insert(Window {
            started: now,
            used: 0,
        });
        if now.duration_since(w.started) >= window {
            *w = Window {
                started: now,
                used: 0,
            };
        }
        if w.used >= limit {
            return false;
        }
        w.used += 1;
        true
    }
}
