//! Benchmark (not a test): unwrap throughput and latency over mTLS against a real
//! `keyservice serve` process, beside a no-op RPC (gRPC health Check) on the same mTLS
//! channel, with 64 requests in flight. Prints both, their ratio, and the server's RSS. Then
//! two more figures, each beside its same-run baseline:
//! - open loop: unwraps offered on a fixed schedule (20,000/s), latency counted from each
//!   request's scheduled send time, so a server that falls behind shows its queue in the p99;
//!   the no-op offered on the same schedule is the baseline;
//! - batch unwrap: `BatchUnwrapKeys` of 1,000 keys per request, in keys per second, beside the
//!   single-unwrap rate of the closed-loop rounds.
//!
//! Run: `cargo bench -p keyservice --bench unwrap` (release profile). Environment knobs:
//! `BENCH_SECONDS` (rounds of 1 s per operation, default 5), `BENCH_CONCURRENCY` (default 64),
//! `BENCH_OPEN_LOOP_RATE` (default 20000), `BENCH_OPEN_LOOP_SECONDS` (default 3),
//! `BENCH_BATCH_KEYS` (default 1000), `BENCH_BATCH_CONCURRENCY` (default 2),
//! `BENCH_SERVER_BIN` (another `keyservice` binary to serve, e.g. one built before a change, so
//! both are measured by the same client).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use proto::keyservice::v1::{
    BatchGenerateDataKeysRequest, BatchUnwrapKeysRequest, CreateKeyRequest, GenerateDataKeyRequest,
    Key, KeyPurpose, UnwrapKeyRequest, batch_generate_data_keys_result, batch_unwrap_keys_result,
    key_admin_service_client::KeyAdminServiceClient, key_service_client::KeyServiceClient,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use xtask::pki::CertificateAuthority;

const SERVICE: &str = "spiffe://webinar.local/integrationservice";
const ADMIN: &str = "spiffe://webinar.local/admin";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
            "[[rule]]\nidentity = \"{SERVICE}\"\noperations = [\"generate\", \"unwrap\"]\nkeys = [\"bench\"]\n\n\
             [[rule]]\nidentity = \"{ADMIN}\"\noperations = [\"admin:*\"]\nkeys = [\"*\"]\n"
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
             # the benchmark measures capacity, not the per-identity limit\n\
             [limits]\nrate_per_second = 0\nmax_batch_items = 1000\n"
        ),
    )?;
    Ok(())
}

async fn connect(ca: &CertificateAuthority, port: u16, uri: &str) -> Result<Channel> {
    let client = ca.client_cert_for("bench", uri)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.cert_pem))
        .identity(Identity::from_pem(&client.cert_pem, &client.key_pem))
        .domain_name("localhost");
    Ok(Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(tls)?
        .connect()
        .await?)
}

struct Phase {
    name: &'static str,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    per_server_cpu_second: f64,
}

/// Latencies and errors gathered over several rounds of one operation.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    errors: u64,
    measured: Duration,
    /// Server CPU time (user + system) spent during the rounds.
    server_cpu: Duration,
}

impl Samples {
    fn summary(mut self, name: &'static str) -> Phase {
        self.latencies.sort_unstable();
        let all = &self.latencies;
        let pick = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Phase {
            name,
            per_second: all.len() as f64 / self.measured.as_secs_f64().max(1e-9),
            p50: pick(0.50),
            p99: pick(0.99),
            errors: self.errors,
            per_server_cpu_second: all.len() as f64 / self.server_cpu.as_secs_f64().max(1e-9),
        }
    }
}

