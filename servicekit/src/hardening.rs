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

/// Reads the environment variable `name` and erases it from the process: the value is
/// overwritten with zeros where the kernel shows it (`/proc/<pid>/environ`, the environment
/// block the process started with), which also removes it from what `std::env` and child
/// processes see. `None` when the variable is not set. For secrets handed over in the
/// environment (`env:` root keys).
///
/// Removing a variable the usual way (`std::env::remove_var`) needs `unsafe` and leaves the
/// value in the start-up block that `/proc/<pid>/environ` reads, so the bytes are overwritten
/// through `/proc/self/mem` instead (a process may always write its own memory there).
pub fn take_env_secret(name: &str) -> std::io::Result<Option<zeroize::Zeroizing<String>>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let value = zeroize::Zeroizing::new(
        value
            .into_string()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))?,
    );
    erase_from_start_environment(name)?;
    Ok(Some(value))
}

/// Overwrites every `name=...` entry of the start-up environment block with zeros.
fn erase_from_start_environment(name: &str) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    // `/proc/self/stat`: the command name (field 2) may hold spaces, so count from the `)`
    // that ends it; `env_start` and `env_end` are fields 50 and 51.
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat
        .rfind(')')
        .map(|at| &stat[at + 1..])
        .ok_or_else(|| invalid("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> std::io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| invalid("unexpected /proc/self/stat"))
    };
    let (start, end) = (field(50)?, field(51)?);
    let len = usize::try_from(end.saturating_sub(start)).map_err(|_| invalid("environment"))?;
    let mem = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")?;
    let mut block = zeroize::Zeroizing::new(vec![0u8; len]);
    mem.read_exact_at(&mut block, start)?;
    let prefix = format!("{name}=");
    let mut offset = 0u64;
    for entry in block.split(|b| *b == 0) {
        if entry.starts_with(prefix.as_bytes()) {
            mem.write_all_at(&vec![0u8; entry.len()], start + offset)?;
        }
        offset += entry.len() as u64 + 1;
    }
    Ok(())
}
