//! Registrations: register one or a batch (≤ 1,000, a result per item), idempotent by
//! (tenant, webinar, email) plus an optional client request id; get, list with a status
//! filter, update, cancel, and forget a person (erase locally, then at the provider).
//! Each accepted write commits the registration, its outbox job and its feed entry together.

use std::collections::HashMap;

use super::{
    ChangeKind, Email, Engine, Error, Page, RegisterOutcome, RegistrantFields, Registration,
    RegistrationId, RegistrationInput, RegistrationPatch, RegistrationStatus as S, TenantId,
    WebinarId, jobs, jobs::JobKind, paging,
};
use crate::store::models::{NewJob, RegistrationRow};
use crate::store::{DbConnection, changes, metrics, now_ms, outbox, registrations};

/// Largest batch accepted in one call.
pub const MAX_BATCH: usize = 1000;

/// Registration service.
#[derive(Debug)]
pub struct Registrations<'a> {
    pub(crate) engine: &'a Engine,
}

/// Row to domain type.
pub fn view(row: &RegistrationRow) -> Registration {
    Registration {
        tenant: TenantId::from_stored(&row.tenant),
        webinar_id: WebinarId::from_stored(&row.webinar_id),
        id: RegistrationId::from_stored(&row.id),
        email: row.email.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        company: row.company.clone(),
        job_title: row.job_title.clone(),
        crm_reference_id: row.crm_reference_id.clone(),
        fields: RegistrantFields::from_json(&row.extra),
        status: S::parse(&row.status).unwrap_or(S::Failed),
        eventuserid: row.eventuserid,
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        next_attempt_at: row.next_attempt_at,
        delivered_at: row.delivered_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn job(row: &RegistrationRow, kind: JobKind, paused: bool, payload: Option<String>) -> NewJob {
    let mut job = outbox::new_job(
        &row.tenant,
        kind,
        Some(&row.webinar_id),
        Some(&row.id),
        payload,
    );
    if paused {
        job.state = outbox::PAUSED.to_owned();
    }
    job
}

fn feed(row: &RegistrationRow) -> crate::store::models::NewChange {
    changes::change(
        &row.tenant,
        ChangeKind::Registration,
        Some(&row.webinar_id),
        Some(&row.id),
    )
}

fn find(
    conn: &mut DbConnection,
    tenant: &str,
    webinar: &str,
    id: &str,
) -> Result<RegistrationRow, Error> {
    registrations::get(conn, tenant, webinar, id)?.ok_or_else(|| {
        Error::not_found(format!(
            "tenants/{tenant}/webinars/{webinar}/registrations/{id}"
        ))
    })
}

impl Registrations<'_> {
    /// Registers one person.
    pub async fn register(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        input: RegistrationInput,
    ) -> Result<(Registration, bool), Error> {
        let mut out = self.register_batch(tenant, webinar, vec![input]).await?;
        let item = out.pop().ok_or(Error::Internal)?;
        Ok((item.result?, item.created))
    }

    /// Registers up to 1,000 people in one transaction, with one outcome per item in order.
    pub async fn register_batch(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        items: Vec<RegistrationInput>,
    ) -> Result<Vec<RegisterOutcome>, Error> {
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(Error::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH} items"),
            ));
        }
        let (t, w) = (tenant.to_string(), webinar.to_string());
        let (out, deferred) = self
            .engine
            .store
            .run(move |conn| register_one_statement_first(conn, &t, &w, items))
            .await?;
        if out.iter().any(|o| o.created) {
            self.engine.signals.jobs_added();
            self.engine.signals.changes_added();
        }
        if deferred {
            self.engine.store.wake_other_replicas();
        }
        Ok(out)
    }

    /// One registration.
    pub async fn get(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
    ) -> Result<Registration, Error> {
        let (t, w, i) = (tenant.to_string(), webinar.to_string(), id.to_string());
        let row = self
            .engine
            .store
            .run(move |conn| find(conn, &t, &w, &i))
            .await?;
        Ok(view(&row))
    }

    /// A page of a webinar's registrations, optionally with one status.
    pub async fn list(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        status: Option<S>,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Registration>, Error> {
        let limit = paging::limit(page_size)?;
        let kind = format!("registrations/{webinar}");
        let after = paging::decode_page_token(&kind, page_token)?;
        let (t, w) = (tenant.to_string(), webinar.to_string());
        let rows = self
            .engine
            .store
            .run(move |conn| {
                super::webinars::existing(conn, &t, &w)?;
                Ok::<_, Error>(registrations::list(
                    conn,
                    &t,
                    &w,
                    status,
                    after.as_deref(),
                    limit + 1,
                )?)
            })
            .await?;
        Ok(super::webinars::page(
            rows,
            limit,
            &kind,
            |r| r.id.clone(),
            view,
        ))
    }

    /// Changes a registration's details; a delivered one is updated at the provider by a job.
    pub async fn update(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
        patch: RegistrationPatch,
    ) -> Result<Registration, Error> {
        let (t, w, i) = (tenant.to_string(), webinar.to_string(), id.to_string());
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                // An unlinked webinar takes no changes (WEBINAR_UNLINKED).
                super::webinars::live(conn, &t, &w)?;
                let mut row = find(conn, &t, &w, &i)?;
                let status = S::parse(&row.status).unwrap_or(S::Failed);
                if matches!(status, S::Cancelled | S::Forgotten) {
                    return Err(Error::FailedPrecondition(format!(
                        "the registration is {}",
                        status.as_str()
                    )));
                }
                if let Some(v) = patch.first_name {
                    row.first_name = v.into_string();
                }
                if let Some(v) = patch.last_name {
                    row.last_name = v.into_string();
                }
                if let Some(v) = patch.company {
                    row.company = Some(v);
                }
                if let Some(v) = patch.job_title {
                    row.job_title = Some(v);
                }
                let mut fields = RegistrantFields::from_json(&row.extra);
                fields.merge(patch.fields);
                row.extra = fields.to_json();
                let paused = super::providers::is_blocked(&config);
                // Undelivered registrations are sent from the latest row by their pending job;
                // delivered or failed ones need a new job.
                let kind = match status {
                    S::Delivered => Some(JobKind::UpdateRegistration),
                    S::Failed => Some(JobKind::DeliverRegistration),
                    _ => None,
                };
                if let Some(kind) = kind {
                    row.status = if paused { S::Paused } else { S::Pending }.as_str().into();
                    row.attempts = 0;
                    row.last_error = None;
                    outbox::enqueue(conn, &[job(&row, kind, paused, None)])?;
                }
                row.updated_at = now_ms();
                registrations::save(conn, &row)?;
                changes::append(conn, &[feed(&row)])?;
                Ok(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added();
        Ok(view(&row))
    }

    /// Cancels a registration (soft delete at the provider once delivered).
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
    ) -> Result<Registration, Error> {
        let (t, w, i) = (tenant.to_string(), webinar.to_string(), id.to_string());
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                let mut row = find(conn, &t, &w, &i)?;
                match S::parse(&row.status) {
                    Some(S::Cancelled) => return Ok(row),
                    Some(S::Forgotten) => {
                        return Err(Error::FailedPrecondition(
                            "the registration was forgotten".into(),
                        ));
                    }
                    _ => {}
                }
                row.status = S::Cancelled.as_str().into();
                row.updated_at = now_ms();
                registrations::save(conn, &row)?;
                outbox::enqueue(
                    conn,
                    &[job(
                        &row,
                        JobKind::CancelRegistration,
                        super::providers::is_blocked(&config),
                        None,
                    )],
                )?;
                changes::append(conn, &[feed(&row)])?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added();
        Ok(view(&row))
    }

    /// Forgets a person in the tenant (GDPR): every registration of the email is scrubbed to a
    /// FORGOTTEN tombstone, their metrics deleted, and a job erases them at the provider.
    /// Returns how many registrations were forgotten.
    pub async fn forget(&self, tenant: &TenantId, email: &Email) -> Result<usize, Error> {
        let email = email.as_str().to_owned();
        let t = tenant.to_string();
        let n = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                let rows = registrations::by_email_all_webinars(conn, &t, &email)?;
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                registrations::drop_waiting_jobs(conn, &t, &ids)?;
                let now = now_ms();
                let mut feed_rows = Vec::new();
                for mut row in rows.clone() {
                    row.email = format!("forgotten:{}", row.id);
                    row.first_name = String::new();
                    row.last_name = String::new();
                    row.company = None;
                    row.job_title = None;
                    row.crm_reference_id = None;
                    row.extra = "{}".into();
                    row.request_id = None;
                    row.last_error = None;
                    row.status = S::Forgotten.as_str().into();
                    row.updated_at = now;
                    registrations::save(conn, &row)?;
                    feed_rows.push(feed(&row));
                }
                metrics::delete_email(conn, &t, &email)?;
                let payload = serde_json::to_string(&jobs::ForgetPayload {
                    emails: vec![email],
                })
                .map_err(|_| Error::Internal)?;
                let mut forget = outbox::new_job(&t, JobKind::Forget, None, None, Some(payload));
                if super::providers::is_blocked(&config) {
                    forget.state = outbox::PAUSED.into();
                }
                outbox::enqueue(conn, &[forget])?;
                changes::append(conn, &feed_rows)?;
                Ok::<_, Error>(rows.len())
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added();
        Ok(n)
    }
}

