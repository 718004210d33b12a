//! Queries on `attendee_metrics`: per-attendee figures pulled from the provider, replaced on
//! every sync, read back joined to registrations by the domain. The attendee's email is
//! stored sealed and rows are keyed by its keyed hash (`store::sealing::attendee_key`):
//! lookups by email hash the emails once, and give the emails back from the lookup itself,
//! so a sync decrypts nothing.

use diesel::prelude::*;

use super::DbConnection;
use super::models::MetricsRow;
use super::schema::attendee_metrics::dsl as m;
use super::sealing::{CLEAR_KEY, attendee_keys, open_metrics, seal_metrics};
use crate::crypto::fields::FieldCipher;
use crate::crypto::fields::store_error;
use crate::ids::{RegistrationId, TenantId, WebinarId};

/// Opens the emails of rows just read.
fn opened(fields: &FieldCipher, mut rows: Vec<MetricsRow>) -> QueryResult<Vec<MetricsRow>> {
    for row in &mut rows {
        open_metrics(fields, row).map_err(store_error)?;
    }
    Ok(rows)
}

/// Rows found by these keys (`attendee_keys`) with their email given back from the key (no
/// decryption); when a person has a row under both keys (a sync wrote the hashed one before
/// the sealing worker reached the clear one) the hashed one, the newer, wins.
fn emails_back(keys: &[(String, String)], rows: Vec<MetricsRow>) -> Vec<MetricsRow> {
    let by_key: std::collections::HashMap<&str, &str> =
        keys.iter().map(|(k, e)| (k.as_str(), e.as_str())).collect();
    let mut out: std::collections::HashMap<String, MetricsRow> =
        std::collections::HashMap::with_capacity(rows.len());
    for mut row in rows {
        let Some(email) = by_key.get(row.email_hash.as_str()) else {
            continue;
        };
        row.email = (*email).to_owned();
        let clear = row.email_hash.starts_with(CLEAR_KEY);
        match out.get(&row.email) {
            Some(kept) if clear && !kept.email_hash.starts_with(CLEAR_KEY) => {}
            _ => {
                out.insert(row.email.clone(), row);
            }
        }
    }
    out.into_values().collect()
}

/// Whether a row read is still under its clear key (written before emails were sealed).
pub fn under_clear_key(row: &MetricsRow) -> bool {
    row.email_hash.starts_with(CLEAR_KEY)
}

/// Whether the webinar holds a metrics row under the clear key of its email (written before
/// emails were sealed, and not sealed yet). One pass over the webinar's keys in the primary
/// key's index: a sync asks once, not per chunk.
pub fn has_clear_keys(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        m::attendee_metrics
            .filter(m::tenant.eq(tenant.as_str()))
            .filter(m::webinar_id.eq(webinar_id.to_string()))
            .filter(m::email_hash.like(format!("{CLEAR_KEY}%"))),
    ))
    .get_result(conn)
}

/// Metrics of one webinar as stored (emails sealed), in key order: for counting and checks
/// that need no email.
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
        .order(m::email_hash.asc())
        .select(MetricsRow::as_select())
        .load(conn)
}

/// A page of one webinar's metrics in key order (keyed hash of the email), after `after`
/// (a key, exclusive): a keyset read on the primary key, so deep pages cost the same as the
/// first.
pub fn page(
    conn: &mut DbConnection,
    fields: &FieldCipher,
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
        q = q.filter(m::email_hash.gt(after.to_owned()));
    }
    let rows = q
        .order(m::email_hash.asc())
        .limit(limit)
        .select(MetricsRow::as_select())
        .load(conn)?;
    opened(fields, rows)
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

