//! The integration service's own telemetry: the span an outbox job runs in (continuing the
//! trace of the CRM request that enqueued it), and its metrics instruments — delivery
//! latency from accept to ON24 acknowledgement, metrics sync lag per webinar, DEK cache hits
//! and misses, outbox depth and age per state, database pool usage, and each tenant's ON24
//! credentials status. ON24 answers by class are counted by the ON24 client itself
//! (`on24_client`). Process-wide setup (exporters, logs, the gRPC server layer) is
//! `servicekit::telemetry`.
//!
//! A leaf: callers hand over labels and figures (ids, names, counts), so this module imports
//! nothing of the service. Attributes are low-cardinality ids only: tenant, webinar and job
//! ids, operation names and error classes. Never an email, a name or a credential.

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram, Meter},
};
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The instruments, built once from the global meter provider (after `servicekit` init).
struct Instruments {
    delivery_latency: Histogram<f64>,
    sync_lag: Histogram<f64>,
    dek_cache: Counter<u64>,
}

fn meter() -> Meter {
    global::meter("integrationservice")
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = meter();
        Instruments {
            delivery_latency: meter
                .f64_histogram("outbox.delivery.latency")
                .with_unit("ms")
                .with_description("From the job's enqueue (CRM accept) to ON24's acknowledgement")
                .build(),
            sync_lag: meter
                .f64_histogram("metrics.sync.lag")
                .with_unit("ms")
                .with_description("From a metrics sync falling due to its ON24 answer, per webinar")
                .build(),
            dek_cache: meter
                .u64_counter("dek_cache.lookups")
                .with_description("Data-key cache lookups by result (hit or miss)")
                .build(),
        }
    })
}

/// What telemetry knows of an outbox job: its ids and kind, never its payload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobLabels<'a> {
    /// The job's id.
    pub id: i64,
    /// Its kind's stored name.
    pub kind: &'a str,
    /// Its tenant.
    pub tenant: &'a str,
    /// Its webinar, if any.
    pub webinar_id: Option<&'a str>,
    /// Attempts counted before this run.
    pub attempts: i32,
    /// W3C `traceparent` of the request that enqueued it.
    pub trace_context: Option<&'a str>,
    /// When it was enqueued (ms since the epoch).
    pub created_at: i64,
    /// A metrics pull (its success also records the sync lag).
    pub metrics_sync: bool,
}

/// How a job run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobEnd {
    /// Done: the provider acknowledged (records the delivery latency).
    Done,
    /// The provider call failed.
    Failed,
    /// Any other end, by name (`wait`, `disabled`, `stopped`).
    Other(&'static str),
}

/// The span a claimed outbox job runs in: a child of the CRM request that enqueued it (its
/// stored `traceparent`), so one trace shows the request, the key service call and the ON24
/// delivery that happened later.
pub(crate) fn job_span(job: &JobLabels<'_>) -> Span {
    let span = tracing::info_span!(
        "outbox.job",
        otel.name = %format!("outbox {}", job.kind),
        otel.kind = "consumer",
        otel.status_code = Empty,
        tenant.id = %job.tenant,
        webinar.id = job.webinar_id.unwrap_or_default(),
        outbox.job_id = job.id,
        outbox.kind = %job.kind,
        outbox.attempt = job.attempts,
        outcome = Empty,
        on24.error_class = Empty,
    );
    if let Some(traceparent) = job.trace_context {
        let _ = span.set_parent(servicekit::telemetry::context_from_traceparent(traceparent));
    }
    span
}

/// Records a finished job run on the current (job) span; a success of a job that reached
/// ON24 also records the delivery latency since the job was enqueued.
pub(crate) fn job_ran(job: &JobLabels<'_>, end: JobEnd) {
    let span = Span::current();
    let name = match end {
        JobEnd::Done => {
            let now = chrono::Utc::now().timestamp_millis();
            let latency = now.saturating_sub(job.created_at).max(0);
            if job.metrics_sync {
                instruments().sync_lag.record(
                    latency as f64,
                    &[KeyValue::new(
                        "webinar.id",
                        job.webinar_id.unwrap_or_default().to_owned(),
                    )],
                );
            }
            instruments().delivery_latency.record(
                latency as f64,
                &[
                    KeyValue::new("outbox.kind", job.kind.to_owned()),
                    KeyValue::new("tenant.id", job.tenant.to_owned()),
                ],
            );
            "done"
        }
        JobEnd::Failed => {
            span.record("otel.status_code", "ERROR");
            "failed"
        }
        JobEnd::Other(name) => name,
    };
    span.record("outcome", name);
}

