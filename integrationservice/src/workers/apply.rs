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

use crate::crypto::fields::FieldCipher;
use std::time::Duration;

use diesel::QueryResult;

use super::WorkerConfig;
use super::backoff::quota_pause;
use super::execute::{Effect, Outcome, RunResult};
use crate::domain::providers::{is_blocked, pause_tenant, status_of};
use crate::domain::{
    ChangeKind, CredentialStatus, Engine, Error, RegistrationStatus as S, jobs::JobKind,
};
use crate::ids::{ErasureRequestId, RegistrationId, TenantId, WebinarId};
use crate::provider::ProviderError;
use crate::store::models::JobRow;
use crate::store::status::ErasureState;
use crate::store::{
    DbConnection, changes, erasure_requests, now_ms, outbox, providers, registrations, webinars,
};

/// Appends one REGISTRATION entry to the change feed, in the caller's transaction.
fn registration_changed(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: Option<&WebinarId>,
    registration: Option<&RegistrationId>,
) -> QueryResult<()> {
    changes::append(
        conn,
        &[changes::change(
            tenant,
            ChangeKind::Registration,
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
    let (Some(webinar), Some(reg)) = (job.webinar(), job.registration()) else {
        return Ok(());
    };
    let tenant = job.tenant_id();
    if job.kind == JobKind::CancelRegistration.as_str() {
        // The registration stays CANCELLED here; the provider's refusal is shown beside it.
        if status == S::Failed {
            registrations::set_last_error(conn, &tenant, &reg, last_error)?;
            registration_changed(conn, &tenant, Some(&webinar), Some(&reg))?;
        }
        return Ok(());
    }
    if registrations::set_delivery_state(
        conn,
        &tenant,
        &reg,
        status,
        job.attempts + 1,
        last_error,
        next_attempt_at,
    )? {
        registration_changed(conn, &tenant, Some(&webinar), Some(&reg))?;
    }
    Ok(())
}

/// Marks a registration DELIVERED with the provider's id (unless it was cancelled or
/// forgotten since); true when it changed, so the caller appends its feed entry.
fn delivered(
    conn: &mut DbConnection,
    job: &JobRow,
    registration_id: &RegistrationId,
    eventuserid: i64,
    now: i64,
) -> QueryResult<bool> {
    registrations::mark_delivered(
        conn,
        &job.tenant_id(),
        registration_id,
        eventuserid,
        job.attempts + 1,
        now,
    )
}

/// Ends a forget job's erasure request (DONE or FAILED) with its feed entry.
fn erasure_ended(
    conn: &mut DbConnection,
    job: &JobRow,
    id: &str,
    state: ErasureState,
    reason: Option<&str>,
) -> QueryResult<()> {
    let (tenant, id) = (
        TenantId::from_stored(&job.tenant),
        ErasureRequestId::from_stored(id),
    );
    if erasure_requests::finish(conn, &tenant, &id, state, reason)? {
        changes::append(conn, &[changes::erasure_request_change(&tenant, &id)])?;
    }
    Ok(())
}

fn write_effect(
    conn: &mut DbConnection,
    cfg: &WorkerConfig,
    fields: &FieldCipher,
    job: &JobRow,
    effect: Effect,
) -> Result<(), Error> {
    // Rows are locked in one order in every transaction (provider config, job, business
    // rows, change feed last) so concurrent workers cannot deadlock on each other.
    let tenant = job.tenant_id();
    providers::clear_throttle(conn, &tenant)?;
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
                    &tenant,
                    job.webinar().as_ref(),
                    Some(&registration_id),
                )?;
            }
        }
        Effect::EventReady {
            webinar_id,
            info,
            questions,
        } => {
            let Some(row) = webinars::get(conn, &tenant, &webinar_id)? else {
                return Ok(());
            };
            // A linked webinar takes the event's live times (its attendance outcomes settle
            // once they have passed).
            if row.start_at == 0
                && let Some((start, minutes)) = info.live_times()
            {
                webinars::set_unknown_times(conn, &tenant, &webinar_id, start, minutes)?;
            }
            // A linked webinar takes the event's title, time zone and language (it has none
            // of its own; a created one keeps what the CRM gave).
            if row.linked
                && let Some(details) = &info.details
            {
                let d = (
                    details.title.as_str(),
                    details.time_zone.as_str(),
                    details.language.as_str(),
                );
                webinars::set_unknown_details(conn, &tenant, &webinar_id, d)?;
            }
            if let Some(questions) = &questions {
                crate::domain::registration_questions::store(
                    conn,
                    &tenant,
                    &webinar_id,
                    questions,
                    now,
                )?;
            }
            let end = if row.start_at > 0 {
                Some(row.start_at + i64::from(row.duration_minutes) * 60_000)
            } else {
                info.live_end_ms
            };
            let next = end
                .and_then(|end| cfg.metrics.next_after(end, cfg.clock.now_ms()))
                .or(row.next_metrics_at);
            let event_id = info.event_id;
            let linked = webinars::link_event(
                conn,
                &tenant,
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
                    &tenant,
                    ChangeKind::Webinar,
                    Some(&webinar_id),
                    None,
                )],
            )?;
        }
        Effect::Erased { erasure_request_id } => {
            if let Some(id) = erasure_request_id {
                erasure_ended(conn, job, &id, ErasureState::Done, None)?;
            }
        }
        Effect::MetricsSynced {
            webinar_id,
            at,
            read_up_to,
            questions,
            times,
        } => {
            if let Some((start, minutes)) = times {
                webinars::set_unknown_times(conn, &tenant, &webinar_id, start, minutes)?;
            }
            if let Some(questions) = &questions {
                crate::domain::registration_questions::store(
                    conn,
                    &tenant,
                    &webinar_id,
                    questions,
                    at,
                )?;
            }
            crate::domain::metrics::finish_sync(
                conn,
                fields,
                &tenant,
                &webinar_id,
                at,
                read_up_to,
            )?;
        }
    }
    Ok(())
}

