//! Benchmark (not a test): the cost of OpenTelemetry export on unwrap throughput. Three real
//! `keyservice serve` processes, identical but for their `OTEL_*` settings: one exports
//! nothing; one exports every call's trace, and metrics every second, to an in-process OTLP
//! sink (the collector's gRPC services from `opentelemetry-proto`, counting what arrives);
//! one does the same with 10 % head sampling (`parentbased_traceidratio`, 0.1). Rotating 1 s
//! rounds of unwrap against each over one mTLS channel, so load from other processes hits
//! all alike; prints the throughputs, the ratios to the export-off server and what the sink
//! received.
//!
//! Run: `cargo bench -p keyservice --bench telemetry`. Knobs: `BENCH_SECONDS` (rounds per
//! server, default 5), `BENCH_CONCURRENCY` (default 64). `BENCH_HOLD=1` prints the servers'
//! pids and keeps running rounds until killed, to attach `perf record -g -p <pid>`.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use proto::keyservice::v1::{
    GenerateDataKeyRequest, UnwrapKeyRequest, key_service_client::KeyServiceClient,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use xtask::pki::CertificateAuthority;

const SERVICE: &str = "spiffe://webinar.local/integrationservice";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An OTLP sink that counts spans and metric exports (of one server: each has its own).
#[derive(Clone, Default)]
struct Sink {
    spans: Arc<AtomicU64>,
    metric_exports: Arc<AtomicU64>,
}

impl Sink {
    /// Starts the sink on a loopback port; returns its endpoint.
    async fn start(&self) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self.clone()))
                .add_service(MetricsServiceServer::new(self.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Ok(format!("http://{address}"))
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        _request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metric_exports.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn write_setup(dir: &Path, ca: &CertificateAuthority, main: u16, health: u16) -> Result<()> {
    ca.server_cert(&["localhost", "127.0.0.1"])?
        .write(dir, "server")?;
    ca.write_cert(&dir.join("ca.crt"))?;
    keyservice::rootkey::generate_root_key_file(dir.join("root.key"))?;
    std::fs::write(
        dir.join("policy.toml"),
        format!(
            "[[rule]]\nidentity = \"{SERVICE}\"\noperations = [\"generate\", \"unwrap\"]\nkeys = [\"bench\"]\n"
        ),
    )?;
    let d = dir.display();
    std::fs::write(
        dir.join("keyservice.toml"),
        format!(
            "[listen]\nmain = \"127.0.0.1:{main}\"\nhealth = \"127.0.0.1:{health}\"\n\
             [tls]\ncert = \"{d}/server.crt\"\nkey = \"{d}/server.key\"\nclient_ca = \"{d}/ca.crt\"\n\
             [root_key]\nsource = \"file:{d}/root.key\"\n\
             [database]\nurl = \"{d}/keyservice.sqlite\"\n\
             [policy]\nfile = \"{d}/policy.toml\"\n\
             [audit]\nsink = \"file:{d}/audit.log\"\n\
             [limits]\nrate_per_second = 0\n"
        ),
    )?;
    Ok(())
}

/// Starts `keyservice serve` in `dir` (with the `bench` key), exporting to `otlp` if given,
/// sampling traces at `ratio` if given (every trace otherwise).
fn start(
    dir: &Path,
    ca: &CertificateAuthority,
    otlp: Option<&str>,
    ratio: Option<&str>,
) -> Result<(Server, u16)> {
    let (main, health) = (free_port()?, free_port()?);
    write_setup(dir, ca, main, health)?;
    let binary = env!("CARGO_BIN_EXE_keyservice");
    let config = dir.join("keyservice.toml");
    let status = Command::new(binary)
        .arg("--config")
        .arg(&config)
        .args(["init", "--key", "bench"])
        .stdout(Stdio::null())
        .status()
        .context("keyservice init")?;
    if !status.success() {
        bail!("keyservice init failed");
    }
    let mut serve = Command::new(binary);
    serve
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("OTEL_TRACES_SAMPLER_ARG")
        .stdout(Stdio::null());
    if let Some(ratio) = ratio {
        serve
            .env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
            .env("OTEL_TRACES_SAMPLER_ARG", ratio);
    }
    if let Some(endpoint) = otlp {
        // Metrics every second (default 60 s), so the run pays for metric export too.
        serve
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000");
    }
    Ok((Server(serve.spawn().context("keyservice serve")?), main))
}

async fn connect(ca: &CertificateAuthority, port: u16) -> Result<Channel> {
    let client = ca.client_cert_for("bench", SERVICE)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.cert_pem))
        .identity(Identity::from_pem(&client.cert_pem, &client.key_pem))
        .domain_name("localhost");
    let endpoint = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?.tls_config(tls)?;
    let mut last = anyhow::anyhow!("not started");
    for _ in 0..100 {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) => last = e.into(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last)
}

