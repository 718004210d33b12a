//! Benchmark (not a test): the cost of OpenTelemetry export on unwrap throughput. Real
//! `keyservice serve` processes, identical but for their `OTEL_*` settings: one exports
//! nothing; one exports every call's trace, and metrics every second, to an OTLP sink of its
//! own in this process (OTLP/gRPC); one does the same with 10 % head sampling
//! (`parentbased_traceidratio`, 0.1); one exports every call's trace over OTLP/HTTP
//! (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`). With `BENCH_BEFORE_BIN=<path of another
//! keyservice binary>` the same four run that binary too (e.g. built before a change), so before and
//! after are compared in one run. Rotating 1 s rounds of unwrap against each over one mTLS
//! channel, so load from other processes hits all alike; prints the throughputs, the ratios
//! to the export-off server of the same binary and what the sinks received.
//!
//! The sinks stand in for a Collector on another machine: during the rounds they only take
//! each export request's bytes (no protobuf decoding on the cores being measured); the spans
//! are decoded and counted after the rounds.
//!
//! Run: `cargo bench -p keyservice --bench telemetry`. Knobs: `BENCH_SECONDS` (rounds per
//! server, default 5), `BENCH_CONCURRENCY` (default 64). `BENCH_HOLD=1` prints the servers'
//! pids and keeps running rounds until killed, to attach `perf record -g -p <pid>`.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::Poll,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::{Message as _, bytes::Buf as _};
use proto::keyservice::v1::{
    GenerateDataKeyRequest, UnwrapKeyRequest, key_service_client::KeyServiceClient,
};
use tonic::codegen::{BoxFuture, Bytes, http};
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

/// An OTLP/gRPC sink (of one server: each has its own). A real Collector runs on other
/// machines, so during the measured rounds the sink does the least a gRPC server can: it takes
/// each export request's message bytes (framing handled by tonic, no protobuf decoding),
/// keeps them and counts requests and bytes. The spans are decoded and counted after the
/// measurement ([`Sink::spans`]), to check that everything arrived.
#[derive(Clone, Default)]
struct Sink {
    traces: Arc<Mutex<Vec<Bytes>>>,
    trace_bytes: Arc<AtomicU64>,
    metric_exports: Arc<AtomicU64>,
    metric_bytes: Arc<AtomicU64>,
}

