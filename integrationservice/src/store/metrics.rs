//! Queries on `attendee_metrics`: per-attendee figures pulled from the provider, replaced on
//! every sync, read back joined to registrations by the domain.

use diesel::prelude::*;

use super::DbConnection;
use super::models::MetricsRow;
use super::schema::attendee_metrics::dsl as m;

/// Metrics of one webinar, keyed by email.
pub fn for_webinar(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
) -> QueryResult<Vec<MetricsRow>> {
    m::attendee_metrics
        .filter(m::tenant.eq(tenant))
        .filter(m::webinar_id.eq(webinar_id))
        .order(m::email.asc())
        .select(MetricsRow::as_select())
        .load(conn)
}

/// Metrics of some emails of one webinar.
pub fn for_emails(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    emails: &[String],
) -> QueryResult<Vec<MetricsRow>> {
    let mut out = Vec::new();
    for chunk in emails.chunks(500) {
        out.extend(
            m::attendee_metrics
                .filter(m::tenant.eq(tenant))
                .filter(m::webinar_id.eq(webinar_id))
                .filter(m::email.eq_any(chunk))
                .select(MetricsRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Inserts or replaces rows (the caller has already read which ones exist).
pub fn insert(conn: &mut DbConnection, rows: &[MetricsRow]) -> QueryResult<()> {
    for chunk in rows.chunks(50) {
        insert_batch!(conn, m::attendee_metrics, chunk)?;
    }
    Ok(())
}

/// Replaces one existing row.
pub fn update(conn: &mut DbConnection, row: &MetricsRow) -> QueryResult<()> {
    diesel::update(
        m::attendee_metrics
            .filter(m::tenant.eq(&row.tenant))
            .filter(m::webinar_id.eq(&row.webinar_id))
            .filter(m::email.eq(&row.email)),
    )
    .set(row)
    .execute(conn)
    .map(|_| ())
}

/// Erases a person's metrics in a tenant (forget).
pub fn delete_email(conn: &mut DbConnection, tenant: &str, email: &str) -> QueryResult<usize> {
    diesel::delete(
        m::attendee_metrics
            .filter(m::tenant.eq(tenant))
            .filter(m::email.eq(email)),
    )
    .execute(conn)
}
