//! Queries on `registrations`: one row per (tenant, webinar, email), carrying the delivery
//! state the CRM sees (PENDING, DELIVERED, RETRYING, FAILED, CANCELLED, FORGOTTEN, PAUSED).

use diesel::prelude::*;

use super::models::RegistrationRow;
use super::schema::registrations::dsl as r;
use super::{DbConnection, now_ms};

/// One registration by id.
pub fn get(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    id: &str,
) -> QueryResult<Option<RegistrationRow>> {
    r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::webinar_id.eq(webinar_id))
        .filter(r::id.eq(id))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()
}

/// Registrations of a webinar with any of these emails (already normalised).
pub fn by_emails(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    emails: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let mut out = Vec::new();
    for chunk in emails.chunks(500) {
        out.extend(
            r::registrations
                .filter(r::tenant.eq(tenant))
                .filter(r::webinar_id.eq(webinar_id))
                .filter(r::email.eq_any(chunk))
                .select(RegistrationRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Every registration of one person in a tenant (for forget).
pub fn by_email_all_webinars(
    conn: &mut DbConnection,
    tenant: &str,
    email: &str,
) -> QueryResult<Vec<RegistrationRow>> {
    r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::email.eq(email))
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Inserts new registrations.
pub fn insert(conn: &mut DbConnection, rows: &[RegistrationRow]) -> QueryResult<()> {
    // 19 columns. SQLite: 50 rows a statement keeps it under the old 999 bound-parameter
    // limit. PostgreSQL allows 65,535 parameters, so a whole batch of 1,000 (19,000) is one
    // statement: one round trip instead of twenty.
    let per_statement = match conn {
        DbConnection::Pg(_) => 1000,
        DbConnection::Sqlite(_) => 50,
    };
    for chunk in rows.chunks(per_statement) {
        insert_batch!(&mut *conn, r::registrations, chunk)?;
    }
    Ok(())
}

/// Writes every column of the row back.
pub fn save(conn: &mut DbConnection, row: &RegistrationRow) -> QueryResult<()> {
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(&row.tenant))
            .filter(r::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)
    .map(|_| ())
}

/// A page of a webinar's registrations ordered by id, optionally with one status.
pub fn list(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<RegistrationRow>> {
    let mut q = r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::webinar_id.eq(webinar_id))
        .into_boxed();
    if let Some(status) = status {
        q = q.filter(r::status.eq(status.to_owned()));
    }
    if let Some(after) = after {
        q = q.filter(r::id.gt(after.to_owned()));
    }
    q.order(r::id.asc())
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)
}

/// Number of a webinar's registrations per status.
pub fn count_by_status(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
) -> QueryResult<Vec<(String, i64)>> {
    r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::webinar_id.eq(webinar_id))
        .group_by(r::status)
        .select((r::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Number of a tenant's registrations in one status, across its webinars.
pub fn count_in_status(conn: &mut DbConnection, tenant: &str, status: &str) -> QueryResult<i64> {
    r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::status.eq(status))
        .count()
        .get_result(conn)
}

/// Moves a tenant's registrations from some statuses to another (pause and resume).
pub fn move_status(
    conn: &mut DbConnection,
    tenant: &str,
    from: &[&str],
    to: &str,
) -> QueryResult<Vec<(String, String)>> {
    let ids: Vec<(String, String)> = r::registrations
        .filter(r::tenant.eq(tenant))
        .filter(r::status.eq_any(from))
        .select((r::webinar_id, r::id))
        .load(conn)?;
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant))
            .filter(r::status.eq_any(from)),
    )
    .set((r::status.eq(to), r::updated_at.eq(now_ms())))
    .execute(conn)?;
    Ok(ids)
}

/// Registrations of a webinar holding any of these request ids.
pub fn by_request_ids(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    ids: &[String],
) -> QueryResult<Vec<RegistrationRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            r::registrations
                .filter(r::tenant.eq(tenant))
                .filter(r::webinar_id.eq(webinar_id))
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
    tenant: &str,
    ids: &[String],
) -> QueryResult<usize> {
    use super::schema::outbox_jobs::dsl as j;
    diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant))
            .filter(j::registration_id.eq_any(ids))
            .filter(j::state.ne("RUNNING")),
    )
    .execute(conn)
}
