//! Queries of the retention purge (`domain::retention`): tenants' overrides, bounded deletes
//! of what a policy has let go, the change feed's per-tenant horizon and the purge runs'
//! summaries. Every delete takes at most `batch` rows, so a purge never holds a long
//! transaction or lock; the caller loops until a batch comes back short.

use diesel::prelude::*;

use super::DbConnection;
use super::schema::attendee_metrics::dsl as m;
use super::schema::change_feed_horizons::dsl as h;
use super::schema::changes::dsl as c;
use super::schema::outbox_jobs::dsl as j;
use super::schema::purge_runs::dsl as pr;
use super::schema::registrations::dsl as r;
use super::schema::retention_policies::dsl as p;
use super::schema::webinars::dsl as w;
use super::status::{JobState, RegistrationStatus, WebinarStatus};
use crate::ids::{TenantId, WebinarId};

/// A tenant's retention overrides as stored; `None`: the deployment's default.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::retention_policies)]
#[diesel(treat_none_as_null = true)]
pub struct RetentionPolicyRow {
    /// The tenant.
    pub tenant: String,
    /// Days after a webinar's end its registrations and metrics are kept.
    pub registration_days: Option<i32>,
    /// Days a cancelled registration is kept after its cancellation.
    pub cancelled_registration_days: Option<i32>,
    /// Days an unlinked webinar is kept after it was unlinked.
    pub unlinked_webinar_days: Option<i32>,
    /// Days a failed job is kept after it failed.
    pub failed_job_days: Option<i32>,
    /// Last change (ms).
    pub updated_at: i64,
}

/// The summary of one purge run (counts only).
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::purge_runs)]
pub struct PurgeRunRow {
    /// Run id (UUID).
    pub id: String,
    /// When it started (ms, the purge's clock).
    pub started_at: i64,
    /// When it ended (ms, the purge's clock).
    pub finished_at: i64,
    /// Registrations of ended webinars deleted.
    pub registrations: i64,
    /// Attendee metrics rows deleted.
    pub attendee_metrics: i64,
    /// Cancelled registrations deleted.
    pub cancelled_registrations: i64,
    /// Unlinked webinars deleted.
    pub webinars: i64,
    /// Failed jobs deleted.
    pub jobs: i64,
    /// Change-feed entries deleted.
    pub changes: i64,
}

/// The tenant's overrides, if it has any.
pub(crate) fn policy(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> QueryResult<Option<RetentionPolicyRow>> {
    p::retention_policies
        .filter(p::tenant.eq(tenant.as_str()))
        .select(RetentionPolicyRow::as_select())
        .first(conn)
        .optional()
}

/// Every tenant's overrides.
pub(crate) fn policies(conn: &mut DbConnection) -> QueryResult<Vec<RetentionPolicyRow>> {
    p::retention_policies
        .select(RetentionPolicyRow::as_select())
        .load(conn)
}

/// Stores a tenant's overrides (all columns).
pub(crate) fn put_policy(conn: &mut DbConnection, row: &RetentionPolicyRow) -> QueryResult<()> {
    let n = diesel::update(p::retention_policies.filter(p::tenant.eq(&row.tenant)))
        .set(row)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(p::retention_policies)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Every tenant that has webinars, jobs or feed entries (the purge's work list).
pub(crate) fn tenants(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let mut all: Vec<String> = w::webinars.select(w::tenant).distinct().load(conn)?;
    all.extend(
        j::outbox_jobs
            .select(j::tenant)
            .distinct()
            .load::<String>(conn)?,
    );
    all.sort();
    all.dedup();
    Ok(all)
}

/// The tenant's webinars that started before `started_before`, with start (ms) and duration
/// (minutes), so the caller can tell which have ended long enough ago.
pub(crate) fn started_before(
    conn: &mut DbConnection,
    tenant: &TenantId,
    started_before: i64,
) -> QueryResult<Vec<(String, i64, i32)>> {
    w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::start_at.lt(started_before))
        .select((w::id, w::start_at, w::duration_minutes))
        .load(conn)
}

/// Deletes up to `batch` registrations of a webinar; how many.
pub(crate) fn delete_registrations_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    batch: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::webinar_id.eq(webinar.to_string()))
        .select(r::id)
        .limit(batch)
        .load(conn)?;
    delete_registrations(conn, tenant, &ids)
}

/// Deletes the interactions of up to `batch` attendees of a webinar; how many rows.
pub(crate) fn delete_interactions_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    batch: i64,
) -> QueryResult<usize> {
    super::interactions::delete_batch(conn, tenant, Some(webinar), batch)
}

/// Deletes up to `batch` attendee metrics rows of a webinar; how many.
pub(crate) fn delete_metrics_of(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    batch: i64,
) -> QueryResult<usize> {
    let keys: Vec<String> = m::attendee_metrics
        .filter(m::tenant.eq(tenant.as_str()))
        .filter(m::webinar_id.eq(webinar.to_string()))
        .select(m::email_hash)
        .limit(batch)
        .load(conn)?;
    if keys.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        m::attendee_metrics
            .filter(m::tenant.eq(tenant.as_str()))
            .filter(m::webinar_id.eq(webinar.to_string()))
            .filter(m::email_hash.eq_any(&keys)),
    )
    .execute(conn)
}

