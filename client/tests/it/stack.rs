//! Driving the real local stack from tests: builds the binaries once, starts `xtask up` as a
//! process (free ports, a temporary state folder), waits for `stack.json`, runs `webinarctl`
//! against it with `--output json`, and stops the stack with SIGINT like a person's Ctrl-C.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus},
    sync::OnceLock,
    time::Duration,
};

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A binary of the workspace's debug build.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root().join(t) })
        .unwrap_or_else(|| root().join("target"));
    target.join("debug").join(name)
}

/// Builds every binary the stack needs, once per test process.
fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--bins",
                "-p",
                "xtask",
                "-p",
                "keyservice",
                "-p",
                "integrationservice",
                "-p",
                "on24sim",
                "-p",
                "webinar-client",
            ])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building the stack's binaries failed");
    });
}

/// A stack started by `xtask up`.
pub struct Stack {
    child: Option<Child>,
    /// Its `stack.json`.
    pub stack_json: PathBuf,
}

impl Stack {
    /// Starts `xtask up` with `state` as its state folder and waits until it is ready.
    pub fn start(state: &Path) -> Self {
        ensure_built();
        let child = Command::new(bin("xtask"))
            .args(["up", "--no-build", "--ports", "auto", "--state-dir"])
            .arg(state)
            .spawn()
            .expect("starting xtask up");
        let mut stack = Self {
            child: Some(child),
            stack_json: state.join("stack.json"),
        };
        testkit::eventually_sync("stack.json from xtask up", Duration::from_secs(180), || {
            let child = stack.child.as_mut().expect("child");
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("xtask up exited ({status}) before writing stack.json");
            }
            stack.stack_json.is_file()
        });
        stack
    }

    /// Sends SIGINT and waits for `xtask up` to exit.
    pub fn interrupt(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("child");
        sigint(&child);
        testkit::eventually_sync(
            "xtask up to stop after SIGINT",
            Duration::from_secs(90),
            || child.try_wait().expect("try_wait"),
        )
    }

    /// Runs webinarctl with this stack; returns the exit code, stdout and stderr.
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(bin("webinarctl"))
            .arg("--stack")
            .arg(&self.stack_json)
            .args(["--output", "json"])
            .args(args)
            .output()
            .expect("running webinarctl");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs webinarctl, requires exit code 0, and parses its JSON output.
    pub fn ctl_ok(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 0, "webinarctl {args:?} failed:\n{err}\n{out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigint(&child);
            // Best effort while dropping: a stack that does not stop is killed, not a panic.
            let _ =
                testkit::wait_for_sync(Duration::from_secs(60), || child.try_wait().ok().flatten());
            let _ = child.kill();
        }
    }
}

fn sigint(child: &Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}
