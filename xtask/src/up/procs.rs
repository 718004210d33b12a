//! The stack's child processes: started in their own process group (so a terminal's Ctrl-C
//! reaches only `xtask up`, which then stops them in order), output appended to
//! `.state/logs/<name>.log`, readiness waits that fail fast with the log tail when a service
//! dies, and a clean stop: SIGINT, wait, and SIGKILL only after a grace period.

use std::{
    fs,
    net::{Ipv4Addr, TcpStream},
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

/// How long a service gets to stop after SIGINT before it is killed.
const GRACE: Duration = Duration::from_secs(20);

/// One running service.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    child: Child,
    log: std::path::PathBuf,
}

/// Opens (appending) the log file `<logs>/<name>.log`.
pub fn log_file(logs: &Path, name: &str) -> Result<fs::File> {
    let path = logs.join(format!("{name}.log"));
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last lines of a log, to show why a service failed.
pub fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(25);
    format!(
        "--- last lines of {} ---\n{}",
        path.display(),
        lines[start..].join("\n")
    )
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(xtask::ports::free_port()?)
}

impl Service {
    /// Starts `command` with its output in the service's log.
    pub fn spawn(name: &'static str, mut command: Command, logs: &Path) -> Result<Self> {
        let out = log_file(logs, name)?;
        let err = out.try_clone()?;
        let child = command
            // The allocator settings the container image runs with, so the local stack's
            // memory looks like production's.
            .env("GLIBC_TUNABLES", xtask::allocator::GLIBC_TUNABLES)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name,
            child,
            log: logs.join(format!("{name}.log")),
        })
    }

    /// Fails with the log tail if the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}) while starting:\n{}",
                self.name,
                tail(&self.log)
            );
        }
        Ok(())
    }
}

/// Waits until `port` accepts connections.
pub async fn wait_for_port(service: &mut Service, port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        service.check_alive()?;
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not listen on port {port} within {timeout:?}:\n{}",
                service.name,
                tail(&service.log)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `probe` until it exits with one of `ok_codes`.
pub async fn wait_for_probe(
    service: &mut Service,
    mut probe: Command,
    ok_codes: &[i32],
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        service.check_alive()?;
        let output = probe
            .output()
            .await
            .context("running the readiness probe")?;
        if output.status.code().is_some_and(|c| ok_codes.contains(&c)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} is not answering calls after {timeout:?}; the probe said:\n{}\n{}",
                service.name,
                String::from_utf8_lossy(&output.stderr),
                tail(&service.log)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// SIGINT and SIGTERM, caught from the very start so an interrupted start-up still stops
/// the services it already started.
#[derive(Debug)]
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts catching SIGINT and SIGTERM.
    pub fn catch() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Waits for Ctrl-C or SIGTERM (Ok) or for a service to die (Err).
pub async fn wait_for_stop(services: &mut [Service], signals: &mut Signals) -> Result<()> {
    loop {
        tokio::select! {
            () = signals.recv() => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                for service in services.iter_mut() {
                    if let Some(status) = service.child.try_wait()? {
                        bail!("{} stopped unexpectedly ({status}):\n{}", service.name, tail(&service.log));
                    }
                }
            }
        }
    }
}

/// Stops every service, newest first; true when each exited with status 0.
pub async fn stop_all(services: &mut Vec<Service>) -> bool {
    let mut clean = true;
    while let Some(mut service) = services.pop() {
        if let Ok(Some(status)) = service.child.try_wait() {
            println!("    {} had already exited ({status})", service.name);
            clean = false;
            continue;
        }
        if let Some(pid) = service.child.id() {
            // `kill` keeps xtask free of unsafe signal code.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(GRACE, service.child.wait()).await {
            Ok(Ok(status)) if status.success() => println!("    {} stopped", service.name),
            Ok(Ok(status)) => {
                println!(
                    "    {} exited with {status}\n{}",
                    service.name,
                    tail(&service.log)
                );
                clean = false;
            }
            _ => {
                println!(
                    "    {} did not stop within {GRACE:?}; killing it",
                    service.name
                );
                let _ = service.child.kill().await;
                clean = false;
            }
        }
    }
    clean
}
