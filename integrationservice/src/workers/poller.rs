//! The metrics poller: finds webinars whose scheduled pull is due, enqueues one metrics job
//! each (so pulls go through the same leases, per-tenant limits and quota slow-down as
//! deliveries), and moves each webinar to its next slot in the freshness schedule. A pull in
//! a webinar's long tail asks its job to read only the attendees active since the last read.

use super::WorkerConfig;
use crate::domain::jobs::{JobKind, SyncMetricsPayload};
use crate::domain::{Engine, Error};
use crate::store::{outbox, providers, webinars};

/// Runs one polling pass; returns how many sync jobs were enqueued.
pub(crate) async fn poll_once(engine: &Engine, cfg: &WorkerConfig) -> Result<usize, Error> {
    let schedule = cfg.metrics.clone();
    // The schedule's time: tests move it to reach a webinar's long tail without waiting.
    let now = cfg.clock.now_ms();
    let n = engine
        .store()
        .transaction(move |conn| {
            let due = webinars::due_for_metrics(conn, now, 500)?;
            let mut enqueued = 0;
            for w in due {
                let end =
                    (w.start_at > 0).then(|| w.start_at + i64::from(w.duration_minutes) * 60_000);
                let next = end.and_then(|end| schedule.next_after(end, now));
                // Past the full reads, a pull reads only what changed since the last one,
                // whichever slot fell due (a poller stopped for weeks catches up in one read).
                let asked = SyncMetricsPayload {
                    at: now,
                    long_tail: end.is_some_and(|end| schedule.is_long_tail(end, now)),
                };
                let (tenant, webinar) = (w.tenant_id(), w.webinar());
                webinars::schedule_metrics(conn, &tenant, &webinar, next)?;
                let Some(config) = providers::get(conn, &tenant)? else {
                    continue;
                };
                if config.deleted {
                    continue;
                }
                // One pending pull per webinar is enough.
                if !outbox::has_unfinished(conn, &tenant, &webinar, JobKind::SyncMetrics)? {
                    let payload = serde_json::to_string(&asked).map_err(|_| Error::Internal)?;
                    let mut job = outbox::new_job(
                        &tenant,
                        JobKind::SyncMetrics,
                        Some(&webinar),
                        None,
                        Some(payload),
                    );
                    if crate::domain::providers::is_blocked(&config) {
                        job.state = outbox::PAUSED.into();
                    }
                    outbox::enqueue(conn, &[job])?;
                    enqueued += 1;
                }
            }
            Ok::<_, Error>(enqueued)
        })
        .await?;
    if n > 0 {
        engine.signals().jobs_added();
    }
    Ok(n)
}
