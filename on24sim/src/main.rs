//! `on24sim`: serves the ON24 simulator on a TCP address until interrupted.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use on24sim::{AccountConfig, FaultConfig, QuotaConfig, SimConfig};
use tokio_util::sync::CancellationToken;

/// A simulator of ON24's REST API v2 (`/v2` and `/wcc/api/v2`) with a control API at `/_sim`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9080")]
    listen: String,
    /// TOML or JSON file with accounts, quota and faults (flags below add to it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Account client id; repeat together with --token-key and --token-secret.
    #[arg(long = "client-id")]
    client_id: Vec<i64>,
    #[arg(long = "token-key")]
    token_key: Vec<String>,
    /// Token secret (also ON24SIM_TOKEN_SECRET for a single account, to keep it out of `ps`).
    #[arg(
        long = "token-secret",
        env = "ON24SIM_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: Vec<String>,
    /// Keep the world (events, registrants, viewing) in this JSON file across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Calls allowed per client per window (unlimited if absent).
    #[arg(long)]
    quota_calls: Option<u64>,
    #[arg(long, default_value_t = 60_000)]
    quota_window_ms: u64,
    #[arg(long)]
    latency_ms: Option<u64>,
    #[arg(long)]
    jitter_ms: Option<u64>,
    /// Share (0..1) of calls answered 500.
    #[arg(long)]
    error_rate: Option<f64>,
    /// Share (0..1) of calls that never answer.
    #[arg(long)]
    hang_rate: Option<f64>,
    /// Share (0..1) of calls whose connection is reset.
    #[arg(long)]
    reset_rate: Option<f64>,
    /// Seed of the fault RNG.
    #[arg(long)]
    seed: Option<u64>,
}

fn config(a: &Args) -> anyhow::Result<SimConfig> {
    let mut cfg = match &a.config {
        Some(p) => {
            SimConfig::from_file(p).with_context(|| format!("config file {}", p.display()))?
        }
        None => SimConfig {
            journal_capacity: 10_000,
            ..SimConfig::default()
        },
    };
    if a.client_id.len() != a.token_key.len() || a.client_id.len() != a.token_secret.len() {
        bail!("--client-id, --token-key and --token-secret must be given the same number of times");
    }
    for ((id, key), secret) in a.client_id.iter().zip(&a.token_key).zip(&a.token_secret) {
        cfg.accounts
            .push(AccountConfig::new(*id, key.clone(), secret.clone()));
    }
    if a.state.is_some() {
        cfg.state_file.clone_from(&a.state);
    }
    if a.quota_calls.is_some() {
        cfg.quota = QuotaConfig {
            calls: a.quota_calls,
            window_ms: a.quota_window_ms,
        };
    }
    let f: &mut FaultConfig = &mut cfg.faults;
    f.latency_ms = a.latency_ms.unwrap_or(f.latency_ms);
    f.jitter_ms = a.jitter_ms.unwrap_or(f.jitter_ms);
    f.error_rate = a.error_rate.unwrap_or(f.error_rate);
    f.hang_rate = a.hang_rate.unwrap_or(f.hang_rate);
    f.reset_rate = a.reset_rate.unwrap_or(f.reset_rate);
    f.seed = a.seed.unwrap_or(f.seed);
    f.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let cfg = config(&args)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("bind {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first stdout line tells scripts and tests the port when --listen used port 0.
    println!("on24sim listening on http://{addr}");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    #[cfg(unix)]
    {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                stop.cancel();
            }
        });
    }
    on24sim::run(cfg, listener, shutdown).await?;
    Ok(())
}
