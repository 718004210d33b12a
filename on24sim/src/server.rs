//! Serving: the accept loop (plain HTTP/1.1 with keep-alive) and the in-process handle tests use.
//! Connections are served one by one with hyper rather than `axum::serve` so that an injected
//! "reset" can close a connection with SO_LINGER 0, which the peer sees as a TCP RST.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::api::gate::ConnKill;
use crate::config::SimConfig;
use crate::control::client::ControlClient;
use crate::sim::Sim;
use crate::state::Store;

/// How long open connections get to finish after shutdown starts.
const DRAIN: Duration = Duration::from_secs(2);

/// How often `--state` snapshots are written.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);

/// The whole application: ON24 routes plus the control API.
pub fn app(sim: Arc<Sim>) -> Router {
    crate::api::router(sim.clone()).merge(crate::control::router(sim))
}

/// Serves until `shutdown` is cancelled (library-first entry point; `main` calls this too).
pub async fn run(
    config: SimConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let sim = Arc::new(Sim::new(&config, shutdown.clone()));
    if let Some(path) = &config.state_file {
        if path.exists() {
            *sim.store() = Store::load(path)?;
        }
        tokio::spawn(snapshots(sim.clone(), path.clone()));
    }
    let served = serve(listener, sim.clone()).await;
    if let Some(path) = &config.state_file {
        sim.store().save(path)?;
    }
    served
}

/// Writes a snapshot every few seconds so a killed simulator loses little.
async fn snapshots(sim: Arc<Sim>, path: std::path::PathBuf) {
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = sim.store().save(&path) {
                    tracing::warn!(error = %e, "state snapshot failed");
                }
            }
            () = sim.shutdown.cancelled() => return,
        }
    }
}

async fn serve(listener: TcpListener, sim: Arc<Sim>) -> std::io::Result<()> {
    let app = app(sim.clone());
    let shutdown = sim.shutdown.clone();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors and similar: keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => return Ok(()),
        };
        tokio::spawn(connection(stream, app.clone(), shutdown.clone()));
    }
}

async fn connection(stream: tokio::net::TcpStream, app: Router, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    // A second descriptor for the same socket, kept to set SO_LINGER 0 when a reset is injected.
    let Ok(dup) = rustix::io::dup(&stream) else {
        return;
    };
    let kill = CancellationToken::new();
    let k = kill.clone();
    let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ConnKill(k.clone()));
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = kill.cancelled() => {
            let _ = rustix::net::sockopt::set_socket_linger(&dup, Some(Duration::ZERO));
        }
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn.as_mut()).await;
        }
    }
    // `conn` (one descriptor) and `dup` (the other) drop here; with linger 0 the close is an RST.
}

/// Starts simulators in-process.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `127.0.0.1:0` and serves in the background until the handle is shut down or dropped.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(config, listener)
    }

    /// Serves on an already-bound listener.
    pub fn start_on(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(config, listener, shutdown.clone()));
        Ok(SimHandle::new(addr, shutdown, task))
    }
}

/// A running simulator. Dropping it stops the simulator.
#[derive(Debug)]
pub struct SimHandle {
    /// The address the simulator listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` (what `node-on24` calls `baseUrl`).
    pub root_url: String,
    /// `http://127.0.0.1:PORT/v2`, ON24's base URL.
    pub base_url: String,
    /// `http://127.0.0.1:PORT/wcc/api/v2`, the contract's own server path.
    pub wcc_base_url: String,
    /// `http://127.0.0.1:PORT/_sim`.
    pub control_url: String,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    fn new(
        addr: SocketAddr,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    ) -> Self {
        let root_url = format!("http://{addr}");
        Self {
            addr,
            base_url: format!("{root_url}/v2"),
            wcc_base_url: format!("{root_url}/wcc/api/v2"),
            control_url: format!("{root_url}/_sim"),
            root_url,
            shutdown,
            task: Some(task),
        }
    }

    /// A control client for this simulator.
    pub fn control(&self) -> ControlClient {
        ControlClient::new(self.control_url.clone())
    }

    /// Stops accepting, lets open calls finish briefly, ends hung calls, and waits.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
