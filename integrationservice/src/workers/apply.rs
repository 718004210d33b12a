//! Writes what a job run produced, in one transaction with the job's completion or retry:
//! DELIVERED with the provider's id, RETRYING with attempts / last error / next attempt,
//! FAILED with the permanent reason, the tenant slowed down after a quota answer, or the
//! tenant's work held after its credentials were refused. Every visible change of a
//! registration or webinar is appended to the change feed in the same transaction.
//!
//! Replicas record results concurrently, so each decision about the tenant (slow down, hold,
//! release) is taken with its provider row locked, on what the row says then: a burst of quota
//! answers from calls that were in flight together lengthens the pause once, not once per call;
//! a refusal of credentials that were replaced meanwhile holds nothing; a job that finds its
//! tenant disabled is held with the tenant's other work instead of lingering leased.

use std::time::Duration;

use diesel::prelude::*;

use super::WorkerConfig;
use super::backoff::quota_pause;
use super::execute::{Effect, Outcome, Ran};
use crate::domain::providers::{is_blocked, pause_tenant, status_of};
use crate::domain::{
    CredentialStatus, Engine, Error, RegistrationStatus as S, WebinarStatus, jobs,
};
use crate::provider::ProviderError;
use crate::store::models::JobRow;
use crate::store::schema::{registrations::dsl as r, webinars::dsl as w};
use crate::store::{DbConnection, changes, now_ms, outbox, providers};

/// Appends one REGISTRATION entry to the change feed, in the caller's transaction.
fn registration_changed(
    conn: &mut DbConnection,
    tenant: &str,
    webinar: Option<&str>,
    registration: Option<&str>,
) -> QueryResult<()> {
    changes::append(
        conn,
        &[changes::change(
            tenant,
            "REGISTRATION",
            webinar,
            registration,
        )],
    )
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Sets a registration's visible delivery state (unless it was cancelled or forgotten since).
fn set_registration(
    conn: &mut DbConnection,
    job: &JobRow,
    status: S,
    last_error: Option<&str>,
    next_attempt_at: Option<i64>,
) -> QueryResult<()> {
    let (Some(webinar), Some(reg)) = (&job.webinar_id, &job.registration_id) else {
        return Ok(());
    };
    if job.kind == jobs::CANCEL_REGISTRATION {
        // The registration stays CANCELLED here; the provider's refusal is shown beside it.
        if status == S::Failed {
            diesel::update(
                r::registrations
                    .filter(r::tenant.eq(&job.tenant))
                    .filter(r::id.eq(reg)),
            )
            .set((r::last_error.eq(last_error), r::updated_at.eq(now_ms())))
            .execute(conn)?;
            registration_changed(conn, &job.tenant, Some(webinar), Some(reg))?;
        }
        return Ok(());
    }
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(&job.tenant))
            .filter(r::id.eq(reg))
            .filter(r::status.ne_all([S::Cancelled.as_str(), S::Forgotten.as_str()])),
    )
    .set((
        r::status.eq(status.as_str()),
        r::attempts.eq(job.attempts + 1),
        r::last_error.eq(last_error),
        r::next_attempt_at.eq(next_attempt_at),
        r::updated_at.eq(now_ms()),
    ))
    .execute(conn)?;
    if n > 0 {
        registration_changed(conn, &job.tenant, Some(webinar), Some(reg))?;
    }
    Ok(())
}