/// Metrics of some emails of one webinar, the emails given back from the lookup (nothing
/// decrypted).
pub fn for_emails(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<MetricsRow>> {
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    let keys = attendee_keys(fields, emails);
    if let DbConnection::Pg(pg) = conn {
        let only: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        let rows = by_unnest(pg, METRICS_PG, tenant, webinar_id, &only)?;
        return Ok(emails_back(&keys, rows));
    }
    let mut out = Vec::new();
    // 500 keys a statement stay below SQLite's old 999-parameter limit.
    for chunk in keys.chunks(500) {
        let only: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        out.extend(
            m::attendee_metrics
                .filter(m::tenant.eq(tenant))
                .filter(m::webinar_id.eq(webinar_id))
                .filter(m::email_hash.eq_any(only))
                .select(MetricsRow::as_select())
                .load(conn)?,
        );
    }
    Ok(emails_back(&keys, out))
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

/// Look-ups of many emails on PostgreSQL take the emails as one array (`unnest`) and look
/// each up in the table's key (`LATERAL`), instead of `email = ANY($n)` or a plain join.
/// Prepared once, these run with a generic plan, and a sync writes 100,000 rows moments
/// before it looks them up, so the table's statistics are stale: with `= ANY` the plan was a
/// sequential scan comparing every row with every element (seconds per chunk), and with a
/// plain join a hash join that read the whole webinar's rows per chunk (2,000, then 4,000,
/// ... 100,000: most of a 100,000-attendee sync's time). The lateral subquery names the
/// element, so the plan can only be one key look-up per element, whatever the statistics.
/// Registrations are matched by keyed hash, or (no hash yet: written before emails were
/// sealed) by the clear email through the partial index on those rows.
const REGISTRATION_IDS_PG: &str = "SELECT e.email, r.id \
    FROM unnest($3::text[], $4::text[]) AS e(email, hash) \
    CROSS JOIN LATERAL (SELECT r.id FROM registrations r WHERE r.tenant = $1 \
        AND r.webinar_id = $2 AND r.email_hash = e.hash LIMIT 1) r \
    UNION ALL SELECT e.email, r.id FROM unnest($3::text[]) AS e(email) \
    CROSS JOIN LATERAL (SELECT r.id FROM registrations r WHERE r.tenant = $1 \
        AND r.webinar_id = $2 AND r.email = e.email AND r.email_hash IS NULL \
        AND r.email IS NOT NULL LIMIT 1) r";
const METRICS_PG: &str = "SELECT m.* FROM unnest($3::text[]) AS k(key) \
    CROSS JOIN LATERAL (SELECT * FROM attendee_metrics m WHERE m.tenant = $1 \
        AND m.webinar_id = $2 AND m.email_hash = k.key LIMIT 1) m";

fn by_unnest<T: QueryableByName<diesel::pg::Pg> + 'static>(
    pg: &mut diesel::pg::PgConnection,
    sql: &'static str,
    tenant: &str,
    webinar_id: &str,
    emails: &[&str],
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

/// The key of a row a statement wrote.
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Text)]
    email_hash: String,
}

/// One statement for a whole chunk on PostgreSQL: the rows come in as one array per column
/// (`unnest`), so the statement has 20 parameters however many rows; a row that exists is
/// replaced only when a figure differs (`IS DISTINCT FROM`, NULLs compared as values; the
/// interactions digest is not a figure and goes along), so the emails returned are exactly
/// the rows this statement changed, even if another sync of the same webinar committed in
/// between.
const UPSERT_CHANGED_PG: &str = "\
INSERT INTO attendee_metrics (tenant, webinar_id, updated_at, email_hash, email, eventuserid, \
    live_minutes, \
    archive_minutes, cumulative_live_minutes, cumulative_archive_minutes, engagement_score, \
    questions_asked, polls_answered, surveys_answered, resources_downloaded, \
    first_live_activity_at, last_live_activity_at, first_archive_activity_at, \
    last_archive_activity_at, interactions_digest) \
SELECT $1, $2, $3, u.* FROM unnest($4::text[], $5::text[], $6::bigint[], $7::bigint[], \
    $8::bigint[], $9::bigint[], $10::bigint[], $11::double precision[], $12::bigint[], \
    $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], \
    $19::bigint[], $20::text[]) \
    AS u(email_hash, email, eventuserid, live_minutes, archive_minutes, cumulative_live_minutes, \
    cumulative_archive_minutes, engagement_score, questions_asked, polls_answered, \
    surveys_answered, resources_downloaded, first_live_activity_at, last_live_activity_at, \
    first_archive_activity_at, last_archive_activity_at, interactions_digest) \
ON CONFLICT (tenant, webinar_id, email_hash) DO UPDATE SET \
    email = EXCLUDED.email, eventuserid = EXCLUDED.eventuserid, live_minutes = EXCLUDED.live_minutes, \
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
    interactions_digest = EXCLUDED.interactions_digest, \
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
RETURNING email_hash";

