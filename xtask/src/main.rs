//! `cargo xtask`: developer tasks for this workspace (see README.md).
//!
//! This file only parses the command line and dispatches; each command lives in its own
//! module so commands can be added (e.g. `up` for the local stack) without touching the others.
#![forbid(unsafe_code)]

mod clients_test;
mod fuzz;
mod lint;
mod module_cycles;
mod msrv;
mod python;
mod run;
mod rust_source;
mod sql_boundary;
mod test;
mod up;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tasks for the webinar workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the workspace once and run every test suite (Rust, chart, Node, clients).
    Test(test::Args),
    /// Lint what cargo does not: SQL only in store/, no module cycles, `buf lint`, hadolint.
    Lint(lint::Args),
    /// Start the local stack (key service, integration service, on24sim) until Ctrl-C.
    Up(up::Args),
    /// Start a throwaway stack and run the Python and Node client suites against it.
    ClientsTest(clients_test::Args),
    /// Run every fuzz target (xtask/fuzz) for a bounded time; installs cargo-fuzz if missing.
    Fuzz(fuzz::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Test(args) => test::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Up(args) => up::run(&args),
        Command::ClientsTest(args) => clients_test::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
    }
}