/// Stops a job for good and shows why on its registration or webinar.
fn stop(conn: &mut DbConnection, job: &JobRow, owner: &str, reason: &str) -> Result<(), Error> {
    if !outbox::fail(conn, &job.tenant_id(), job.id, owner, reason)? {
        // The lease was lost (the tenant was paused, or another replica took over).
        return Ok(());
    }
    if job.kind == JobKind::Forget.as_str() {
        // The provider refused the erasure for good: the addresses go, the ids stay.
        let kept = crate::workers::jobs::without_addresses(job.payload.as_deref());
        outbox::set_payload(conn, &job.tenant_id(), job.id, kept.as_deref())?;
        if let Some(id) = crate::workers::jobs::erasure_request_of(job.payload.as_deref()) {
            erasure_ended(conn, job, &id, ErasureState::Failed, Some(reason))?;
        }
    }
    if job.kind == JobKind::CreateEvent.as_str()
        && let Some(webinar) = job.webinar()
    {
        let tenant = job.tenant_id();
        webinars::mark_failed(conn, &tenant, &webinar, reason)?;
        changes::append(
            conn,
            &[changes::change(
                &tenant,
                ChangeKind::Webinar,
                Some(&webinar),
                None,
            )],
        )?;
    }
    set_registration(conn, job, S::Failed, Some(reason), None)?;
    Ok(())
}

/// Records what a run of `job` (claimed by `owner`) produced.
pub(crate) async fn apply(
    engine: &Engine,
    cfg: &WorkerConfig,
    job: JobRow,
    owner: String,
    result: RunResult,
) -> Result<(), Error> {
    let cfg = cfg.clone();
    let tenant = job.tenant_id();
    let RunResult {
        outcome,
        secret_version,
    } = result;
    // `write` reports no growth: it may append to the feed (a registration's failure or
    // retry), so its tenant's watchers are woken after it too. A wake-up without a change
    // costs those watchers one read.
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
            // Settling a finished sync's attendance reads registrations' emails, which only
            // the tenant's cipher opens; other outcomes open nothing.
            let fields = if matches!(other, Outcome::Done(Effect::MetricsSynced { .. })) {
                crate::domain::tenant_keys::field_cipher(engine, &tenant, false).await?
            } else {
                std::sync::Arc::new(FieldCipher::plain(tenant.as_str()))
            };
            engine
                .store()
                .transaction(move |conn| write(conn, &cfg, &fields, &job, &owner, other))
                .await?;
            true
        }
    };
    if feed_grew {
        engine.signals().changes_added(&tenant);
    }
    Ok(())
}

