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

use diesel::QueryResult;

use super::WorkerConfig;
use super::backoff::quota_pause;
use super::execute::{Effect, Outcome, Ran};
use crate::domain::providers::{is_blocked, pause_tenant, status_of};
use crate::domain::{CredentialStatus, Engine, Error, RegistrationStatus as S, jobs};
use crate::provider::ProviderError;
use crate::store::models::JobRow;
use crate::store::{DbConnection, changes, now_ms, outbox, providers, registrations, webinars};

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
            registrations::set_last_error(conn, &job.tenant, reg, last_error)?;
            registration_changed(conn, &job.tenant, Some(webinar), Some(reg))?;
        }
        return Ok(());
    }
    if registrations::set_delivery_state(
        conn,
        &job.tenant,
        reg,
        status,
        job.attempts + 1,
        last_error,
        next_attempt_at,
    )? {
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
    registrations::mark_delivered(
        conn,
        &job.tenant,
        registration_id,
        eventuserid,
        job.attempts + 1,
        now,
    )
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
            let Some(row) = webinars::get(conn, &job.tenant, &webinar_id)? else {
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
            let event_id = info.event_id;
            let linked = webinars::link_event(
                conn,
                &job.tenant,
                &webinar_id,
                webinars::EventLink {
                    event_id,
                    audience_url: info.audience_url.or(row.audience_url),
                    report_url: info.report_url.or(row.report_url),
                    preview_url: info.preview_url.or(row.preview_url),
                    next_metrics_at: next,
                },
                now,
            )?;
            if !linked {
                tracing::warn!(
                    job = job.id,
                    on24.event_id = event_id,
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
        webinars::mark_failed(conn, &job.tenant, webinar, reason)?;
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
    let paused = registrations::pause_undelivered(conn, &job.tenant, reg)?;
    if paused {
        registration_changed(conn, &job.tenant, Some(webinar), Some(reg))?;
    }
    Ok(paused)
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
    let done: Vec<outbox::Completion<'_>> = rows
        .iter()
        .map(|(job, owner, quick)| outbox::Completion {
            job,
            owner,
            delivered: match quick {
                Quick::Delivered {
                    registration_id,
                    eventuserid,
                } => Some((registration_id.as_str(), *eventuserid)),
                Quick::Nothing => None,
            },
        })
        .collect();
    let feed: Vec<_> = outbox::complete_batch(conn, &done, now_ms())?
        .iter()
        .map(|d| {
            changes::change(
                &d.tenant,
                "REGISTRATION",
                d.webinar_id.as_deref(),
                Some(&d.id),
            )
        })
        .collect();
    changes::append(conn, &feed)?;
    Ok(!feed.is_empty())
}
