//! `webinarctl`: the command line for the webinar integration service and the key service.
//! This file parses the command line, dispatches, and turns failures into the documented exit
//! codes (see `docs/client.md`); each command group lives in its own module.
#![forbid(unsafe_code)]

mod context;
mod credentials;
mod import;
mod keys;
mod metrics;
mod output;
mod person;
mod registrations;
mod tenant;
mod webinars;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use webinar_client::{ClientError, error::Report, exit_code};

/// Ends the process with a given exit code after the command printed its own report.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// Process exit code.
    pub code: u8,
    /// What to print on stderr.
    pub message: String,
}

#[derive(Debug, Parser)]
#[command(
    name = "webinarctl",
    version,
    about = "Run CRM events as ON24 webinars: credentials, webinars, registrations, metrics, keys.",
    after_help = "Exit codes: 0 ok, 1 other error, 2 usage, 3 not found, 4 invalid input, \
                  5 authentication/permission, 6 unavailable, 7 failed precondition, \
                  8 import finished with refused rows."
)]
struct Cli {
    #[command(flatten)]
    global: context::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The tenant's ON24 credentials.
    #[command(subcommand)]
    Credentials(credentials::Command),
    /// Webinars (ON24 events) of the tenant.
    #[command(subcommand)]
    Webinar(webinars::Command),
    /// Link past ON24 events (live start since --since, ended) and pull their registrants
    /// and metrics; safe to re-run.
    Backfill(webinars::BackfillArgs),
    /// Register one attendee.
    Register(registrations::RegisterArgs),
    /// Register attendees from a CSV file (safe to re-run).
    Import(import::Args),
    /// Registrations of a webinar.
    #[command(subcommand)]
    Registrations(registrations::Command),
    /// Forget a person across the tenant (GDPR erasure, here and at ON24).
    Forget(registrations::ForgetArgs),
    /// A person's GDPR requests: export, forget, erasure status, retry.
    #[command(subcommand)]
    Person(person::Command),
    /// Metrics and the change feed.
    #[command(subcommand)]
    Metrics(metrics::Command),
    /// Key service administration (admin identity).
    #[command(subcommand)]
    Keys(keys::Command),
    /// Tenant administration (an identity with `admin = true` in the tenant policy).
    #[command(subcommand)]
    Tenant(tenant::Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    webinar_client::channel::install_crypto_provider();
    let cli = Cli::parse();
    let json = cli.global.output == output::Format::Json;
    let result = match cli.command {
        Command::Credentials(c) => credentials::run(&cli.global, c).await,
        Command::Webinar(c) => webinars::run(&cli.global, c).await,
        Command::Backfill(a) => webinars::backfill(&cli.global, a).await,
        Command::Register(a) => registrations::register(&cli.global, a).await,
        Command::Import(a) => import::run(&cli.global, a).await,
        Command::Registrations(c) => registrations::run(&cli.global, c).await,
        Command::Forget(a) => registrations::forget(&cli.global, a).await,
        Command::Person(c) => person::run(&cli.global, c).await,
        Command::Metrics(c) => metrics::run(&cli.global, c).await,
        Command::Keys(c) => keys::run(&cli.global, c).await,
        Command::Tenant(c) => tenant::run(&cli.global, c).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(exit) = error.downcast_ref::<Exit>() {
                if !exit.message.is_empty() {
                    eprintln!("{}", exit.message);
                }
                return ExitCode::from(exit.code);
            }
            if let Some(client) = error.downcast_ref::<ClientError>() {
                if json {
                    eprintln!("{}", output::pretty(&client.to_json()));
                } else {
                    eprintln!("{}", Report(client));
                }
                return ExitCode::from(u8::try_from(exit_code(client.kind())).unwrap_or(1));
            }
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
