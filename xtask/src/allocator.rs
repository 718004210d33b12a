//! How the services' memory allocator (glibc's malloc) is tuned wherever this project starts
//! them: the container image (`ENV` in the Dockerfile's runtime stage, checked against this
//! by `cargo xtask lint`), the local stack (`cargo xtask up`) and the service benchmark.
//!
//! - `arena_max=2`: glibc otherwise gives up to eight arenas per core to the threads that
//!   allocate (tokio's workers and the database's blocking threads), and memory freed in one
//!   arena is not reused by another, so peaks stack up. Two matches the two cores a replica
//!   is sized for; allocation contention stayed within noise in the benchmarks.
//! - `mmap_threshold=131072`: a fixed threshold (glibc raises it as large blocks are freed)
//!   keeps blocks of 128 KiB and more, such as a batch request of 1,000 registrations, in
//!   their own mappings that are unmapped when freed. This matters most with memory locked
//!   (`[hardening] lock_memory`): freed heap pages of a locked process are never returned.
//!
//! Measured with `cargo bench -p integrationservice --bench service`: peak RSS 56.6 MiB with
//! these settings against 91.2 MiB without, throughput within noise (docs/benchmarks-history.md).

/// The `GLIBC_TUNABLES` value the services run with.
pub const GLIBC_TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072";

/// The Dockerfile line that sets it for every image.
pub fn dockerfile_line() -> String {
    format!("ENV GLIBC_TUNABLES={GLIBC_TUNABLES}")
}
