//! Background work of the integration service: outbox delivery workers (leases, back-off with
//! jitter, a per-tenant concurrency limit held across replicas, quota slow-down), the metrics
//! poller, and the periodic rewrap of stored data keys. `Workers::start` runs them until the
//! shutdown token is cancelled; workers wake on in-process job signals and, on PostgreSQL, on
//! notifications from other replicas (`wake`), and poll as a fallback (retries coming due).

pub(crate) mod apply;
pub(crate) mod backoff;
pub(crate) mod execute;
pub(crate) mod gauges;
pub(crate) mod jobs;
pub(crate) mod poller;
pub(crate) mod recorder;
pub(crate) mod rewrap;
pub(crate) mod schedule;
pub(crate) mod seal;
pub(crate) mod wake;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

pub use backoff::Backoff;
pub use schedule::MetricsSchedule;

use crate::domain::Engine;
use crate::domain::jobs::JobKind;
use crate::store::models::JobRow;
use crate::store::{Backend, now_ms, outbox};
use crate::telemetry::{JobEnd, JobLabels};

/// Settings of the background workers.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Identifies this replica in leases.
    pub worker_id: String,
    /// Jobs run at once by this replica.
    pub concurrency: usize,
    /// Jobs of one tenant run at once, by all replicas together (the claim counts the
    /// tenant's unexpired leases in the database).
    pub per_tenant_concurrency: usize,
    /// How long a claimed job belongs to this replica before others may take it.
    pub lease: Duration,
    /// Fallback poll when no wake-up arrives.
    pub poll_interval: Duration,
    /// Back-off of retried jobs.
    pub backoff: Backoff,
    /// Give up after this many attempts (None: retry for ever).
    pub max_attempts: Option<u32>,
    /// First pause of a tenant after a quota answer; doubles while they continue.
    pub quota_pause: Duration,
    /// Longest quota pause.
    pub quota_pause_max: Duration,
    /// Delay of a job that waits for another (e.g. for its webinar to be created).
    pub wait_delay: Duration,
    /// When metrics are pulled after a webinar's end.
    pub metrics: MetricsSchedule,
    /// How often the poller looks for due metrics.
    pub metrics_poll_interval: Duration,
    /// How often stored data keys are rewrapped to the primary key version (None: never).
    pub rewrap_interval: Option<Duration>,
    /// How often the retention purge runs (None: never).
    pub purge_interval: Option<Duration>,
    /// The clock of the retention purge and of the metrics schedule.
    pub clock: Arc<dyn crate::domain::retention::Clock>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("worker-{}", uuid::Uuid::new_v4()),
            concurrency: 64,
            per_tenant_concurrency: 32,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            backoff: Backoff::default(),
            max_attempts: None,
            quota_pause: Duration::from_secs(30),
            quota_pause_max: Duration::from_secs(900),
            wait_delay: Duration::from_secs(2),
            metrics: MetricsSchedule::default(),
            metrics_poll_interval: Duration::from_secs(60),
            rewrap_interval: Some(Duration::from_secs(3600)),
            purge_interval: None,
            clock: Arc::new(crate::domain::retention::SystemClock),
        }
    }
}

/// The running background tasks.
#[derive(Debug)]
pub struct Workers {
    tasks: JoinSet<()>,
    listening: watch::Receiver<bool>,
    /// Stops the PostgreSQL listener when these workers are dropped without a shutdown (a
    /// runtime that ends, a test that panics): the listener is a blocking task, which a
    /// runtime waits for as it shuts down and cannot abort.
    _listener_stop: DropGuard,
}

