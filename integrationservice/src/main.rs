//! `integrationservice`: parses arguments, loads the configuration and runs the library.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use integrationservice::{
    config::Config,
    server::{Listeners, run},
};

/// The integration service the CRM calls to run events as ON24 webinars.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML); `INTEGRATIONSERVICE_*` variables override it.
    #[arg(long, global = true, env = "INTEGRATIONSERVICE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC (TLS) and health until SIGINT or SIGTERM.
    Serve,
    /// Apply the embedded database migrations and exit.
    Migrate,
    /// Access audit tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verifies the keyed chain of an access audit log file (and the checkpoint beside it)
    /// and reports the first broken line; exits 2 when the log is broken.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
        /// The audit key, as `audit.key` (`file:/path` or `env:VAR`); default: the
        /// configuration's `audit.key`.
        #[arg(long)]
        key: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Audit {
        command: AuditCommand::Verify { file, key },
    } = &cli.command
    {
        let key = match key {
            Some(key) => key.clone(),
            None => Config::load(cli.config.as_deref())?.audit.key,
        };
        return Ok(match integrationservice::audit::verify(file, &key) {
            Ok(report) => {
                let tail = if report.checkpoint_checked {
                    "reaches its checkpoint"
                } else {
                    "no checkpoint beside it: a cut-off tail cannot be detected"
                };
                println!(
                    "{}: {} records in {} chains, chain intact, {tail}",
                    file.display(),
                    report.records,
                    report.chains
                );
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                println!("{}: BROKEN at {error}", file.display());
                std::process::ExitCode::from(2)
            }
        });
    }
    let config = Config::load(cli.config.as_deref())?;
    // JSON logs on stdout, or on stderr when the access audit has stdout; OTLP traces and
    // metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set. The guard flushes the exporters when
    // main returns.
    let target = if config.audit.sink == "stdout" {
        servicekit::telemetry::LogTarget::Stderr
    } else {
        servicekit::telemetry::LogTarget::Stdout
    };
    let _telemetry = servicekit::telemetry::init("integrationservice", target)?;
    match cli.command {
        Command::Serve => {
            // Before any secret (TLS key, data key, ON24 token) is read into memory.
            servicekit::hardening::harden_process(config.hardening.lock_memory);
            let listeners = Listeners::bind(&config.listen)
                .await
                .context("binding listen.grpc / listen.health")?;
            let shutdown = CancellationToken::new();
            let signal = shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutting down");
                signal.cancel();
            });
            run(config, listeners, shutdown).await?;
        }
        Command::Migrate => {
            integrationservice::server::migrate(&config).await?;
            tracing::info!("migrations applied");
        }
        Command::Audit { .. } => {}
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
