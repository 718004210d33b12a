//! The workspace's `rust-version` holds: every member inherits it from `[workspace.package]`
//! (so there is one minimum to keep true), and the toolchain CI builds with is at least that
//! version (so the promise is tested, not only written down).

use std::{path::Path, process::Command};

use anyhow::{Context, Result, bail};

use crate::run::cargo;

/// Fails when a member does not state the workspace's `rust-version` or `rustc` is older.
pub fn check(root: &Path) -> Result<()> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let wanted =
        workspace_rust_version(&manifest).context("[workspace.package] has no rust-version")?;
    let metadata = cargo()
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()?;
    if !metadata.status.success() {
        bail!("cargo metadata failed");
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)?;
    let mut wrong = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or("?");
        let manifest = std::fs::read_to_string(package["manifest_path"].as_str().unwrap_or(""))
            .unwrap_or_default();
        if !manifest.contains("rust-version.workspace = true") {
            wrong.push(format!("{name} (no `rust-version.workspace = true`)"));
        } else if package["rust_version"].as_str() != Some(wanted.as_str()) {
            wrong.push(format!("{name} (rust-version {})", package["rust_version"]));
        }
    }
    if !wrong.is_empty() {
        bail!(
            "members must inherit rust-version {wanted}: {}",
            wrong.join(", ")
        );
    }
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("--version")
        .output()?;
    let rustc = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let have = rustc
        .split_whitespace()
        .nth(1)
        .context("unexpected `rustc --version` output")?;
    if version(have) < version(&wanted) {
        bail!("rustc {have} is older than the workspace's rust-version {wanted}");
    }
    println!(
        "    rust-version {wanted}, inherited by every member; {}",
        rustc.trim()
    );
    Ok(())
}

/// The `rust-version` line of `[workspace.package]`.
fn workspace_rust_version(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("rust-version") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// `1.95.0-nightly` as `[1, 95, 0]`; a missing part counts as 0.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text
        .split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    parts.resize(3, 0);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workspace_rust_version() {
        let manifest = "[package]\nrust-version = \"1.0\"\n[workspace.package]\nedition = \"2024\"\nrust-version = \"1.95\"\n";
        assert_eq!(workspace_rust_version(manifest).as_deref(), Some("1.95"));
        assert_eq!(workspace_rust_version("[workspace]\n"), None);
    }

    #[test]
    fn compares_versions_by_number() {
        assert!(version("1.95.0") >= version("1.95"));
        assert!(version("1.100.0") > version("1.95"));
        assert!(version("1.94.1") < version("1.95"));
    }
}
