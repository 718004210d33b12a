//! Fairness on the CRM API: a token bucket per tenant and one per authenticated caller (governor's
//! keyed GCRA limiters), taken on every tenant-scoped request once the caller is authorized for
//! the tenant, so one tenant or one leaked credential cannot use up the service for the others.
//! Over a bucket: RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` saying when to retry. Only
//! authorized (principal, tenant) pairs reach the buckets, so their number is bounded by the
//! policy; quiet buckets are dropped by [`RequestLimits::shrink`]. Open `WatchChanges` streams
//! are counted per tenant too: past the cap a new watch is refused with RESOURCE_EXHAUSTED.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tonic::Status;

use crate::config::LimitsConfig;

/// The two sets of buckets.
#[derive(Debug)]
pub(crate) struct RequestLimits {
    tenant: Option<DefaultKeyedRateLimiter<String>>,
    principal: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    max_watches: usize,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open watch of a tenant; dropping it (when the stream ends) frees the slot.
#[derive(Debug)]
pub(crate) struct WatchPermit {
    tenant: String,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for WatchPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.watches.lock()
            && let Some(n) = open.get_mut(&self.tenant)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

fn limiter(rate: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(rate).map(|rate| {
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
    })
}

impl RequestLimits {
    /// Buckets as configured (a rate of 0 turns that set off).
    pub(crate) fn new(config: &LimitsConfig) -> Self {
        Self {
            tenant: limiter(config.tenant_requests_per_second, config.tenant_burst),
            principal: limiter(config.principal_requests_per_second, config.principal_burst),
            clock: DefaultClock::default(),
            max_watches: config.max_watches_per_tenant,
            watches: Arc::default(),
        }
    }

    /// A slot for one more open watch of `tenant`; RESOURCE_EXHAUSTED when it has the
    /// configured number open already (0: no cap).
    pub(crate) fn open_watch(&self, tenant: &str) -> Result<WatchPermit, Status> {
        let mut open = self
            .watches
            .lock()
            .map_err(|_| Status::internal("internal error"))?;
        let n = open.entry(tenant.to_owned()).or_insert(0);
        if self.max_watches != 0 && *n >= self.max_watches {
            return Err(super::error::too_many_watches(self.max_watches));
        }
        *n += 1;
        Ok(WatchPermit {
            tenant: tenant.to_owned(),
            watches: self.watches.clone(),
        })
    }

    /// Takes one token from `tenant`'s bucket and one from `principal`'s.
    pub(crate) fn check(&self, tenant: &str, principal: &str) -> Result<(), Status> {
        self.take(self.tenant.as_ref(), tenant, "tenant")?;
        self.take(self.principal.as_ref(), principal, "caller")
    }

    fn take(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<String>>,
        key: &str,
        scope: &'static str,
    ) -> Result<(), Status> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        match limiter.check_key(&key.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until
                    .wait_time_from(self.clock.now())
                    .max(Duration::from_millis(1));
                Err(super::error::rate_limited(scope, wait))
            }
        }
    }

    /// Drops the buckets of tenants and callers that have been quiet.
    pub(crate) fn shrink(&self) {
        for limiter in [&self.tenant, &self.principal].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
