//! Fault injection for the ON24 routes: fixed latency plus jitter, a 5xx rate, a hang rate and a
//! connection-reset rate. Draws come from one seeded RNG, so a given seed and request order
//! always give the same faults.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Fault settings. Rates are probabilities in `0.0..=1.0`, drawn independently per request in
/// the order reset, hang, error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Added to every ON24 call.
    pub latency_ms: u64,
    /// A uniform random extra delay in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of calls answered with `error_status` and a JSON message.
    pub error_rate: f64,
    /// Status of injected errors (500 by default; 502/503/504 are also useful).
    pub error_status: u16,
    /// Share of calls that never answer (until the simulator shuts down or `hang_ms` passes).
    pub hang_rate: f64,
    /// How long a hung call waits before the connection is dropped; `None` waits for shutdown.
    pub hang_ms: Option<u64>,
    /// Share of calls whose TCP connection is reset (RST) instead of answered.
    pub reset_rate: f64,
    /// RNG seed; the same seed replays the same fault sequence.
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            error_status: 500,
            hang_rate: 0.0,
            hang_ms: None,
            reset_rate: 0.0,
            seed: 0x0024_0024,
        }
    }
}

impl FaultConfig {
    fn is_off(&self) -> bool {
        self.latency_ms == 0
            && self.jitter_ms == 0
            && self.error_rate <= 0.0
            && self.hang_rate <= 0.0
            && self.reset_rate <= 0.0
    }

    /// Rejects rates outside `0..=1` and non-5xx error statuses.
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [
            ("error_rate", self.error_rate),
            ("hang_rate", self.hang_rate),
            ("reset_rate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if !(500..=599).contains(&self.error_status) {
            return Err("error_status must be a 5xx status".into());
        }
        Ok(())
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Error(u16),
    Hang(Option<Duration>),
    Reset,
}

/// The decision for one request: a delay first, then the fault.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub delay: Duration,
    pub fault: Fault,
}

#[derive(Debug)]
struct Inner {
    config: FaultConfig,
    rng: StdRng,
}

/// Current settings plus the RNG they draw from.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            inner: Mutex::new(Inner { config, rng }),
        }
    }

    pub fn config(&self) -> FaultConfig {
        lock(&self.inner).config.clone()
    }

    /// Replaces the settings and reseeds, so a test that sets a seed gets a known sequence.
    pub fn set(&self, config: FaultConfig) {
        let mut g = lock(&self.inner);
        g.rng = StdRng::seed_from_u64(config.seed);
        g.config = config;
    }

    pub fn decide(&self) -> Decision {
        let mut g = lock(&self.inner);
        let Inner { config: c, rng } = &mut *g;
        if c.is_off() {
            return Decision {
                delay: Duration::ZERO,
                fault: Fault::Pass,
            };
        }
        let jitter = if c.jitter_ms > 0 {
            rng.random_range(0..=c.jitter_ms)
        } else {
            0
        };
        let delay = Duration::from_millis(c.latency_ms + jitter);
        let fault = if rng.random_bool(c.reset_rate) {
            Fault::Reset
        } else if rng.random_bool(c.hang_rate) {
            Fault::Hang(c.hang_ms.map(Duration::from_millis))
        } else if rng.random_bool(c.error_rate) {
            Fault::Error(c.error_status)
        } else {
            Fault::Pass
        };
        Decision { delay, fault }
    }
}

/// Locks a mutex, recovering from poisoning: the simulator's state stays usable even if a
/// handler panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
