//! The project's Python virtualenv at `<root>/.venv` (gitignored): created when missing and
//! brought up to date with the pinned `requirements-dev.txt`, which holds the chart-test tools
//! (helm-python-sdk, kubernetes-validate, checkov, pytest) and the CI linters (buf, hadolint).
//!
//! A copy of the requirements file that was last installed is kept inside the venv, so the
//! (slow) `pip install` only runs again when the pinned list changes.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::run::{exec, on_path};

/// Where the record of the last successful install is kept, inside the venv.
const STAMP: &str = ".requirements-dev.installed";

/// Ensures `.venv` exists and holds exactly what `requirements-dev.txt` pins; returns the
/// venv's `bin/` directory.
pub fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(".venv");
    let bin = venv.join("bin");
    let requirements_path = root.join("requirements-dev.txt");
    let requirements = fs::read_to_string(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;

    if !bin.join("python").is_file() {
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| on_path(p))
            .context("python3 is needed for the chart tests and linters; install it")?;
        println!("    creating the Python virtualenv {}", venv.display());
        exec(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
    }

    let stamp = venv.join(STAMP);
    if fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(bin);
    }
    println!(
        "    installing requirements-dev.txt into {}",
        venv.display()
    );
    exec(
        Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("-r")
            .arg(&requirements_path),
    )?;
    fs::write(&stamp, &requirements).with_context(|| format!("writing {}", stamp.display()))?;
    if !bin.join("pytest").is_file() {
        bail!(
            "requirements-dev.txt did not install pytest into {}",
            bin.display()
        );
    }
    Ok(bin)
}