/// Every credential status whose `blocks_calls` holds work (the match fails to compile when
/// a status is added, so the list cannot fall behind).
fn blocking_statuses() -> Vec<&'static str> {
    use super::CredentialStatus as C;
    let all = [
        C::Unchecked,
        C::Healthy,
        C::NotAuthenticated,
        C::TokenExpired,
        C::Forbidden,
        C::Unhealthy,
    ];
    for c in all {
        match c {
            C::Unchecked
            | C::Healthy
            | C::NotAuthenticated
            | C::TokenExpired
            | C::Forbidden
            | C::Unhealthy => {}
        }
    }
    all.into_iter()
        .filter(|c| c.blocks_calls())
        .map(C::as_str)
        .collect()
}

/// Registers a batch; returns the outcomes and whether other replicas still need a wake-up
/// for jobs committed without the trigger's NOTIFY.
///
/// On PostgreSQL the new people (the common case) are written by one statement
/// ([`registrations::insert_new_in_one_statement`]) that checks the credentials and the webinar and inserts
/// the rows, their jobs and feed entries with `ON CONFLICT DO NOTHING`: one round trip, and no
/// look-up first. Only the items it skipped (an email or request id the webinar already
/// holds) and refusals go through [`register_in_transaction`] in a transaction, which answers them exactly
/// as before (the existing registration, a reactivated cancelled one, ALREADY_EXISTS for a
/// request id of another email, INTEGRATION_DISABLED, NOT_FOUND, WEBINAR_UNLINKED). Each
/// registration still commits with its job and feed entry; a batch of new people and the
/// repeats in it may commit in two transactions. SQLite runs [`register_in_transaction`] as before.
fn register_one_statement_first(
    conn: &mut DbConnection,
    tenant: &str,
    webinar: &str,
    items: Vec<RegistrationInput>,
) -> Result<(Vec<RegisterOutcome>, bool), Error> {
    use diesel::Connection;
    if !registrations::one_statement_insert(conn) {
        let out = conn.transaction(|c| register_in_transaction(c, tenant, webinar, items))?;
        return Ok((out, false));
    }
    let now = now_ms();
    let mut outcomes: Vec<Option<RegisterOutcome>> = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(items.len());
    let mut row_of = Vec::with_capacity(items.len());
    for item in &items {
        let mut row = new_row(tenant, webinar, item, now, false);
        fill(&mut row, item, now);
        row_of.push(Some(rows.len()));
        rows.push(row);
        outcomes.push(None);
    }
    let blocking = blocking_statuses();
    let trace_context = servicekit::telemetry::current_traceparent();
    let Some(done) = registrations::insert_new_in_one_statement(
        conn,
        registrations::NewRegistrations {
            tenant,
            webinar_id: webinar,
            blocking: &blocking,
            now,
            job_kind: JobKind::DeliverRegistration,
            change_kind: ChangeKind::Registration,
            trace_context: trace_context.as_deref(),
            rows: &rows,
        },
    )?
    else {
        let out = conn.transaction(|c| register_in_transaction(c, tenant, webinar, items))?;
        return Ok((out, false));
    };
    if !done.accepted {
        // Refused (or the state changed since): the transactional path names the reason.
        let out = conn.transaction(|c| register_in_transaction(c, tenant, webinar, items))?;
        return Ok((out, false));
    }
    let inserted: std::collections::HashSet<&str> =
        done.inserted.iter().map(String::as_str).collect();
    let status = if done.paused { S::Paused } else { S::Pending };
    let mut rest = Vec::new();
    let mut rest_at = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Some(r) = row_of[i] else { continue };
        let row = &mut rows[r];
        if inserted.contains(row.id.as_str()) {
            row.status = status.as_str().into();
            outcomes[i] = Some(RegisterOutcome {
                result: Ok(view(row)),
                created: true,
            });
        } else {
            rest.push(item);
            rest_at.push(i);
        }
    }
    if !rest.is_empty() {
        let out = conn.transaction(|c| register_in_transaction(c, tenant, webinar, rest))?;
        for (i, o) in rest_at.into_iter().zip(out) {
            outcomes[i] = Some(o);
        }
    }
    let out = outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or(RegisterOutcome {
                result: Err(Error::Internal),
                created: false,
            })
        })
        .collect();
    Ok((out, !inserted.is_empty() && !done.paused))
}

