//! Queries on `registrations`: one row per (tenant, webinar, email), carrying the delivery
//! state the CRM sees (PENDING, DELIVERED, RETRYING, FAILED, CANCELLED, FORGOTTEN, PAUSED).
//!
//! The personal columns, the email included, are stored sealed under the tenant's
//! personal-data key: every function here that writes a row seals a copy of it (and keys its
//! email by the keyed hash in `email_hash`), and every one that reads rows opens them
//! (`crypto::fields`), so callers hand in and get back plaintext rows. Lookups by email go
//! through the hash, or the clear email for a row written before emails were sealed.

use diesel::prelude::*;

use super::models::RegistrationRow;
use super::schema::registrations::dsl as r;
use super::sealing::{SealRows, open_registration_email};
use super::status::{Attendance, ChangeKind, JobKind, JobState, RegistrationStatus as S};
use super::{DbConnection, now_ms};
use crate::crypto::fields::{FieldCipher, store_error};
use crate::ids::{RegistrationId, TenantId, WebinarId};

/// Opens rows just read.
fn opened(
    fields: &FieldCipher,
    mut rows: Vec<RegistrationRow>,
) -> QueryResult<Vec<RegistrationRow>> {
    for row in &mut rows {
        fields.open_registration(row).map_err(store_error)?;
    }
    Ok(rows)
}

/// Sealed copies of rows about to be written.
fn sealed<'a>(
    fields: &FieldCipher,
    rows: impl IntoIterator<Item = &'a RegistrationRow>,
) -> QueryResult<Vec<RegistrationRow>> {
    rows.into_iter()
        .map(|row| {
            let mut row = row.clone();
            fields.seal_registration(&mut row).map_err(store_error)?;
            Ok(row)
        })
        .collect()
}

/// The keyed hashes of some (normalised) emails, each with its email: a lookup matches a row
/// by its hash, or, for a row written before emails were sealed (no hash yet), by the clear
/// email. Hashed in one pass under the cipher's keyed state (no key: none, clear only).
pub(crate) fn email_hashes(fields: &FieldCipher, emails: &[String]) -> Vec<(String, String)> {
    if !fields.hashes_emails() {
        return Vec::new();
    }
    emails
        .iter()
        .filter_map(|e| Some((fields.email_hash(e)?, e.clone())))
        .collect()
}

/// Rows of the tenant matching any of `emails` (see [`email_hashes`]), as a filter.
macro_rules! by_email_filter {
    ($hashes:expr, $clear:expr) => {
        r::email_hash
            .eq_any($hashes)
            .or(r::email_hash.is_null().and(r::email.eq_any($clear)))
    };
}

/// Puts the plaintext email back into stored rows found by email (their hash names it), so
/// readers of stored rows see the email without any decryption.
fn emails_back(hashed: &[(String, String)], rows: &mut [RegistrationRow]) {
    if hashed.is_empty() {
        return;
    }
    let by_hash: std::collections::HashMap<&str, &str> = hashed
        .iter()
        .map(|(h, e)| (h.as_str(), e.as_str()))
        .collect();
    for row in rows {
        if let Some(email) = row.email_hash.as_deref().and_then(|h| by_hash.get(h)) {
            row.email = Some((*email).to_owned());
        }
    }
}

/// The plaintext email of a row read as stored (sealed, or clear if written before emails
/// were sealed); None once forgotten. Opens only that column.
pub(crate) fn email_of(fields: &FieldCipher, row: &RegistrationRow) -> QueryResult<Option<String>> {
    row.email
        .as_deref()
        .map(|e| open_registration_email(fields, &row.tenant, &row.id, e).map_err(store_error))
        .transpose()
}

/// Statuses a worker's result no longer changes: the CRM cancelled or forgot the person
/// while the job ran.
const SETTLED: [&str; 2] = [S::Cancelled.as_str(), S::Forgotten.as_str()];

/// One registration by id.
pub fn get(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    id: &RegistrationId,
) -> QueryResult<Option<RegistrationRow>> {
    let Some(mut row) = get_stored(conn, tenant, webinar_id, id)? else {
        return Ok(None);
    };
    fields.open_registration(&mut row).map_err(store_error)?;
    Ok(Some(row))
}

