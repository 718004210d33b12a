//! Process hardening both services apply at start, before any secret is loaded: no core
//! dumps (`PR_SET_DUMPABLE 0`, which also blocks ptrace by other users and `/proc/<pid>/mem`,
//! and `RLIMIT_CORE 0`), and all memory locked so keys, data keys and ON24 secrets are never
//! swapped (`mlockall`, best effort: it needs `CAP_IPC_LOCK` or a large `RLIMIT_MEMLOCK`).
//! Memory is locked as it is first touched (`MCL_ONFAULT`): a page that holds data is locked
//! from the moment it holds any, while address space that is only reserved (thread stacks,
//! allocator arenas) is not made resident just to be locked.
//! All three go through rustix's safe wrappers, so no `unsafe` is needed.

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

/// Applies the process protections and logs each outcome. Called once by a service's `serve`
/// before any secret is loaded; never by in-process tests (it changes the whole process).
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