/// A new registration row (its details are `fill`ed by the caller).
fn new_row(
    tenant: &str,
    webinar: &str,
    item: &RegistrationInput,
    now: i64,
    paused: bool,
) -> RegistrationRow {
    RegistrationRow {
        tenant: tenant.to_owned(),
        id: RegistrationId::generate().to_string(),
        webinar_id: webinar.to_owned(),
        email: item.email.as_str().to_owned(),
        first_name: String::new(),
        last_name: String::new(),
        company: None,
        job_title: None,
        crm_reference_id: None,
        extra: String::new(),
        status: if paused { S::Paused } else { S::Pending }.as_str().into(),
        eventuserid: None,
        attempts: 0,
        last_error: None,
        next_attempt_at: None,
        request_id: item.request_id.map(|r| r.to_string()),
        delivered_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// The body of a batch registration, inside its transaction.
fn register_in_transaction(
    conn: &mut DbConnection,
    tenant: &str,
    webinar: &str,
    items: Vec<RegistrationInput>,
) -> Result<Vec<RegisterOutcome>, Error> {
    let config = super::providers::enabled(conn, tenant)?;
    super::webinars::live(conn, tenant, webinar)?;
    let paused = super::providers::is_blocked(&config);
    let emails: Vec<String> = items.iter().map(|r| r.email.as_str().to_owned()).collect();
    let request_ids: Vec<String> = items
        .iter()
        .filter_map(|r| r.request_id.map(|id| id.to_string()))
        .collect();
    let mut by_email: HashMap<String, RegistrationRow> =
        registrations::by_emails(conn, tenant, webinar, &emails)?
            .into_iter()
            .map(|r| (r.email.clone(), r))
            .collect();
    let by_request: HashMap<String, String> =
        registrations::by_request_ids(conn, tenant, webinar, &request_ids)?
            .into_iter()
            .filter_map(|r| r.request_id.map(|id| (id, r.email)))
            .collect();
    let now = now_ms();
    let (mut inserts, mut updates, mut new_jobs, mut feed_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(items.len());
    let mut seen_request: HashMap<String, String> = HashMap::new();
    for item in items {
        let email = item.email.as_str().to_owned();
        if let Some(rid) = item.request_id.map(|id| id.to_string()) {
            let owner = by_request.get(&rid).or_else(|| seen_request.get(&rid));
            if owner.is_some_and(|o| *o != email) {
                out.push(RegisterOutcome {
                    result: Err(Error::AlreadyExists {
                        resource: "a registration with this request_id".into(),
                    }),
                    created: false,
                });
                continue;
            }
            seen_request.insert(rid, email.clone());
        }
        if let Some(existing) = by_email.get_mut(&email) {
            if existing.status != S::Cancelled.as_str() {
                out.push(RegisterOutcome {
                    result: Ok(view(existing)),
                    created: false,
                });
                continue;
            }
            // Registering a cancelled person again reactivates the same registration.
            fill(existing, &item, now);
            existing.status = if paused { S::Paused } else { S::Pending }.as_str().into();
            existing.attempts = 0;
            existing.last_error = None;
            new_jobs.push(job(existing, JobKind::DeliverRegistration, paused, None));
            feed_rows.push(feed(existing));
            updates.push(existing.clone());
            out.push(RegisterOutcome {
                result: Ok(view(existing)),
                created: true,
            });
            continue;
        }
        let mut row = new_row(tenant, webinar, &item, now, paused);
        fill(&mut row, &item, now);
        new_jobs.push(job(&row, JobKind::DeliverRegistration, paused, None));
        feed_rows.push(feed(&row));
        out.push(RegisterOutcome {
            result: Ok(view(&row)),
            created: true,
        });
        by_email.insert(email, row.clone());
        inserts.push(row);
    }
    registrations::insert(conn, &inserts)?;
    for row in &updates {
        registrations::save(conn, row)?;
    }
    outbox::enqueue(conn, &new_jobs)?;
    changes::append(conn, &feed_rows)?;
    Ok(out)
}

fn fill(row: &mut RegistrationRow, item: &RegistrationInput, now: i64) {
    row.first_name = item.first_name.as_str().to_owned();
    row.last_name = item.last_name.as_str().to_owned();
    row.company = item.company.clone();
    row.job_title = item.job_title.clone();
    row.crm_reference_id = item
        .crm_reference_id
        .as_ref()
        .map(|c| c.as_str().to_owned());
    row.extra = item.fields.to_json();
    row.updated_at = now;
}
