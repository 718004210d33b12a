//! The integration service's own telemetry: the span an outbox job runs in (continuing the
//! trace of the CRM request that enqueued it), and its metrics instruments — delivery
//! latency from accept to ON24 acknowledgement, metrics sync lag per webinar, DEK cache hits
//! and misses, outbox depth and age per state, and database pool usage. ON24 answers by class
//! are counted by the ON24 client itself (`on24_client`). Process-wide setup (exporters, logs,
//! the gRPC server layer) is `servicekit::telemetry`.
//!
//! Attributes are low-cardinality ids only: tenant, webinar and job ids, operation names and
//! error classes. Never an email, a name or a credential.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use opentelemetry::{
    KeyValue, global,
    metrics::{Counter, Histogram, Meter},
};
use tokio_util::sync::CancellationToken;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::store::models::JobRow;
use crate::store::{Store, now_ms, outbox};

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

/// The span a claimed outbox job runs in: a child of the CRM request that enqueued it (its
/// stored `traceparent`), so one trace shows the request, the key service call and the ON24
/// delivery that happened later.
pub fn job_span(job: &JobRow) -> Span {
    let span = tracing::info_span!(
        "outbox.job",
        otel.name = %format!("outbox {}", job.kind),
        otel.kind = "consumer",
        otel.status_code = Empty,
        tenant.id = %job.tenant,
        webinar.id = job.webinar_id.as_deref().unwrap_or_default(),
        outbox.job_id = job.id,
        outbox.kind = %job.kind,
        outbox.attempt = job.attempts,
        outcome = Empty,
        on24.error_class = Empty,
    );
    if let Some(traceparent) = &job.trace_context {
        let _ = span.set_parent(servicekit::telemetry::context_from_traceparent(traceparent));
    }
    span
}

/// Records a finished job run on the current (job) span; a success of a job that reached
/// ON24 also records the delivery latency since the job was enqueued.
pub fn job_ran(job: &JobRow, outcome: &crate::workers::execute::Outcome) {
    use crate::workers::execute::Outcome;
    let span = Span::current();
    let name = match outcome {
        Outcome::Done(_) => {
            let latency = now_ms().saturating_sub(job.created_at).max(0);
            if job.kind == crate::domain::jobs::SYNC_METRICS {
                instruments().sync_lag.record(
                    latency as f64,
                    &[KeyValue::new(
                        "webinar.id",
                        job.webinar_id.clone().unwrap_or_default(),
                    )],
                );
            }
            instruments().delivery_latency.record(
                latency as f64,
                &[
                    KeyValue::new("outbox.kind", job.kind.clone()),
                    KeyValue::new("tenant.id", job.tenant.clone()),
                ],
            );
            "done"
        }
        Outcome::Failed(_) => {
            span.record("otel.status_code", "ERROR");
            "failed"
        }
        Outcome::Wait => "wait",
        Outcome::Disabled => "disabled",
        Outcome::Stop(_) => "stopped",
    };
    span.record("outcome", name);
}

/// Counts a DEK cache lookup.
pub fn dek_cache_lookup(hit: bool) {
    instruments().dek_cache.add(
        1,
        &[KeyValue::new("result", if hit { "hit" } else { "miss" })],
    );
}

/// What the store gauges report, refreshed by [`spawn_store_gauges`].
#[derive(Debug, Default, Clone)]
struct StoreSnapshot {
    /// (state, jobs, age of the oldest job in ms)
    outbox: Vec<(String, i64, i64)>,
    pool_connections: u32,
    pool_idle: u32,
}

/// Registers the outbox depth/age and pool usage gauges and refreshes them from the store
/// every `every` until `shutdown`. The gauges read a snapshot: the exporter's thread never
/// waits on the database.
pub fn spawn_store_gauges(store: Store, every: Duration, shutdown: CancellationToken) {
    let snapshot = Arc::new(Mutex::new(StoreSnapshot::default()));
    let meter = meter();
    let (depth, age, pool) = (snapshot.clone(), snapshot.clone(), snapshot.clone());
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
    tokio::spawn(async move {
        loop {
            let now = now_ms();
            let counted = store
                .run(move |conn| {
                    use crate::store::schema::outbox_jobs::dsl as j;
                    j::outbox_jobs
                        .group_by(j::state)
                        .select((j::state, count_star(), min(j::created_at)))
                        .load::<(String, i64, Option<i64>)>(conn)
                        .map_err(crate::store::StoreError::from)
                })
                .await;
            if let Ok(rows) = counted {
                let state = store.pool_state();
                if let Ok(mut s) = snapshot.lock() {
                    // Every known state is reported, 0 when empty, so dashboards see the drop.
                    s.outbox = [
                        outbox::READY,
                        outbox::RUNNING,
                        outbox::PAUSED,
                        outbox::FAILED,
                    ]
                    .iter()
                    .map(|state| (state.to_string(), 0, 0))
                    .collect();
                    for (state, n, oldest) in rows {
                        let age = now - oldest.unwrap_or(now);
                        match s.outbox.iter_mut().find(|(known, _, _)| *known == state) {
                            Some(entry) => *entry = (state, n, age),
                            None => s.outbox.push((state, n, age)),
                        }
                    }
                    s.pool_connections = state.connections;
                    s.pool_idle = state.idle_connections;
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}
