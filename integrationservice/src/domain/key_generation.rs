//! How often a tenant may have a data key generated: every credential put asks the key service
//! for one under the integration service's single identity, whose rate limit all tenants
//! share; a token bucket per tenant (governor) keeps one tenant's puts from using it all up.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{Error, TenantId};

/// The per-tenant buckets (none: unlimited). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct KeyGenerationLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl KeyGenerationLimit {
    /// `per_minute` data keys per tenant with bursts of `burst` (0: `per_minute`); 0 = off.
    pub(crate) fn new(per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))
        });
        Self { limiter }
    }

    /// Takes a token for `tenant`; [`Error::RateLimited`] when its bucket is empty.
    pub(crate) fn check(&self, tenant: &TenantId) -> Result<(), Error> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&tenant.as_str().to_owned())
            .map_err(|not_until| Error::RateLimited {
                what: "data-key generation for credential puts",
                retry_after_ms: i64::try_from(
                    not_until
                        .wait_time_from(DefaultClock::default().now())
                        .as_millis(),
                )
                .unwrap_or(i64::MAX)
                .max(1),
            })
    }
}
