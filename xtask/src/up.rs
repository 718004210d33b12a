//! `cargo xtask up`: the local stack in one command. Builds the binaries (debug profile, the
//! same build `cargo xtask test` uses, so the second README command reuses it), prepares the
//! state folder (`.state/`), starts on24sim, the key service and the integration service, waits
//! until a real mTLS call succeeds, writes `.state/stack.json`, prints endpoints and commands,
//! and stays in the foreground until Ctrl-C or SIGTERM, when it stops the services with SIGINT
//! (newest first) and waits for them. Data lives in `.state/`, so a restart keeps it.

mod db;
mod procs;
mod state;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::run::{cargo, exec, target_dir, workspace_root};
use procs::{Service, free_port};
use state::{DEMO_IDENTITY, DEMO_TENANT, IDENTITIES, Layout};

/// Options of `cargo xtask up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// State folder (default: `.state` in the clone).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Build and run the release profile instead of debug (slower to build, faster to run).
    #[arg(long)]
    pub release: bool,
    /// Do not build; use the binaries already in the target folder.
    #[arg(long)]
    pub no_build: bool,
    /// `default` (7443/7080, 8443/8080, 9080, as in docs/team-conventions.md) or `auto`
    /// (free ports, for tests and for running beside another stack).
    #[arg(long, default_value = "default")]
    pub ports: String,
}

/// The ports of one run.
#[derive(Debug, Clone, Copy)]
struct Ports {
    keyservice: u16,
    keyservice_health: u16,
    integration: u16,
    integration_health: u16,
    on24sim: u16,
}

impl Ports {
    fn choose(mode: &str) -> Result<Self> {
        match mode {
            "default" => Ok(Self {
                keyservice: 7443,
                keyservice_health: 7080,
                integration: 8443,
                integration_health: 8080,
                on24sim: 9080,
            }),
            "auto" => Ok(Self {
                keyservice: free_port()?,
                keyservice_health: free_port()?,
                integration: free_port()?,
                integration_health: free_port()?,
                on24sim: free_port()?,
            }),
            other => bail!("--ports must be `default` or `auto`, not `{other}`"),
        }
    }
}

/// Runs the stack until interrupted.
pub fn run(args: &Args) -> Result<()> {
    let root = workspace_root();
    let profile = if args.release { "release" } else { "debug" };
    if !args.no_build {
        let mut build = cargo();
        build.current_dir(&root).args([
            "build",
            "--bins",
            "-p",
            "keyservice",
            "-p",
            "integrationservice",
            "-p",
            "on24sim",
            "-p",
            "webinar-client",
        ]);
        if args.release {
            build.arg("--release");
        }
        exec(&mut build)?;
    }
    let bin = target_dir(&root).join(profile);
    for name in ["keyservice", "integrationservice", "on24sim", "webinarctl"] {
        if !bin.join(name).is_file() {
            bail!(
                "{} is missing; run without --no-build",
                bin.join(name).display()
            );
        }
    }
    let state_dir = match &args.state_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => root.join(".state"),
    };
    let layout = Layout { root: state_dir };
    // A stale stack.json would tell tools the stack is up while it is starting.
    let _ = std::fs::remove_file(layout.stack_json());
    let account = state::prepare(&layout, &bin.join("keyservice"))?;
    let ports = Ports::choose(&args.ports)?;
    let database_url = std::env::var("DATABASE_URL").ok();
    let (ks_db, is_db) = db::urls(&layout, database_url.as_deref())?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(supervise(&bin, &layout, &account, ports, &ks_db, &is_db))
}

async fn supervise(
    bin: &Path,
    layout: &Layout,
    account: &state::DemoAccount,
    ports: Ports,
    ks_db: &str,
    is_db: &str,
) -> Result<()> {
    let mut signals = procs::Signals::catch()?;
    let mut services: Vec<Service> = Vec::new();
    let started = tokio::select! {
        result = start_all(bin, layout, account, ports, ks_db, is_db, &mut services) => result,
        () = signals.recv() => Err(anyhow::anyhow!("interrupted while starting")),
    };
    if let Err(error) = started {
        procs::stop_all(&mut services).await;
        return Err(error);
    }
    write_stack_json(layout, account, ports)?;
    print_banner(layout, ports);

    let outcome = procs::wait_for_stop(&mut services, &mut signals).await;
    let _ = std::fs::remove_file(layout.stack_json());
    println!("\n==> stopping (SIGINT to each service, newest first)");
    let clean = procs::stop_all(&mut services).await;
    outcome?;
    if !clean {
        bail!(
            "a service did not stop cleanly; see {}",
            layout.logs().display()
        );
    }
    println!("    stopped; data kept in {}", layout.root.display());
    Ok(())
}

