//! Service benchmark (not a test): the real `integrationservice` binary as a child process on
//! PostgreSQL, called over real TLS (mTLS client certificates), with the in-process key service
//! and ON24 simulator. Prints: CreateRegistration with 32 concurrent callers beside a raw
//! single-row INSERT baseline of the same rows (32 connections), batch registration beside a
//! raw 1,000-row INSERT baseline, delivery to the simulator with 50 ms ON24 latency, a metrics
//! sync of `BENCH_ATTENDEES` (100,000) attendees seeded in the simulator (SyncWebinarMetrics:
//! the service pulls ON24's attendee report over HTTP and stores every row), and the child's
//! peak RSS (VmHWM) and CPU time in each phase, with the load average. Delivery is measured
//! twice: for one tenant that may use every worker, and spread over 20 tenants each held to
//! its share (`BENCH_WORKERS` workers, 160, `BENCH_PER_TENANT` per tenant, 8), beside the
//! ceiling workers ÷ ON24 latency; then accepted-to-DELIVERED latency (deliver_time minus
//! create_time) of single calls offered on a fixed schedule over the 20 tenants
//! (`BENCH_OFFERED`/s, 500, for `BENCH_OFFERED_SECONDS`, 10); and fairness: the p99 of 19
//! tenants offering `BENCH_FAIR_RATE`/s each (5), alone and beside a 20th offering 100 times
//! that. Each phase also prints its cost per operation (registration, delivery, synced
//! attendee): the service's CPU time and the PostgreSQL WAL bytes written, for
//! `docs/capacity.md`. Last, (e): the same registration writes (single and batch) and metrics
//! sync (the first, then again with nothing changed) with encryption at rest on and off
//! (`database.benchmark_plaintext_personal_data`, a benchmark-only switch; the writes' emails
//! scattered over the key space as real ones are), each run on fresh
//! webinars of its own, in `BENCH_ENCRYPTION_PAIRS` (2) pairs of alternating order (off then
//! on, on then off), and the ratios of each pair and of the totals.
//!
//! `cargo bench -p integrationservice --bench service`
//! (`BENCH_SINGLE`, `BENCH_BATCHES`, `BENCH_DELIVERIES`, `BENCH_ATTENDEES` change the sizes,
//! `BENCH_BATCH_CALLERS` (4) the concurrent batch callers of (b');
//! `BENCH_POOL` the service's `database.max_connections`, 32 by default: one per caller;
//! `BENCH_ENCRYPTION=0` skips (e); `BENCH_ONLY_SYNC=1` runs only the metrics syncs of (d)
//! and (e), without phases 1 and 2 and without (e)'s registration writes;
//! `BENCH_ONLY_ENCRYPTION=1` runs only (e), for runs of many pairs.)

#[path = "../tests/it/engine/harness.rs"]
#[allow(dead_code, unused_imports)]
mod engine_harness;

#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use prost_types::Timestamp;
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    registration_service_client::RegistrationServiceClient, *,
};
use tonic::transport::Channel;

use common::{
    Fixture, Service, Workers, cpu_secs, env_usize, list_all, loadavg, put_credentials,
    registration, scattered_registration, status_kib, tenant_webinar, webinar,
};

/// Concurrent single-call callers of (a) and (e), and the service's pool by default.
const CALLERS: usize = 32;

/// Tenants of the spread delivery phase.
const TENANTS: usize = 20;

fn bench_tenant(t: usize) -> String {
    format!("bench-{t:02}")
}