/// Marks a registration DELIVERED with the provider's id (unless it was cancelled or
/// forgotten since); true when it changed, so the caller appends its feed entry.
fn delivered(
    conn: &mut DbConnection,
    job: &JobRow,
    registration_id: &str,
    eventuserid: i64,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(&job.tenant))
            .filter(r::id.eq(registration_id))
            .filter(r::status.ne_all([S::Cancelled.as_str(), S::Forgotten.as_str()])),
    )
    .set((
        r::status.eq(S::Delivered.as_str()),
        r::eventuserid.eq(Some(eventuserid)),
        r::attempts.eq(job.attempts + 1),
        r::last_error.eq(None::<String>),
        r::next_attempt_at.eq(None::<i64>),
        r::delivered_at.eq(Some(now)),
        r::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

fn write_effect(
    conn: &mut DbConnection,
    cfg: &WorkerConfig,
    job: &JobRow,
    effect: Effect,
) -> Result<(), Error> {
    // Rows are locked in one order in every transaction (provider config, job, business
    // rows, change feed last) so concurrent workers cannot deadlock on each other.
    providers::clear_throttle(conn, &job.tenant)?;
    let now = now_ms();
    match effect {
        Effect::Nothing => {}
        Effect::Delivered {
            registration_id,
            eventuserid,
        } => {
            if delivered(conn, job, &registration_id, eventuserid, now)? {
                registration_changed(
                    conn,
                    &job.tenant,
                    job.webinar_id.as_deref(),
                    Some(&registration_id),
                )?;
            }
        }
        Effect::EventReady { webinar_id, info } => {
            let Some(row) = crate::store::webinars::get(conn, &job.tenant, &webinar_id)? else {
                return Ok(());
            };
            let end = if row.start_at > 0 {
                Some(row.start_at + i64::from(row.duration_minutes) * 60_000)
            } else {
                info.live_end_ms
            };
            let next = end
                .and_then(|end| cfg.metrics.next_after(end, now))
                .or(row.next_metrics_at);
            // Link only an unlinked webinar (or refresh the same link): when two runs of a
            // create raced, the first recorded wins and the other event is reported.
            let linked = diesel::update(
                w::webinars
                    .filter(w::tenant.eq(&job.tenant))
                    .filter(w::id.eq(&webinar_id))
                    .filter(
                        w::on24_event_id
                            .is_null()
                            .or(w::on24_event_id.eq(info.event_id)),
                    ),
            )
            .set((
                w::on24_event_id.eq(Some(info.event_id)),
                w::status.eq(WebinarStatus::Active.as_str()),
                w::last_error.eq(None::<String>),
                w::audience_url.eq(info.audience_url.or(row.audience_url)),
                w::report_url.eq(info.report_url.or(row.report_url)),
                w::preview_url.eq(info.preview_url.or(row.preview_url)),
                w::next_metrics_at.eq(next),
                w::updated_at.eq(now),
            ))
            .execute(conn)?;
            if linked == 0 {
                tracing::warn!(
                    job = job.id,
                    on24.event_id = info.event_id,
                    linked_event_id = row.on24_event_id,
                    "the webinar is already linked to another ON24 event; this one stays unlinked"
                );
                return Ok(());
            }
            changes::append(
                conn,
                &[changes::change(
                    &job.tenant,
                    "WEBINAR",
                    Some(&webinar_id),
                    None,
                )],
            )?;
        }
        Effect::MetricsSynced { webinar_id, at } => {
            crate::domain::metrics::finish_sync(conn, &job.tenant, &webinar_id, at)?;
        }
    }
    Ok(())
}

/// Stops a job for good and shows why on its registration or webinar.
fn stop(conn: &mut DbConnection, job: &JobRow, owner: &str, reason: &str) -> Result<(), Error> {
    if !outbox::fail(conn, job.id, owner, reason)? {
        // The lease was lost (the tenant was paused, or another replica took over).
        return Ok(());
    }
    if job.kind == jobs::CREATE_EVENT
        && let Some(webinar) = &job.webinar_id
    {
        diesel::update(
            w::webinars
                .filter(w::tenant.eq(&job.tenant))
                .filter(w::id.eq(webinar)),
        )
        .set((
            w::status.eq(WebinarStatus::Failed.as_str()),
            w::last_error.eq(Some(reason)),
            w::updated_at.eq(now_ms()),
        ))
        .execute(conn)?;
        changes::append(
            conn,
            &[changes::change(&job.tenant, "WEBINAR", Some(webinar), None)],
        )?;
    }
    set_registration(conn, job, S::Failed, Some(reason), None)?;
    Ok(())
}

/// Records what a run of `job` (claimed by `owner`) produced.
pub async fn apply(
    engine: &Engine,
    cfg: &WorkerConfig,
    job: JobRow,
    owner: String,
    ran: Ran,
) -> Result<(), Error> {
    let cfg = cfg.clone();
    let Ran {
        outcome,
        secret_version,
    } = ran;
    let feed_grew = match outcome {
        Outcome::Disabled => {
            engine
                .store()
                .transaction(move |conn| disabled(conn, &cfg, &job, &owner))
                .await?
        }
        Outcome::Failed(e @ ProviderError::Credentials { .. }) => {
            let Some((status, message)) = status_of(&Err(e)) else {
                return Ok(());
            };
            engine
                .store()
                .transaction(move |conn| {
                    refused(conn, &job, &owner, secret_version, status, message)
                })
                .await?
        }
        other => {
            engine
                .store()
                .transaction(move |conn| write(conn, &cfg, &job, &owner, other))
                .await?;
            false
        }
    };
    if feed_grew {
        engine.signals().changes_added();
    }
    Ok(())
}

/// Holds one leased job and its registration (the tenant's work is held); true when the
/// registration changed.
fn hold(conn: &mut DbConnection, job: &JobRow, owner: &str) -> Result<bool, Error> {
    if !outbox::pause_job(conn, job.id, owner)? {
        return Ok(false);
    }
    let (Some(webinar), Some(reg)) = (&job.webinar_id, &job.registration_id) else {
        return Ok(false);
    };
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(&job.tenant))
            .filter(r::id.eq(reg))
            .filter(r::status.eq_any([S::Pending.as_str(), S::Retrying.as_str()])),
    )
    .set((r::status.eq(S::Paused.as_str()), r::updated_at.eq(now_ms())))
    .execute(conn)?;
    if n > 0 {
        registration_changed(conn, &job.tenant, Some(webinar), Some(reg))?;
    }
    Ok(n > 0)
}