/// One registration by id as stored (its personal columns sealed): for readers that open it
/// later, once they have the tenant's key (the workers).
pub(crate) fn get_stored(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    id: &RegistrationId,
) -> QueryResult<Option<RegistrationRow>> {
    r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .filter(r::id.eq(id.to_string()))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// Registrations of a webinar with any of these emails (already normalised).
pub fn by_emails(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let rows = by_emails_stored(conn, fields, tenant, webinar_id, emails)?;
    opened(fields, rows)
}

/// [`by_emails`] as stored, personal columns sealed but the email given back (from the
/// lookup's own hashes): for readers that use only the ids, email, status and attendance (a
/// metrics sync), so a large sync decrypts nothing.
pub(crate) fn by_emails_stored(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let hashed = email_hashes(fields, emails);
    let hash_of: std::collections::HashMap<&str, &str> = hashed
        .iter()
        .map(|(h, e)| (e.as_str(), h.as_str()))
        .collect();
    // Rows written before emails were sealed are looked for by clear email only while the
    // webinar holds some: the two-sided filter lets the planner read the whole webinar.
    let clear_too = !hashed.is_empty() && has_unhashed_emails(conn, tenant, webinar_id)?;
    let (tenant, webinar_id) = (tenant.as_str(), webinar_id.to_string());
    let mut out = Vec::new();
    for chunk in emails.chunks(500) {
        let hashes: Vec<&str> = chunk
            .iter()
            .filter_map(|e| hash_of.get(e.as_str()).copied())
            .collect();
        let query = r::registrations
            .filter(r::tenant.eq(tenant))
            .filter(r::webinar_id.eq(&webinar_id))
            .select(RegistrationRow::as_select())
            .into_boxed();
        let query = if hashed.is_empty() {
            query.filter(r::email.eq_any(chunk))
        } else if clear_too {
            query.filter(by_email_filter!(hashes, chunk))
        } else {
            query.filter(r::email_hash.eq_any(hashes))
        };
        out.extend(query.load(conn)?);
    }
    emails_back(&hashed, &mut out);
    Ok(out)
}

/// Every registration of one person in a tenant as stored, personal columns sealed but the
/// email given back (forget empties them without reading them). `hash` is the email's keyed
/// hash under the tenant's email-hash key (the caller has it already), None without a key.
pub(crate) fn by_email_all_webinars_stored(
    conn: &mut DbConnection,
    tenant: &TenantId,
    email: &str,
    hash: Option<&str>,
) -> QueryResult<Vec<RegistrationRow>> {
    let email = [email.to_owned()];
    let hashes: Vec<&str> = hash.into_iter().collect();
    let mut rows = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(by_email_filter!(hashes, &email))
        .select(RegistrationRow::as_select())
        .load(conn)?;
    for row in &mut rows {
        if row.email_hash.is_some() {
            row.email = Some(email[0].clone());
        }
    }
    Ok(rows)
}

/// Every registration of one person in a tenant (an access request).
pub fn by_email_all_webinars(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    email: &str,
) -> QueryResult<Vec<RegistrationRow>> {
    let hash = fields.email_hash(email);
    let rows = by_email_all_webinars_stored(conn, tenant, email, hash.as_deref())?;
    opened(fields, rows)
}

/// Inserts new registrations.
pub fn insert(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    rows: &[RegistrationRow],
) -> QueryResult<()> {
    let rows = &sealed(fields, rows)?;
    // 21 columns. SQLite: 45 rows a statement keeps it under the old 999 bound-parameter
    // limit. PostgreSQL allows 65,535 parameters, so a whole batch of 1,000 (21,000) is one
    // statement: one round trip instead of twenty-three.
    let per_statement = match conn {
        DbConnection::Pg(_) => 1000,
        DbConnection::Sqlite(_) => 45,
    };
    for chunk in rows.chunks(per_statement) {
        insert_batch!(&mut *conn, r::registrations, chunk)?;
    }
    Ok(())
}

/// Inserts registrations of one webinar, leaving out any whose email the webinar has (a
/// concurrent sync brought the same person in first, or they registered earlier); returns
/// the ids of the rows inserted. The conflict has no target: the email's unique key is its
/// hash, or (no email-hash key: the benchmark's encryption-off run) the clear email.
/// PostgreSQL: one `ON CONFLICT DO NOTHING … RETURNING id` statement per 1,000 rows. SQLite:
/// the same conflict rule row by row (statements there are in-process calls, not round
/// trips), since another connection may have written since the caller read. A person whose
/// row was written before emails were sealed (clear email, no hash yet) meets no key of a
/// sealed row, so while the webinar holds such rows they are looked for first, by clear
/// email.
pub fn insert_absent(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    rows: &[RegistrationRow],
) -> QueryResult<Vec<String>> {
    let held = if fields.hashes_emails() && has_unhashed_emails(conn, tenant, webinar_id)? {
        let clear: Vec<&str> = rows.iter().filter_map(|r| r.email.as_deref()).collect();
        unhashed_emails(conn, tenant, webinar_id, &clear)?
    } else {
        std::collections::HashSet::new()
    };
    let absent = rows
        .iter()
        .filter(|r| r.email.as_ref().is_none_or(|e| !held.contains(e)));
    let rows = &sealed(fields, absent)?;
    let mut inserted = Vec::with_capacity(rows.len());
    match conn {
        DbConnection::Pg(c) => {
            for chunk in rows.chunks(1000) {
                inserted.extend(
                    diesel::insert_into(r::registrations)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .returning(r::id)
                        .get_results::<String>(c)?,
                );
            }
        }
        DbConnection::Sqlite(c) => {
            for row in rows {
                let n = diesel::insert_into(r::registrations)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c)?;
                if n > 0 {
                    inserted.push(row.id.clone());
                }
            }
        }
    }
    Ok(inserted)
}

