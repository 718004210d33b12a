//! Queries on `attendee_metrics`: per-attendee figures pulled from the provider, replaced on
//! every sync, read back joined to registrations by the domain.

use diesel::prelude::*;

use super::DbConnection;
use super::models::MetricsRow;
use super::schema::attendee_metrics::dsl as m;
use crate::crypto::fields::FieldCipher;
use crate::ids::{RegistrationId, TenantId, WebinarId};

/// Metrics of one webinar, keyed by email.
pub fn for_webinar(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<Vec<MetricsRow>> {
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
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
    tenant: &TenantId,
    webinar_id: &WebinarId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<MetricsRow>> {
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
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
    tenant: &TenantId,
    webinar_id: &WebinarId,
    duration_minutes: i32,
) -> QueryResult<Totals> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Double};
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
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
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<MetricsRow>> {
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    if let DbConnection::Pg(pg) = conn {
        return by_unnest(pg, METRICS_PG, tenant, webinar_id, emails);
    }
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

/// Registration ids of some emails of one webinar, as `(email, id)`: a sync's feed entries.
/// Matched by the emails' keyed hashes (hashed once here), or by the clear email for rows
/// written before emails were sealed.
pub fn registration_ids(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<(String, RegistrationId)>> {
    if let DbConnection::Pg(pg) = conn {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        use diesel::sql_types::{Array, Nullable, Text};
        let hashes: Vec<Option<String>> = emails.iter().map(|e| fields.email_hash(e)).collect();
        return Ok(diesel::sql_query(REGISTRATION_IDS_PG)
            .bind::<Text, _>(tenant.as_str())
            .bind::<Text, _>(webinar_id.to_string())
            .bind::<Array<Text>, _>(emails)
            .bind::<Array<Nullable<Text>>, _>(hashes)
            .load::<EmailId>(pg)?
            .into_iter()
            .map(|e| (e.email, RegistrationId::from_stored(&e.id)))
            .collect());
    }
    Ok(
        super::registrations::by_emails_stored(conn, fields, tenant, webinar_id, emails)?
            .into_iter()
            .filter_map(|r| Some((r.email?, RegistrationId::from_stored(&r.id))))
            .collect(),
    )
}

/// A registration's email and id.
#[derive(QueryableByName)]
struct EmailId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Look-ups of many emails on PostgreSQL join the emails as one array (`unnest`) to the
/// table's key instead of `email = ANY($n)`: prepared once, that runs with a generic plan,
/// and on a table whose statistics are stale (100,000 rows written moments ago, not analysed
/// yet) the generic plan was a sequential scan comparing every row with every element of the
/// array: seconds per chunk. A join is at worst one hash join.
/// Registrations are matched by keyed hash, or (no hash yet: written before emails were
/// sealed) by the clear email: two joins, each on an index.
const REGISTRATION_IDS_PG: &str = "SELECT e.email, r.id \
    FROM unnest($3::text[], $4::text[]) AS e(email, hash) \
    JOIN registrations r ON r.tenant = $1 AND r.webinar_id = $2 AND r.email_hash = e.hash \
    UNION ALL SELECT e.email, r.id FROM unnest($3::text[]) AS e(email) \
    JOIN registrations r ON r.tenant = $1 AND r.webinar_id = $2 AND r.email = e.email \
        AND r.email_hash IS NULL";
const METRICS_PG: &str = "SELECT m.* FROM unnest($3::text[]) AS e(email) \
    JOIN attendee_metrics m ON m.tenant = $1 AND m.webinar_id = $2 AND m.email = e.email";

fn by_unnest<T: QueryableByName<diesel::pg::Pg> + 'static>(
    pg: &mut diesel::pg::PgConnection,
    sql: &'static str,
    tenant: &str,
    webinar_id: &str,
    emails: &[String],
) -> QueryResult<Vec<T>> {
    use diesel::sql_types::{Array, Text};
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    diesel::sql_query(sql)
        .bind::<Text, _>(tenant)
        .bind::<Text, _>(webinar_id)
        .bind::<Array<Text>, _>(emails)
        .load(pg)
}

/// An email a statement wrote.
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
}

/// One statement for a whole chunk on PostgreSQL: the rows come in as one array per column
/// (`unnest`), so the statement has 18 parameters however many rows; a row that exists is
/// replaced only when a figure differs (`IS DISTINCT FROM`, NULLs compared as values), so
/// the emails returned are exactly the rows this statement changed, even if another sync of
/// the same webinar committed in between.
const UPSERT_CHANGED_PG: &str = "\
INSERT INTO attendee_metrics (tenant, webinar_id, updated_at, email, eventuserid, live_minutes, \
    archive_minutes, cumulative_live_minutes, cumulative_archive_minutes, engagement_score, \
    questions_asked, polls_answered, surveys_answered, resources_downloaded, \
    first_live_activity_at, last_live_activity_at, first_archive_activity_at, \
    last_archive_activity_at) \
SELECT $1, $2, $3, u.* FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
    $8::bigint[], $9::bigint[], $10::double precision[], $11::bigint[], $12::bigint[], \
    $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[]) \
    AS u(email, eventuserid, live_minutes, archive_minutes, cumulative_live_minutes, \
    cumulative_archive_minutes, engagement_score, questions_asked, polls_answered, \
    surveys_answered, resources_downloaded, first_live_activity_at, last_live_activity_at, \
    first_archive_activity_at, last_archive_activity_at) \