/// The run found the tenant's integration disabled (credentials deleted or refused). Usually
/// the job was held with the tenant's work already; but a job enqueued by a transaction that
/// read the tenant as enabled just before it was disabled is still leased: hold it too, so it
/// resumes with the rest when credentials are put back (not at some lease expiry).
fn disabled(
    conn: &mut DbConnection,
    cfg: &WorkerConfig,
    job: &JobRow,
    owner: &str,
) -> Result<bool, Error> {
    providers::lock(conn, &job.tenant)?;
    let usable = providers::get(conn, &job.tenant)?.is_some_and(|p| !p.deleted && !is_blocked(&p));
    if usable {
        // Credentials were put back meanwhile: run it again soon.
        outbox::retry_later(
            conn,
            job.id,
            owner,
            now_ms() + ms(cfg.wait_delay),
            None,
            false,
        )?;
        return Ok(false);
    }
    hold(conn, job, owner)
}

/// The provider refused the credentials the run used. If they are still the tenant's
/// credentials, record the status and hold the tenant's work (this job included) so ON24 is
/// not called with credentials it refuses; if they were replaced since the run read them,
/// the refusal says nothing about the new ones: run the job again with those.
fn refused(
    conn: &mut DbConnection,
    job: &JobRow,
    owner: &str,
    used_version: Option<i64>,
    status: CredentialStatus,
    message: Option<String>,
) -> Result<bool, Error> {
    providers::lock(conn, &job.tenant)?;
    let Some(row) = providers::get(conn, &job.tenant)?.filter(|p| !p.deleted) else {
        return hold(conn, job, owner);
    };
    if used_version.is_some_and(|v| v != row.secret_version) {
        outbox::retry_later(conn, job.id, owner, now_ms(), None, false)?;
        return Ok(false);
    }
    tracing::warn!(tenant = %job.tenant, status = status.as_str(), "provider refused the credentials; holding the tenant's work");
    let was_blocked = is_blocked(&row);
    providers::set_status(conn, &job.tenant, status.as_str(), message.as_deref())?;
    if !status.blocks_calls() {
        outbox::retry_later(conn, job.id, owner, now_ms(), None, false)?;
        return Ok(false);
    }
    if was_blocked {
        // Another run recorded the refusal and held the tenant's work already.
        return hold(conn, job, owner);
    }
    pause_tenant(conn, &job.tenant)?;
    changes::append(
        conn,
        &[changes::change(&job.tenant, "CREDENTIALS", None, None)],
    )?;
    Ok(true)
}

fn write(
    conn: &mut DbConnection,
    cfg: &WorkerConfig,
    job: &JobRow,
    owner: &str,
    outcome: Outcome,
) -> Result<(), Error> {
    let now = now_ms();
    match outcome {
        Outcome::Done(effect) => {
            outbox::complete(conn, job.id, owner)?;
            write_effect(conn, cfg, job, effect)?;
        }
        Outcome::Wait => {
            outbox::retry_later(conn, job.id, owner, now + ms(cfg.wait_delay), None, false)?;
        }
        Outcome::Stop(reason) => stop(conn, job, owner, &reason)?,
        Outcome::Failed(ProviderError::Permanent { message }) => stop(conn, job, owner, &message)?,
        Outcome::Failed(ProviderError::Quota { message }) => {
            providers::lock(conn, &job.tenant)?;
            let row = providers::get(conn, &job.tenant)?;
            let until = match row.as_ref().and_then(|p| p.throttle_until) {
                // The tenant is already paused by an answer to a call that was in flight with
                // this one: same burst, so wait with it instead of lengthening the pause again.
                Some(until) if until > now => until,
                _ => {
                    let level = row.map_or(0, |p| p.throttle_level);
                    let until = now
                        + ms(quota_pause(
                            cfg.quota_pause,
                            cfg.quota_pause_max,
                            u32::try_from(level).unwrap_or(0),
                        ));
                    providers::throttle(conn, &job.tenant, until, level.saturating_add(1))?;
                    until
                }
            };
            if outbox::retry_later(conn, job.id, owner, until, Some(&message), false)? {
                set_registration(conn, job, S::Retrying, Some(&message), Some(until))?;
            }
        }
        Outcome::Failed(ProviderError::Retryable { message, .. }) => {
            let attempts = u32::try_from(job.attempts + 1).unwrap_or(u32::MAX);
            if cfg.max_attempts.is_some_and(|max| attempts >= max) {
                stop(
                    conn,
                    job,
                    owner,
                    &format!("gave up after {attempts} attempts: {message}"),
                )?;
            } else {
                let next = now + ms(cfg.backoff.delay(attempts));
                if outbox::retry_later(conn, job.id, owner, next, Some(&message), true)? {
                    set_registration(conn, job, S::Retrying, Some(&message), Some(next))?;
                }
            }
        }
        // Recorded by `refused` and `disabled`.
        Outcome::Failed(ProviderError::Credentials { .. }) | Outcome::Disabled => {}
    }
    Ok(())
}

