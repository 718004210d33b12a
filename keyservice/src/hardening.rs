//! Process hardening and request limits.
//!
//! Process: no core dumps (`PR_SET_DUMPABLE 0`, which also blocks ptrace by other users and
//! `/proc/<pid>/mem`, and `RLIMIT_CORE 0`), and all memory locked so key material is never
//! swapped (`mlockall`, best effort: it needs `CAP_IPC_LOCK` or a large `RLIMIT_MEMLOCK`).
//! Memory is locked as it is first touched (`MCL_ONFAULT`): a page that holds data is locked
//! from the moment it holds any, while address space that is only reserved (thread stacks,
//! allocator arenas) is not made resident just to be locked.
//! All three go through rustix's safe wrappers, so this crate needs no `unsafe` at all.
//!
//! Requests: a per-identity rate limit (governor GCRA, keyed by the certificate identity).
//! Size, concurrency and timeout limits are tonic/tower settings applied in `server.rs`.

use std::{num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota};

/// What [`harden_process`] achieved, for the startup log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardeningReport {
    /// `PR_SET_DUMPABLE 0` succeeded.
    pub not_dumpable: bool,
    /// `RLIMIT_CORE` is 0.
    pub no_core: bool,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE [| MCL_ONFAULT])` succeeded.
    pub memory_locked: bool,
}

/// Applies the process protections and logs each outcome. Called once by `serve` before any
/// key is loaded; never by tests (it changes the whole test process).
pub fn harden_process(lock_memory: bool) -> HardeningReport {
    let not_dumpable =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .inspect_err(|e| tracing::warn!(error = %e, "PR_SET_DUMPABLE 0 failed"))
            .is_ok();
    let no_core = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .inspect_err(|e| tracing::warn!(error = %e, "RLIMIT_CORE 0 failed"))
    .is_ok();
    let memory_locked = lock_memory
        && lock_all_memory()
        .inspect_err(|e| {
            tracing::warn!(
                error = %e,
                "mlockall failed: key memory may be swapped (grant CAP_IPC_LOCK or raise RLIMIT_MEMLOCK)"
            )
        })
        .is_ok();
    let report = HardeningReport {
        not_dumpable,
        no_core,
        memory_locked,
    };
    tracing::info!(
        not_dumpable,
        no_core,
        memory_locked,
        "process hardening applied"
    );
    report
}

/// Locks current and future memory, each page when first touched; kernels older than 4.4
/// (no `MCL_ONFAULT`, `EINVAL`) lock every mapping whole instead.
fn lock_all_memory() -> rustix::io::Result<()> {
    use rustix::mm::{MlockAllFlags, mlockall};
    let all = MlockAllFlags::CURRENT | MlockAllFlags::FUTURE;
    match mlockall(all | MlockAllFlags::ONFAULT) {
        Err(rustix::io::Errno::INVAL) => mlockall(all),
        other => other,
    }
}

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
