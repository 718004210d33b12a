//! Registering people: one, or a batch of up to [`MAX_BATCH`] with one outcome per item in
//! order, idempotent by (tenant, webinar, email) and by a client request id.
//!
//! On PostgreSQL the new people (the common case) are written by one statement
//! ([`registrations::insert_new_in_one_statement`]): one round trip, no look-up first. The
//! items it skipped (an email or request id the webinar already holds) and refusals take
//! [`register_in_transaction`], which answers each exactly: the existing registration, a
//! reactivated cancelled one, ALREADY_EXISTS for a request id of another email,
//! INTEGRATION_DISABLED, NOT_FOUND, WEBINAR_UNLINKED. SQLite always takes the transactional
//! path. People on the tenant's suppression list are refused first, item by item
//! ([`Error::PersonSuppressed`]), in the same transaction as the write and under the tenant's
//! erasure lock, so a registration racing a forget of the same person cannot slip in after
//! the suppression (`register_guarded`).

use std::collections::{HashMap, HashSet};

use super::enqueue::{feed, job};
use super::{MAX_BATCH, Registrations, view};
use crate::crypto::fields::FieldCipher;
use crate::domain::jobs::JobKind;
use crate::domain::tenant_keys::field_cipher;
use crate::domain::{
    Attendance, ChangeKind, CredentialStatus, Error, RegisterOutcome, Registration,
    RegistrationInput, RegistrationOrigin, RegistrationStatus as S, providers as provider_rules,
    suppression, webinars as webinar_rules,
};
use crate::ids::{RegistrationId, TenantId, WebinarId};
use crate::store::changes;
use crate::store::models::{NewJob, RegistrationRow};
use crate::store::{DbConnection, now_ms, outbox, registrations, suppressions};

impl Registrations<'_> {
    /// Registers one person. Calls for the same webinar that arrive while another's write is
    /// under way are written together in the next one (see [`super::coalesce`]).
    pub async fn register(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        input: RegistrationInput,
    ) -> Result<(Registration, bool), Error> {
        let item = Item::traced(input);
        let outcome = self
            .engine
            .coalescer
            .register(self.engine, tenant, webinar, item)
            .await?;
        Ok((outcome.result?, outcome.created))
    }

    /// Registers up to 1,000 people, with one outcome per item in order.
    pub async fn register_batch(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        items: Vec<RegistrationInput>,
    ) -> Result<Vec<RegisterOutcome>, Error> {
        let items = items.into_iter().map(Item::traced).collect();
        self.register_items(tenant, webinar, items).await
    }

    /// Registers up to 1,000 people, each with the trace of the call that sent them.
    pub(super) async fn register_items(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        items: Vec<Item>,
    ) -> Result<Vec<RegisterOutcome>, Error> {
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(Error::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH} items"),
            ));
        }
        // Suppressed people (forgotten, not re-consented) are refused one by one; the others
        // go on. The list is read in the write's transaction under the tenant's erasure lock,
        // which a forget takes exclusively: a forget of the same person either committed
        // before (its suppression is seen here) or waits until this commits (and then erases
        // what this wrote). The hashes need the tenant's key, so they are made before.
        let emails: Vec<&str> = items.iter().map(|i| i.input.email.as_str()).collect();
        let mut hashes = suppression::hashes(self.engine, tenant, &emails).await?;
        // The tenant's personal-data cipher (made on its first write, then cached): the rows
        // are sealed in the batch loop, with no key-service call per row.
        let fields = field_cipher(self.engine, tenant, true).await?;
        let mut items = Some(items);
        let (slots, done, deferred) = loop {
            let (t, w, batch, h, f) = (
                tenant.clone(),
                *webinar,
                items.take().ok_or(Error::Internal)?,
                hashes.clone(),
                fields.clone(),
            );
            let guarded = self
                .engine
                .store
                .run(move |conn| register_guarded(conn, &f, &t, &w, batch, h.as_deref()))
                .await?;
            match guarded {
                Guarded::Done {
                    slots,
                    done,
                    deferred,
                } => break (slots, done, deferred),
                // The tenant's first forget made its hash key meanwhile: hash with it.
                Guarded::KeyAppeared(batch) if hashes.is_none() => {
                    let emails: Vec<&str> = batch.iter().map(|i| i.input.email.as_str()).collect();
                    hashes = suppression::hashes(self.engine, tenant, &emails).await?;
                    if hashes.is_none() {
                        return Err(Error::Internal);
                    }
                    items = Some(batch);
                }
                Guarded::KeyAppeared(_) => return Err(Error::Internal),
            }
        };
        let mut done = done.into_iter();
        let out: Vec<RegisterOutcome> = slots
            .into_iter()
            .map(|slot| {
                slot.or_else(|| done.next()).unwrap_or(RegisterOutcome {
                    result: Err(Error::Internal),
                    created: false,
                })
            })
            .collect();
        if out.iter().any(|o| o.created) {
            self.engine.signals.jobs_added();
            self.engine.signals.changes_added(tenant);
        }
        if deferred {
            self.engine.store.wake_other_replicas();
        }
        Ok(out)
    }
}