/// Writes every column of the row back.
pub fn save(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    row: &RegistrationRow,
) -> QueryResult<()> {
    let mut row = row.clone();
    fields.seal_registration(&mut row).map_err(store_error)?;
    save_stored(conn, &row)
}

/// Writes every column of a row whose personal columns are sealed already.
pub(crate) fn save_stored(conn: &mut DbConnection, row: &RegistrationRow) -> QueryResult<()> {
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(&row.tenant))
            .filter(r::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)
    .map(|_| ())
}

/// Sets a registration's visible delivery state after a job run, unless it was cancelled or
/// forgotten since; true when it changed.
pub fn set_delivery_state(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &RegistrationId,
    status: S,
    attempts: i32,
    last_error: Option<&str>,
    next_attempt_at: Option<i64>,
) -> QueryResult<bool> {
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.ne_all(SETTLED)),
    )
    .set((
        r::status.eq(status.as_str()),
        r::attempts.eq(attempts),
        r::last_error.eq(last_error),
        r::next_attempt_at.eq(next_attempt_at),
        r::updated_at.eq(now_ms()),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Shows a provider's refusal beside a registration without changing its status (a refused
/// cancellation stays CANCELLED).
pub fn set_last_error(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &RegistrationId,
    last_error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq(id.to_string())),
    )
    .set((r::last_error.eq(last_error), r::updated_at.eq(now_ms())))
    .execute(conn)
    .map(|_| ())
}

/// Marks a registration DELIVERED with the provider's id (unless it was cancelled or
/// forgotten since); true when it changed.
pub fn mark_delivered(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &RegistrationId,
    eventuserid: i64,
    attempts: i32,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.ne_all(SETTLED)),
    )
    .set((
        r::status.eq(S::Delivered.as_str()),
        r::eventuserid.eq(Some(eventuserid)),
        r::attempts.eq(attempts),
        r::last_error.eq(None::<String>),
        r::next_attempt_at.eq(None::<i64>),
        r::delivered_at.eq(Some(now)),
        r::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Holds one undelivered (PENDING or RETRYING) registration as PAUSED; true when it changed.
pub fn pause_undelivered(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &RegistrationId,
) -> QueryResult<bool> {
    let n = diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq(id.to_string()))
            .filter(r::status.eq_any([S::Pending.as_str(), S::Retrying.as_str()])),
    )
    .set((r::status.eq(S::Paused.as_str()), r::updated_at.eq(now_ms())))
    .execute(conn)?;
    Ok(n > 0)
}

