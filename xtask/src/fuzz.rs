//! `cargo xtask fuzz [--seconds N] [TARGET]`: runs the cargo-fuzz targets in `xtask/fuzz`
//! (see docs/fuzzing.md), each for a bounded time, and fails on the first finding.
//!
//! Installs cargo-fuzz when it is missing. libFuzzer needs nightly compiler flags: the
//! `nightly` toolchain when rustup has one, else the stable compiler with `RUSTC_BOOTSTRAP=1`.
//! Each target starts from its committed seeds (`xtask/fuzz/seeds/TARGET`, read only) and
//! keeps what it learns in `xtask/fuzz/corpus/TARGET` (ignored by git); a finding lands in
//! `xtask/fuzz/artifacts/TARGET` and is replayed with `cargo fuzz run TARGET FILE`.

use std::{path::Path, process::Command};

use anyhow::{Result, bail};

use crate::run::{cargo, exec, succeeds, workspace_root};

/// Every fuzz target, in the order they run.
pub const TARGETS: &[&str] = &[
    "wrapped_key",
    "page_token",
    "on24_json",
    "csv_import",
    "request_validation",
];

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long each target runs, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Run only this target (default: every target).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    target: Option<String>,
}

/// Builds the targets once, then runs each for `--seconds`.
pub fn run(args: &Args) -> Result<()> {
    let root = workspace_root();
    let fuzz_dir = root.join("xtask").join("fuzz");
    if !succeeds(cargo().args(["fuzz", "--version"])) {
        println!("==> installing cargo-fuzz");
        exec(cargo().args(["install", "--locked", "cargo-fuzz"]))?;
    }
    let nightly = has_nightly();
    let targets: Vec<&str> = match &args.target {
        Some(one) => vec![one.as_str()],
        None => TARGETS.to_vec(),
    };
    println!(
        "==> building the fuzz targets ({})",
        if nightly {
            "nightly toolchain"
        } else {
            "stable with RUSTC_BOOTSTRAP=1"
        }
    );
    let mut build = cargo_fuzz(nightly, &root);
    build.arg("build").args(common_flags(&fuzz_dir));
    if let [one] = targets.as_slice() {
        build.arg(one);
    }
    exec(&mut build)?;
    for target in targets {
        println!("==> fuzz {target} for {} s", args.seconds);
        let corpus = fuzz_dir.join("corpus").join(target);
        let seeds = fuzz_dir.join("seeds").join(target);
        if !seeds.is_dir() {
            bail!("no seed corpus at {}", seeds.display());
        }
        std::fs::create_dir_all(&corpus)?;
        exec(
            cargo_fuzz(nightly, &root)
                .arg("run")
                .args(common_flags(&fuzz_dir))
                .arg(target)
                .arg(&corpus)
                .arg(&seeds)
                .arg("--")
                .arg(format!("-max_total_time={}", args.seconds))
                // A single input slower than this is a finding (a hang), not a slow run.
                .arg("-timeout=10")
                .arg("-rss_limit_mb=2048")
                .arg("-print_final_stats=1"),
        )?;
    }
    Ok(())
}

/// Flags shared by `build` and `run`, so `run` reuses the build. No sanitizer: the crates
/// forbid `unsafe`, and what the targets look for (panics, broken invariants, hangs, memory
/// blow-ups) needs none; AddressSanitizer would double build and run time on 2 cores. Debug
/// assertions are on, so integer overflows are findings too.
fn common_flags(fuzz_dir: &Path) -> Vec<std::ffi::OsString> {
    vec![
        "--fuzz-dir".into(),
        fuzz_dir.as_os_str().to_owned(),
        "--sanitizer".into(),
        "none".into(),
        "--debug-assertions".into(),
    ]
}

fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|line| line.starts_with("nightly"))
        })
        .unwrap_or(false)
}

fn cargo_fuzz(nightly: bool, root: &Path) -> Command {
    let mut command = if nightly {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo", "fuzz"]);
        c
    } else {
        let mut c = cargo();
        c.arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
        c
    };
    command.current_dir(root);
    command
}