/// Holds one leased job and its registration (the tenant's work is held); true when the
/// registration changed.
fn hold_job_and_registration(
    conn: &mut DbConnection,
    job: &JobRow,
    owner: &str,
) -> Result<bool, Error> {
    if !outbox::pause_job(conn, &job.tenant_id(), job.id, owner)? {
        return Ok(false);
    }
    let (Some(webinar), Some(reg)) = (job.webinar(), job.registration()) else {
        return Ok(false);
    };
    let tenant = job.tenant_id();
    let paused = registrations::pause_undelivered(conn, &tenant, &reg)?;
    if paused {
        registration_changed(conn, &tenant, Some(&webinar), Some(&reg))?;
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
    let tenant = job.tenant_id();
    providers::lock(conn, &tenant)?;
    let usable = providers::get(conn, &tenant)?.is_some_and(|p| !p.deleted && !is_blocked(&p));
    if usable {
        // Credentials were put back meanwhile: run it again soon.
        outbox::retry_later(
            conn,
            &job.tenant_id(),
            job.id,
            owner,
            now_ms() + ms(cfg.wait_delay),
            None,
            false,
        )?;
        return Ok(false);
    }
    hold_job_and_registration(conn, job, owner)
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
    let tenant = job.tenant_id();
    providers::lock(conn, &tenant)?;
    let Some(row) = providers::get(conn, &tenant)?.filter(|p| !p.deleted) else {
        return hold_job_and_registration(conn, job, owner);
    };
    if used_version.is_some_and(|v| v != row.secret_version) {
        outbox::retry_later(conn, &job.tenant_id(), job.id, owner, now_ms(), None, false)?;
        return Ok(false);
    }
    tracing::warn!(tenant = %job.tenant, status = status.as_str(), "provider refused the credentials; holding the tenant's work");
    let was_blocked = is_blocked(&row);
    providers::set_status(conn, &tenant, status.as_str(), message.as_deref())?;
    if !status.blocks_calls() {
        outbox::retry_later(conn, &job.tenant_id(), job.id, owner, now_ms(), None, false)?;
        return Ok(false);
    }
    if was_blocked {
        // Another run recorded the refusal and held the tenant's work already.
        return hold_job_and_registration(conn, job, owner);
    }
    pause_tenant(conn, &tenant)?;
    changes::append(
        conn,
        &[changes::change(
            &tenant,
            ChangeKind::Credentials,
            None,
            None,
        )],
    )?;
    Ok(true)
}

fn write(
    conn: &mut DbConnection,
    cfg: &WorkerConfig,
    fields: &FieldCipher,
    job: &JobRow,
    owner: &str,
    outcome: Outcome,
) -> Result<(), Error> {
    let now = now_ms();
    match outcome {
        Outcome::Done(effect) => {
            outbox::complete(conn, &job.tenant_id(), job.id, owner)?;
            write_effect(conn, cfg, fields, job, effect)?;
        }
        Outcome::Wait => {
            outbox::retry_later(
                conn,
                &job.tenant_id(),
                job.id,
                owner,
                now + ms(cfg.wait_delay),
                None,
                false,
            )?;
        }
        Outcome::Stop(reason) => stop(conn, job, owner, &reason)?,
        Outcome::Failed(ProviderError::Permanent { message }) => stop(conn, job, owner, &message)?,
        Outcome::Failed(ProviderError::Quota { message }) => {
            let tenant = job.tenant_id();
            providers::lock(conn, &tenant)?;
            let row = providers::get(conn, &tenant)?;
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
                    providers::throttle(conn, &tenant, until, level.saturating_add(1))?;
                    until
                }
            };
            if outbox::retry_later(
                conn,
                &job.tenant_id(),
                job.id,
                owner,
                until,
                Some(&message),
                false,
            )? {
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
                if outbox::retry_later(
                    conn,
                    &job.tenant_id(),
                    job.id,
                    owner,
                    next,
                    Some(&message),
                    true,
                )? {
                    set_registration(conn, job, S::Retrying, Some(&message), Some(next))?;
                }
            }
        }
        // Recorded by `refused` and `disabled`.
        Outcome::Failed(ProviderError::Credentials { .. }) | Outcome::Disabled => {}
    }
    Ok(())
}