async fn start_all(
    bin: &Path,
    layout: &Layout,
    account: &state::DemoAccount,
    ports: Ports,
    ks_db: &str,
    is_db: &str,
    services: &mut Vec<Service>,
) -> Result<()> {
    let logs = layout.logs();
    println!("==> starting on24sim on 127.0.0.1:{}", ports.on24sim);
    let mut sim = tokio::process::Command::new(bin.join("on24sim"));
    sim.args(["--listen", &format!("127.0.0.1:{}", ports.on24sim)])
        .args(["--client-id", &account.client_id])
        .args(["--token-key", &account.access_token_key])
        // The secret goes through the environment, not argv (visible in `ps`).
        .env("ON24SIM_TOKEN_SECRET", &account.access_token_secret);
    services.push(Service::spawn("on24sim", sim, &logs)?);
    procs::wait_for_port(&mut services[0], ports.on24sim, Duration::from_secs(30)).await?;

    println!(
        "==> key service: init (first key on24-credentials) and serve on 127.0.0.1:{}",
        ports.keyservice
    );
    let ks_config =
        state::keyservice_config(layout, ports.keyservice, ports.keyservice_health, ks_db)?;
    let status = tokio::process::Command::new(bin.join("keyservice"))
        .arg("--config")
        .arg(&ks_config)
        .args(["init", "--key", "on24-credentials"])
        .stdout(procs::log_file(&logs, "keyservice-init")?)
        .stderr(procs::log_file(&logs, "keyservice-init")?)
        .status()
        .await
        .context("running keyservice init")?;
    if !status.success() {
        bail!(
            "keyservice init failed ({status}):\n{}",
            procs::tail(&logs.join("keyservice-init.log"))
        );
    }
    let mut ks = tokio::process::Command::new(bin.join("keyservice"));
    ks.arg("--config").arg(&ks_config).arg("serve");
    services.push(Service::spawn("keyservice", ks, &logs)?);
    let last = services.len() - 1;
    procs::wait_for_port(
        &mut services[last],
        ports.keyservice,
        Duration::from_secs(60),
    )
    .await?;

    println!("==> integration service on 127.0.0.1:{}", ports.integration);
    let is_config = state::integrationservice_config(
        layout,
        ports.integration,
        ports.integration_health,
        ports.keyservice,
        is_db,
    )?;
    let mut is = tokio::process::Command::new(bin.join("integrationservice"));
    is.arg("--config").arg(&is_config).arg("serve");
    services.push(Service::spawn("integrationservice", is, &logs)?);
    let last = services.len() - 1;
    procs::wait_for_port(
        &mut services[last],
        ports.integration,
        Duration::from_secs(60),
    )
    .await?;

    // Ready means a real call works: TLS, the demo identity's certificate and the policy.
    let mut probe = tokio::process::Command::new(bin.join("webinarctl"));
    probe
        .args([
            "--endpoint",
            &format!("https://127.0.0.1:{}", ports.integration),
        ])
        .arg("--ca")
        .arg(layout.ca_cert())
        .arg("--cert")
        .arg(layout.client_cert(DEMO_IDENTITY))
        .arg("--key")
        .arg(layout.client_key(DEMO_IDENTITY))
        .args([
            "--server-name",
            "localhost",
            "--tenant",
            DEMO_TENANT,
            "--timeout",
            "5s",
        ])
        .args(["credentials", "show", "-o", "json"]);
    procs::wait_for_probe(&mut services[last], probe, &[0, 3], Duration::from_secs(60)).await
}

fn write_stack_json(layout: &Layout, account: &state::DemoAccount, ports: Ports) -> Result<()> {
    let sim = format!("http://127.0.0.1:{}", ports.on24sim);
    let identities: serde_json::Map<String, serde_json::Value> = IDENTITIES
        .iter()
        .map(|(name, _, uri)| {
            (
                name.to_string(),
                json!({"uri": uri, "cert": layout.client_cert(name), "key": layout.client_key(name)}),
            )
        })
        .collect();
    let stack = json!({
        "version": 1,
        "pid": std::process::id(),
        "state_dir": layout.root,
        "ca_cert": layout.ca_cert(),
        "keyservice": {
            "endpoint": format!("https://127.0.0.1:{}", ports.keyservice),
            "health": format!("http://127.0.0.1:{}", ports.keyservice_health),
            "server_name": "localhost",
        },
        "integrationservice": {
            "endpoint": format!("https://127.0.0.1:{}", ports.integration),
            "health": format!("http://127.0.0.1:{}", ports.integration_health),
            "server_name": "localhost",
        },
        "on24sim": {"base_url": format!("{sim}/v2"), "control_url": format!("{sim}/_sim")},
        "identities": identities,
        "demo": {
            "tenant": DEMO_TENANT,
            "identity": DEMO_IDENTITY,
            "on24": {
                "client_id": account.client_id,
                "access_token_key": account.access_token_key,
                "access_token_secret": account.access_token_secret,
                "base_url": format!("{sim}/v2"),
            },
        },
    });
    // Write then rename, so a reader never sees half a file.
    let tmp = layout.root.join("stack.json.tmp");
    xtask::pki::write_private(&tmp, serde_json::to_string_pretty(&stack)?.as_bytes())?;
    std::fs::rename(&tmp, layout.stack_json())?;
    Ok(())
}

fn print_banner(layout: &Layout, ports: Ports) {
    let stack = layout.stack_json();
    println!(
        "\n==> the stack is up (logs in {logs})\n\
         \n    integration service  https://127.0.0.1:{is}  (health http://127.0.0.1:{ish})\
         \n    key service          https://127.0.0.1:{ks}  (health http://127.0.0.1:{ksh})\
         \n    on24sim              http://127.0.0.1:{sim}/v2  (control /_sim)\
         \n    stack.json           {stack}\n\
         \n    try, in another terminal (webinarctl reads .state/stack.json from the clone):\
         \n      alias webinarctl=\"$PWD/target/debug/webinarctl --stack {stack}\"\
         \n      webinarctl credentials put --from-stack\
         \n      webinarctl webinar create --crm-ref evt-1 --title \"Demo\" --start 2030-01-01T15:00:00Z --duration 60\
         \n      webinarctl register --webinar <id> --email ann@example.com --first-name Ann --last-name Lee\
         \n      webinarctl metrics show <id>\
         \n      webinarctl keys list\n\
         \n    Ctrl-C stops everything; data stays in {state}.",
        logs = layout.logs().display(),
        is = ports.integration,
        ish = ports.integration_health,
        ks = ports.keyservice,
        ksh = ports.keyservice_health,
        sim = ports.on24sim,
        stack = stack.display(),
        state = layout.root.display(),
    );
}
