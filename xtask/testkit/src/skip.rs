//! Tests that cannot run here because a system dependency is missing (SoftHSM2, say).
//!
//! Such a test calls [`skip`] and returns. Outside CI that is a visible skip: a notice on
//! stderr and a line `SKIPPED: <test>: <why>` appended to the file named by
//! [`SKIP_FILE_ENV`], which `cargo xtask test` sets and lists in its summary. Under `CI=true`
//! the dependency is part of the contract, so [`skip`] fails the test instead.

use std::io::Write as _;

/// The variable naming the file skipped tests are recorded in (set by `cargo xtask test`).
pub const SKIP_FILE_ENV: &str = "TESTKIT_SKIP_FILE";

/// The prefix of every line in the skip file.
pub const SKIP_PREFIX: &str = "SKIPPED: ";

/// Whether this run is CI's (`CI` set to anything but `false`/`0`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Records that the calling test did not run because of `why`; the caller then returns.
/// Panics under CI. The test is named by its thread (libtest and nextest name it after the
/// test).
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed test");
    assert!(
        !in_ci(),
        "{test} cannot run: {why}; CI=true requires every test to run"
    );
    eprintln!("\n!!!!! SKIPPED {test}: {why} !!!!!\n");
    if let Some(path) = std::env::var_os(SKIP_FILE_ENV) {
        // One short append per skip: concurrent test processes do not interleave within it.
        let line = format!("{SKIP_PREFIX}{test}: {why}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(error) = written {
            panic!(
                "cannot record the skip in {}: {error}",
                path.to_string_lossy()
            );
        }
    }
}