/// Waits until `expected` registrations of `webinars` read DELIVERED.
async fn wait_delivered(
    regs: &RegistrationServiceClient<Channel>,
    webinars: &[String],
    expected: usize,
    started: Instant,
) {
    loop {
        if list_all(regs, webinars, "status = DELIVERED").await.len() >= expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "delivery too slow"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One delivered registration of an offered-load run.
#[derive(Clone)]
struct Delivered {
    webinar: String,
    /// deliver_time minus create_time.
    latency: Duration,
}

/// Offers single CreateRegistration calls on a fixed schedule, `per_second` to each webinar
/// of `plan` for `seconds`, whatever the answers do; waits until every one is DELIVERED and
/// gives each one's accepted-to-delivered time. Emails start with `prefix`.
async fn offer(
    regs: &RegistrationServiceClient<Channel>,
    plan: &[(String, usize)],
    seconds: usize,
    prefix: &str,
) -> Vec<Delivered> {
    let mut schedule: Vec<(u64, usize, usize)> = plan
        .iter()
        .enumerate()
        .flat_map(|(w, (_, per_second))| {
            let n = per_second * seconds;
            (0..n).map(move |k| (k as u64 * 1_000_000_000 / (*per_second).max(1) as u64, w, k))
        })
        .collect();
    schedule.sort_unstable();
    let start = tokio::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for (at, w, k) in schedule {
        tokio::time::sleep_until(start + Duration::from_nanos(at)).await;
        let (mut regs, webinar) = (regs.clone(), plan[w].0.clone());
        let registration = registration(prefix, k);
        calls.spawn(async move {
            regs.create_registration(CreateRegistrationRequest {
                parent: webinar,
                registration: Some(registration),
                request_id: String::new(),
            })
            .await
            .expect("create");
        });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("caller");
    }
    let webinars: Vec<String> = plan.iter().map(|(w, _)| w.clone()).collect();
    let expected: usize = plan.iter().map(|(_, r)| r * seconds).sum();
    let millis = |t: &Option<Timestamp>| {
        t.as_ref()
            .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
    };
    let waited = Instant::now();
    loop {
        let mut delivered = Vec::new();
        for webinar in &webinars {
            for r in list_all(regs, std::slice::from_ref(webinar), "status = DELIVERED").await {
                if r.email.starts_with(prefix) {
                    let ms = millis(&r.deliver_time) - millis(&r.create_time);
                    delivered.push(Delivered {
                        webinar: webinar.clone(),
                        latency: Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
                    });
                }
            }
        }
        if delivered.len() >= expected {
            return delivered;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(300),
            "delivery too slow"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `q` quantile of the latencies.
fn quantile(delivered: &[Delivered], q: f64) -> Duration {
    let mut all: Vec<Duration> = delivered.iter().map(|d| d.latency).collect();
    all.sort_unstable();
    all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// `p50 … ms p99 … ms`.
fn quantiles(delivered: &[Delivered]) -> String {
    format!(
        "p50 {:.0} ms p99 {:.0} ms",
        quantile(delivered, 0.50).as_secs_f64() * 1e3,
        quantile(delivered, 0.99).as_secs_f64() * 1e3
    )
}

/// Raw baseline rows: the same columns the service writes, straight into `registrations`.
fn raw_values(webinar: &str, prefix: &str, range: std::ops::Range<usize>) -> String {
    // The column holds the webinar's id, the last segment of its resource name.
    let webinar = webinar.rsplit('/').next().unwrap_or(webinar);
    range
        .map(|i| {
            format!(
                "('baseline', '{prefix}-{i}', '{webinar}', '{prefix}{i}@example.com', 'First{i}', 'Bench', \
                 'Example Ltd', NULL, NULL, '{{}}', 'PENDING', NULL, 0, NULL, NULL, NULL, NULL, 0, 0)"
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

const RAW_INSERT: &str = "INSERT INTO registrations (tenant, id, webinar_id, email, first_name, \
    last_name, company, job_title, crm_reference_id, extra, status, eventuserid, attempts, \
    last_error, next_attempt_at, request_id, delivered_at, created_at, updated_at) VALUES ";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Only (d) and (e)'s metrics sync: no registration writes or deliveries.
    let only_sync = std::env::var("BENCH_ONLY_SYNC").is_ok_and(|v| v == "1");
    // Only (e): its pairs without phases 1 to 3, so more pairs fit in one quiet spell.
    let only_encryption = std::env::var("BENCH_ONLY_ENCRYPTION").is_ok_and(|v| v == "1");
    let (single, batches) = if only_sync {
        (0, 0)
    } else {
        (
            env_usize("BENCH_SINGLE", 6400),
            env_usize("BENCH_BATCHES", 20),
        )
    };
    let attendees = env_usize("BENCH_ATTENDEES", 100_000);
    println!(
        "service benchmark (child process, PostgreSQL, TLS); nproc {}, load at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let bench_cpu0 = cpu_secs("self");

    let tenants: Vec<String> = std::iter::once("demo".to_owned())
        .chain((0..TENANTS).map(bench_tenant))
        .collect();
    let Fixture {
        keys: _keys,
        sim,
        pg,
        service,
    } = Fixture::start(&tenants, env_usize("BENCH_POOL", CALLERS)).await;

    // Phase 1, workers on: credentials, three webinars live at ON24, then delivery.
    let running = service.start(Workers::ONE_TENANT);
    let channel = service.channel(&running).await;
    put_credentials(&channel, "demo", &sim.base_url).await;
    let (w_single, _) = webinar(&channel, "single").await;
    let (w_batch, _) = webinar(&channel, "batch").await;
    let (w_deliver, _) = webinar(&channel, "deliver").await;
    let (w_sync, sync_event) = webinar(&channel, "sync").await;
    let encryption = std::env::var("BENCH_ENCRYPTION").map_or(true, |v| v != "0");
    let mut encryption_runs = Vec::new();
    if encryption {
        // Pairs in alternating order (off then on, on then off, ...): whichever mode runs
        // second meets a bigger database and a warmer cache, and the two orders cancel.
        for pair in 0..env_usize("BENCH_ENCRYPTION_PAIRS", 2).max(1) {
            let modes = if pair % 2 == 0 {
                [EncryptionMode::Off, EncryptionMode::On]
            } else {
                [EncryptionMode::On, EncryptionMode::Off]
            };
            for mode in modes {
                let name = format!("enc-{}{pair}", mode.name());
                encryption_runs.push(EncryptionRun {
                    pair,
                    mode,
                    single: webinar(&channel, &format!("{name}-single")).await.0,
                    batch: webinar(&channel, &format!("{name}-batch")).await.0,
                    sync: webinar(&channel, &format!("{name}-sync")).await,
                });
            }
        }
    }

    if only_sync || only_encryption {
        drop(channel);
        drop(running);
    } else {
        let names = PhaseWebinars {
            single: &w_single,
            batch: &w_batch,
            deliver: &w_deliver,
        };
        write_and_delivery_phases(&service, &sim, &pg, running, channel, names, bench_cpu0).await;
    }

    if attendees == 0 || only_encryption {
        // BENCH_ATTENDEES=0 skips phase 3 (the simulator refuses to seed no one).
        encryption_phase(&service, &sim, &encryption_runs, single, batches, attendees).await;
        println!("load at end {}", loadavg());
        return;
    }
    // Phase 3, a fresh process (workers off, so its VmHWM is the sync's alone): a metrics
    // sync of `attendees` people, every one registered here and at ON24 with viewing.
    let running = service.start(Workers::OFF);
    let channel = service.channel(&running).await;
    let mut regs = RegistrationServiceClient::new(channel.clone());
    let started = Instant::now();
    register_attendees(&mut regs, &w_sync, "attendee", attendees).await;
    let registered = started.elapsed();
    let started = Instant::now();
    let seeded = seed_attendees(&sim, sync_event, "attendee", attendees).await;
    println!(
        "  [sync setup] {attendees} registered in {:.2} s; {seeded} attendees seeded at the simulator in {:.2} s; service VmHWM so far {:.1} MiB",
        registered.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        status_kib(running.child.id(), "VmHWM:") as f64 / 1024.0,
    );
    let mut metrics = MetricsServiceClient::new(channel.clone());
    running.analyze();
    let cpu0 = running.mark();
    let started = Instant::now();
    let answered = sync_until_stored(&mut metrics, &w_sync, attendees).await;
    let wall = started.elapsed();
    println!(
        "(d) metrics sync of {attendees} attendees: {:>8.2} s end to end (SyncWebinarMetrics answered in {:.2} s: ON24 report over HTTP, every row stored)",
        wall.as_secs_f64(),
        answered.as_secs_f64(),
    );
    running.report_per_op("metrics sync", cpu0, wall, attendees);
    // Again with nothing changed: the pull and comparison alone.
    let cpu0 = running.mark();
    let wall = sync_once(&mut metrics, &w_sync).await;
    println!(
        "(d') the same sync again, nothing changed: {:.2} s",
        wall.as_secs_f64()
    );
    running.report_per_op("metrics sync, unchanged", cpu0, wall, attendees);
    drop(metrics);
    drop(regs);
    drop(channel);
    drop(running);
    encryption_phase(&service, &sim, &encryption_runs, single, batches, attendees).await;
    println!("load at end {}", loadavg());
}

/// Registers `attendees` people (`prefix` + number) to `webinar`, 1,000 a call: the people
/// a metrics sync joins its figures to.
async fn register_attendees(
    regs: &mut RegistrationServiceClient<Channel>,
    webinar: &str,
    prefix: &str,
    attendees: usize,
) {
    for b in 0..attendees.div_ceil(1000) {
        let requests = (b * 1000..((b + 1) * 1000).min(attendees))
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(registration(prefix, i)),
                request_id: String::new(),
            })
            .collect();
        regs.batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: webinar.to_owned(),
            requests,
        })
        .await
        .expect("batch");
    }
}

/// Seeds the same people at the simulator as attendees of `event`, each with the viewing
/// every sync of the bench reads; returns how many were seeded.
async fn seed_attendees(
    sim: &on24sim::SimHandle,
    event: i64,
    prefix: &str,
    attendees: usize,
) -> u32 {
    let seeded = sim
        .control()
        .seed_attendees(
            event,
            &on24sim::SeedAttendees {
                count: u32::try_from(attendees).expect("attendees"),
                email_prefix: prefix.to_owned(),
                viewing: on24sim::ViewingRequest {
                    live_minutes: Some(42.0),
                    archive_minutes: Some(3.0),
                    questions: 1,
                    polls: 2,
                    engagement: Some(6.5),
                    ..on24sim::ViewingRequest::default()
                },
                ..on24sim::SeedAttendees::default()
            },
        )
        .await
        .expect("seed");
    seeded.seeded
}

/// Syncs `webinar`'s metrics once; returns how long the call took to answer.
async fn sync_once(metrics: &mut MetricsServiceClient<Channel>, webinar: &str) -> Duration {
    let started = Instant::now();
    metrics
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: webinar.to_owned(),
        })
        .await
        .expect("sync");
    started.elapsed()
}

/// Syncs `webinar`'s metrics and waits until the service's own aggregates count every
/// attendee as stored (the call answers after storing today; polling keeps the figure right
/// if it ever only queues). Returns how long the call itself took to answer.
async fn sync_until_stored(
    metrics: &mut MetricsServiceClient<Channel>,
    webinar: &str,
    attendees: usize,
) -> Duration {
    let started = Instant::now();
    let answered = sync_once(metrics, webinar).await;
    loop {
        let m = metrics
            .get_webinar_metrics(GetWebinarMetricsRequest {
                name: format!("{webinar}/metrics"),
            })
            .await
            .expect("metrics")
            .into_inner()
            .webinar_metrics
            .expect("webinar metrics");
        if m.live_attendee_count as usize >= attendees {
            return answered;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sync did not store {attendees} attendees (stored {})",
            m.live_attendee_count
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (e) Whether personal data is encrypted at rest in one run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EncryptionMode {
    Off,
    On,
}

impl EncryptionMode {
    fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
        }
    }
}

/// (e) One run: a mode, its pair, and webinars of its own.
struct EncryptionRun {
    pair: usize,
    mode: EncryptionMode,
    single: String,
    batch: String,
    sync: (String, i64),
}

/// (e) One run's work and the seconds it took: CreateRegistration calls with `CALLERS`
/// callers, batch registrations, and the metrics sync end to end, then the same sync again
/// with nothing changed (zero when not run).
#[derive(Clone, Copy, Default)]
struct ModeFigures {
    single: (usize, f64),
    batch: (usize, f64),
    sync: f64,
    resync: f64,
}

impl ModeFigures {
    fn add(&mut self, other: &ModeFigures) {
        self.single = (
            self.single.0 + other.single.0,
            self.single.1 + other.single.1,
        );
        self.batch = (self.batch.0 + other.batch.0, self.batch.1 + other.batch.1);
        self.sync += other.sync;
        self.resync += other.resync;
    }

    fn single_rate(&self) -> f64 {
        rate(self.single)
    }

    fn batch_rate(&self) -> f64 {
        rate(self.batch)
    }

    /// On against off: throughput ratios (on / off) for the writes, time ratios (on / off)
    /// for the syncs.
    fn ratios(on: &ModeFigures, off: &ModeFigures, synced: bool) -> String {
        format!(
            "CreateRegistration {:.2}x, batch {:.2}x{}",
            on.single_rate() / off.single_rate(),
            on.batch_rate() / off.batch_rate(),
            if synced {
                format!(
                    ", metrics sync time {:.2}x, unchanged re-sync {:.2}x",
                    on.sync / off.sync,
                    on.resync / off.resync
                )
            } else {
                String::new()
            }
        )
    }
}

/// Operations per second (zero when none ran, as with `BENCH_ONLY_SYNC=1`).
fn rate((count, secs): (usize, f64)) -> f64 {
    if count == 0 { 0.0 } else { count as f64 / secs }
}

/// (e) Registration writes and the metrics sync with encryption at rest off and on, each run
/// on a fresh service process (workers off) and webinars of its own, in pairs of alternating
/// order; prints each run, each pair's ratios and the ratios of the totals (every run of a
/// mode taken together).
async fn encryption_phase(
    service: &Service,
    sim: &on24sim::SimHandle,
    runs: &[EncryptionRun],
    single: usize,
    batches: usize,
    attendees: usize,
) {
    if runs.is_empty() {
        return;
    }
    let mut pairs: Vec<[ModeFigures; 2]> = Vec::new();
    for run in runs {
        let figures = encryption_run(service, sim, run, single, batches, attendees).await;
        if pairs.len() <= run.pair {
            pairs.push([ModeFigures::default(); 2]);
        }
        pairs[run.pair][usize::from(run.mode == EncryptionMode::On)] = figures;
    }
    let mut totals = [ModeFigures::default(); 2];
    for (n, [off, on]) in pairs.iter().enumerate() {
        println!(
            "(e) pair {n}: {}",
            ModeFigures::ratios(on, off, attendees > 0)
        );
        totals[0].add(off);
        totals[1].add(on);
    }
    let [off, on] = &totals;
    println!(
        "(e) encryption on vs off ({} pairs, totals): {} (1.00 = no cost; within 15 % is the goal)",
        pairs.len(),
        ModeFigures::ratios(on, off, attendees > 0)
    );
    // The median pair is not moved by one pair that met a slow spell of the machine.
    let median = |ratio: fn(&ModeFigures, &ModeFigures) -> f64| {
        let mut each: Vec<f64> = pairs.iter().map(|[off, on]| ratio(on, off)).collect();
        each.sort_by(f64::total_cmp);
        let mid = each.len() / 2;
        if each.len().is_multiple_of(2) {
            (each[mid - 1] + each[mid]) / 2.0
        } else {
            each[mid]
        }
    };
    let single = median(|on, off| on.single_rate() / off.single_rate());
    let batch = median(|on, off| on.batch_rate() / off.batch_rate());
    let sync = median(|on, off| on.sync / off.sync);
    let resync = median(|on, off| on.resync / off.resync);
    println!(
        "(e) encryption on vs off ({} pairs, median pair): CreateRegistration {single:.2}x, batch {batch:.2}x{}",
        pairs.len(),
        if attendees > 0 {
            format!(", metrics sync time {sync:.2}x, unchanged re-sync {resync:.2}x")
        } else {
            String::new()
        }
    );
}

/// (e) One run: its writes and syncs, printed and returned.
async fn encryption_run(
    service: &Service,
    sim: &on24sim::SimHandle,
    run: &EncryptionRun,
    single: usize,
    batches: usize,
    attendees: usize,
) -> ModeFigures {
    let mode = run.mode.name();
    let running = service.start_with(Workers::OFF, run.mode == EncryptionMode::Off);
    let mut channels = Vec::new();
    for _ in 0..CALLERS {
        channels.push(service.channel(&running).await);
    }
    let prefix = format!("enc{mode}{}", run.pair);
    let label = |what: &str| format!("(e) {mode} {}: {what}", run.pair);
    let per_caller = single / CALLERS;
    let mark = running.mark();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, channel) in channels.iter().enumerate() {
        let mut client = RegistrationServiceClient::new(channel.clone());
        let (parent, prefix) = (run.single.clone(), format!("{prefix}s"));
        tasks.push(tokio::spawn(async move {
            for i in c * per_caller..(c + 1) * per_caller {
                client
                    .create_registration(CreateRegistrationRequest {
                        parent: parent.clone(),
                        registration: Some(scattered_registration(&prefix, i)),
                        request_id: String::new(),
                    })
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }
    let single = (per_caller * CALLERS, started.elapsed().as_secs_f64());
    if single.0 > 0 {
        running.report_per_op(
            &label("CreateRegistration"),
            mark,
            started.elapsed(),
            single.0,
        );
    }
    let mut regs = RegistrationServiceClient::new(channels[0].clone());
    let mark = running.mark();
    let started = Instant::now();
    for b in 0..batches {
        let requests = (b * 1000..(b + 1) * 1000)
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(scattered_registration(&format!("{prefix}b"), i)),
                request_id: String::new(),
            })
            .collect();
        regs.batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: run.batch.clone(),
            requests,
        })
        .await
        .expect("batch");
    }
    let batch = (batches * 1000, started.elapsed().as_secs_f64());
    if batch.0 > 0 {
        running.report_per_op(&label("batch"), mark, started.elapsed(), batch.0);
    }
    let (mut sync, mut resync) = (0.0, 0.0);
    if attendees > 0 {
        let (w_sync, event) = &run.sync;
        let attendee_prefix = format!("{prefix}a");
        register_attendees(&mut regs, w_sync, &attendee_prefix, attendees).await;
        seed_attendees(sim, *event, &attendee_prefix, attendees).await;
        let mut metrics = MetricsServiceClient::new(channels[0].clone());
        running.analyze();
        let mark = running.mark();
        let started = Instant::now();
        sync_until_stored(&mut metrics, w_sync, attendees).await;
        sync = started.elapsed().as_secs_f64();
        running.report_per_op(&label("metrics sync"), mark, started.elapsed(), attendees);
        // Again with nothing changed: the comparison with what is stored (sealed or not).
        let mark = running.mark();
        let wall = sync_once(&mut metrics, w_sync).await;
        resync = wall.as_secs_f64();
        running.report_per_op(&label("re-sync"), mark, wall, attendees);
    }
    let figures = ModeFigures {
        single,
        batch,
        sync,
        resync,
    };
    println!(
        "(e) encryption at rest {mode} (pair {}): CreateRegistration {:.0}/s, batch {:.0}/s{}",
        run.pair,
        figures.single_rate(),
        figures.batch_rate(),
        if attendees > 0 {
            format!(
                ", metrics sync of {attendees} attendees {sync:.2} s, unchanged re-sync {resync:.2} s"
            )
        } else {
            String::new()
        }
    );
    figures
}

/// The webinars of phases 1 and 2.
struct PhaseWebinars<'a> {
    single: &'a str,
    batch: &'a str,
    deliver: &'a str,
}

/// Phases 1 (delivery, one tenant then spread over `TENANTS`, offered load, fairness) and 2
/// (registration writes beside their raw baselines), on the `running` service of phase 1.
async fn write_and_delivery_phases(
    service: &Service,
    sim: &on24sim::SimHandle,
    pg: &xtask::testdb::TestPostgres,
    running: common::Running,
    channel: Channel,
    names: PhaseWebinars<'_>,
    bench_cpu0: f64,
) {
    let single = env_usize("BENCH_SINGLE", 6400);
    let batches = env_usize("BENCH_BATCHES", 20);
    let deliveries = env_usize("BENCH_DELIVERIES", 3000);
    let (w_single, w_batch, w_deliver) = (
        names.single.to_owned(),
        names.batch.to_owned(),
        names.deliver.to_owned(),
    );
    sim.control()
        .set_faults(&on24sim::FaultConfig {
            latency_ms: 50,
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("latency");
    let mut regs = RegistrationServiceClient::new(channel.clone());
    let cpu0 = running.mark();
    let started = Instant::now();
    for b in 0..deliveries.div_ceil(1000) {
        let requests = (b * 1000..((b + 1) * 1000).min(deliveries))
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(registration("deliver", i)),
                request_id: String::new(),
            })
            .collect();
        regs.batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: w_deliver.clone(),
            requests,
        })
        .await
        .expect("batch");
    }
    wait_delivered(&regs, std::slice::from_ref(&w_deliver), deliveries, started).await;
    let wall = started.elapsed();
    println!(
        "(c) delivery, 50 ms ON24 latency:   {:>8.0} registrations/s ({deliveries} in {:.2} s)",
        deliveries as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    running.report_per_op("delivery", cpu0, wall, deliveries);
    sim.control().clear_faults().await.expect("faults");
    drop(regs);
    drop(channel);
    drop(running);

    // Phase 1b: the same delivery spread over TENANTS tenants, each held to its own share of
    // a larger worker pool; then accepted-to-DELIVERED latency at a steady offered rate.
    let workers = Workers {
        enabled: true,
        concurrency: env_usize("BENCH_WORKERS", 160),
        per_tenant: env_usize("BENCH_PER_TENANT", 8),
    };
    let running = service.start(workers);
    let channel = service.channel(&running).await;
    let mut tenant_webinars = Vec::new();
    for t in 0..TENANTS {
        put_credentials(&channel, &bench_tenant(t), &sim.base_url).await;
        tenant_webinars.push(
            tenant_webinar(&channel, &bench_tenant(t), "deliver")
                .await
                .0,
        );
    }
    sim.control()
        .set_faults(&on24sim::FaultConfig {
            latency_ms: 50,
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("latency");
    let regs = RegistrationServiceClient::new(channel.clone());
    let per_tenant = deliveries.div_ceil(TENANTS);
    let cpu0 = running.mark();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for webinar in &tenant_webinars {
        let (mut regs, webinar) = (regs.clone(), webinar.clone());
        tasks.push(tokio::spawn(async move {
            for b in 0..per_tenant.div_ceil(1000) {
                let requests = (b * 1000..((b + 1) * 1000).min(per_tenant))
                    .map(|i| CreateRegistrationRequest {
                        parent: String::new(),
                        registration: Some(registration("spread", i)),
                        request_id: String::new(),
                    })
                    .collect();
                regs.batch_create_registrations(BatchCreateRegistrationsRequest {
                    parent: webinar.clone(),
                    requests,
                })
                .await
                .expect("batch");
            }
        }));
    }
    for t in tasks {
        t.await.expect("tenant caller");
    }
    wait_delivered(&regs, &tenant_webinars, per_tenant * TENANTS, started).await;
    let wall = started.elapsed();
    println!(
        "(c) delivery, 50 ms ON24 latency, {TENANTS} tenants: {:>8.0} registrations/s ({} in {:.2} s; ceiling {} workers / 50 ms = {:.0}/s, {} per tenant)",
        (per_tenant * TENANTS) as f64 / wall.as_secs_f64(),
        per_tenant * TENANTS,
        wall.as_secs_f64(),
        workers.concurrency,
        workers.concurrency.min(workers.per_tenant * TENANTS) as f64 / 0.05,
        workers.per_tenant,
    );
    running.report_per_op("delivery, tenants", cpu0, wall, per_tenant * TENANTS);

    // Steady offered load: single CreateRegistration calls on a fixed schedule, spread evenly
    // over the tenants; each registration's deliver_time minus its create_time.
    let rate = env_usize("BENCH_OFFERED", 500);
    let seconds = env_usize("BENCH_OFFERED_SECONDS", 10);
    let even: Vec<(String, usize)> = tenant_webinars
        .iter()
        .map(|w| (w.clone(), rate / TENANTS))
        .collect();
    let steady = offer(&regs, &even, seconds, "steady").await;
    println!(
        "(c) accepted to DELIVERED at {rate}/s offered, {TENANTS} tenants: {} ({} registrations)",
        quantiles(&steady),
        steady.len()
    );

    // Fairness: the other tenants' latency alone, then beside one tenant offering 100 times
    // their load (far beyond its share of the workers, so a backlog builds up for it alone).
    let small = env_usize("BENCH_FAIR_RATE", 5);
    let others: Vec<(String, usize)> = tenant_webinars[1..]
        .iter()
        .map(|w| (w.clone(), small))
        .collect();
    let solo = offer(&regs, &others, seconds, "solo").await;
    let mut mixed_plan = others.clone();
    mixed_plan.push((tenant_webinars[0].clone(), small * 100));
    let mixed_all = offer(&regs, &mixed_plan, seconds, "mixed").await;
    let mixed: Vec<Delivered> = mixed_all
        .iter()
        .filter(|d| d.webinar != tenant_webinars[0])
        .cloned()
        .collect();
    let ratio =
        quantile(&mixed, 0.99).as_secs_f64() / quantile(&solo, 0.99).as_secs_f64().max(1e-9);
    println!(
        "(f) fairness, one tenant offering 100x the others ({small}/s each): others {} beside it, {} alone; p99 ratio {ratio:.2}",
        quantiles(&mixed),
        quantiles(&solo)
    );
    sim.control().clear_faults().await.expect("faults");
    drop(regs);
    drop(channel);
    drop(running);

    // Phase 2, workers off: registration throughput without delivery beside it.
    let running = service.start(Workers::OFF);
    let mut channels = Vec::new();
    for _ in 0..CALLERS {
        channels.push(service.channel(&running).await);
    }
    let per_caller = single / CALLERS;
    let cpu0 = running.mark();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, channel) in channels.iter().enumerate() {
        let mut client = RegistrationServiceClient::new(channel.clone());
        let parent = w_single.clone();
        tasks.push(tokio::spawn(async move {
            for i in c * per_caller..(c + 1) * per_caller {
                client
                    .create_registration(CreateRegistrationRequest {
                        parent: parent.clone(),
                        registration: Some(registration("single", i)),
                        request_id: String::new(),
                    })
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }
    let wall = started.elapsed();
    let api = (per_caller * CALLERS) as f64 / wall.as_secs_f64();
    running.report_per_op("CreateRegistration", cpu0, wall, per_caller * CALLERS);

    // Raw baseline: the same rows, single-row autocommit INSERTs from 32 connections.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let (url, webinar) = (pg.url.clone(), w_single.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut conn = PgConnection::establish(&url).expect("connect");
            for i in c * per_caller..(c + 1) * per_caller {
                let sql = format!("{RAW_INSERT}{}", raw_values(&webinar, "single", i..i + 1));
                diesel::sql_query(sql).execute(&mut conn).expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("raw caller");
    }
    let raw = (per_caller * CALLERS) as f64 / started.elapsed().as_secs_f64();
    println!(
        "(a) CreateRegistration, {CALLERS} callers:  {api:>8.0} registrations/s; raw INSERT baseline {raw:.0} rows/s; ratio {:.2}",
        api / raw
    );

    let mut regs = RegistrationServiceClient::new(channels[0].clone());
    let cpu0 = running.mark();
    let started = Instant::now();
    for b in 0..batches {
        let requests = (b * 1000..(b + 1) * 1000)
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(registration("batch", i)),
                request_id: String::new(),
            })
            .collect();
        let results = regs
            .batch_create_registrations(BatchCreateRegistrationsRequest {
                parent: w_batch.clone(),
                requests,
            })
            .await
            .expect("batch")
            .into_inner()
            .results;
        assert!(results.iter().all(|r| r.created));
    }
    let wall = started.elapsed();
    let api = (batches * 1000) as f64 / wall.as_secs_f64();
    running.report_per_op("batch", cpu0, wall, batches * 1000);
    let (url, webinar) = (pg.url.clone(), w_batch.clone());
    let raw_wall = tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).expect("connect");
        let started = Instant::now();
        for b in 0..batches {
            let sql = format!(
                "{RAW_INSERT}{}",
                raw_values(&webinar, "batch", b * 1000..(b + 1) * 1000)
            );
            diesel::sql_query(sql).execute(&mut conn).expect("insert");
        }
        started.elapsed()
    })
    .await
    .expect("raw batch");
    let raw = (batches * 1000) as f64 / raw_wall.as_secs_f64();
    println!(
        "(b) batch registration (1,000/call): {api:>8.0} registrations/s; raw 1,000-row INSERT baseline {raw:.0} rows/s; ratio {:.2}",
        api / raw
    );
    // The same with a few batch callers at once (the issue fixes 32 callers only for single
    // registrations; a CRM importing in parallel sends several batches at a time), beside a
    // raw baseline with as many connections.
    let batch_callers = env_usize("BENCH_BATCH_CALLERS", 4).max(1);
    let per_batch_caller = batches.div_ceil(batch_callers);
    let cpu0 = running.mark();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..batch_callers {
        let mut client = RegistrationServiceClient::new(channels[c % channels.len()].clone());
        let parent = w_batch.clone();
        tasks.push(tokio::spawn(async move {
            for b in c * per_batch_caller..(c + 1) * per_batch_caller {
                let requests = (b * 1000..(b + 1) * 1000)
                    .map(|i| CreateRegistrationRequest {
                        parent: String::new(),
                        registration: Some(registration("pbatch", i)),
                        request_id: String::new(),
                    })
                    .collect();
                let results = client
                    .batch_create_registrations(BatchCreateRegistrationsRequest {
                        parent: parent.clone(),
                        requests,
                    })
                    .await
                    .expect("batch")
                    .into_inner()
                    .results;
                assert!(results.iter().all(|r| r.created));
            }
        }));
    }
    for t in tasks {
        t.await.expect("batch caller");
    }
    let wall = started.elapsed();
    let total = per_batch_caller * batch_callers * 1000;
    let api = total as f64 / wall.as_secs_f64();
    running.report_per_op("batch, concurrent", cpu0, wall, total);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..batch_callers {
        let (url, webinar) = (pg.url.clone(), w_batch.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut conn = PgConnection::establish(&url).expect("connect");
            for b in c * per_batch_caller..(c + 1) * per_batch_caller {
                let sql = format!(
                    "{RAW_INSERT}{}",
                    raw_values(&webinar, "pbatch", b * 1000..(b + 1) * 1000)
                );
                diesel::sql_query(sql).execute(&mut conn).expect("insert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("raw batch caller");
    }
    let raw = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "(b') batch registration, {batch_callers} callers at once: {api:>8.0} registrations/s; raw 1,000-row INSERT baseline ({batch_callers} connections) {raw:.0} rows/s; ratio {:.2}",
        api / raw
    );
    println!(
        "service peak RSS (VmHWM) in phase 2: {:.1} MiB; benchmark process (key service, simulator, callers) CPU {:.1} s; load {}",
        status_kib(running.child.id(), "VmHWM:") as f64 / 1024.0,
        cpu_secs("self") - bench_cpu0,
        loadavg()
    );
    drop(regs);
    drop(channels);
    drop(running);
}
