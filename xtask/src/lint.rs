//! `cargo xtask lint`: the linters that are not cargo's, run from the project's virtualenv so
//! nothing has to be installed by hand: `buf lint` on `proto/` and `hadolint` on the
//! `Dockerfile`; and the workspace's `rust-version` (`msrv.rs`). CI (`.ci/run`) calls this
//! between clippy and `cargo xtask test`.

use std::process::Command;

use anyhow::Result;

use crate::{
    python::ensure_venv,
    run::{exec, workspace_root},
};

/// Options of `cargo xtask lint` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs every linter; fails on the first finding.
pub fn run(_args: &Args) -> Result<()> {
    let root = workspace_root();
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
    }
    Ok(())
}