impl Workers {
    /// Starts the delivery loop, the metrics poller and the rewrap timer, and on PostgreSQL
    /// the listener that wakes the delivery loop when another replica enqueues jobs.
    pub fn start(engine: Engine, config: WorkerConfig, shutdown: CancellationToken) -> Self {
        let mut tasks = JoinSet::new();
        let (listening_tx, listening) = watch::channel(false);
        let listener_stop = shutdown.child_token();
        match engine.store().backend() {
            Backend::Postgres(url) => {
                let (url, signals, stop) =
                    (url.clone(), engine.signals().clone(), listener_stop.clone());
                tasks.spawn_blocking(move || wake::listen(&url, &signals, &listening_tx, &stop));
            }
            // One process per database: in-process signals reach every worker.
            Backend::Sqlite(_) => {
                listening_tx.send_replace(true);
            }
        }
        tasks.spawn(deliver_loop(
            engine.clone(),
            config.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(poll_loop(engine.clone(), config.clone(), shutdown.clone()));
        if let Some(every) = config.purge_interval {
            tasks.spawn(purge_loop(
                engine.clone(),
                every,
                config.clock.clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(seal_loop(engine.clone(), shutdown.clone()));
        if let Some(every) = config.rewrap_interval {
            tasks.spawn(rewrap_loop(engine, every, shutdown));
        }
        Self {
            tasks,
            listening,
            _listener_stop: listener_stop.drop_guard(),
        }
    }

    /// Resolves once this replica hears jobs enqueued and changes made by other replicas (on
    /// PostgreSQL, once its listener is subscribed; at once on SQLite).
    pub async fn listening(&self) {
        let mut rx = self.listening.clone();
        let _ = rx.wait_for(|l| *l).await;
    }

    /// Starts only the listener that wakes this replica's change watchers when other replicas
    /// change a tenant's feed (PostgreSQL; nothing on SQLite), for a replica without workers.
    pub fn listen_for_changes(engine: &Engine, shutdown: CancellationToken) -> Self {
        let mut tasks = JoinSet::new();
        let (listening_tx, listening) = watch::channel(false);
        let listener_stop = shutdown.child_token();
        match engine.store().backend() {
            Backend::Postgres(url) => {
                let (url, signals, stop) =
                    (url.clone(), engine.signals().clone(), listener_stop.clone());
                tasks.spawn_blocking(move || {
                    wake::listen(&url, &signals, &listening_tx, &stop);
                });
            }
            Backend::Sqlite(_) => {
                listening_tx.send_replace(true);
            }
        }
        Self {
            tasks,
            listening,
            _listener_stop: listener_stop.drop_guard(),
        }
    }

    /// Waits until every task has stopped (after the shutdown token was cancelled).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Job kinds whose claim commits durably (see `outbox::claim`): a repeated webinar creation
/// must know from `claims` that an earlier run may have created the webinar.
const DURABLE_CLAIMS: &[JobKind] = &[JobKind::CreateEvent];

async fn deliver_loop(engine: Engine, cfg: WorkerConfig, shutdown: CancellationToken) {
    let global = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut running = JoinSet::new();
    let lease_ms = i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX);
    let per_tenant = i64::try_from(cfg.per_tenant_concurrency.max(1)).unwrap_or(i64::MAX);
    let (recorder, recording) = recorder::Recorder::start(engine.clone());
    loop {
        while running.try_join_next().is_some() {}
        // Claim only what can start now, so claimed jobs never sit on a lease waiting. The
        // claim also keeps each tenant within its limit across replicas.
        let free = global.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            let owner = format!("{}:{}", cfg.worker_id, uuid::Uuid::new_v4());
            let limit = i64::try_from(free).unwrap_or(64);
            let o = owner.clone();
            match engine
                .store()
                .run(move |conn| {
                    outbox::claim(conn, &o, lease_ms, limit, per_tenant, DURABLE_CLAIMS)
                        .map_err(crate::store::StoreError::from)
                })
                .await
            {
                Ok(jobs) => jobs.into_iter().map(|j| (j, owner.clone())).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    Vec::new()
                }
            }
        };
        let got_any = !claimed.is_empty();
        // One read of the claimed jobs' rows for all of them (each run reads alone if it fails).
        let mut loaded: Vec<Option<crate::store::job_inputs::JobInputs>> = if claimed.is_empty() {
            Vec::new()
        } else {
            let jobs: Vec<_> = claimed.iter().map(|(job, _)| job.clone()).collect();
            match execute::load_all(&engine, &jobs).await {
                Ok(rows) => rows.into_iter().map(Some).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the claimed jobs' rows failed");
                    Vec::new()
                }
            }
        };
        loaded.resize_with(claimed.len(), || None);
        for ((job, owner), loaded) in claimed.into_iter().zip(loaded) {
            let Ok(permit) = global.clone().try_acquire_owned() else {
                break;
            };
            let engine = engine.clone();
            let cfg = cfg.clone();
            let recorder = recorder.clone();
            let span = crate::telemetry::job_span(&job_labels(&job));
            let shutdown = shutdown.clone();
            running.spawn(async move {
                let _permit = permit;
                let result = match execute::run_loaded(&engine, &job, loaded).await {
                    Ok(result) => result,
                    Err(e) => {
                        tracing::warn!(error = %e, job = job.id, kind = %job.kind, "job could not run");
                        execute::Outcome::Wait.into()
                    }
                };
                crate::telemetry::job_ran(&job_labels(&job), job_end(&result.outcome));
                // Successes are recorded in batches with others that finished meanwhile; the
                // rest (and a batch that failed) one by one.
                let result = match recorder::BatchedSuccess::split(result) {
                    recorder::Recording::Batched(success) => {
                        if recorder.record(job.clone(), owner.clone(), success.clone()).await {
                            return;
                        }
                        success.into_run_result()
                    }
                    recorder::Recording::Alone(result) => result,
                };
                let (tenant, id, kind) = (job.tenant_id(), job.id, job.kind.clone());
                if let Err(e) = record(&engine, &cfg, job, &owner, result, &shutdown).await {
                    tracing::warn!(error = %e, job = id, %kind, "job result could not be recorded; it runs again");
                    // Release the job now rather than when its lease expires.
                    let next = now_ms() + i64::try_from(cfg.wait_delay.as_millis()).unwrap_or(1000);
                    let _ = engine
                        .store()
                        .run(move |conn| {
                            outbox::retry_later(conn, &tenant, id, &owner, next, None, false)
                                .map_err(crate::store::StoreError::from)
                        })
                        .await;
                }
            }.instrument(span));
        }
        if got_any && global.available_permits() > 0 {
            continue;
        }
        if global.available_permits() == 0 {
            // Every slot is busy: only a finishing job (or shutdown) can make a claim useful,
            // so wait for that without asking the database when the next job is due.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = running.join_next() => {}
            }
            continue;
        }
        let sleep = next_sleep(&engine, cfg.poll_interval).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = engine.signals().wait_jobs() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Let running jobs finish their provider call and record it; leases cover the rest.
    while running.join_next().await.is_some() {}
    drop(recorder);
    let _ = recording.await;
}

/// Records a run's result (`apply`). While the database is unavailable, as during a restart
/// or a failover (the pool then hands out the connections that died with the old server, one
/// at a time), it tries again with a growing pause until shortly before the job's lease ends
/// or shutdown: a result given up on leaves the job held until its lease expires, and the
/// provider call is made again. A failed commit may still have committed, so each new try
/// first checks that the job is still this run's; if not, there is nothing left to record.
async fn record(
    engine: &Engine,
    cfg: &WorkerConfig,
    job: JobRow,
    owner: &str,
    result: execute::RunResult,
    shutdown: &CancellationToken,
) -> Result<(), crate::domain::Error> {
    let lease_end = job.lease_until.unwrap_or(0);
    let mut pause = RECORD_RETRY_FIRST;
    loop {
        let recorded =
            apply::apply(engine, cfg, job.clone(), owner.to_owned(), result.clone()).await;
        let pause_ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
        match recorded {
            Err(crate::domain::Error::Unavailable(m))
                if now_ms().saturating_add(pause_ms.saturating_mul(2)) < lease_end =>
            {
                tracing::warn!(error = %m, job = job.id, kind = %job.kind, "job result could not be recorded yet; trying again");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(crate::domain::Error::Unavailable(m)),
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(RECORD_RETRY_MAX);
                let (tenant, id, o) = (job.tenant_id(), job.id, owner.to_owned());
                let held = engine
                    .store()
                    .run(move |conn| {
                        outbox::held_by(conn, &tenant, id, &o)
                            .map_err(crate::store::StoreError::from)
                    })
                    .await;
                // Unknown (still unavailable): try to record again, which fails or succeeds
                // as the check would have.
                if matches!(held, Ok(false)) {
                    return Ok(());
                }
            }
            other => return other,
        }
    }
}

/// First pause before recording a job's result again after the database was unavailable.
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest such pause.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(1);

/// What telemetry records of a job.
fn job_labels(job: &JobRow) -> JobLabels<'_> {
    JobLabels {
        id: job.id,
        kind: &job.kind,
        tenant: &job.tenant,
        webinar_id: job.webinar_id.as_deref(),
        attempts: job.attempts,
        trace_context: job.trace_context.as_deref(),
        created_at: job.created_at,
        metrics_sync: job.kind == JobKind::SyncMetrics.as_str(),
    }
}

/// How telemetry names a run's outcome.
fn job_end(outcome: &execute::Outcome) -> JobEnd {
    use execute::Outcome;
    match outcome {
        Outcome::Done(_) => JobEnd::Done,
        Outcome::Failed(_) => JobEnd::Failed,
        Outcome::Wait => JobEnd::Other("wait"),
        Outcome::Disabled => JobEnd::Other("disabled"),
        Outcome::Stop(_) => JobEnd::Other("stopped"),
    }
}

/// Sleeps until the next job is due, at most `poll`.
async fn next_sleep(engine: &Engine, poll: Duration) -> Duration {
    let next = engine
        .store()
        .run(|conn| outbox::next_due(conn, now_ms()).map_err(crate::store::StoreError::from))
        .await
        .ok()
        .flatten();
    match next {
        Some(at) => {
            let wait = u64::try_from((at - now_ms()).max(5)).unwrap_or(0);
            Duration::from_millis(wait).min(poll)
        }
        None => poll,
    }
}

async fn poll_loop(engine: Engine, cfg: WorkerConfig, shutdown: CancellationToken) {
    loop {
        if let Err(e) = poller::poll_once(&engine, &cfg).await {
            tracing::warn!(error = %e, "metrics poll failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(cfg.metrics_poll_interval) => {}
        }
    }
}

/// Registrations the encryption-at-rest migration seals per transaction.
const SEAL_BATCH: usize = 500;

/// Runs the encryption-at-rest migration (`seal`) once at start, again a minute after a
/// failure (key service unreachable, say), and ends when nothing is left in clear.
async fn seal_loop(engine: Engine, shutdown: CancellationToken) {
    loop {
        let run = tokio::select! {
            _ = shutdown.cancelled() => return,
            run = seal::seal_plaintext_registrations(&engine, SEAL_BATCH) => run,
        };
        match run {
            Ok(report) => {
                if report.sealed > 0 {
                    tracing::info!(?report, "plaintext registrations sealed");
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "sealing plaintext registrations failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

async fn rewrap_loop(engine: Engine, every: Duration, shutdown: CancellationToken) {
    // This replica's name on the rewrap lease.
    let holder = uuid::Uuid::new_v4().to_string();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        match rewrap::rewrap_all(engine.store(), engine.envelope(), &holder).await {
            Ok(report) => tracing::info!(?report, "rewrap pass done"),
            Err(e) => tracing::warn!(error = %e, "rewrap pass failed"),
        }
    }
}

/// The retention purge's lease: one replica purges at a time.
const PURGE_LEASE: &str = "retention-purge";

async fn purge_loop(
    engine: Engine,
    every: Duration,
    clock: Arc<dyn crate::domain::retention::Clock>,
    shutdown: CancellationToken,
) {
    let holder = uuid::Uuid::new_v4().to_string();
    // Held for the whole run plus a margin; released when it ends.
    let ttl_ms = i64::try_from(every.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_add(60_000);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        let h = holder.clone();
        let mine = engine
            .store()
            .run(move |conn| {
                crate::store::leases::acquire(conn, PURGE_LEASE, &h, ttl_ms)
                    .map_err(crate::store::StoreError::from)
            })
            .await;
        match mine {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "retention purge lease failed");
                continue;
            }
        }
        if let Err(e) = engine.retention().purge(clock.as_ref()).await {
            tracing::warn!(error = %e, "retention purge failed");
        }
        let h = holder.clone();
        let _ = engine
            .store()
            .run(move |conn| {
                crate::store::leases::release(conn, PURGE_LEASE, &h)
                    .map_err(crate::store::StoreError::from)
            })
            .await;
    }
}
