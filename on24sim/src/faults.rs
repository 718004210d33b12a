//! Fault injection for the ON24 routes: fixed latency plus jitter, a 5xx rate, a hang rate, a
//! connection-reset rate and a lost-answer rate (the call is carried out, then its answer never
//! arrives). Faults can be limited to one method and path and to a number of injections. Draws
//! come from one seeded RNG, so a given seed and request order always give the same faults.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Fault settings. Rates are probabilities in `0.0..=1.0`, drawn independently per request in
/// the order reset, hang, lost answer, error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Added to every ON24 call.
    pub latency_ms: u64,
    /// A uniform random extra delay in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Share of calls answered with `error_status` and a JSON message.
    pub error_rate: f64,
    /// Status of injected errors (500 by default; 502/503/504 are also useful; a 4xx is a
    /// permanent refusal).
    pub error_status: u16,
    /// Message of injected errors (`Internal Server Error` by default): tests put a canary
    /// here to check that an upstream's answer text never reaches their callers.
    pub error_message: Option<String>,
    /// Share of calls that never answer (until the simulator shuts down or `hang_ms` passes).
    pub hang_rate: f64,
    /// How long a hung call waits before the connection is dropped; `None` waits for shutdown.
    pub hang_ms: Option<u64>,
    /// Share of calls whose TCP connection is reset (RST) instead of answered.
    pub reset_rate: f64,
    /// Share of calls that are carried out (a created webinar exists, a registrant is stored)
    /// but whose answer is lost: the connection stays silent for `hang_ms` (or until shutdown)
    /// and is then reset, as when a client times out after ON24 did the work.
    pub lost_answer_rate: f64,
    /// Only calls with this HTTP method (e.g. `POST`) are delayed or faulted; `None`: all.
    pub only_method: Option<String>,
    /// Only calls whose path ends with this (e.g. `/event`) are delayed or faulted; `None`: all.
    pub only_path_suffix: Option<String>,
    /// Stop injecting after this many faults (latency alone is not a fault); `None`: no limit.
    /// Setting the faults starts the count again.
    pub max_faults: Option<u64>,
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
            error_message: None,
            hang_rate: 0.0,
            hang_ms: None,
            reset_rate: 0.0,
            lost_answer_rate: 0.0,
            only_method: None,
            only_path_suffix: None,
            max_faults: None,
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
            && self.lost_answer_rate <= 0.0
    }

    /// Whether a call is in the faults' scope (`only_method`, `only_path_suffix`).
    fn applies_to(&self, method: &str, path: &str) -> bool {
        self.only_method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .only_path_suffix
                .as_deref()
                .is_none_or(|s| path.trim_end_matches('/').ends_with(s))
    }

    /// Rejects rates outside `0..=1` and error statuses outside 400..=599 (a 5xx for ON24
    /// failing, a 4xx for ON24 refusing, e.g. a forget it will never accept).
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [
            ("error_rate", self.error_rate),
            ("hang_rate", self.hang_rate),
            ("reset_rate", self.reset_rate),
            ("lost_answer_rate", self.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if !(400..=599).contains(&self.error_status) {
            return Err("error_status must be a 4xx or 5xx status".into());
        }
        Ok(())
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    Pass,
    /// Answer with this 5xx status.
    Error(u16),
    /// Accept the call and never answer (for the duration, then reset).
    Hang(Option<Duration>),
    /// Reset the connection without answering.
    Reset,
    /// Carry the call out, then never deliver the answer (silence for the duration, then reset).
    LoseAnswer(Option<Duration>),
}

/// The decision for one request: a delay first, then the fault.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// How long to wait before acting.
    pub delay: Duration,
    /// What to do after the delay.
    pub fault: Fault,
}

#[derive(Debug)]
struct Inner {
    config: FaultConfig,
    rng: StdRng,
    /// Faults injected since the settings were last set (for `max_faults`).
    injected: u64,
}

/// Current settings plus the RNG they draw from.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
}

impl Faults {
    /// Faults following `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self {
            inner: Mutex::new(Inner {
                config,
                rng,
                injected: 0,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> FaultConfig {
        lock(&self.inner).config.clone()
    }

    /// Replaces the settings and reseeds, so a test that sets a seed gets a known sequence.
    pub fn set(&self, config: FaultConfig) {
        let mut g = lock(&self.inner);
        g.rng = StdRng::seed_from_u64(config.seed);
        g.config = config;
        g.injected = 0;
    }

    /// The decision for a call with this method and path (as sent, prefix included).
    pub fn decide(&self, method: &str, path: &str) -> Decision {
        let mut g = lock(&self.inner);
        let Inner {
            config: c,
            rng,
            injected,
        } = &mut *g;
        if c.is_off() || !c.applies_to(method, path) {
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
        } else if rng.random_bool(c.lost_answer_rate) {
            Fault::LoseAnswer(c.hang_ms.map(Duration::from_millis))
        } else if rng.random_bool(c.error_rate) {
            Fault::Error(c.error_status)
        } else {
            Fault::Pass
        };
        let fault = if fault == Fault::Pass {
            fault
        } else if c.max_faults.is_some_and(|max| *injected >= max) {
            Fault::Pass
        } else {
            *injected += 1;
            fault
        };
        Decision { delay, fault }
    }
}

/// Locks a mutex, recovering from poisoning: the simulator's state stays usable even if a
/// handler panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
