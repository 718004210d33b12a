//! The TypeScript client: `npm ci` when the lock file changed, then `npm run build` (buf and
//! protoc-gen-es generate the code from `proto/`, tsc compiles it to ESM with declarations),
//! `npm run typecheck` (`tsc --noEmit --strict` over the sources and the tests) and `npm test`
//! (Node's test runner against the stack).

use std::{fs, path::Path, process::Command};

use anyhow::{Result, bail};

use crate::run::{exec, on_path};

/// `npm ci` in `client/typescript` when `node_modules` is missing or older than the lock file.
pub fn ensure_installed(root: &Path) -> Result<()> {
    if !on_path("node") || !on_path("npm") {
        bail!("node and npm are needed for the TypeScript client; install them");
    }
    let dir = root.join("client").join("typescript");
    let lock = dir.join("package-lock.json");
    let marker = dir.join("node_modules").join(".package-lock.json");
    let fresh = match (fs::metadata(&lock), fs::metadata(&marker)) {
        (Ok(l), Ok(m)) => m.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        exec(
            Command::new("npm")
                .current_dir(&dir)
                .args(["ci", "--no-audit", "--no-fund"]),
        )?;
    }
    Ok(())
}

/// Builds and type-checks the package (no stack needed).
pub fn build(root: &Path) -> Result<()> {
    let dir = root.join("client").join("typescript");
    for script in ["build", "typecheck"] {
        exec(Command::new("npm").current_dir(&dir).args(["run", script]))?;
    }
    Ok(())
}

/// `npm test` against the stack.
pub fn run_tests(root: &Path, stack_json: &Path, bin: &Path) -> Result<()> {
    exec(
        Command::new("npm")
            .current_dir(root.join("client").join("typescript"))
            .arg("test")
            .env("WEBINAR_STACK_JSON", stack_json)
            .env(
                "WEBINAR_INTEGRATIONSERVICE_BIN",
                bin.join("integrationservice"),
            ),
    )
}
