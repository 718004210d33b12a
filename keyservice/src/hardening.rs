//! Process hardening and request limits.
//!
//! Process: [`harden_process`], shared with the integration service in `servicekit`: no core
//! dumps and memory locked as it is first touched, all through rustix's safe wrappers.
//!
//! Requests: a per-identity rate limit (governor GCRA, keyed by the certificate identity).
//! Size, concurrency and timeout limits are tonic/tower settings applied in `server.rs`.

use std::{num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota};

pub use servicekit::hardening::{HardeningReport, harden_process};

/// Per-identity request rate limit. Each identity has its own bucket, so one noisy caller
/// cannot starve the others.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl RateLimit {
    /// `per_second` sustained requests with bursts of `burst`; 0 disables the limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Self { limiter }
    }

    /// Takes `cost` tokens (a batch costs one per item) for `identity`; false when exhausted.
    pub fn check(&self, identity: &str, cost: u32) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        let Some(cost) = NonZeroU32::new(cost) else {
            return true;
        };
        // The key is cloned only when the identity is new to the limiter's map.
        matches!(limiter.check_key_n(&identity.to_owned(), cost), Ok(Ok(())))
    }

    /// Drops buckets of identities that have been quiet (call now and then).
    pub fn shrink(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_identity() {
        let limit = RateLimit::new(1, 2);
        assert!(limit.check("a", 1));
        assert!(limit.check("a", 1));
        assert!(!limit.check("a", 1));
        assert!(limit.check("b", 2));
        assert!(!limit.check("b", 5));
        assert!(RateLimit::new(0, 0).check("a", 1000));
    }
}