/// What one sync chunk writes ([`write_changed`]).
#[derive(Clone, Copy)]
pub struct Changed<'a> {
    /// Rows the chunk found new.
    pub inserts: &'a [MetricsRow],
    /// Rows the chunk found different.
    pub updates: &'a [MetricsRow],
    /// Emails of `updates` whose stored row is still under its clear key
    /// ([`under_clear_key`]): that row is replaced by one under the hashed key.
    pub clear_keys: &'a [String],
}

impl std::fmt::Debug for Changed<'_> {
    // Counts only: the emails stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changed")
            .field("inserts", &self.inserts.len())
            .field("updates", &self.updates.len())
            .field("clear_keys", &self.clear_keys.len())
            .finish()
    }
}

/// Writes the rows of one sync chunk that the caller found new (`inserts`) or different
/// (`updates`), all of one tenant and webinar, stamped `now`, with distinct emails. Returns
/// the emails actually written, each once: on PostgreSQL one `INSERT … SELECT FROM unnest …
/// ON CONFLICT DO UPDATE … WHERE IS DISTINCT FROM … RETURNING` statement, which also leaves
/// out rows a concurrent sync already wrote; on SQLite (one writer, so what the caller read
/// still holds) a multi-row insert of the new rows and an update per changed row.
/// The emails are stored sealed, each row under the keyed hash of its email.
pub fn write_changed(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    now: i64,
    changes: Changed<'_>,
) -> QueryResult<Vec<String>> {
    use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
    let Changed {
        inserts,
        updates,
        clear_keys,
    } = changes;
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    if inserts.is_empty() && updates.is_empty() {
        return Ok(Vec::new());
    }
    // The rows of people still under their clear key move to their hashed key: the clear
    // ones go first, then the rows are written as new ones.
    if fields.hashes_emails() && !clear_keys.is_empty() {
        let keys: Vec<String> = clear_keys
            .iter()
            .map(|e| format!("{CLEAR_KEY}{e}"))
            .collect();
        for chunk in keys.chunks(500) {
            diesel::delete(
                m::attendee_metrics
                    .filter(m::tenant.eq(tenant))
                    .filter(m::webinar_id.eq(webinar_id))
                    .filter(m::email_hash.eq_any(chunk)),
            )
            .execute(conn)?;
        }
    }
    // Sealed copies, and the email of each key to give back what was written.
    let mut email_of: std::collections::HashMap<String, String> =
        std::collections::HashMap::with_capacity(inserts.len() + updates.len());
    let mut seal = |rows: &[MetricsRow]| {
        rows.iter()
            .map(|row| {
                let mut sealed = row.clone();
                seal_metrics(fields, &mut sealed).map_err(store_error)?;
                email_of.insert(sealed.email_hash.clone(), row.email.clone());
                Ok(sealed)
            })
            .collect::<QueryResult<Vec<MetricsRow>>>()
    };
    let (inserts, updates) = (seal(inserts)?, seal(updates)?);
    let DbConnection::Pg(pg) = conn else {
        insert_sealed(conn, &inserts)?;
        for row in &updates {
            // A row that was under its clear key (deleted above) is written as a new one.
            if !update(conn, row)? {
                insert_sealed(conn, std::slice::from_ref(row))?;
            }
        }
        return Ok(inserts
            .iter()
            .chain(&updates)
            .map(|r| email_of[&r.email_hash].clone())
            .collect());
    };
    let rows: Vec<&MetricsRow> = inserts.iter().chain(&updates).collect();
    let col = |f: fn(&MetricsRow) -> i64| rows.iter().map(|r| f(r)).collect::<Vec<i64>>();
    let opt =
        |f: fn(&MetricsRow) -> Option<i64>| rows.iter().map(|r| f(r)).collect::<Vec<Option<i64>>>();
    let written = diesel::sql_query(UPSERT_CHANGED_PG)
        .bind::<Text, _>(tenant)
        .bind::<Text, _>(webinar_id)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.email_hash.as_str())
                .collect::<Vec<_>>(),
        )
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
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.interactions_digest.as_deref())
                .collect::<Vec<_>>(),
        )
        .load::<Written>(pg)?;
    Ok(written
        .into_iter()
        .filter_map(|w| email_of.remove(&w.email_hash))
        .collect())
}