impl Sink {
    /// Starts the sink on a loopback port; returns its endpoint.
    async fn start(&self) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(RawExport::<TRACES>(self.clone()))
                .add_service(RawExport::<METRICS>(self.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Ok(format!("http://{address}"))
    }

    /// Starts the sink's OTLP/HTTP side (`POST /v1/traces`, `/v1/metrics`, protobuf bodies
    /// kept as bytes like the gRPC side); returns its base URL.
    async fn start_http(&self) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let traces = self.clone();
        let metrics = self.clone();
        let app = axum::Router::new()
            .route(
                "/v1/traces",
                axum::routing::post(move |body: Bytes| {
                    traces.keep_traces(body);
                    std::future::ready(([("content-type", "application/x-protobuf")], Bytes::new()))
                }),
            )
            .route(
                "/v1/metrics",
                axum::routing::post(move |body: Bytes| {
                    metrics.count_metrics(&body);
                    std::future::ready(([("content-type", "application/x-protobuf")], Bytes::new()))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(format!("http://{address}"))
    }

    fn keep_traces(&self, message: Bytes) {
        self.trace_bytes
            .fetch_add(message.len() as u64, Ordering::Relaxed);
        self.traces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    fn count_metrics(&self, message: &Bytes) {
        self.metric_exports.fetch_add(1, Ordering::Relaxed);
        self.metric_bytes
            .fetch_add(message.len() as u64, Ordering::Relaxed);
    }

    /// Decodes what arrived: (trace export requests, spans). Call after the measurement.
    fn spans(&self) -> Result<(usize, usize)> {
        let traces = self.traces.lock().unwrap_or_else(|e| e.into_inner());
        let mut spans = 0;
        for message in traces.iter() {
            spans += ExportTraceServiceRequest::decode(message.clone())?
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>();
        }
        Ok((traces.len(), spans))
    }
}

const TRACES: bool = true;
const METRICS: bool = false;

/// The collector's trace (`true`) or metrics export service, taking raw message bytes.
#[derive(Clone)]
struct RawExport<const TRACES: bool>(Sink);

impl<const T: bool> tonic::server::NamedService for RawExport<T> {
    const NAME: &'static str = if T {
        "opentelemetry.proto.collector.trace.v1.TraceService"
    } else {
        "opentelemetry.proto.collector.metrics.v1.MetricsService"
    };
}

impl<const T: bool> tower::Service<http::Request<tonic::body::Body>> for RawExport<T> {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let sink = self.0.clone();
        Box::pin(async move {
            let export = tower::service_fn(move |request: tonic::Request<Bytes>| {
                let message = request.into_inner();
                if T {
                    sink.keep_traces(message);
                } else {
                    sink.count_metrics(&message);
                }
                // An empty message is the (empty) export response.
                std::future::ready(Ok::<_, tonic::Status>(tonic::Response::new(())))
            });
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(export, request)
                .await)
        })
    }
}

/// Takes a message as its bytes; answers with an empty message.
#[derive(Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = ();
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = ();
    type Error = tonic::Status;

    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> Result<u16> {
    Ok(xtask::ports::free_port()?)
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

/// Starts `keyservice serve` in `dir` (with the `bench` key), exporting to `otlp` if given
/// (over OTLP/HTTP if `http`, else gRPC), sampling traces at `ratio` if given (every trace
/// otherwise).
fn start(
    binary: &str,
    dir: &Path,
    ca: &CertificateAuthority,
    otlp: Option<&str>,
    http: bool,
    ratio: Option<&str>,
) -> Result<(Server, u16)> {
    let (main, health) = (free_port()?, free_port()?);
    write_setup(dir, ca, main, health)?;
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
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
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
        if http {
            serve.env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        }
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
    testkit::wait_for(Duration::from_secs(10), || endpoint.connect())
        .await
        .map_err(|last| anyhow::anyhow!("connecting: {}", last.unwrap_or_default()))
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

/// Clock ticks per second of `/proc/<pid>/stat` times (`CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system, all threads) a process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces):
    // state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// One server of the comparison.
struct Setup {
    label: String,
    binary: String,
    /// Export to a sink of its own.
    export: bool,
    /// Over OTLP/HTTP instead of gRPC.
    http: bool,
    /// Head sampling ratio (every trace otherwise).
    ratio: Option<&'static str>,
    /// Index of the export-off server of the same binary, its baseline.
    base: usize,
}

/// The servers: off, every call traced (over gRPC and over HTTP) and 10 % sampled (gRPC), of
/// this build and, with
/// `BENCH_BEFORE_BIN`, of another keyservice binary (e.g. one built before a change).
fn setups() -> Vec<Setup> {
    let mut binaries = vec![("", env!("CARGO_BIN_EXE_keyservice").to_string())];
    if let Ok(before) = std::env::var("BENCH_BEFORE_BIN") {
        binaries.push(("before: ", before));
    }
    let mut setups = Vec::new();
    for (prefix, binary) in binaries {
        let base = setups.len();
        for (what, export, http, ratio) in [
            ("export off", false, false, None),
            ("export on, every call traced", true, false, None),
            ("export on, 10 % sampled", true, false, Some("0.1")),
            ("OTLP/HTTP, every call traced", true, true, None),
        ] {
            setups.push(Setup {
                label: format!("{prefix}{what}"),
                binary: binary.clone(),
                export,
                http,
                ratio,
                base,
            });
        }
    }
    setups
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = env_or("BENCH_SECONDS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 64) as usize;
    let hold = std::env::var("BENCH_HOLD").is_ok_and(|v| v == "1");
    let ca = CertificateAuthority::new("telemetry bench CA")?;
    let setups = setups();
    let dirs = setups
        .iter()
        .map(|_| tempfile::tempdir())
        .collect::<std::io::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let mut servers = Vec::new();
        let mut sinks = Vec::new();
        for (setup, dir) in setups.iter().zip(&dirs) {
            let sink = if setup.export {
                let sink = Sink::default();
                let endpoint = if setup.http {
                    sink.start_http().await?
                } else {
                    sink.start().await?
                };
                Some((sink, endpoint))
            } else {
                None
            };
            let endpoint = sink.as_ref().map(|(_, endpoint)| endpoint.as_str());
            servers.push(start(
                &setup.binary,
                dir.path(),
                &ca,
                endpoint,
                setup.http,
                setup.ratio,
            )?);
            sinks.push(sink.map(|(sink, _)| sink));
        }
        let mut callers = Vec::new();
        for (_, port) in &servers {
            callers.push(unwrapper(connect(&ca, *port).await?).await?);
        }
        if hold {
            for ((server, _), setup) in servers.iter().zip(&setups) {
                println!("pid {} = {}", server.0.id(), setup.label);
            }
        }
        // Warm all up (connections, caches) before measuring.
        for caller in &callers {
            round(concurrency, Duration::from_millis(300), caller.clone()).await;
        }
        let mut totals = vec![(0u64, 0u64); servers.len()];
        let cpu_before: Vec<u64> = servers.iter().map(|(s, _)| cpu_ticks(s.0.id())).collect();
        let mut rounds = 0;
        while rounds < seconds || hold {
            for (caller, total) in callers.iter().zip(totals.iter_mut()) {
                let r = round(concurrency, Duration::from_secs(1), caller.clone()).await;
                *total = (total.0 + r.0, total.1 + r.1);
            }
            rounds += 1;
        }
        // Let the batch exporters deliver what they have (every 1 s, or 5 s before the
        // change), then decode what arrived.
        tokio::time::sleep(Duration::from_secs(7)).await;
        // Each server's CPU over the rounds and the drain, export threads included: a batch
        // exported after a server's round runs during another server's round and slows that
        // one, so throughput alone misplaces deferred work; CPU per call does not.
        let cpu: Vec<u64> = servers
            .iter()
            .zip(&cpu_before)
            .map(|((s, _), before)| cpu_ticks(s.0.id()).saturating_sub(*before))
            .collect();
        let cpu_per_call: Vec<f64> = cpu
            .iter()
            .zip(&totals)
            .map(|(ticks, (ok, _))| *ticks as f64 * 1e6 / TICKS_PER_SECOND / (*ok).max(1) as f64)
            .collect();
        let secs = rounds.max(1) as f64;
        let rates: Vec<f64> = totals.iter().map(|(ok, _)| *ok as f64 / secs).collect();
        println!(
            "keyservice unwrap with OpenTelemetry export on vs off: {concurrency} concurrent requests, {rounds} rotating 1 s rounds each"
        );
        for (i, setup) in setups.iter().enumerate() {
            print!(
                "  {:<38} {:>9.0} req/s   errors {}   server CPU {:.1} us/call",
                setup.label, rates[i], totals[i].1, cpu_per_call[i]
            );
            match &sinks[i] {
                Some(sink) => {
                    let (requests, spans) = sink.spans()?;
                    let ratio = rates[i] / rates[setup.base].max(1.0);
                    // Throughput a CPU-bound server would keep: CPU per call off / on.
                    let cpu_ratio = cpu_per_call[setup.base] / cpu_per_call[i].max(1e-9);
                    println!(
                        "   ratio to off {ratio:.3} ({:+.1}%)   CPU-per-call ratio {cpu_ratio:.3} ({:+.1}%)   spans received {spans} in {requests} exports ({:.1} MB)   metric exports {} ({:.2} MB)",
                        (ratio - 1.0) * 100.0,
                        (cpu_ratio - 1.0) * 100.0,
                        sink.trace_bytes.load(Ordering::Relaxed) as f64 / 1e6,
                        sink.metric_exports.load(Ordering::Relaxed),
                        sink.metric_bytes.load(Ordering::Relaxed) as f64 / 1e6,
                    );
                }
                None => println!(),
            }
        }
        Ok::<_, anyhow::Error>(())
    })
}