/// A person to register with the W3C `traceparent` of the call that sent them, which their
/// delivery job carries: the delivery joins that call's trace even when the person was
/// written together with other calls' people.
#[derive(Clone)]
pub(super) struct Item {
    pub(super) input: RegistrationInput,
    trace: Option<String>,
}

impl Item {
    /// The person, in the trace of the current span.
    fn traced(input: RegistrationInput) -> Self {
        Self {
            input,
            trace: servicekit::telemetry::current_traceparent(),
        }
    }
}

/// What a guarded registration did.
enum Guarded {
    /// Registered: a slot per item (`Some` for a suppressed one, refused), the outcomes of
    /// the others in order, and whether other replicas need a wake-up.
    Done {
        slots: Vec<Option<RegisterOutcome>>,
        done: Vec<RegisterOutcome>,
        deferred: bool,
    },
    /// Nothing written: the hashes were made without a key and the tenant has one now.
    KeyAppeared(Vec<Item>),
}

/// Registers a batch in one transaction under the tenant's erasure lock (shared), refusing
/// the people the suppression list holds as it stands under that lock.
fn register_guarded(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    items: Vec<Item>,
    hashes: Option<&[String]>,
) -> Result<Guarded, Error> {
    use diesel::Connection;
    conn.transaction(|c| {
        suppressions::lock_tenant_erasure(c, tenant, suppressions::ErasureLock::Write)?;
        let Some(refused) = suppression::suppressed_now(c, tenant, hashes, items.len())? else {
            return Ok(Guarded::KeyAppeared(items));
        };
        let mut slots: Vec<Option<RegisterOutcome>> = Vec::with_capacity(items.len());
        let mut allowed = Vec::with_capacity(items.len());
        for (item, refused) in items.into_iter().zip(refused) {
            if refused {
                slots.push(Some(RegisterOutcome {
                    result: Err(Error::PersonSuppressed),
                    created: false,
                }));
            } else {
                slots.push(None);
                allowed.push(item);
            }
        }
        let (done, deferred) = if allowed.is_empty() {
            (Vec::new(), false)
        } else {
            // Optional fields the tenant does not keep are never stored (or sent).
            let policy = crate::domain::minimisation::load(c, tenant)?;
            for item in &mut allowed {
                policy.strip_input(&mut item.input);
            }
            register_one_statement_first(c, fields, tenant, webinar, allowed)?
        };
        Ok(Guarded::Done {
            slots,
            done,
            deferred,
        })
    })
}

