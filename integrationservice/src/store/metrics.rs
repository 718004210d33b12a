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

/// A page of one webinar's metrics in email order, after `after` (exclusive): a keyset read
/// on the primary key, so deep pages cost the same as the first.
pub fn page(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<MetricsRow>> {
    let mut q = m::attendee_metrics
        .filter(m::tenant.eq(tenant))
        .filter(m::webinar_id.eq(webinar_id))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(m::email.gt(after.to_owned()));
    }
    q.order(m::email.asc())
        .limit(limit)
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

/// Replaces existing rows. On PostgreSQL in multi-row `INSERT … ON CONFLICT DO UPDATE`
/// statements, so a sync of 100,000 attendees is a hundred statements, not 100,000; diesel
/// cannot build that for SQLite, where per-row updates inside the one transaction are cheap.
pub fn upsert(conn: &mut DbConnection, rows: &[MetricsRow]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    macro_rules! run {
        ($c:expr, $chunk:expr) => {
            diesel::insert_into(m::attendee_metrics)
                .values($chunk)
                .on_conflict((m::tenant, m::webinar_id, m::email))
                .do_update()
                .set((
                    m::eventuserid.eq(excluded(m::eventuserid)),
                    m::live_minutes.eq(excluded(m::live_minutes)),
                    m::archive_minutes.eq(excluded(m::archive_minutes)),
                    m::cumulative_live_minutes.eq(excluded(m::cumulative_live_minutes)),
                    m::cumulative_archive_minutes.eq(excluded(m::cumulative_archive_minutes)),
                    m::engagement_score.eq(excluded(m::engagement_score)),
                    m::questions_asked.eq(excluded(m::questions_asked)),
                    m::polls_answered.eq(excluded(m::polls_answered)),
                    m::surveys_answered.eq(excluded(m::surveys_answered)),
                    m::resources_downloaded.eq(excluded(m::resources_downloaded)),
                    m::first_live_activity_at.eq(excluded(m::first_live_activity_at)),
                    m::last_live_activity_at.eq(excluded(m::last_live_activity_at)),
                    m::first_archive_activity_at.eq(excluded(m::first_archive_activity_at)),
                    m::last_archive_activity_at.eq(excluded(m::last_archive_activity_at)),
                    m::updated_at.eq(excluded(m::updated_at)),
                ))
                .execute($c)
        };
    }
    // 18 columns: 1,000 rows stay under PostgreSQL's bound-parameter limit (65,535).
    if let DbConnection::Pg(c) = conn {
        for chunk in rows.chunks(1000) {
            run!(c, chunk)?;
        }
        return Ok(());
    }
    for row in rows {
        update(conn, row)?;
    }
    Ok(())
}