/// A successful run whose result `Recorder` writes together with others: the common case
/// (a registration delivered, or nothing to record), everything else is recorded alone.
#[derive(Clone, Debug)]
pub enum Quick {
    /// Nothing to record but the job's completion.
    Nothing,
    /// The registration reached the provider.
    Delivered {
        registration_id: String,
        eventuserid: i64,
    },
}

/// How a run is recorded: with others, or alone.
#[derive(Debug)]
pub enum Recording {
    /// A success `Recorder` writes with others.
    Batched(Quick),
    /// Anything else, recorded by `apply`.
    Alone(Ran),
}

impl Quick {
    /// Whether a run is recorded with others (the quick form) or alone.
    pub fn split(ran: Ran) -> Recording {
        match ran.outcome {
            Outcome::Done(Effect::Nothing) => Recording::Batched(Self::Nothing),
            Outcome::Done(Effect::Delivered {
                registration_id,
                eventuserid,
            }) => Recording::Batched(Self::Delivered {
                registration_id,
                eventuserid,
            }),
            outcome => Recording::Alone(Ran { outcome, ..ran }),
        }
    }

    /// Back to a run, to record it alone.
    pub fn into_ran(self) -> Ran {
        Outcome::Done(match self {
            Self::Nothing => Effect::Nothing,
            Self::Delivered {
                registration_id,
                eventuserid,
            } => Effect::Delivered {
                registration_id,
                eventuserid,
            },
        })
        .into()
    }
}

/// Most jobs recorded in one transaction.
const MAX_BATCH: usize = 256;
/// Batches written at once.
const WRITERS: usize = 4;

type Finished = (JobRow, String, Quick);

/// Records successful runs of many jobs in one durable transaction (jobs completed,
/// registrations DELIVERED, their feed entries), so a commit's WAL flush and round trips are
/// shared by every job that finished while the previous batch was being written, instead of
/// one flush per job. A batch forms when a writer is free, from whatever finished meanwhile:
/// one job when deliveries are sparse, many under load; nothing waits on a timer.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: tokio::sync::mpsc::UnboundedSender<(Finished, tokio::sync::oneshot::Sender<bool>)>,
}

impl Recorder {
    /// Starts the recorder; it stops once every `Recorder` clone is dropped and the queued
    /// results are written.
    pub fn start(engine: Engine) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(record_loop(engine, rx)))
    }

    /// Records a successful run of `job` (claimed by `owner`) with others; false when the
    /// batch could not be written, and the caller records it alone.
    pub async fn record(&self, job: JobRow, owner: String, quick: Quick) -> bool {
        let (done, answer) = tokio::sync::oneshot::channel();
        if self.tx.send(((job, owner, quick), done)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

async fn record_loop(
    engine: Engine,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(Finished, tokio::sync::oneshot::Sender<bool>)>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(WRITERS));
    let mut writing = tokio::task::JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH
            && let Ok(more) = rx.try_recv()
        {
            batch.push(more);
        }
        let engine = engine.clone();
        writing.spawn(async move {
            let _slot = slot;
            let (rows, answers): (Vec<Finished>, Vec<_>) = batch.into_iter().unzip();
            let n = rows.len();
            let result = engine
                .store()
                .transaction(move |conn| write_batch(conn, rows))
                .await;
            let ok = match result {
                Ok(feed_grew) => {
                    if feed_grew {
                        engine.signals().changes_added();
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, jobs = n, "a batch of job results could not be recorded; recording them one by one");
                    false
                }
            };
            for answer in answers {
                let _ = answer.send(ok);
            }
        });
        while writing.try_join_next().is_some() {}
    }
    while writing.join_next().await.is_some() {}
}