/// One round: `concurrency` tasks call `call` back to back for `length` after a short
/// warm-up; requests started in the measured window are recorded.
async fn round<F, Fut>(concurrency: usize, length: Duration, call: Arc<F>, into: &mut Samples)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let warmup = Instant::now() + Duration::from_millis(100);
    let end = warmup + length;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 14);
            let mut errors = 0u64;
            loop {
                let start = Instant::now();
                if start >= end {
                    break;
                }
                let ok = call().await;
                if start >= warmup {
                    latencies.push(start.elapsed());
                    errors += u64::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    for task in tasks {
        if let Ok((latencies, errors)) = task.await {
            into.latencies.extend(latencies);
            into.errors += errors;
        }
    }
    into.measured += length;
}

/// Offers `rate` calls per second for `length` on a fixed schedule, whatever the answers do,
/// and gives each call's latency from its scheduled send time, and the errors. The schedule
/// is kept by a thread of its own sleeping to each send time (tokio's timer ticks in whole
/// milliseconds, which would add up to a millisecond of the sender's own lateness to every
/// latency); it hands each call to the runtime at its time.
async fn open_loop<F, Fut>(rate: u64, length: Duration, call: Arc<F>) -> Samples
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now() + Duration::from_millis(100);
    let total = rate * length.as_secs().max(1);
    let sender = std::thread::spawn(move || {
        let mut calls = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for i in 0..total {
            let scheduled = start + Duration::from_nanos(i * 1_000_000_000 / rate.max(1));
            let now = Instant::now();
            if scheduled > now {
                std::thread::sleep(scheduled - now);
            }
            let call = call.clone();
            calls.push(runtime.spawn(async move {
                let ok = call().await;
                (scheduled.elapsed(), ok)
            }));
        }
        calls
    });
    let calls = tokio::task::spawn_blocking(move || sender.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut samples = Samples::default();
    for call in calls {
        match call.await {
            Ok((latency, ok)) => {
                samples.latencies.push(latency);
                samples.errors += u64::from(!ok);
            }
            Err(_) => samples.errors += 1,
        }
    }
    samples.measured = start.elapsed();
    samples
}

/// User + system CPU time of a process, from `/proc/<pid>/stat` (clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = env_or("BENCH_SECONDS", 5);
    let concurrency = env_or("BENCH_CONCURRENCY", 64) as usize;
    let dir = tempfile::tempdir()?;
    let ca = CertificateAuthority::new("bench CA")?;
    let (main_port, health_port) = (free_port()?, free_port()?);
    write_setup(dir.path(), &ca, main_port, health_port)?;
    let binary = std::env::var("BENCH_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_keyservice").to_owned());
    let config = dir.path().join("keyservice.toml");
    let status = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .args(["init", "--key", "bench"])
        .stdout(Stdio::null())
        .status()
        .context("keyservice init")?;
    if !status.success() {
        bail!("keyservice init failed");
    }
    let server = Server(
        Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("keyservice serve")?,
    );
    let pid = server.0.id();

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let channel = testkit::wait_for(Duration::from_secs(10), || {
            connect(&ca, main_port, SERVICE)
        })
        .await
        .map_err(|last| anyhow::anyhow!("connecting to the server: {}", last.unwrap_or_default()))?;
        let _ = KeyAdminServiceClient::new(connect(&ca, main_port, ADMIN).await?)
            .create_key(CreateKeyRequest {
                key_id: "bench".into(),
                key: Some(Key { purpose: KeyPurpose::EncryptDecrypt as i32, ..Key::default() }),
            })
            .await; // `init` made it already; ALREADY_EXISTS is fine
        let keys = KeyServiceClient::new(channel.clone());
        let batch_keys_client = keys.clone();
        let aad = b"tenant-1/on24-credentials".to_vec();
        let batch_aad = aad.clone();
        let wrapped = keys
            .clone()
            .generate_data_key(GenerateDataKeyRequest { name: "keys/bench".into(), associated_data: aad.clone() })
            .await?
            .into_inner()
            .wrapped_key;
        let rss_idle = rss_kib(pid, "VmRSS:");

        let health = HealthClient::new(channel.clone());
        let noop_call = Arc::new(move || {
            let mut health = health.clone();
            async move {
                health
                    .check(HealthCheckRequest { service: String::new() })
                    .await
                    .is_ok()
            }
        });
        let unwrap_call = Arc::new(move || {
            let mut keys = keys.clone();
            let request = UnwrapKeyRequest {
                wrapped_key: wrapped.clone(),
                associated_data: aad.clone(),
            };
            async move { keys.unwrap_key(request).await.is_ok() }
        });
        // Alternate one-second rounds so that load from other processes on the machine
        // affects both operations alike and the ratio stays meaningful.
        let (mut noop, mut unwrap) = (Samples::default(), Samples::default());
        for _ in 0..seconds {
            let before = cpu_time(pid);
            round(concurrency, Duration::from_secs(1), noop_call.clone(), &mut noop).await;
            let middle = cpu_time(pid);
            round(concurrency, Duration::from_secs(1), unwrap_call.clone(), &mut unwrap).await;
            noop.server_cpu += middle.saturating_sub(before);
            unwrap.server_cpu += cpu_time(pid).saturating_sub(middle);
        }
        let noop = noop.summary("health Check (no-op)");
        let unwrap = unwrap.summary("UnwrapKey");
        // Memory after the closed-loop rounds, comparable with earlier runs of this bench;
        // the open-loop queue and the 1,000-key batches below hold more at once.
        let rss_closed = rss_kib(pid, "VmRSS:");
        let hwm_closed = rss_kib(pid, "VmHWM:");

        // Open loop: the same schedule for both operations, no-op first.
        let rate = env_or("BENCH_OPEN_LOOP_RATE", 20_000);
        let open_seconds = Duration::from_secs(env_or("BENCH_OPEN_LOOP_SECONDS", 3));
        let open_noop = open_loop(rate, open_seconds, noop_call.clone()).await.summary("no-op");
        let open_unwrap = open_loop(rate, open_seconds, unwrap_call.clone()).await.summary("UnwrapKey");

        // Batch unwrap of BENCH_BATCH_KEYS keys per request.
        let batch_keys = env_or("BENCH_BATCH_KEYS", 1000) as usize;
        let generated = batch_keys_client
            .clone()
            .batch_generate_data_keys(BatchGenerateDataKeysRequest {
                requests: vec![
                    GenerateDataKeyRequest { name: "keys/bench".into(), associated_data: batch_aad.clone() };
                    batch_keys
                ],
            })
            .await?
            .into_inner()
            .results;
        let mut unwrap_items = Vec::with_capacity(batch_keys);
        for result in generated {
            match result.result {
                Some(batch_generate_data_keys_result::Result::Response(r)) => {
                    unwrap_items.push(UnwrapKeyRequest { wrapped_key: r.wrapped_key, associated_data: batch_aad.clone() });
                }
                other => bail!("batch generate item failed: {other:?}"),
            }
        }
        let unwrap_items = Arc::new(unwrap_items);
        let batch_call = Arc::new(move || {
            let mut keys = batch_keys_client.clone();
            let request = BatchUnwrapKeysRequest { requests: unwrap_items.as_ref().clone() };
            async move {
                keys.batch_unwrap_keys(request).await.is_ok_and(|r| {
                    r.into_inner().results.iter().all(|item| {
                        matches!(item.result, Some(batch_unwrap_keys_result::Result::Response(_)))
                    })
                })
            }
        });
        let batch_concurrency = env_or("BENCH_BATCH_CONCURRENCY", 2) as usize;
        let mut batches = Samples::default();
        let before = cpu_time(pid);
        for _ in 0..seconds {
            round(batch_concurrency, Duration::from_secs(1), batch_call.clone(), &mut batches).await;
        }
        batches.server_cpu = cpu_time(pid).saturating_sub(before);
        let batches = batches.summary("BatchUnwrapKeys");

        let rss = rss_kib(pid, "VmRSS:");
        let hwm = rss_kib(pid, "VmHWM:");

        println!("keyservice unwrap benchmark: {concurrency} concurrent requests, {seconds} alternating 1 s rounds of each, one mTLS channel");
        for p in [&noop, &unwrap] {
            println!(
                "  {:<22} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   errors {}   {:>7.0} req per server CPU-second",
                p.name,
                p.per_second,
                p.p50.as_secs_f64() * 1e3,
                p.p99.as_secs_f64() * 1e3,
                p.errors,
                p.per_server_cpu_second
            );
        }
        println!("  ratio unwrap / no-op: {:.2}", unwrap.per_second / noop.per_second.max(1.0));
        for (what, p) in [("no-op", &open_noop), ("", &open_unwrap)] {
            let label = if what.is_empty() { String::new() } else { format!(" {what}") };
            println!(
                "  open-loop {rate}/s{label}: p50 {:.3} ms p99 {:.3} ms   (answered {:.0}/s, errors {})",
                p.p50.as_secs_f64() * 1e3,
                p.p99.as_secs_f64() * 1e3,
                p.per_second,
                p.errors
            );
        }
        let keys_per_second = batches.per_second * batch_keys as f64;
        println!(
            "  batch unwrap of {batch_keys} keys, {batch_concurrency} in flight: {keys_per_second:.0} keys/s   p50 {:.3} ms p99 {:.3} ms   errors {}   (single UnwrapKey above: {:.0}/s, ratio {:.1})",
            batches.p50.as_secs_f64() * 1e3,
            batches.p99.as_secs_f64() * 1e3,
            batches.errors,
            unwrap.per_second,
            keys_per_second / unwrap.per_second.max(1.0)
        );
        println!(
            "  server RSS: idle {:.1} MiB, after load {:.1} MiB, peak {:.1} MiB",
            rss_idle as f64 / 1024.0,
            rss_closed as f64 / 1024.0,
            hwm_closed as f64 / 1024.0
        );
        println!(
            "  server RSS after the open-loop and batch phases: {:.1} MiB, peak {:.1} MiB",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
        Ok::<_, anyhow::Error>(())
    })?;
    drop(server);
    Ok(())
}
