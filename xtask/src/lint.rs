//! `cargo xtask lint`: the checks that are not cargo's. First the layering of the services
//! (SQL only in `store/`, no import cycle between the integration service's top-level
//! modules) and the workspace's `rust-version` (`msrv.rs`), then, from the project's
//! virtualenv so nothing has to be installed by hand, `buf lint` on `proto/` and `hadolint`
//! on the `Dockerfile`. CI (`.ci/run`) calls this
//! between clippy and `cargo xtask test`.

use std::process::Command;

use anyhow::Result;

use crate::{
    module_cycles,
    python::ensure_venv,
    run::{exec, workspace_root},
    sql_boundary,
};

/// Options of `cargo xtask lint` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs every linter; fails on the first finding.
pub fn run(_args: &Args) -> Result<()> {
    let root = workspace_root();
    println!("==> SQL only in store/");
    sql_boundary::check(&root)?;
    println!("==> no import cycle between top-level modules");
    module_cycles::check(&root)?;
    println!("==> rust-version");
    crate::msrv::check(&root)?;

    let bin = ensure_venv(&root)?;

    println!("==> buf lint (proto/)");
    exec(
        Command::new(bin.join("buf"))
            .current_dir(root.join("proto"))
            .arg("lint"),
    )?;

    let dockerfile = root.join("Dockerfile");
    if dockerfile.is_file() {
        println!("==> hadolint Dockerfile");
        // Rules and their reasons live in .hadolint.yaml beside the Dockerfile.
        exec(
            Command::new(bin.join("hadolint"))
                .current_dir(&root)
                .arg("Dockerfile"),
        )?;
        println!("==> Dockerfile allocator tuning");
        let text = std::fs::read_to_string(&dockerfile)?;
        let line = xtask::allocator::dockerfile_line();
        if !text.lines().any(|l| l.trim() == line) {
            anyhow::bail!(
                "Dockerfile: the runtime stage must carry `{line}` (see xtask/src/allocator.rs)"
            );
        }
    }
    Ok(())
}
