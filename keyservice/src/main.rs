//! The `keyservice` binary: parses the command line, loads the configuration and calls the
//! library. `serve` runs the service; the rest are operator tasks.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use keyservice::{
    config::Config,
    domain::{DomainSettings, Error as DomainError, KeyPurpose, NewKey, RotationPolicy},
    server::{Listeners, open_manager, run},
};
use tokio_util::sync::CancellationToken;

/// mimalloc instead of the system allocator: per-thread heaps with cheap frees from other
/// threads (spans and audit buffers are built on request threads and freed on export and
/// writer threads). Memory locking is `MCL_ONFAULT` (see `hardening`), so the address space it
/// reserves up front is not made resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hardened key service: wraps and unwraps data keys over mTLS.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Configuration file (TOML); `KEYSERVICE_*` environment variables override it.
    #[arg(long, global = true, env = "KEYSERVICE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the service (mTLS gRPC port and plaintext health port).
    Serve,
    /// Creates the database (migrations) and a first key if it does not exist.
    Init {
        /// Id of the first key.
        #[arg(long, default_value = "on24-credentials")]
        key: String,
    },
    /// Applies pending database migrations and exits.
    Migrate,
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Root key tools.
    RootKey {
        #[command(subcommand)]
        command: RootKeyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verifies the keyed chain of an audit log file and reports the first broken line. The
    /// key comes from `--key`, `--root-key`, or the configuration (`audit.key`, else the root
    /// key); the checkpoint from `--checkpoint`, else `<FILE>.checkpoint` when it exists.
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
        /// The audit key file (as `audit.key = "file:…"`).
        #[arg(long, conflicts_with = "root_key")]
        key: Option<PathBuf>,
        /// A root key to derive the audit key from (`file:…` or `env:…`, as `root_key.source`).
        #[arg(long)]
        root_key: Option<String>,
        /// A signed checkpoint (the checkpoint file, or the JSON of a logged checkpoint).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RootKeyCommand {
    /// Writes 32 random bytes (base64) to a new file readable only by its owner.
    Generate {
        /// Where to write the key; refused if it exists.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("keyservice: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Audit {
            command:
                AuditCommand::Verify {
                    file,
                    key,
                    root_key,
                    checkpoint,
                },
        } => verify_audit(cli.config.as_deref(), &file, key, root_key, checkpoint),
        Command::RootKey {
            command: RootKeyCommand::Generate { out },
        } => {
            if out.exists() {
                bail!("{} exists; refusing to overwrite a root key", out.display());
            }
            keyservice::rootkey::generate_root_key_file(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("root key written to {} (mode 0600)", out.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        command => {
            let config = Config::load(cli.config.as_deref())?;
            let runtime = tokio::runtime::Runtime::new()?;
            // Logs go to stderr so stdout stays pure audit JSON lines when the audit sink is
            // stdout. The OTLP exporter needs the runtime; the guard flushes before it stops.
            let _telemetry = {
                let _runtime = runtime.enter();
                servicekit::telemetry::init("keyservice", servicekit::telemetry::LogTarget::Stderr)?
            };
            runtime.block_on(async_command(command, config))?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

fn verify_audit(
    config: Option<&std::path::Path>,
    file: &std::path::Path,
    key: Option<PathBuf>,
    root_key: Option<String>,
    checkpoint: Option<PathBuf>,
) -> Result<std::process::ExitCode> {
    use keyservice::audit::{AuditKey, Checkpoint, checkpoint_path, verify_file};
    let key = match (key, root_key) {
        (Some(path), _) => AuditKey::load_file(&path)?,
        (None, Some(spec)) => keyservice::rootkey::open_with(&spec, true)?.audit_key()?,
        (None, None) => {
            let config = Config::load(config)?;
            let root = if config.audit.key.is_empty() {
                Some(keyservice::rootkey::open_with(
                    &config.root_key.source,
                    config.root_key.allow_group_read,
                )?)
            } else {
                None
            };
            keyservice::audit::AuditKeys::load(
                &config.audit.key,
                &config.audit.hmac_key,
                root.as_deref(),
            )
            .map_err(anyhow::Error::msg)?
            .chain
        }
    };
    let checkpoint_file = checkpoint.or_else(|| {
        let beside = checkpoint_path(file);
        beside.exists().then_some(beside)
    });
    let checkpoint = match &checkpoint_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(Checkpoint::parse(&text).with_context(|| format!("{}", path.display()))?)
        }
        None => None,
    };
    match verify_file(file, &key, checkpoint.as_ref()) {
        Ok(report) => {
            let tail = if report.checkpoint_checked {
                "reaches its checkpoint"
            } else {
                "no checkpoint given: a cut-off tail cannot be detected"
            };
            println!(
                "{}: {} records in {} chains, chain intact, {tail}",
                file.display(),
                report.records,
                report.chains
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("{}: BROKEN at {error}", file.display());
            Ok(std::process::ExitCode::from(2))
        }
    }
}

async fn async_command(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve => {
            // Before any key is loaded, so no key page can be dumped or swapped.
            keyservice::hardening::harden_process(config.hardening.lock_memory);
            let listeners = Listeners::bind(&config)
                .await
                .context("binding listeners")?;
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            run(config, listeners, shutdown).await?;
        }
        Command::Migrate => {
            let url = config.database.url.clone();
            tokio::task::spawn_blocking(move || keyservice::store::Store::open(&url, 1)).await??;
            println!("migrations applied");
        }
        Command::Init { key } => {
            let settings = DomainSettings {
                maintenance_interval: None,
                ..DomainSettings::default()
            };
            let manager = open_manager(&config, settings).await?;
            let new = NewKey {
                id: key.clone(),
                purpose: KeyPurpose::EncryptDecrypt,
                rotation_policy: RotationPolicy::default(),
            };
            match manager.create_key(new).await {
                Ok(created) => {
                    println!("created keys/{} (version {})", key, created.primary_version)
                }
                Err(DomainError::AlreadyExists(_)) => println!("keys/{key} already exists"),
                Err(error) => return Err(error.into()),
            }
        }
        Command::Audit { .. } | Command::RootKey { .. } => {}
    }
    Ok(())
}

/// SIGTERM (Kubernetes) or Ctrl-C starts the graceful shutdown.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    shutdown.cancel();
}