/// A page of a webinar's registrations ordered by id, optionally with one status and one
/// (normalised) email.
#[allow(clippy::too_many_arguments)] // the filters of one query, each optional
pub fn list(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    status: Option<S>,
    email: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    let mut q = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .into_boxed();
    if let Some(status) = status {
        q = q.filter(r::status.eq(status.as_str()));
    }
    if let Some(email) = email {
        let email = [email.to_owned()];
        let hashes: Vec<String> = email_hashes(fields, &email)
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        q = q.filter(by_email_filter!(hashes, email));
    }
    if let Some(after) = after {
        q = q.filter(r::id.gt(after.to_owned()));
    }
    let rows = q
        .order(r::id.asc())
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)?;
    opened(fields, rows)
}

/// Number of a webinar's registrations per status.
pub fn count_by_status(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<Vec<(String, i64)>> {
    r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .group_by(r::status)
        .select((r::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Number of a tenant's registrations in one status, across its webinars.
pub fn count_in_status(conn: &mut DbConnection, tenant: &TenantId, status: S) -> QueryResult<i64> {
    r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::status.eq(status.as_str()))
        .count()
        .get_result(conn)
}

/// Moves a tenant's registrations from some statuses to another (pause and resume); returns
/// the (webinar, registration) ids it moved.
pub fn move_status(
    conn: &mut DbConnection,
    tenant: &TenantId,
    from: &[S],
    to: S,
) -> QueryResult<Vec<(WebinarId, RegistrationId)>> {
    let tenant = tenant.as_str();
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let ids: Vec<(String, String)> = r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::status.eq_any(&from))
        .select((r::webinar_id, r::id))
        .load(conn)?;
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant))
            .filter(r::status.eq_any(&from)),
    )
    .set((r::status.eq(to.as_str()), r::updated_at.eq(now_ms())))
    .execute(conn)?;
    Ok(ids
        .iter()
        .map(|(w, r)| (WebinarId::from_stored(w), RegistrationId::from_stored(r)))
        .collect())
}

/// Registrations of a webinar holding any of these request ids, as stored (personal
/// columns sealed): the caller needs only whose request id it is.
pub(crate) fn by_request_ids_owners(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    ids: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let (tenant, webinar_id) = (tenant.as_str(), webinar_id.to_string());
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            r::registrations
                .filter(r::tenant.eq(tenant))
                .filter(r::webinar_id.eq(&webinar_id))
                .filter(r::request_id.eq_any(chunk))
                .select(RegistrationRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Drops jobs of these registrations that no worker holds (forget: nothing left to send).
pub fn drop_waiting_jobs(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[RegistrationId],
) -> QueryResult<usize> {
    use super::schema::outbox_jobs::dsl as j;
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::registration_id.eq_any(ids))
            .filter(j::state.ne(JobState::Running.as_str())),
    )
    .execute(conn)
}

/// What [`insert_new_in_one_statement`] found and did.
#[derive(Debug, QueryableByName)]
pub struct Inserted {
    /// False when the tenant has no live credentials or the webinar is missing or unlinked:
    /// nothing was written (the caller's transactional path says which refusal applies).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub accepted: bool,
    /// The tenant's credentials block calls: rows are PAUSED and jobs held.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub paused: bool,
    /// Ids of the rows inserted; a row missing here met an existing one on (tenant, webinar,
    /// email) or (tenant, webinar, request_id) and was left alone.
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    pub inserted: Vec<String>,
}