/// Deletes up to `batch` of the tenant's registrations cancelled before `before`; how many.
pub(crate) fn delete_cancelled(
    conn: &mut DbConnection,
    tenant: &TenantId,
    before: i64,
    batch: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::status.eq(RegistrationStatus::Cancelled.as_str()))
        .filter(r::updated_at.lt(before))
        .select(r::id)
        .limit(batch)
        .load(conn)?;
    delete_registrations(conn, tenant, &ids)
}

fn delete_registrations(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    // A job of a deleted registration would find nothing to deliver: drop those too.
    diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::registration_id.eq_any(ids)),
    )
    .execute(conn)?;
    diesel::delete(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq_any(ids)),
    )
    .execute(conn)
}

/// Up to `limit` of the tenant's webinars unlinked before `before`.
pub(crate) fn unlinked_before(
    conn: &mut DbConnection,
    tenant: &TenantId,
    before: i64,
    limit: i64,
) -> QueryResult<Vec<String>> {
    w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::status.eq(WebinarStatus::Unlinked.as_str()))
        .filter(w::updated_at.lt(before))
        .select(w::id)
        .limit(limit)
        .load(conn)
}

/// Deletes a webinar row and its jobs (its registrations and metrics must be gone already).
pub(crate) fn delete_webinar(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
) -> QueryResult<usize> {
    diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::webinar_id.eq(webinar.to_string())),
    )
    .execute(conn)?;
    diesel::delete(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(webinar.to_string())),
    )
    .execute(conn)
}

/// Deletes up to `batch` of the tenant's jobs that failed before `before`; how many.
pub(crate) fn delete_failed_jobs(
    conn: &mut DbConnection,
    tenant: &TenantId,
    before: i64,
    batch: i64,
) -> QueryResult<usize> {
    let ids: Vec<i64> = j::outbox_jobs
        .filter(j::tenant.eq(tenant.as_str()))
        .filter(j::state.eq(JobState::Failed.as_str()))
        .filter(j::updated_at.lt(before))
        .select(j::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq_any(&ids)),
    )
    .execute(conn)
}

/// Deletes up to `batch` feed entries (any tenant) written before `before`, oldest first, and
/// raises each affected tenant's horizon to the highest `seq` deleted; how many. Run it in a
/// transaction so entries and horizons move together.
pub(crate) fn delete_changes(
    conn: &mut DbConnection,
    before: i64,
    batch: i64,
    now: i64,
) -> QueryResult<usize> {
    super::changes::sequence(conn)?;
    let rows: Vec<(i64, String)> = c::changes
        .filter(c::created_at.lt(before))
        .order(c::seq.asc())
        .select((c::seq, c::tenant))
        .limit(batch)
        .load(conn)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut highest: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for (seq, tenant) in &rows {
        let entry = highest.entry(tenant.as_str()).or_insert(*seq);
        *entry = (*entry).max(*seq);
    }
    for (tenant, seq) in highest {
        let n = diesel::update(
            h::change_feed_horizons
                .filter(h::tenant.eq(tenant))
                .filter(h::purged_through_seq.lt(seq)),
        )
        .set((h::purged_through_seq.eq(seq), h::updated_at.eq(now)))
        .execute(conn)?;
        if n == 0 {
            let exists: bool = diesel::select(diesel::dsl::exists(
                h::change_feed_horizons.filter(h::tenant.eq(tenant)),
            ))
            .get_result(conn)?;
            if !exists {
                diesel::insert_into(h::change_feed_horizons)
                    .values((
                        h::tenant.eq(tenant),
                        h::purged_through_seq.eq(seq),
                        h::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
    }
    // One statement per tenant, each addressing rows by their key (tenant, seq).
    let mut by_tenant: std::collections::BTreeMap<&str, Vec<i64>> =
        std::collections::BTreeMap::new();
    for (seq, tenant) in &rows {
        by_tenant.entry(tenant.as_str()).or_default().push(*seq);
    }
    let mut n = 0;
    for (tenant, seqs) in by_tenant {
        n += diesel::delete(
            c::changes
                .filter(c::tenant.eq(tenant))
                .filter(c::seq.eq_any(&seqs)),
        )
        .execute(conn)?;
    }
    Ok(n)
}

/// The highest `seq` of the tenant's feed the purge deleted (0: none).
pub fn horizon(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<i64> {
    Ok(h::change_feed_horizons
        .filter(h::tenant.eq(tenant.as_str()))
        .select(h::purged_through_seq)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Records a purge run's summary.
pub(crate) fn record_run(conn: &mut DbConnection, row: &PurgeRunRow) -> QueryResult<()> {
    diesel::insert_into(pr::purge_runs)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The most recent purge runs, newest first.
pub fn recent_runs(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<PurgeRunRow>> {
    pr::purge_runs
        .order(pr::started_at.desc())
        .limit(limit)
        .select(PurgeRunRow::as_select())
        .load(conn)
}
