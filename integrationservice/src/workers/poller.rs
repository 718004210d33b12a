//! The metrics poller: finds webinars whose scheduled pull is due, enqueues one metrics job
//! each (so pulls go through the same leases, per-tenant limits and quota slow-down as
//! deliveries), and moves each webinar to its next slot in the freshness schedule.

use super::WorkerConfig;
use crate::domain::{Engine, Error, jobs::JobKind};
use crate::store::{now_ms, outbox, providers, webinars};

/// Runs one polling pass; returns how many sync jobs were enqueued.
pub(crate) async fn poll_once(engine: &Engine, cfg: &WorkerConfig) -> Result<usize, Error> {
    let schedule = cfg.metrics.clone();
    let n = engine
        .store()
        .transaction(move |conn| {
            let now = now_ms();
            let due = webinars::due_for_metrics(conn, now, 500)?;
            let mut enqueued = 0;
            for w in due {
                let end =
                    (w.start_at > 0).then(|| w.start_at + i64::from(w.duration_minutes) * 60_000);
                let next = end.and_then(|end| schedule.next_after(end, now));
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
                    let mut job =
                        outbox::new_job(&tenant, JobKind::SyncMetrics, Some(&webinar), None, None);
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