/// New registrations to insert on PostgreSQL in one statement (see [`insert_new_in_one_statement`]).
#[derive(Debug)]
pub struct NewRegistrations<'a> {
    /// The tenant registering.
    pub tenant: &'a TenantId,
    /// The webinar registered to.
    pub webinar_id: &'a WebinarId,
    /// Credential statuses that hold work (`CredentialStatus::blocks_calls`).
    pub blocking: &'a [&'a str],
    /// The time every row is stamped with (ms).
    pub now: i64,
    /// The kind of the delivery jobs inserted.
    pub job_kind: JobKind,
    /// The kind of the feed entries inserted.
    pub change_kind: ChangeKind,
    /// W3C `traceparent` of the call that sent each row, carried into its job (in the
    /// rows' order; the rows of one statement may come from several calls).
    pub trace_contexts: &'a [Option<&'a str>],
    /// The rows to insert (their status is set by the statement).
    pub rows: &'a [RegistrationRow],
    /// The tenant's cipher: the rows are written sealed with it.
    pub fields: &'a FieldCipher,
}

/// The statement of [`insert_new_in_one_statement`]: a fixed SQL text, so diesel keeps it prepared per
/// connection (an `sql_query` is parsed and planned again on every call). Every bind appears
/// once, in order; the scalars go through the `a` row.
struct InsertNewPg<'a> {
    args: NewRegistrations<'a>,
    tenant: &'a str,
    webinar_id: String,
    ids: Vec<&'a str>,
    emails: Vec<&'a str>,
    email_hashes: Vec<Option<&'a str>>,
    clear_emails: Vec<&'a str>,
    first_names: Vec<&'a str>,
    last_names: Vec<&'a str>,
    companies: Vec<Option<&'a str>>,
    job_titles: Vec<Option<&'a str>>,
    crm_references: Vec<Option<&'a str>>,
    extras: Vec<&'a str>,
    request_ids: Vec<Option<&'a str>>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertNewPg<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text};
        let a = &self.args;
        out.push_sql("WITH a AS (SELECT ");
        out.push_bind_param::<Text, _>(&self.tenant)?;
        out.push_sql("::text AS tenant, ");
        out.push_bind_param::<Text, _>(&self.webinar_id)?;
        out.push_sql("::text AS webinar_id, ");
        out.push_bind_param::<Array<Text>, _>(&a.blocking)?;
        out.push_sql("::text[] AS blocking, ");
        out.push_bind_param::<BigInt, _>(&a.now)?;
        out.push_sql("::bigint AS now, ");
        out.push_bind_param::<Text, _>(a.job_kind.as_str())?;
        out.push_sql("::text AS job_kind, ");
        out.push_bind_param::<Text, _>(a.change_kind.as_str())?;
        // The checks the transactional path makes: live credentials and a live webinar.
        // `set_config` asks the outbox trigger not to NOTIFY in this transaction: every
        // notifying commit holds one database-wide lock through its WAL flush, so commits
        // would run one at a time; the caller wakes other replicas after the commit instead.
        out.push_sql(
            "::text AS change_kind), \
             ok AS (SELECT p.status = ANY(a.blocking) AS paused, \
                    set_config('integrationservice.outbox_notify', 'deferred', true) AS quiet \
                 FROM a JOIN provider_configs p ON p.tenant = a.tenant AND NOT p.deleted \
                 JOIN webinars w ON w.tenant = a.tenant AND w.id = a.webinar_id AND NOT w.deleted), \
             input AS (SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.emails)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.email_hashes)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.clear_emails)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.first_names)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.last_names)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.companies)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.job_titles)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.crm_references)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.extras)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.request_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&a.trace_contexts)?;
        // ON CONFLICT DO NOTHING covers every unique key, (tenant, webinar, email_hash),
        // (tenant, webinar, email) for rows not hashed, and
        // (tenant, webinar, request_id), also between two items of this statement; it waits for
        // a concurrent insert of the same key and then skips the row instead of failing.
        out.push_sql(
            "::text[]) WITH ORDINALITY AS t(id, email, email_hash, clear_email, first_name, \
                 last_name, company, job_title, crm_reference_id, extra, request_id, trace_context, \
                 ord)), \
             ins AS (INSERT INTO registrations (tenant, id, webinar_id, email, email_hash, \
                 first_name, last_name, company, job_title, crm_reference_id, extra, status, \
                 attempts, request_id, created_at, updated_at) \
                 SELECT a.tenant, i.id, a.webinar_id, i.email, i.email_hash, i.first_name, \
                     i.last_name, \
                     i.company, i.job_title, i.crm_reference_id, i.extra, \
                     CASE WHEN ok.paused THEN 'PAUSED' ELSE 'PENDING' END, 0, i.request_id, \
                     a.now, a.now \
                 FROM input i CROSS JOIN a CROSS JOIN ok ",
        );
        // With emails in clear (the benchmark's switch) the unique key on unhashed rows finds
        // every duplicate itself; with them sealed the statement itself probes for clear rows,
        // so a write stays one round trip.
        if a.fields.hashes_emails() {
            // A person whose row was written before emails were sealed (clear email, no hash
            // yet) is left out too: no key would meet theirs. One probe per row of the
            // partial index on those rows (empty once the sealing migration ends): a
            // `LATERAL … LIMIT 1` cannot be flattened into a join, which the planner,
            // without statistics, would answer by reading every row of the webinar.
            out.push_sql(
                "LEFT JOIN LATERAL (SELECT 1 AS held FROM registrations o \
                     WHERE o.tenant = a.tenant AND o.webinar_id = a.webinar_id \
                     AND o.email = i.clear_email AND o.email_hash IS NULL \
                     AND o.email IS NOT NULL LIMIT 1) c ON TRUE \
                 WHERE c.held IS NULL ",
            );
        }
        out.push_sql(
            "ORDER BY i.ord \
                 ON CONFLICT DO NOTHING RETURNING id), \
             jobs AS (INSERT INTO outbox_jobs (tenant, kind, webinar_id, registration_id, \
                 payload, state, attempts, next_run_at, trace_context, created_at, updated_at) \
                 SELECT a.tenant, a.job_kind, a.webinar_id, ins.id, NULL, \
                     CASE WHEN ok.paused THEN 'PAUSED' ELSE 'READY' END, 0, a.now, \
                     i.trace_context, a.now, a.now \
                 FROM ins JOIN input i ON i.id = ins.id CROSS JOIN a CROSS JOIN ok), \
             feed AS (INSERT INTO changes_pending (tenant, kind, webinar_id, registration_id, \
                 created_at) \
                 SELECT a.tenant, a.change_kind, a.webinar_id, ins.id, a.now FROM ins CROSS JOIN a) \
             SELECT EXISTS (SELECT 1 FROM ok) AS accepted, \
                 COALESCE((SELECT paused FROM ok), FALSE) AS paused, \
                 ARRAY(SELECT id FROM ins) AS inserted",
        );
        Ok(())
    }
}

