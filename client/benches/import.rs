//! Benchmark: `webinarctl import` of a 10,000-row CSV with 3% bad rows, end to end against a
//! real local stack (`xtask up --ports auto --no-build`, SQLite, the binaries of
//! `BENCH_PROFILE`, default `release`). Prints rows per second for the first import (every
//! good row created) and for a re-run (nothing created twice), after checking the counts.
//!
//! ```sh
//! cargo build --release --bins -p xtask -p keyservice -p integrationservice -p on24sim -p webinar-client
//! cargo bench -p webinar-client --bench import
//! ```
//! `BENCH_ROWS` and `BENCH_BAD_PERCENT` change the file; `BENCH_CHUNK` and `BENCH_PARALLEL` the
//! import's `--chunk-size` and `--parallel`.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn target_bin(profile: &str, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    target.join(profile).join(name)
}

fn ctl(webinarctl: &Path, stack: &Path, args: &[&str]) -> (i32, serde_json::Value, f64) {
    let started = Instant::now();
    let output = Command::new(webinarctl)
        .arg("--stack")
        .arg(stack)
        .args(["--output", "json"])
        .args(args)
        .output()
        .expect("running webinarctl");
    let secs = started.elapsed().as_secs_f64();
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "webinarctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), value, secs)
}

fn sigint_and_wait(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = testkit::wait_for_sync(Duration::from_secs(60), || child.try_wait().ok().flatten());
    let _ = child.kill();
}

fn main() {
    let profile = env_or("BENCH_PROFILE", "release");
    let rows: usize = env_or("BENCH_ROWS", "10000").parse().expect("BENCH_ROWS");
    let bad_percent: usize = env_or("BENCH_BAD_PERCENT", "3")
        .parse()
        .expect("BENCH_BAD_PERCENT");
    let chunk = env_or("BENCH_CHUNK", "500");
    let parallel = env_or("BENCH_PARALLEL", "4");
    let xtask = target_bin(&profile, "xtask");
    let webinarctl = target_bin(&profile, "webinarctl");
    if !xtask.is_file() || !webinarctl.is_file() {
        eprintln!(
            "build first: cargo build {}--bins -p xtask -p keyservice -p integrationservice -p on24sim -p webinar-client",
            if profile == "release" {
                "--release "
            } else {
                ""
            }
        );
        std::process::exit(2);
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let mut up = Command::new(&xtask);
    up.args(["up", "--no-build", "--ports", "auto", "--state-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null());
    if profile == "release" {
        up.arg("--release");
    }
    let mut stack = up.spawn().expect("starting xtask up");
    let stack_json = dir.path().join("stack.json");
    testkit::eventually_sync("stack.json from xtask up", Duration::from_secs(120), || {
        assert!(stack.try_wait().expect("wait").is_none(), "xtask up exited");
        stack_json.is_file()
    });

    ctl(
        &webinarctl,
        &stack_json,
        &["credentials", "put", "--from-stack"],
    );
    let (_, webinar, _) = ctl(
        &webinarctl,
        &stack_json,
        &[
            "webinar",
            "create",
            "--crm-ref",
            "bench-import",
            "--title",
            "Bench",
            "--start",
            "2030-01-01T15:00:00Z",
        ],
    );
    let id = webinar["id"].as_str().expect("id").to_string();

    // Every (100 / bad_percent)-th row is bad, alternating a bad email and a missing name.
    let step = 100 / bad_percent.max(1);
    let mut csv = String::from("email,first_name,last_name,company,job_title\n");
    let mut bad = 0;
    for i in 0..rows {
        if i % step == step / 2 && bad < rows * bad_percent / 100 {
            bad += 1;
            if bad % 2 == 0 {
                writeln!(csv, "bad-{i}-example.com,F{i},L{i},Acme,Engineer").expect("w");
            } else {
                writeln!(csv, "p{i}@example.com,,L{i},Acme,Engineer").expect("w");
            }
        } else {
            writeln!(csv, "p{i}@example.com,F{i},L{i},Acme,Engineer").expect("w");
        }
    }
    let file = dir.path().join("people.csv");
    std::fs::write(&file, csv).expect("write CSV");
    let args = [
        "import",
        file.to_str().expect("path"),
        "--webinar",
        &id,
        "--chunk-size",
        &chunk,
        "--parallel",
        &parallel,
    ];

    let (code, first, first_secs) = ctl(&webinarctl, &stack_json, &args);
    let (code2, again, again_secs) = ctl(&webinarctl, &stack_json, &args);
    sigint_and_wait(&mut stack);

    assert_eq!(code, if bad > 0 { 8 } else { 0 });
    assert_eq!(code2, code);
    assert_eq!(first["created"].as_u64(), Some((rows - bad) as u64));
    assert_eq!(first["refused"].as_u64(), Some(bad as u64));
    assert_eq!(again["created"].as_u64(), Some(0));
    assert_eq!(
        again["already_registered"].as_u64(),
        Some((rows - bad) as u64)
    );

    println!(
        "webinarctl import, {rows} rows ({bad} bad), chunk {chunk}, {parallel} in flight, {profile} binaries, SQLite"
    );
    println!(
        "  first import : {:>8.0} rows/s  ({first_secs:.2} s wall, process start included)",
        rows as f64 / first_secs
    );
    println!(
        "  re-run       : {:>8.0} rows/s  ({again_secs:.2} s wall; 0 created, {} already registered)",
        rows as f64 / again_secs,
        rows - bad
    );
}