/// Every credential status whose `blocks_calls` holds work (the match fails to compile when
/// a status is added, so the list cannot fall behind).
fn blocking_statuses() -> Vec<&'static str> {
    use CredentialStatus as C;
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
/// The one statement checks the credentials and the webinar and inserts the rows, their jobs
/// and feed entries with `ON CONFLICT DO NOTHING`; the repeats it skipped take the
/// transactional path. Run inside `register_guarded`'s transaction, so all of it commits
/// together.
fn register_one_statement_first(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    items: Vec<Item>,
) -> Result<(Vec<RegisterOutcome>, bool), Error> {
    use diesel::Connection;
    if !registrations::one_statement_insert(conn) {
        let out =
            conn.transaction(|c| register_in_transaction(c, fields, tenant, webinar, items))?;
        return Ok((out, false));
    }
    let now = now_ms();
    let mut outcomes: Vec<Option<RegisterOutcome>> = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(items.len());
    let mut row_of = Vec::with_capacity(items.len());
    for Item { input: item, .. } in &items {
        let mut row = new_row(tenant, webinar, item, now, false);
        fill(&mut row, item, now);
        row_of.push(Some(rows.len()));
        rows.push(row);
        outcomes.push(None);
    }
    let blocking = blocking_statuses();
    let trace_contexts: Vec<Option<&str>> = items.iter().map(|i| i.trace.as_deref()).collect();
    let Some(done) = registrations::insert_new_in_one_statement(
        conn,
        registrations::NewRegistrations {
            tenant,
            webinar_id: webinar,
            blocking: &blocking,
            now,
            job_kind: JobKind::DeliverRegistration,
            change_kind: ChangeKind::Registration,
            trace_contexts: &trace_contexts,
            rows: &rows,
            fields,
        },
    )?
    else {
        let out =
            conn.transaction(|c| register_in_transaction(c, fields, tenant, webinar, items))?;
        return Ok((out, false));
    };
    if !done.accepted {
        // Refused (or the state changed since): the transactional path names the reason.
        let out =
            conn.transaction(|c| register_in_transaction(c, fields, tenant, webinar, items))?;
        return Ok((out, false));
    }
    let inserted: HashSet<&str> = done.inserted.iter().map(String::as_str).collect();
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
        let out =
            conn.transaction(|c| register_in_transaction(c, fields, tenant, webinar, rest))?;
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
    tenant: &TenantId,
    webinar: &WebinarId,
    item: &RegistrationInput,
    now: i64,
    paused: bool,
) -> RegistrationRow {
    RegistrationRow {
        tenant: tenant.to_string(),
        id: RegistrationId::generate().to_string(),
        webinar_id: webinar.to_string(),
        email: Some(item.email.as_str().to_owned()),
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
        origin: RegistrationOrigin::Crm.as_str().into(),
        attendance: Attendance::Unknown.as_str().into(),
        email_hash: None,
    }
}

/// The body of a batch registration, inside its transaction.
fn register_in_transaction(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    items: Vec<Item>,
) -> Result<Vec<RegisterOutcome>, Error> {
    let config = provider_rules::enabled(conn, tenant)?;
    webinar_rules::live(conn, tenant, webinar)?;
    let paused = provider_rules::is_blocked(&config);
    let emails: Vec<String> = items
        .iter()
        .map(|r| r.input.email.as_str().to_owned())
        .collect();
    let request_ids: Vec<String> = items
        .iter()
        .filter_map(|r| r.input.request_id.map(|id| id.to_string()))
        .collect();
    let mut by_email: HashMap<String, RegistrationRow> =
        registrations::by_emails(conn, fields, tenant, webinar, &emails)?
            .into_iter()
            .filter_map(|r| Some((r.email.clone()?, r)))
            .collect();
    let mut by_request: HashMap<String, String> = HashMap::new();
    for r in registrations::by_request_ids_owners(conn, tenant, webinar, &request_ids)? {
        if let (Some(rid), Some(email)) =
            (r.request_id.clone(), registrations::email_of(fields, &r)?)
        {
            by_request.insert(rid, email);
        }
    }
    let now = now_ms();
    let (mut inserts, mut updates, mut new_jobs, mut feed_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(items.len());
    let mut seen_request: HashMap<String, String> = HashMap::new();
    for Item { input: item, trace } in items {
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
            new_jobs.push(traced(
                job(existing, JobKind::DeliverRegistration, paused, None),
                trace,
            ));
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
        new_jobs.push(traced(
            job(&row, JobKind::DeliverRegistration, paused, None),
            trace,
        ));
        feed_rows.push(feed(&row));
        out.push(RegisterOutcome {
            result: Ok(view(&row)),
            created: true,
        });
        by_email.insert(email, row.clone());
        inserts.push(row);
    }
    registrations::insert(conn, fields, &inserts)?;
    for row in &updates {
        registrations::save(conn, fields, row)?;
    }
    outbox::enqueue(conn, &new_jobs)?;
    changes::append(conn, &feed_rows)?;
    Ok(out)
}

/// The job in the trace of the call that sent its person.
fn traced(mut job: NewJob, trace: Option<String>) -> NewJob {
    job.trace_context = trace;
    job
}

/// Copies the person's details from the request onto the row.
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
