//! Throughput of the simulator with faults off: concurrent keep-alive HTTP/1.1 clients, half
//! registrant creates (form-urlencoded upserts) and half attendee GETs. Prints requests/s and
//! latency percentiles.
//!
//! `cargo bench -p on24sim --bench throughput` (env: BENCH_SECS=10, BENCH_CONNS=32).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use on24sim::{ControlClient, SimConfig, Simulator, ViewingRequest};

const CLIENT: i64 = 1;
const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates a webinar over plain HTTP and returns its id.
async fn setup_event(http: &reqwest::Client, base: &str) -> anyhow::Result<i64> {
    let v: serde_json::Value = http
        .post(format!("{base}/client/{CLIENT}/event"))
        .header("accessTokenKey", KEY)
        .header("accessTokenSecret", SECRET)
        .form(&[("liveStart", "2099-01-01T10:00:00"), ("liveDuration", "60")])
        .send()
        .await?
        .json()
        .await?;
    v["wccevent"]["eventId"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no eventId"))
}

/// CPU seconds this process has used (user + system), from /proc; `None` off Linux.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Request mix (`BENCH_MIX`): `mixed` (default), `post` (registrant creates only) or `get`
/// (attendee reports only).
#[derive(Debug, Clone, Copy)]
enum Mix {
    Mixed,
    Post,
    Get,
}

impl Mix {
    fn from_env() -> Self {
        match std::env::var("BENCH_MIX").unwrap_or_default().as_str() {
            "post" => Self::Post,
            "get" => Self::Get,
            _ => Self::Mixed,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Mixed => "50% registrant POST / 50% attendee GET",
            Self::Post => "100% registrant POST",
            Self::Get => "100% attendee GET",
        }
    }
}

/// Counters and the two switches every worker watches.
struct Stats {
    ok: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
    measuring: AtomicBool,
}

async fn worker(
    addr: std::net::SocketAddr,
    n: u64,
    reg_event: i64,
    att_event: i64,
    stats: Arc<Stats>,
    mix: Mix,
) -> anyhow::Result<Vec<u32>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut lat = Vec::new();
    let mut i = 0u64;
    while !stats.stop.load(Ordering::Relaxed) {
        i += 1;
        let post = match mix {
            Mix::Mixed => i.is_multiple_of(2),
            Mix::Post => true,
            Mix::Get => false,
        };
        let req = if post {
            // Upserts over a bounded set of emails, as a CRM sync does.
            let body = format!(
                "email=u{}-{}%40bench.example&firstName=Bench&company=ACME",
                n,
                i % 500
            );
            http::Request::post(format!("/v2/client/{CLIENT}/event/{reg_event}/registrant"))
                .header("host", "bench")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accessTokenKey", KEY)
                .header("accessTokenSecret", SECRET)
                .body(Body::from(body))?
        } else {
            http::Request::get(format!("/v2/client/{CLIENT}/event/{att_event}/attendee"))
                .header("host", "bench")
                .header("accessTokenKey", KEY)
                .header("accessTokenSecret", SECRET)
                .body(Body::empty())?
        };
        let t = Instant::now();
        let res = send.send_request(req).await?;
        let status = res.status();
        axum::body::to_bytes(Body::new(res.into_body()), usize::MAX).await?;
        if stats.measuring.load(Ordering::Relaxed) {
            if status.is_success() {
                stats.ok.fetch_add(1, Ordering::Relaxed);
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            } else {
                stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(lat)
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = env_u64("BENCH_SECS", 10);
    let conns = env_u64("BENCH_CONNS", 32);
    let mix = Mix::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sim = Simulator::start(SimConfig::with_account(CLIENT, KEY, SECRET)).await?;
        let http = reqwest::Client::new();
        let reg_event = setup_event(&http, &sim.base_url).await?;
        let att_event = setup_event(&http, &sim.base_url).await?;
        let ctl = ControlClient::new(sim.control_url.clone());
        // Ten attendees with live and on-demand viewing for the GETs to report.
        for i in 0..10 {
            let email = format!("att{i}@bench.example");
            http.post(format!("{}/client/{CLIENT}/event/{att_event}/registrant", sim.base_url))
                .header("accessTokenKey", KEY)
                .header("accessTokenSecret", SECRET)
                .form(&[("email", email.as_str()), ("firstName", "A")])
                .send()
                .await?;
            let v = ViewingRequest { email, live_minutes: Some(30.0), archive_minutes: Some(5.0), questions: 1, ..Default::default() };
            ctl.add_viewing(att_event, &v).await?;
        }
        let stats = Arc::new(Stats {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
        });
        let tasks: Vec<_> = (0..conns)
            .map(|n| tokio::spawn(worker(sim.addr, n, reg_event, att_event, stats.clone(), mix)))
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await; // warm-up, not counted
        stats.measuring.store(true, Ordering::Relaxed);
        let t = Instant::now();
        let cpu0 = cpu_secs();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stats.measuring.store(false, Ordering::Relaxed);
        let elapsed = t.elapsed().as_secs_f64();
        let cpu = cpu0.zip(cpu_secs()).map(|(a, b)| b - a);
        stats.stop.store(true, Ordering::Relaxed);
        let mut lat = Vec::new();
        for task in tasks {
            lat.extend(task.await??);
        }
        lat.sort_unstable();
        let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
        let ok = stats.ok.load(Ordering::Relaxed);
        println!(
            "on24sim throughput: {conns} keep-alive connections, {secs} s, {}, faults off",
            mix.describe()
        );
        println!("  requests ok: {ok}, failed: {}", stats.failed.load(Ordering::Relaxed));
        println!("  throughput: {:.0} requests/s", ok as f64 / elapsed);
        println!("  latency: p50 {} us, p99 {} us, max {} us", pct(0.5), pct(0.99), pct(1.0));
        if let Some(cpu) = cpu {
            // The machine is shared: CPU actually obtained says more than wall time alone.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!(
                "  CPU used by simulator + load generator: {cpu:.1} s of {:.1} s available on {cores} cores; {:.0} requests per CPU-second",
                elapsed * cores as f64,
                ok as f64 / cpu.max(0.001)
            );
        }
        println!("  load average at end: {}", load_average());
        sim.shutdown().await;
        anyhow::Ok(())
    })
}
