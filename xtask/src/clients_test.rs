//! `cargo xtask clients-test`: the other-language clients against a real stack. Builds the
//! Python wheel and installs it into a fresh virtualenv outside the repository (`python.rs`),
//! builds and type-checks the TypeScript package (`typescript.rs`), starts `xtask up` (free
//! ports, a throwaway state folder) as a child process, waits for its `stack.json`, runs both
//! test suites with `WEBINAR_STACK_JSON` (and `WEBINAR_INTEGRATIONSERVICE_BIN`, for the tests
//! that run and restart a private integration service) set, then stops the stack with SIGINT
//! and requires a clean exit. `cargo xtask test` calls this as its client suite.

use std::{
    path::Path,
    process::{Child, Command},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::run::{target_dir, workspace_root};

mod python;
mod typescript;

/// Options of `cargo xtask clients-test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use the binaries already built (debug) instead of building them.
    #[arg(long)]
    pub no_build: bool,
}

/// Runs both client suites against a fresh stack.
pub fn run(args: &Args) -> Result<()> {
    let root = workspace_root();
    let builder = python::ensure_builder(&root)?;
    typescript::ensure_installed(&root)?;
    let work = tempfile::Builder::new().prefix("clients-test-").tempdir()?;
    // Built and installed before the stack starts: the stack is not needed for that.
    let (python, py_run) = python::install_wheel(&root, &builder, work.path())?;
    typescript::build(&root)?;
    let state = work.path().join("state");
    let mut stack = start_stack(&state, args.no_build)?;
    let stack_json = state.join("stack.json");
    let bin = target_dir(&root).join("debug");
    let result = wait_for(&stack_json, &mut stack.child, Duration::from_secs(300)).and_then(|()| {
        python::run_tests(&python, &py_run, &stack_json, &bin)?;
        typescript::run_tests(&root, &stack_json, &bin)
    });
    let stopped = stack.stop();
    result?;
    stopped
}

/// The stack child; stopped with SIGINT on every path.
struct Stack {
    child: Child,
    stopped: bool,
}

impl Stack {
    fn stop(&mut self) -> Result<()> {
        self.stopped = true;
        if self.child.try_wait()?.is_none() {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the stack did not stop cleanly ({status})");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the stack did not stop within 60 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.stop();
        }
    }
}

/// This very program, for `xtask up`. The test command's workspace build may have replaced
/// the running binary on disk, in which case Linux reports our path with " (deleted)"
/// appended; the new binary at the original path is the one to run.
fn xtask_binary() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let text = exe.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(original) => std::path::PathBuf::from(original),
        None => exe,
    })
}

fn start_stack(state: &Path, no_build: bool) -> Result<Stack> {
    let mut command = Command::new(xtask_binary()?);
    command
        .args(["up", "--ports", "auto", "--state-dir"])
        .arg(state);
    if no_build {
        command.arg("--no-build");
    }
    println!("    starting the stack in {}", state.display());
    Ok(Stack {
        child: command.spawn().context("starting `xtask up`")?,
        stopped: false,
    })
}

/// Waits until `xtask up` has written `stack.json` (it does so only once every service
/// answers), failing early if it exits.
pub fn wait_for(stack_json: &Path, child: &mut Child, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !stack_json.is_file() {
        if let Some(status) = child.try_wait()? {
            bail!("`xtask up` exited ({status}) before the stack was ready");
        }
        if Instant::now() > deadline {
            bail!("the stack was not ready within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}
