//! `cargo xtask test`: the README's test command. Builds the workspace once (debug), runs the
//! Rust tests, then the suites in other languages (Helm chart tests in Python, the Node ON24
//! client against the simulator, the Python and TypeScript clients against a local stack),
//! prints a summary and fails if any suite failed. Works on a fresh clone with the Rust
//! toolchain, python3 and node/npm.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{
    python::ensure_venv,
    run::{cargo, exec, succeeds, target_dir, workspace_root},
};

/// Options of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only build and run the Rust tests.
    #[arg(long, conflicts_with = "no_rust")]
    rust_only: bool,
    /// Skip the Rust tests (the binaries the other suites need are still built).
    #[arg(long)]
    no_rust: bool,
    /// Extra arguments for the Rust test runner (nextest or cargo test), e.g. a filter.
    #[arg(last = true)]
    rust_args: Vec<String>,
}

/// What happened to one suite.
#[derive(Debug)]
enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// Runs every suite and prints the summary; errors when any suite failed.
pub fn run(args: &Args) -> Result<()> {
    let root = workspace_root();
    let mut results: Vec<(&str, Outcome, Duration)> = Vec::new();

    // Tests that cannot run here (a missing system dependency) append a line to this file
    // (`testkit::skip`); the summary lists them so a skip is never mistaken for a pass.
    let skips = tempfile::NamedTempFile::new()?;
    let build = step(&mut results, "build workspace (debug)", || build(&root));
    if build {
        if !args.no_rust {
            step(&mut results, "rust tests", || {
                rust_tests(&root, &args.rust_args, skips.path())
            });
        }
        if !args.rust_only {
            step(&mut results, "helm chart tests (pytest)", || {
                chart_tests(&root)
            });
            step(&mut results, "node ON24 client vs on24sim", || {
                node_on24(&root)
            });
            step(
                &mut results,
                "clients (python wheel, typescript)",
                client_examples,
            );
        }
    }

    println!("\n==> cargo xtask test summary");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, outcome, took) in &results {
        let secs = took.as_secs_f64();
        match outcome {
            Outcome::Passed => {
                passed += 1;
                println!("    PASS  {name:<34} {secs:>7.1}s");
            }
            Outcome::Failed(why) => {
                failed += 1;
                println!("    FAIL  {name:<34} {secs:>7.1}s  {why}");
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                println!("    SKIP  {name:<34} {secs:>7.1}s  {why}");
            }
        }
    }
    println!("    suites: {passed} ok, {failed} failing, {skipped} skipped");
    let skipped_tests = skipped_tests(skips.path());
    for line in &skipped_tests {
        println!("    SKIP  {line}");
    }
    if !skipped_tests.is_empty() {
        println!(
            "    tests: {} skipped (a system dependency is missing; CI=true fails them)",
            skipped_tests.len()
        );
    }
    if failed > 0 {
        bail!("{failed} test suite(s) failed");
    }
    Ok(())
}

/// Runs one suite, records its outcome and duration; returns whether it did not fail.
fn step<'a>(
    results: &mut Vec<(&'a str, Outcome, Duration)>,
    name: &'a str,
    body: impl FnOnce() -> Result<Outcome>,
) -> bool {
    println!("\n==> {name}");
    let started = Instant::now();
    let outcome = body().unwrap_or_else(|error| Outcome::Failed(format!("{error:#}")));
    let ok = !matches!(outcome, Outcome::Failed(_));
    results.push((name, outcome, started.elapsed()));
    ok
}

/// One debug build of every binary; the test runner then only adds the test targets, and the
/// non-Rust suites use these binaries (e.g. `target/debug/on24sim`).
fn build(root: &Path) -> Result<Outcome> {
    exec(
        cargo()
            .current_dir(root)
            .args(["build", "--workspace", "--bins"]),
    )?;
    Ok(Outcome::Passed)
}

/// The tests recorded as skipped in `file`, one `<test>: <why>` each.
fn skipped_tests(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix(SKIP_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// The line prefix `testkit::skip::SKIP_PREFIX` writes (xtask cannot depend on the test kit,
/// which depends on it).
const SKIP_PREFIX: &str = "SKIPPED: ";
/// `testkit::skip::SKIP_FILE_ENV`.
const SKIP_FILE_ENV: &str = "TESTKIT_SKIP_FILE";

fn rust_tests(root: &Path, extra: &[String], skips: &Path) -> Result<Outcome> {
    let nextest = succeeds(cargo().args(["nextest", "--version"]));
    if nextest {
        // nextest does not run doctests; they are few and cheap. They go first so that the
        // last runner summary in the log is nextest's full count, not a doctest "0 passed".
        if extra.is_empty() {
            exec(
                cargo()
                    .current_dir(root)
                    .args(["test", "--workspace", "--doc", "--no-fail-fast"])
                    .env(SKIP_FILE_ENV, skips),
            )?;
        }
        exec(
            cargo()
                .current_dir(root)
                .args(["nextest", "run", "--workspace", "--no-fail-fast"])
                .args(extra)
                .env(SKIP_FILE_ENV, skips),
        )?;
    } else {
        exec(
            cargo()
                .current_dir(root)
                .args(["test", "--workspace", "--no-fail-fast"])
                .args(extra)
                .env(SKIP_FILE_ENV, skips),
        )?;
    }
    Ok(Outcome::Passed)
}

fn chart_tests(root: &Path) -> Result<Outcome> {
    let tests = root.join("helm").join("tests");
    if !tests.is_dir() {
        return Ok(Outcome::Skipped("helm/tests does not exist yet".into()));
    }
    let bin = ensure_venv(root)?;
    // Exit code 5 (no tests collected) is a failure too: the chart must be tested.
    exec(
        Command::new(bin.join("python"))
            .current_dir(root)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(&tests),
    )?;
    Ok(Outcome::Passed)
}

/// The simulator engineer's Node test: a third-party ON24 client talking to on24sim.
fn node_on24(root: &Path) -> Result<Outcome> {
    let dir = root.join("on24sim").join("tests").join("node-on24");
    if !dir.join("package.json").is_file() {
        return Ok(Outcome::Skipped(
            "on24sim/tests/node-on24 does not exist yet".into(),
        ));
    }
    let sim = target_dir(root).join("debug").join("on24sim");
    if !sim.is_file() {
        bail!("{} was not built", sim.display());
    }
    let mut install = Command::new("npm");
    install.current_dir(&dir).args(["--no-audit", "--no-fund"]);
    if dir.join("package-lock.json").is_file() {
        install.arg("ci");
    } else {
        install.arg("install");
    }
    exec(&mut install)?;
    exec(
        Command::new("npm")
            .current_dir(&dir)
            .args(["test"])
            .env("ON24SIM_BIN", &sim),
    )?;
    Ok(Outcome::Passed)
}

/// The Python and TypeScript client suites against a stack started with `xtask up` (see
/// `clients_test.rs`); the binaries come from the build step above.
fn client_examples() -> Result<Outcome> {
    crate::clients_test::run(&crate::clients_test::Args { no_build: true })?;
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_skipped_tests_of_the_skip_file() {
        let file = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(
            file.path(),
            "SKIPPED: domain::root_keys::pkcs11: no SoftHSM2\nnoise\nSKIPPED: b: why\n",
        )
        .expect("write");
        assert_eq!(
            skipped_tests(file.path()),
            ["domain::root_keys::pkcs11: no SoftHSM2", "b: why"]
        );
        assert!(skipped_tests(Path::new("/nonexistent/skips")).is_empty());
    }
}
