//! Forgetting a person in a tenant (GDPR erasure, Art. 17). The local part is done at once, in
//! one transaction, in every tenant state (credentials deleted or refused included): every
//! registration of the email becomes an empty FORGOTTEN tombstone (no email, no ON24 link),
//! its jobs that no worker holds are dropped, and its metrics are deleted. The ON24 part is a
//! `forget` job that carries the address and the registration ids it covers; it waits PAUSED
//! while the tenant has no usable credentials, and waits for older jobs of those registrations
//! (a delivery already running, whose result is then discarded), so ON24 hears the forget
//! last. The person's keyed email hash joins the tenant's suppression list in the same
//! transaction (`domain::suppression`), so they are not registered again until they consent.
//!
//! A request whose erasure the provider refused for good (FAILED) keeps no address, only the
//! keyed hash of it; retrying it (`retry_erasure`) takes the address again from the caller,
//! checks it against that hash, and queues a new provider job for it.

use super::Registrations;
use super::enqueue::feed;
use crate::crypto::fields::FieldCipher;
use crate::domain::erasure_requests::{ErasureRequest, ErasureState, view};
use crate::domain::jobs::{self, JobKind};
use crate::domain::{
    Attendance, Email, Error, RegistrationStatus as S, providers as provider_rules, suppression,
};
use crate::ids::{ErasureRequestId, RegistrationId, TenantId};
use crate::store::models::{ErasureRequestRow, RegistrationRow, SuppressionRow};
use crate::store::{
    DbConnection, changes, erasure_requests, interactions, metrics, now_ms, outbox, providers,
    registrations, suppressions,
};

/// What a forget did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forgotten {
    /// Registrations erased locally (now FORGOTTEN).
    pub registrations: usize,
    /// Whether an erasure at the provider was queued.
    pub provider_erasure_queued: bool,
    /// The request's record.
    pub request: ErasureRequest,
}

/// Empties a registration: every personal field, the email, the ON24 link and what the
/// person did (the attendance outcome) go; the id, webinar, origin, status and times stay so
/// the CRM can see what became of it.
fn scrub(row: &mut RegistrationRow, now: i64) {
    row.email = None;
    row.email_hash = None;
    row.first_name = String::new();
    row.last_name = String::new();
    row.company = None;
    row.job_title = None;
    row.crm_reference_id = None;
    row.extra = "{}".into();
    row.request_id = None;
    row.last_error = None;
    row.eventuserid = None;
    row.delivered_at = None;
    row.next_attempt_at = None;
    row.attempts = 0;
    row.attendance = Attendance::Unknown.as_str().into();
    row.status = S::Forgotten.as_str().into();
    row.updated_at = now;
}

/// Whether the tenant's provider work must wait: no credentials (never put, or deleted), or
/// the provider refused them.
fn provider_blocked(conn: &mut DbConnection, tenant: &TenantId) -> Result<bool, Error> {
    Ok(match providers::get(conn, tenant)? {
        Some(row) if !row.deleted => provider_rules::is_blocked(&row),
        _ => true,
    })
}

impl Registrations<'_> {
    /// Forgets a person in the tenant. With `at_provider_if_unmatched`, the provider is asked
    /// to forget the address even when no registration here matched (a person registered
    /// directly at ON24); otherwise nothing matched means nothing to do there.
    pub async fn forget(
        &self,
        tenant: &TenantId,
        email: &Email,
        at_provider_if_unmatched: bool,
    ) -> Result<Forgotten, Error> {
        // The tenant's first forget makes its hash key (a key-service call), before the
        // transaction so none is held open across it.
        let hasher = suppression::email_hasher(self.engine, tenant, true)
            .await?
            .ok_or(Error::Internal)?;
        let hash = hasher.hash(email.as_str())?;
        // The job's payload carries the address sealed.
        let fields = crate::domain::tenant_keys::field_cipher(self.engine, tenant, true).await?;
        let email = email.as_str().to_owned();
        let t = tenant.clone();
        let done = self
            .engine
            .store
            .transaction(move |conn| {
                forget_in_transaction(conn, &fields, &t, email, hash, at_provider_if_unmatched)
            })
            .await?;
        if done.provider_erasure_queued {
            self.engine.signals.jobs_added();
        }
        self.engine.signals.changes_added(tenant);
        Ok(done)
    }
}