/// Counts a DEK cache lookup.
pub(crate) fn dek_cache_lookup(hit: bool) {
    instruments().dek_cache.add(
        1,
        &[KeyValue::new("result", if hit { "hit" } else { "miss" })],
    );
}

/// What the store gauges report, refreshed by [`StoreGauges::update`].
#[derive(Debug, Default, Clone)]
struct StoreSnapshot {
    /// (state, jobs, age of the oldest job in ms)
    outbox: Vec<(String, i64, i64)>,
    pool_connections: u32,
    pool_idle: u32,
    /// (tenant, credentials status) of every tenant with credentials.
    credentials: Vec<(String, String)>,
    /// (key version, live credentials wrapped under it).
    key_versions: Vec<(i32, i64)>,
}

/// The outbox depth/age, pool usage and per-tenant credentials status gauges. They read the last snapshot handed to
/// [`StoreGauges::update`], so the exporter's thread never waits on the database.
#[derive(Clone, Debug)]
pub(crate) struct StoreGauges {
    snapshot: Arc<Mutex<StoreSnapshot>>,
}

impl StoreGauges {
    /// Registers the gauges.
    pub(crate) fn register() -> Self {
        let snapshot = Arc::new(Mutex::new(StoreSnapshot::default()));
        let meter = meter();
        let (depth, age, pool) = (snapshot.clone(), snapshot.clone(), snapshot.clone());
        let credentials = snapshot.clone();
        let key_versions = snapshot.clone();
        let read = |s: &Arc<Mutex<StoreSnapshot>>| s.lock().map(|s| s.clone()).unwrap_or_default();
        meter
            .i64_observable_gauge("outbox.depth")
            .with_description("Outbox jobs per state")
            .with_callback(move |gauge| {
                for (state, jobs, _) in read(&depth).outbox {
                    gauge.observe(jobs, &[KeyValue::new("outbox.state", state)]);
                }
            })
            .build();
        meter
            .i64_observable_gauge("outbox.oldest_age")
            .with_unit("ms")
            .with_description("Age of the oldest outbox job per state")
            .with_callback(move |gauge| {
                for (state, _, oldest) in read(&age).outbox {
                    gauge.observe(oldest, &[KeyValue::new("outbox.state", state)]);
                }
            })
            .build();
        meter
            .i64_observable_gauge("db.client.connection.count")
            .with_description("Database pool connections by state (idle or used)")
            .with_callback(move |gauge| {
                let s = read(&pool);
                let used = s.pool_connections.saturating_sub(s.pool_idle);
                gauge.observe(i64::from(s.pool_idle), &[KeyValue::new("state", "idle")]);
                gauge.observe(i64::from(used), &[KeyValue::new("state", "used")]);
            })
            .build();
        meter
            .i64_observable_gauge("on24.credentials.status")
            .with_description(
                "1 per tenant with ON24 credentials, labelled with their status as last observed",
            )
            .with_callback(move |gauge| {
                for (tenant, status) in read(&credentials).credentials {
                    gauge.observe(
                        1,
                        &[
                            KeyValue::new("tenant.id", tenant),
                            KeyValue::new("credentials.status", status),
                        ],
                    );
                }
            })
            .build();
        meter
            .i64_observable_gauge("credentials.key_version.rows")
            .with_description(
                "Live ON24 credentials per key version of their wrapped data key; rows below the \
                 primary are what the rewrap job still has to move",
            )
            .with_callback(move |gauge| {
                for (version, rows) in read(&key_versions).key_versions {
                    gauge.observe(rows, &[KeyValue::new("key.version", i64::from(version))]);
                }
            })
            .build();
        Self { snapshot }
    }

    /// Replaces the snapshot: `outbox` is (state, jobs, age of the oldest in ms) for every
    /// state (0 when empty, so dashboards see the drop), then the pool's open and idle
    /// connections.
    pub(crate) fn update(
        &self,
        outbox: Vec<(String, i64, i64)>,
        pool_connections: u32,
        pool_idle: u32,
    ) {
        if let Ok(mut s) = self.snapshot.lock() {
            s.outbox = outbox;
            s.pool_connections = pool_connections;
            s.pool_idle = pool_idle;
        }
    }

    /// Replaces the (key version, live credentials) counts.
    pub(crate) fn update_key_versions(&self, key_versions: Vec<(i32, i64)>) {
        if let Ok(mut s) = self.snapshot.lock() {
            s.key_versions = key_versions;
        }
    }

    /// Replaces the (tenant, credentials status) list of every tenant with credentials.
    pub(crate) fn update_credentials(&self, credentials: Vec<(String, String)>) {
        if let Ok(mut s) = self.snapshot.lock() {
            s.credentials = credentials;
        }
    }
}