impl diesel::query_builder::QueryId for InsertNewPg<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for InsertNewPg<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::pg::PgConnection> for InsertNewPg<'_> {}

/// Inserts new registrations with their delivery jobs and change-feed entries in ONE
/// statement (autocommit: the statement is its own transaction, so a row, its job and its feed
/// entry commit together): one round trip for a batch of any size. Rows whose email or
/// request id the webinar already holds are skipped, not failed: the caller resolves those
/// (idempotent repeat, reactivation of a cancelled one, request id of another email) on its
/// transactional path. Nothing is written when the checks fail (`accepted` false).
/// The rows' `status` is ignored: PENDING, or PAUSED when the credentials block calls.
/// On SQLite there is no such statement: `None`, and the caller takes its transactional path
/// (check [`one_statement_insert`] first to skip building the rows).
pub fn insert_new_in_one_statement(
    conn: &mut DbConnection,
    args: NewRegistrations<'_>,
) -> QueryResult<Option<Inserted>> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(None);
    };
    insert_new_pg(pg, args).map(Some)
}

/// Whether [`insert_new_in_one_statement`] can write on this connection (PostgreSQL).
pub fn one_statement_insert(conn: &DbConnection) -> bool {
    matches!(conn, DbConnection::Pg(_))
}

fn insert_new_pg(
    conn: &mut diesel::pg::PgConnection,
    args: NewRegistrations<'_>,
) -> QueryResult<Inserted> {
    let rows = &sealed(args.fields, args.rows)?;
    let query = InsertNewPg {
        tenant: args.tenant.as_str(),
        webinar_id: args.webinar_id.to_string(),
        ids: rows.iter().map(|r| r.id.as_str()).collect(),
        emails: rows
            .iter()
            .map(|r| r.email.as_deref().unwrap_or_default())
            .collect(),
        email_hashes: rows.iter().map(|r| r.email_hash.as_deref()).collect(),
        clear_emails: args
            .rows
            .iter()
            .map(|r| r.email.as_deref().unwrap_or_default())
            .collect(),
        first_names: rows.iter().map(|r| r.first_name.as_str()).collect(),
        last_names: rows.iter().map(|r| r.last_name.as_str()).collect(),
        companies: rows.iter().map(|r| r.company.as_deref()).collect(),
        job_titles: rows.iter().map(|r| r.job_title.as_deref()).collect(),
        crm_references: rows.iter().map(|r| r.crm_reference_id.as_deref()).collect(),
        extras: rows.iter().map(|r| r.extra.as_str()).collect(),
        request_ids: rows.iter().map(|r| r.request_id.as_deref()).collect(),
        args,
    };
    query.get_result(conn)
}

