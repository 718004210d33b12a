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

/// One webinar's metrics summed in the database: one row back however many attendees.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Attendees with any viewing.
    pub attendees: i64,
    /// Attendees with live viewing.
    pub live_attendees: i64,
    /// Attendees with on-demand viewing.
    pub archive_attendees: i64,
    /// Sum of live minutes.
    pub live_minutes: i64,
    /// Sum of on-demand minutes.
    pub archive_minutes: i64,
    /// Sum of live minutes, each attendee's capped at the live duration (for the mean
    /// attendance percentage).
    pub capped_live_minutes: i64,
    /// Sum of questions asked.
    pub questions_asked: i64,
    /// Sum of polls answered.
    pub polls_answered: i64,
    /// Sum of surveys answered.
    pub surveys_answered: i64,
    /// Sum of the engagement scores of attendees with any viewing.
    pub engagement_sum: f64,
}

/// Sums one webinar's metrics (`duration_minutes`: its live duration, from our own row).
/// Portable SQL: integer sums are cast back to BIGINT because PostgreSQL sums them as NUMERIC.
pub fn totals(
    conn: &mut DbConnection,
    tenant: &str,
    webinar_id: &str,
    duration_minutes: i32,
) -> QueryResult<Totals> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Double};
    let sum = |expr: &str| sql::<BigInt>(&format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"));
    let count = |cond: &str| sql::<BigInt>(&format!("COUNT(CASE WHEN {cond} THEN 1 END)"));
    // An integer we stored ourselves, never caller text.
    let cap = i64::from(duration_minutes.max(0));
    let row = m::attendee_metrics
        .filter(m::tenant.eq(tenant))
        .filter(m::webinar_id.eq(webinar_id))
        .select((
            (
                count("live_minutes + archive_minutes > 0"),
                count("live_minutes > 0"),
                count("archive_minutes > 0"),
                sum("live_minutes"),
                sum("archive_minutes"),
                sum(&format!(
                    "CASE WHEN live_minutes > {cap} THEN {cap} ELSE live_minutes END"
                )),
            ),
            (
                sum("questions_asked"),
                sum("polls_answered"),
                sum("surveys_answered"),
                sql::<Double>(
                    "CAST(COALESCE(SUM(CASE WHEN live_minutes + archive_minutes > 0 \
                     THEN engagement_score END), 0.0) AS DOUBLE PRECISION)",
                ),
            ),
        ))
        .get_result::<((i64, i64, i64, i64, i64, i64), (i64, i64, i64, f64))>(conn)?;
    let ((attendees, live_attendees, archive_attendees, live, archive, capped), rest) = row;
    let (questions_asked, polls_answered, surveys_answered, engagement_sum) = rest;
    Ok(Totals {
        attendees,
        live_attendees,
        archive_attendees,
        live_minutes: live,
        archive_minutes: archive,
        capped_live_minutes: capped,
        questions_asked,
        polls_answered,
        surveys_answered,
        engagement_sum,
    })
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