/// Sets the interactions digest of rows whose figures stay as they are (`digests`: each
/// row's key as read, and its new digest), leaving `updated_at` alone: the attendee's
/// metrics did not change. On PostgreSQL one statement joining the keys as arrays; on
/// SQLite an update per row.
pub fn set_interactions_digests(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    digests: &[(String, Option<String>)],
) -> QueryResult<()> {
    use diesel::sql_types::{Array, Nullable, Text};
    if digests.is_empty() {
        return Ok(());
    }
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    if let DbConnection::Pg(pg) = conn {
        let keys: Vec<&str> = digests.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<Option<&str>> = digests.iter().map(|(_, d)| d.as_deref()).collect();
        diesel::sql_query(SET_DIGESTS_PG)
            .bind::<Text, _>(tenant)
            .bind::<Text, _>(webinar_id)
            .bind::<Array<Text>, _>(keys)
            .bind::<Array<Nullable<Text>>, _>(values)
            .execute(pg)?;
        return Ok(());
    }
    for (key, digest) in digests {
        diesel::update(
            m::attendee_metrics
                .filter(m::tenant.eq(tenant))
                .filter(m::webinar_id.eq(webinar_id))
                .filter(m::email_hash.eq(key)),
        )
        .set(m::interactions_digest.eq(digest))
        .execute(conn)?;
    }
    Ok(())
}

const SET_DIGESTS_PG: &str = "UPDATE attendee_metrics m SET interactions_digest = u.digest \
    FROM unnest($3::text[], $4::text[]) AS u(key, digest) \
    WHERE m.tenant = $1 AND m.webinar_id = $2 AND m.email_hash = u.key";

/// Inserts new rows, their emails sealed and keyed with the tenant's cipher.
pub fn insert(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    rows: &[MetricsRow],
) -> QueryResult<()> {
    let rows = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            seal_metrics(fields, &mut row).map_err(store_error)?;
            Ok(row)
        })
        .collect::<QueryResult<Vec<_>>>()?;
    insert_sealed(conn, &rows)
}

/// Inserts rows sealed and keyed already (the caller has read which ones exist).
fn insert_sealed(conn: &mut DbConnection, rows: &[MetricsRow]) -> QueryResult<()> {
    for chunk in rows.chunks(50) {
        insert_batch!(conn, m::attendee_metrics, chunk)?;
    }
    Ok(())
}

/// Replaces one existing row (sealed, keyed); false when there is none under its key.
fn update(conn: &mut DbConnection, row: &MetricsRow) -> QueryResult<bool> {
    let n = diesel::update(
        m::attendee_metrics
            .filter(m::tenant.eq(&row.tenant))
            .filter(m::webinar_id.eq(&row.webinar_id))
            .filter(m::email_hash.eq(&row.email_hash)),
    )
    .set(row)
    .execute(conn)?;
    Ok(n > 0)
}