ON CONFLICT (tenant, webinar_id, email) DO UPDATE SET \
    eventuserid = EXCLUDED.eventuserid, live_minutes = EXCLUDED.live_minutes, \
    archive_minutes = EXCLUDED.archive_minutes, \
    cumulative_live_minutes = EXCLUDED.cumulative_live_minutes, \
    cumulative_archive_minutes = EXCLUDED.cumulative_archive_minutes, \
    engagement_score = EXCLUDED.engagement_score, questions_asked = EXCLUDED.questions_asked, \
    polls_answered = EXCLUDED.polls_answered, surveys_answered = EXCLUDED.surveys_answered, \
    resources_downloaded = EXCLUDED.resources_downloaded, \
    first_live_activity_at = EXCLUDED.first_live_activity_at, \
    last_live_activity_at = EXCLUDED.last_live_activity_at, \
    first_archive_activity_at = EXCLUDED.first_archive_activity_at, \
    last_archive_activity_at = EXCLUDED.last_archive_activity_at, \
    updated_at = EXCLUDED.updated_at \
WHERE (attendee_metrics.eventuserid, attendee_metrics.live_minutes, \
    attendee_metrics.archive_minutes, attendee_metrics.cumulative_live_minutes, \
    attendee_metrics.cumulative_archive_minutes, attendee_metrics.engagement_score, \
    attendee_metrics.questions_asked, attendee_metrics.polls_answered, \
    attendee_metrics.surveys_answered, attendee_metrics.resources_downloaded, \
    attendee_metrics.first_live_activity_at, attendee_metrics.last_live_activity_at, \
    attendee_metrics.first_archive_activity_at, attendee_metrics.last_archive_activity_at) \
    IS DISTINCT FROM (EXCLUDED.eventuserid, EXCLUDED.live_minutes, EXCLUDED.archive_minutes, \
    EXCLUDED.cumulative_live_minutes, EXCLUDED.cumulative_archive_minutes, \
    EXCLUDED.engagement_score, EXCLUDED.questions_asked, EXCLUDED.polls_answered, \
    EXCLUDED.surveys_answered, EXCLUDED.resources_downloaded, EXCLUDED.first_live_activity_at, \
    EXCLUDED.last_live_activity_at, EXCLUDED.first_archive_activity_at, \
    EXCLUDED.last_archive_activity_at) \
RETURNING email";

/// Writes the rows of one sync chunk that the caller found new (`inserts`) or different
/// (`updates`), all of one tenant and webinar, stamped `now`, with distinct emails. Returns
/// the emails actually written, each once: on PostgreSQL one `INSERT … SELECT FROM unnest …
/// ON CONFLICT DO UPDATE … WHERE IS DISTINCT FROM … RETURNING` statement, which also leaves
/// out rows a concurrent sync already wrote; on SQLite (one writer, so what the caller read
/// still holds) a multi-row insert of the new rows and an update per changed row.
pub fn write_changed(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    now: i64,
    inserts: &[MetricsRow],
    updates: &[MetricsRow],
) -> QueryResult<Vec<String>> {
    use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    if inserts.is_empty() && updates.is_empty() {
        return Ok(Vec::new());
    }
    let DbConnection::Pg(pg) = conn else {
        insert(conn, inserts)?;
        for row in updates {
            update(conn, row)?;
        }
        return Ok(inserts
            .iter()
            .chain(updates)
            .map(|r| r.email.clone())
            .collect());
    };
    let rows: Vec<&MetricsRow> = inserts.iter().chain(updates).collect();
    let col = |f: fn(&MetricsRow) -> i64| rows.iter().map(|r| f(r)).collect::<Vec<i64>>();
    let opt =
        |f: fn(&MetricsRow) -> Option<i64>| rows.iter().map(|r| f(r)).collect::<Vec<Option<i64>>>();
    let written = diesel::sql_query(UPSERT_CHANGED_PG)
        .bind::<Text, _>(tenant)
        .bind::<Text, _>(webinar_id)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(opt(|r| r.eventuserid))
        .bind::<Array<BigInt>, _>(col(|r| r.live_minutes))
        .bind::<Array<BigInt>, _>(col(|r| r.archive_minutes))
        .bind::<Array<BigInt>, _>(col(|r| r.cumulative_live_minutes))
        .bind::<Array<BigInt>, _>(col(|r| r.cumulative_archive_minutes))
        .bind::<Array<Double>, _>(
            rows.iter()
                .map(|r| r.engagement_score)
                .collect::<Vec<f64>>(),
        )
        .bind::<Array<BigInt>, _>(col(|r| r.questions_asked))
        .bind::<Array<BigInt>, _>(col(|r| r.polls_answered))
        .bind::<Array<BigInt>, _>(col(|r| r.surveys_answered))
        .bind::<Array<BigInt>, _>(col(|r| r.resources_downloaded))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|r| r.first_live_activity_at))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|r| r.last_live_activity_at))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|r| r.first_archive_activity_at))
        .bind::<Array<Nullable<BigInt>>, _>(opt(|r| r.last_archive_activity_at))
        .load::<Written>(pg)?;
    Ok(written.into_iter().map(|w| w.email).collect())
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

/// A person's metrics across every webinar of a tenant (an access request), by webinar.
pub fn for_email_all_webinars(
    conn: &mut DbConnection,
    tenant: &TenantId,
    email: &str,
) -> QueryResult<Vec<MetricsRow>> {
    m::attendee_metrics
        .filter(m::tenant.eq(tenant.as_str()))
        .filter(m::email.eq(email))
        .order(m::webinar_id.asc())
        .select(MetricsRow::as_select())
        .load(conn)
}

/// Erases a person's metrics in a tenant (forget).
pub fn delete_email(conn: &mut DbConnection, tenant: &TenantId, email: &str) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::delete(
        m::attendee_metrics
            .filter(m::tenant.eq(tenant))
            .filter(m::email.eq(email)),
    )
    .execute(conn)
}