/// Whether the webinar holds a registration written before emails were sealed (a clear email
/// and no keyed hash yet): until the sealing migration reaches it, a new registration of the
/// same person must be found by the clear email.
///
/// Asked in the partial index's order: where the tenant's other webinars hold many such rows,
/// the planner expects a plain `EXISTS` to meet one early in a sequential scan and reads the
/// whole table when this webinar holds none; in email order only that index answers cheaply.
fn has_unhashed_emails(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<bool> {
    let first: Option<String> = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .filter(r::email_hash.is_null())
        .filter(r::email.is_not_null())
        .order(r::email)
        .select(r::id)
        .first(conn)
        .optional()?;
    Ok(first.is_some())
}

/// Which of these clear emails the webinar holds on rows written before emails were sealed
/// (clear email, no keyed hash yet): found through the partial unique index on those rows.
fn unhashed_emails(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[&str],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut held = std::collections::HashSet::new();
    for chunk in emails.chunks(500) {
        held.extend(
            r::registrations
                .filter(r::tenant.eq(tenant.as_str()))
                .filter(r::webinar_id.eq(webinar_id.to_string()))
                .filter(r::email_hash.is_null())
                .filter(r::email.is_not_null())
                .filter(r::email.eq_any(chunk))
                .select(r::email.assume_not_null())
                .load::<String>(conn)?,
        );
    }
    Ok(held)
}

/// Registrations of a webinar per attendance outcome, forgotten ones left out.
pub fn count_by_attendance(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<Vec<(String, i64)>> {
    r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .filter(r::status.ne(S::Forgotten.as_str()))
        .group_by(r::attendance)
        .select((r::attendance, diesel::dsl::count_star()))
        .load(conn)
}

/// Sets the attendance outcome of some registrations of one webinar (stamped `now`), unless
/// they were cancelled or forgotten.
pub fn set_attendance(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    ids: &[RegistrationId],
    attendance: Attendance,
    now: i64,
) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in ids.chunks(500) {
        let chunk: Vec<String> = chunk.iter().map(ToString::to_string).collect();
        n += diesel::update(
            r::registrations
                .filter(r::tenant.eq(tenant.as_str()))
                .filter(r::webinar_id.eq(webinar_id.to_string()))
                .filter(r::id.eq_any(chunk))
                .filter(r::status.ne_all(SETTLED)),
        )
        .set((r::attendance.eq(attendance.as_str()), r::updated_at.eq(now)))
        .execute(conn)?;
    }
    Ok(n)
}

/// Up to `limit` registrations of a webinar (id order, after `after`) whose attendance is
/// still UNKNOWN, as `(id, email)`; cancelled and forgotten ones left out.
pub fn unknown_attendance(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(RegistrationId, String)>> {
    let mut q = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar_id.to_string()))
        .filter(r::attendance.eq(Attendance::Unknown.as_str()))
        .filter(r::status.ne_all(SETTLED))
        .filter(r::email.is_not_null())
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(r::id.gt(after.to_owned()));
    }
    q.order(r::id.asc())
        .limit(limit)
        .select((r::id, r::email.assume_not_null()))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(id, email)| {
            let email = open_registration_email(fields, tenant.as_str(), &id, &email)
                .map_err(store_error)?;
            Ok((RegistrationId::from_stored(&id), email))
        })
        .collect()
}