/// A person's metrics across every webinar of a tenant (an access request), by webinar.
pub fn for_email_all_webinars(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    email: &str,
) -> QueryResult<Vec<MetricsRow>> {
    let keys = attendee_keys(fields, &[email.to_owned()]);
    let only: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let rows = m::attendee_metrics
        .filter(m::tenant.eq(tenant.as_str()))
        .filter(m::email_hash.eq_any(only))
        .order(m::webinar_id.asc())
        .select(MetricsRow::as_select())
        .load(conn)?;
    // One row per webinar (the hashed one if a clear one is left beside it).
    let mut rows: Vec<MetricsRow> = rows
        .into_iter()
        .map(|mut r| {
            r.email = email.to_owned();
            r
        })
        .collect();
    rows.sort_by(|a, b| {
        a.webinar_id
            .cmp(&b.webinar_id)
            .then(under_clear_key(a).cmp(&under_clear_key(b)))
    });
    rows.dedup_by(|later, earlier| later.webinar_id == earlier.webinar_id);
    Ok(rows)
}

/// Erases a person's metrics in a tenant (forget), by the email's keyed hash (`hash`, None
/// without a key) and its clear key; returns how many rows.
pub fn delete_email(
    conn: &mut DbConnection,
    tenant: &TenantId,
    email: &str,
    hash: Option<&str>,
) -> QueryResult<usize> {
    let keys: Vec<String> = hash
        .map(str::to_owned)
        .into_iter()
        .chain([format!("{CLEAR_KEY}{email}")])
        .collect();
    diesel::delete(
        m::attendee_metrics
            .filter(m::tenant.eq(tenant.as_str()))
            .filter(m::email_hash.eq_any(keys)),
    )
    .execute(conn)
}

/// A page of metrics rows still under their clear key (written before emails were sealed),
/// in key order after `after` (tenant, webinar, key), as stored.
pub(crate) fn unsealed_page(
    conn: &mut DbConnection,
    after: Option<&(String, String, String)>,
    limit: i64,
) -> QueryResult<Vec<MetricsRow>> {
    let mut q = m::attendee_metrics
        .filter(m::email_hash.like(format!("{CLEAR_KEY}%")))
        .order((m::tenant.asc(), m::webinar_id.asc(), m::email_hash.asc()))
        .limit(limit)
        .select(MetricsRow::as_select())
        .into_boxed();
    if let Some((t, w, k)) = after {
        q = q.filter(
            m::tenant.gt(t.clone()).or(m::tenant.eq(t.clone()).and(
                m::webinar_id
                    .gt(w.clone())
                    .or(m::webinar_id.eq(w.clone()).and(m::email_hash.gt(k.clone()))),
            )),
        );
    }
    q.load(conn)
}

/// Moves a row still under its clear key (`stored`) to its hashed key with its email sealed
/// (`sealed`), if it still holds what was read; when a sync already wrote the person's row
/// under the hashed key, that newer row stays and the clear one is deleted. True when the
/// clear row is gone.
pub(crate) fn swap_key(
    conn: &mut DbConnection,
    stored: &MetricsRow,
    sealed: &MetricsRow,
) -> QueryResult<bool> {
    let newer: i64 = m::attendee_metrics
        .filter(m::tenant.eq(&stored.tenant))
        .filter(m::webinar_id.eq(&stored.webinar_id))
        .filter(m::email_hash.eq(&sealed.email_hash))
        .count()
        .get_result(conn)?;
    let this = m::attendee_metrics
        .filter(m::tenant.eq(&stored.tenant))
        .filter(m::webinar_id.eq(&stored.webinar_id))
        .filter(m::email_hash.eq(&stored.email_hash));
    let n = if newer > 0 {
        diesel::delete(this).execute(conn)?
    } else {
        diesel::update(this)
            .set((
                m::email.eq(&sealed.email),
                m::email_hash.eq(&sealed.email_hash),
            ))
            .execute(conn)?
    };
    Ok(n == 1)
}