impl Registrations<'_> {
    /// Queues the provider part of a FAILED erasure request again, for `email`, which must be
    /// the address the request erased (its keyed hash must match: the request keeps no
    /// address). The request is PROVIDER_PENDING again and ends as a new forget job does.
    pub async fn retry_erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureRequestId,
        email: &Email,
    ) -> Result<ErasureRequest, Error> {
        let not_found = || Error::not_found(format!("tenants/{tenant}/erasureRequests/{id}"));
        let (t, i) = (tenant.clone(), *id);
        let row = self
            .engine
            .store
            .run(move |conn| Ok::<_, Error>(erasure_requests::get(conn, &t, &i)?))
            .await?
            .ok_or_else(not_found)?;
        if ErasureState::parse(&row.state) != Some(ErasureState::Failed) {
            return Err(Error::FailedPrecondition(format!(
                "only a FAILED erasure request can be retried; this one is {}",
                row.state
            )));
        }
        let Some(stored) = row.email_hash else {
            return Err(Error::FailedPrecondition(
                "this request keeps no hash of its address to check a retry against; call \
                 ForgetPerson with forget_at_on24_if_unknown instead"
                    .into(),
            ));
        };
        // A request exists, so the tenant's hash key does too.
        let hasher = suppression::email_hasher(self.engine, tenant, false)
            .await?
            .ok_or(Error::Internal)?;
        if hasher.hash(email.as_str())? != stored {
            return Err(Error::invalid(
                "email",
                "is not the address this erasure request erased",
            ));
        }
        let (t, i, email) = (tenant.clone(), *id, email.as_str().to_owned());
        let fields = crate::domain::tenant_keys::field_cipher(self.engine, tenant, true).await?;
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                if !erasure_requests::reopen(conn, &t, &i)? {
                    return Err(Error::FailedPrecondition(
                        "the erasure request is no longer FAILED (retried already)".into(),
                    ));
                }
                let payload = serde_json::to_string(&jobs::ForgetPayload::new(
                    &fields,
                    &t,
                    vec![email],
                    // Every delivery of the erased registrations ended before the first
                    // attempt did: nothing to wait for.
                    Vec::new(),
                    Some(i.to_string()),
                )?)
                .map_err(|_| Error::Internal)?;
                let mut job = outbox::new_job(&t, JobKind::Forget, None, None, Some(payload));
                if provider_blocked(conn, &t)? {
                    job.state = outbox::PAUSED.into();
                }
                outbox::enqueue(conn, &[job])?;
                changes::append(conn, &[changes::erasure_request_change(&t, &i)])?;
                erasure_requests::get(conn, &t, &i)?.ok_or(Error::Internal)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }
}

fn forget_in_transaction(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    email: String,
    email_hash: String,
    at_provider_if_unmatched: bool,
) -> Result<Forgotten, Error> {
    // Registrations of the tenant committing now finish first, and new ones wait for this
    // transaction: none slips in after the suppression below (see `register.rs`).
    suppressions::lock_tenant_erasure(conn, tenant, suppressions::ErasureLock::Forget)?;
    let rows =
        registrations::by_email_all_webinars_stored(conn, tenant, &email, Some(&email_hash))?;
    let ids: Vec<RegistrationId> = rows.iter().map(|r| r.registration()).collect();
    // Jobs a worker holds stay: the forget job waits for them (see the module comment).
    registrations::drop_waiting_jobs(conn, tenant, &ids)?;
    let now = now_ms();
    let mut feed_rows = Vec::with_capacity(rows.len());
    for mut row in rows {
        // Every personal column is emptied: nothing sealed is left to write.
        scrub(&mut row, now);
        registrations::save_stored(conn, &row)?;
        feed_rows.push(feed(&row));
    }
    let metrics_deleted = metrics::delete_email(conn, tenant, &email, Some(&email_hash))?;
    interactions::delete_email(conn, tenant, &email, Some(&email_hash))?;
    let queue = !ids.is_empty() || at_provider_if_unmatched;
    let request = ErasureRequestRow {
        tenant: tenant.to_string(),
        id: ErasureRequestId::generate().to_string(),
        state: if queue {
            ErasureState::ProviderPending
        } else {
            ErasureState::LocalDone
        }
        .as_str()
        .into(),
        failure_reason: None,
        registration_count: i64::try_from(ids.len()).unwrap_or(i64::MAX),
        metrics_count: i64::try_from(metrics_deleted).unwrap_or(i64::MAX),
        created_at: now,
        updated_at: now,
        completed_at: (!queue).then_some(now),
        email_hash: Some(email_hash.clone()),
    };
    erasure_requests::insert(conn, &request)?;
    suppressions::add(
        conn,
        &SuppressionRow {
            tenant: tenant.to_string(),
            email_hash,
            created_at: now,
            erasure_request_id: Some(request.id.clone()),
        },
    )?;
    if queue {
        let payload = serde_json::to_string(&jobs::ForgetPayload::new(
            fields,
            tenant,
            vec![email],
            ids.iter().map(ToString::to_string).collect(),
            Some(request.id.clone()),
        )?)
        .map_err(|_| Error::Internal)?;
        let mut job = outbox::new_job(tenant, JobKind::Forget, None, None, Some(payload));
        if provider_blocked(conn, tenant)? {
            job.state = outbox::PAUSED.into();
        }
        outbox::enqueue(conn, &[job])?;
    }
    feed_rows.push(changes::erasure_request_change(
        tenant,
        &ErasureRequestId::from_stored(&request.id),
    ));
    changes::append(conn, &feed_rows)?;
    Ok(Forgotten {
        registrations: ids.len(),
        provider_erasure_queued: queue,
        request: view(&request),
    })
}