/// One transaction for many successful runs, rows locked in the usual order: provider
/// configurations (a success ends a finished quota pause), then jobs in id order, then
/// registrations, then the change feed. Same effects as `write` on each run alone.
fn write_batch(conn: &mut DbConnection, mut rows: Vec<Finished>) -> Result<bool, Error> {
    let mut tenants: Vec<&str> = rows.iter().map(|(job, _, _)| job.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        providers::clear_throttle(conn, tenant)?;
    }
    rows.sort_by_key(|(job, _, _)| job.id);
    let now = now_ms();
    let mut feed = Vec::new();
    if let DbConnection::Pg(pg) = conn {
        for fed in complete_delivered_pg(pg, &rows, now)? {
            feed.push(changes::change(
                &fed.tenant,
                "REGISTRATION",
                Some(&fed.webinar_id),
                Some(&fed.id),
            ));
        }
        changes::append(conn, &feed)?;
        return Ok(!feed.is_empty());
    }
    for (job, owner, quick) in &rows {
        outbox::complete(conn, job.id, owner)?;
        if let Quick::Delivered {
            registration_id,
            eventuserid,
        } = quick
            && delivered(conn, job, registration_id, *eventuserid, now)?
        {
            feed.push(changes::change(
                &job.tenant,
                "REGISTRATION",
                job.webinar_id.as_deref(),
                Some(registration_id),
            ));
        }
    }
    changes::append(conn, &feed)?;
    Ok(!feed.is_empty())
}

/// A registration a batch marked DELIVERED (for its feed entry).
#[derive(diesel::QueryableByName)]
struct Fed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    tenant: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    webinar_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// PostgreSQL: a batch's job completions and DELIVERED registrations in one statement (the
/// rows as arrays), the same rules as `outbox::complete` and `delivered` one by one: a job is
/// removed only under its lease owner; a registration becomes DELIVERED unless it was
/// cancelled or forgotten since. Returns the registrations that changed.
fn complete_delivered_pg(
    pg: &mut diesel::PgConnection,
    rows: &[Finished],
    now: i64,
) -> QueryResult<Vec<Fed>> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
    let mut ids = Vec::with_capacity(rows.len());
    let mut owners = Vec::with_capacity(rows.len());
    let mut tenants = Vec::with_capacity(rows.len());
    let mut registrations = Vec::with_capacity(rows.len());
    let mut eventuserids = Vec::with_capacity(rows.len());
    let mut attempts = Vec::with_capacity(rows.len());
    for (job, owner, quick) in rows {
        ids.push(job.id);
        owners.push(owner.as_str());
        tenants.push(job.tenant.as_str());
        attempts.push(job.attempts.saturating_add(1));
        match quick {
            Quick::Delivered {
                registration_id,
                eventuserid,
            } => {
                registrations.push(Some(registration_id.as_str()));
                eventuserids.push(Some(*eventuserid));
            }
            Quick::Nothing => {
                registrations.push(None);
                eventuserids.push(None);
            }
        }
    }
    let sql = format!(
        "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
             $5::bigint[], $6::int[]) AS v(job_id, owner, tenant, registration_id, eventuserid, attempts)), \
         done AS (DELETE FROM outbox_jobs o USING v \
             WHERE o.id = v.job_id AND o.lease_owner = v.owner RETURNING o.id) \
         UPDATE registrations r SET status = '{delivered}', eventuserid = v.eventuserid, \
             attempts = v.attempts, last_error = NULL, next_attempt_at = NULL, \
             delivered_at = $7, updated_at = $7 \
         FROM v WHERE v.registration_id IS NOT NULL AND r.tenant = v.tenant \
             AND r.id = v.registration_id AND r.status NOT IN ('{cancelled}', '{forgotten}') \
         RETURNING r.tenant, r.webinar_id, r.id",
        delivered = S::Delivered.as_str(),
        cancelled = S::Cancelled.as_str(),
        forgotten = S::Forgotten.as_str(),
    );
    diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Text>, _>(owners)
        .bind::<Array<Text>, _>(tenants)
        .bind::<Array<Nullable<Text>>, _>(registrations)
        .bind::<Array<Nullable<BigInt>>, _>(eventuserids)
        .bind::<Array<Integer>, _>(attempts)
        .bind::<BigInt, _>(now)
        .load(pg)
}