/// A page of registrations still holding a personal value written before encryption at
/// rest (neither sealed alone nor in a record), in (tenant, id) order after `after`, as stored.
pub(crate) fn unsealed_page(
    conn: &mut DbConnection,
    after: Option<(&str, &str)>,
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    const SEALED: &str = crate::crypto::fields::SEALED_LIKE;
    let unsealed = r::first_name
        .ne("")
        .and(r::first_name.not_like(SEALED))
        .or(r::last_name.ne("").and(r::last_name.not_like(SEALED)))
        .or(r::company
            .ne("")
            .and(r::company.not_like(SEALED))
            .assume_not_null())
        .or(r::job_title
            .ne("")
            .and(r::job_title.not_like(SEALED))
            .assume_not_null())
        .or(r::extra
            .ne("")
            .and(r::extra.ne("{}"))
            .and(r::extra.not_like(SEALED)))
        // An email not hashed yet (written before emails were sealed); a forgotten row has
        // none.
        .or(r::email_hash.is_null().and(r::email.is_not_null()));
    let mut query = r::registrations
        .filter(unsealed)
        .order((r::tenant.asc(), r::id.asc()))
        .limit(limit)
        .select(RegistrationRow::as_select())
        .into_boxed();
    if let Some((tenant, id)) = after {
        query = query.filter(
            r::tenant
                .gt(tenant.to_owned())
                .or(r::tenant.eq(tenant.to_owned()).and(r::id.gt(id.to_owned()))),
        );
    }
    query.load(conn)
}

/// Replaces a registration's personal columns with `sealed`'s if the row was not written
/// since `stored` was read (compare-and-set: such a write sealed them itself);
/// true when replaced. Only the personal columns are written, so the delivery state a worker
/// records meanwhile is kept.
pub(crate) fn swap_personal(
    conn: &mut DbConnection,
    stored: &RegistrationRow,
    sealed: &RegistrationRow,
) -> QueryResult<bool> {
    // Every other write of a row seals all its personal columns, and `extra` is never empty
    // once written (`{}` at least), so a row written since it was read no longer holds these
    // plaintext values. The email is compared too: a forget since emptied it.
    macro_rules! swap_if {
        ($same_email:expr) => {
            diesel::update(
                r::registrations
                    .filter(r::tenant.eq(&stored.tenant))
                    .filter(r::id.eq(&stored.id))
                    .filter(r::first_name.eq(&stored.first_name))
                    .filter(r::last_name.eq(&stored.last_name))
                    .filter(r::extra.eq(&stored.extra))
                    .filter($same_email),
            )
            .set((
                r::email.eq(&sealed.email),
                r::email_hash.eq(&sealed.email_hash),
                r::first_name.eq(&sealed.first_name),
                r::last_name.eq(&sealed.last_name),
                r::company.eq(&sealed.company),
                r::job_title.eq(&sealed.job_title),
                r::extra.eq(&sealed.extra),
            ))
            .execute(conn)?
        };
    }
    // A registration of the same person written under the hash meanwhile (two concurrent
    // first registrations during the migration) would make the swap break the unique key:
    // that row is left as it is (counted as skipped; still found by its clear email).
    if let Some(hash) = &sealed.email_hash
        && stored.email_hash.is_none()
    {
        let twins: i64 = r::registrations
            .filter(r::tenant.eq(&stored.tenant))
            .filter(r::webinar_id.eq(&stored.webinar_id))
            .filter(r::email_hash.eq(hash))
            .count()
            .get_result(conn)?;
        if twins > 0 {
            return Ok(false);
        }
    }
    let n = match (&stored.email, &stored.email_hash) {
        (Some(e), None) => swap_if!(r::email.eq(e).and(r::email_hash.is_null())),
        (Some(e), Some(h)) => swap_if!(r::email.eq(e).and(r::email_hash.eq(h))),
        (None, _) => swap_if!(r::email.is_null()),
    };
    Ok(n == 1)
}
