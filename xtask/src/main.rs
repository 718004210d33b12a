//! `cargo xtask`: developer tasks. See README.md.
use anyhow::Result;

fn main() -> Result<()> {
    anyhow::bail!("no xtask commands yet")
}