/// Unwrap calls against one server: a client and a wrapped key it made.
async fn unwrapper(channel: Channel) -> Result<impl Fn() -> UnwrapCall + Clone> {
    let keys = KeyServiceClient::new(channel);
    let aad = b"tenant-1/on24-credentials".to_vec();
    let wrapped = keys
        .clone()
        .generate_data_key(GenerateDataKeyRequest {
            name: "keys/bench".into(),
            associated_data: aad.clone(),
        })
        .await?
        .into_inner()
        .wrapped_key;
    Ok(move || UnwrapCall {
        keys: keys.clone(),
        request: UnwrapKeyRequest {
            wrapped_key: wrapped.clone(),
            associated_data: aad.clone(),
        },
    })
}

struct UnwrapCall {
    keys: KeyServiceClient<Channel>,
    request: UnwrapKeyRequest,
}

/// One round of `length`: `concurrency` tasks unwrap back to back; returns (ok calls, errors).
async fn round<F>(concurrency: usize, length: Duration, make: F) -> (u64, u64)
where
    F: Fn() -> UnwrapCall + Clone + Send + 'static,
{
    let end = Instant::now() + length;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            while Instant::now() < end {
                let mut call = make();
                match call.keys.unwrap_key(call.request).await {
                    Ok(_) => ok += 1,
                    Err(_) => errors += 1,
                }
            }
            (ok, errors)
        }));
    }
    let mut total = (0, 0);
    for task in tasks {
        if let Ok((ok, errors)) = task.await {
            total.0 += ok;
            total.1 += errors;
        }
    }
    total
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = env_or("BENCH_SECONDS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 64) as usize;
    let hold = std::env::var("BENCH_HOLD").is_ok_and(|v| v == "1");
    let ca = CertificateAuthority::new("telemetry bench CA")?;
    let dirs = [
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    ];
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let (sink_all, sink_sampled) = (Sink::default(), Sink::default());
        let (endpoint_all, endpoint_sampled) = (sink_all.start().await?, sink_sampled.start().await?);
        let servers = [
            start(dirs[0].path(), &ca, None, None)?,
            start(dirs[1].path(), &ca, Some(&endpoint_all), None)?,
            start(dirs[2].path(), &ca, Some(&endpoint_sampled), Some("0.1"))?,
        ];
        let labels = [
            "export off",
            "export on, every call traced",
            "export on, 10 % sampled",
        ];
        let mut callers = Vec::new();
        for (_, port) in &servers {
            callers.push(unwrapper(connect(&ca, *port).await?).await?);
        }
        if hold {
            for ((server, _), label) in servers.iter().zip(labels) {
                println!("pid {} = {label}", server.0.id());
            }
        }
        // Warm all up (connections, caches) before measuring.
        for caller in &callers {
            round(concurrency, Duration::from_millis(300), caller.clone()).await;
        }
        let mut totals = [(0u64, 0u64); 3];
        let mut rounds = 0;
        while rounds < seconds || hold {
            for (caller, total) in callers.iter().zip(totals.iter_mut()) {
                let r = round(concurrency, Duration::from_secs(1), caller.clone()).await;
                *total = (total.0 + r.0, total.1 + r.1);
            }
            rounds += 1;
        }
        // Let the batch exporters deliver what they have (they export every few seconds).
        tokio::time::sleep(Duration::from_secs(6)).await;
        let secs = rounds.max(1) as f64;
        let rates = totals.map(|(ok, _)| ok as f64 / secs);
        println!(
            "keyservice unwrap with OpenTelemetry export on vs off: {concurrency} concurrent requests, {rounds} rotating 1 s rounds each"
        );
        let sinks = [None, Some(&sink_all), Some(&sink_sampled)];
        for (((label, rate), (_, errors)), sink) in labels.iter().zip(rates).zip(totals).zip(sinks) {
            print!("  {label:<30} {rate:>9.0} req/s   errors {errors}");
            match sink {
                Some(sink) => println!(
                    "   spans received {}   metric exports {}   ratio to off {:.3} ({:+.1}%)",
                    sink.spans.load(Ordering::Relaxed),
                    sink.metric_exports.load(Ordering::Relaxed),
                    rate / rates[0].max(1.0),
                    (rate / rates[0].max(1.0) - 1.0) * 100.0
                ),
                None => println!(),
            }
        }
        Ok::<_, anyhow::Error>(())
    })
}
