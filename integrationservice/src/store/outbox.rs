//! The outbox: jobs committed in the same transaction as the business row, claimed by workers
//! with leases. PostgreSQL claims with `FOR UPDATE SKIP LOCKED` so replicas never take the same
//! job; SQLite has a single consumer, so the same statement without the lock clause is enough.
//! A job whose lease expired (its worker died) is claimable again; work is keyed by
//! (tenant, webinar, email) at the provider, so running it twice is safe.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::models::{JobRow, NewJob};
use super::schema::outbox_jobs::dsl as j;
use super::{DbConnection, now_ms};
use crate::ids::{RegistrationId, TenantId, WebinarId};

pub use super::status::{JobKind, JobState};

/// Ready to be claimed once `next_run_at` has passed.
pub const READY: &str = JobState::Ready.as_str();
/// Leased by a worker until `lease_until`.
pub const RUNNING: &str = JobState::Running.as_str();
/// Held while the tenant's integration is disabled.
pub const PAUSED: &str = JobState::Paused.as_str();
/// Stopped by a permanent error; kept for inspection.
pub const FAILED: &str = JobState::Failed.as_str();

/// Builds a job that is ready now.
pub fn new_job(
    tenant: &TenantId,
    kind: JobKind,
    webinar_id: Option<&WebinarId>,
    registration_id: Option<&RegistrationId>,
    payload: Option<String>,
) -> NewJob {
    let now = now_ms();
    NewJob {
        tenant: tenant.to_string(),
        kind: kind.as_str().to_owned(),
        webinar_id: webinar_id.map(ToString::to_string),
        registration_id: registration_id.map(ToString::to_string),
        payload,
        state: READY.to_owned(),
        attempts: 0,
        next_run_at: now,
        trace_context: servicekit::telemetry::current_traceparent(),
        created_at: now,
        updated_at: now,
    }
}

/// Enqueues jobs (call inside the transaction that writes the business rows).
pub fn enqueue(conn: &mut DbConnection, jobs: &[NewJob]) -> QueryResult<usize> {
    if jobs.is_empty() {
        return Ok(0);
    }
    // SQLite limits bound parameters per statement; 10 columns x 500 rows stays well below.
    let mut n = 0;
    for chunk in jobs.chunks(500) {
        n += insert_batch!(&mut *conn, j::outbox_jobs, chunk)?;
    }
    Ok(n)
}

/// Advisory lock key that serialises claims on PostgreSQL (see `claim`).
const CLAIM_LOCK: i64 = 0x5745_4249_4e41_5202;

/// Claims up to `limit` due jobs for `lease_owner` until `now + lease_ms`, skipping tenants
/// that are being slowed down after a quota answer and never taking a tenant past
/// `per_tenant` unexpired leases, counted over every replica (the leases are in the table).
///
/// The statement first locks candidate rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so a
/// row being claimed or completed elsewhere is passed over), leaving out tenants already at
/// their limit, then keeps at most `per_tenant - leased` candidates per tenant. Counting is
/// only exact if two claims do not count at the same time, so on PostgreSQL each claim takes
/// a transaction-scoped advisory lock first and runs its statement after it, with a snapshot
/// that sees the leases the previous claim committed. A claim is one short statement, so
/// replicas queue for a few milliseconds at most. SQLite has one consumer and one writer.
///
/// Durability on PostgreSQL: a claim commits with `synchronous_commit = off`, so neither the
/// claim nor the claims queued behind its advisory lock wait for its WAL flush. It is visible
/// to every other session at once (the per-tenant count stays exact); only a crash of the
/// database server within the WAL writer's delay (at most about 3 x `wal_writer_delay`) can
/// lose it, and then the jobs are READY again and run again, which is harmless for work the
/// provider treats as an upsert. WAL is flushed in order, so any later durable commit (the
/// job's result) makes the claim durable too. A claim that took a job of `durable_kinds` (work
/// whose repeat needs `claims` to say it may have run before: webinar creation) commits
/// durably. SQLite commits every claim durably (one writer; nothing to gain).
pub fn claim(
    conn: &mut DbConnection,
    lease_owner: &str,
    lease_ms: i64,
    limit: i64,
    per_tenant: i64,
    durable_kinds: &[JobKind],
) -> QueryResult<Vec<JobRow>> {
    let now = now_ms();
    // Candidates beyond `limit`, so that one tenant at its limit does not use up the scan.
    let scan = limit.saturating_mul(4).clamp(1, 2000);
    const SQL: &str = "WITH full_tenants AS ( \
             SELECT tenant FROM outbox_jobs \
             WHERE state = 'RUNNING' AND lease_until >= {now} \
             GROUP BY tenant HAVING COUNT(*) >= {per_tenant}), \
         candidates AS ( \
             SELECT o.id, o.tenant, o.next_run_at FROM outbox_jobs o \
             WHERE ((o.state = 'READY' AND o.next_run_at <= {now}) \
                 OR (o.state = 'RUNNING' AND o.lease_until < {now})) \
               AND o.tenant NOT IN (SELECT tenant FROM full_tenants) \
               AND NOT EXISTS (SELECT 1 FROM provider_configs p \
                   WHERE p.tenant = o.tenant AND p.throttle_until IS NOT NULL \
                     AND p.throttle_until > {now}) \
             ORDER BY o.next_run_at, o.id LIMIT {scan} {lock}), \
         leased AS ( \
             SELECT tenant, COUNT(*) AS n FROM outbox_jobs \
             WHERE state = 'RUNNING' AND lease_until >= {now} \
               AND tenant IN (SELECT tenant FROM candidates) \
             GROUP BY tenant), \
         ranked AS ( \
             SELECT c.tenant, c.id, c.next_run_at, COALESCE(l.n, 0) AS leased, \
                    ROW_NUMBER() OVER (PARTITION BY c.tenant ORDER BY c.next_run_at, c.id) AS rn \
             FROM candidates c LEFT JOIN leased l ON l.tenant = c.tenant), \
         picked AS ( \
             SELECT tenant, id FROM ranked WHERE leased + rn <= {per_tenant} \
             ORDER BY next_run_at, id LIMIT {limit}) \
         UPDATE outbox_jobs SET state = 'RUNNING', lease_owner = {owner}, \
             lease_until = {until}, claims = claims + 1, updated_at = {now} \
         WHERE (tenant, id) IN (SELECT tenant, id FROM picked) RETURNING *";
    match conn {
        DbConnection::Pg(pg) => {
            let sql = SQL
                .replace("{owner}", "$1")
                .replace("{until}", "$2")
                .replace("{now}", "$3")
                .replace("{limit}", "$4")
                .replace("{per_tenant}", "$5")
                .replace("{scan}", "$6")
                .replace("{lock}", "FOR UPDATE OF o SKIP LOCKED");
            pg.transaction(|pg| {
                // One round trip: the commit of this claim need not wait for its WAL flush
                // (see `claim`), and the advisory lock that serialises counting.
                diesel::sql_query(
                    "SELECT set_config('synchronous_commit', 'off', true), \
                     pg_advisory_xact_lock($1)",
                )
                .bind::<BigInt, _>(CLAIM_LOCK)
                .execute(pg)?;
                let jobs: Vec<JobRow> = diesel::sql_query(&sql)
                    .bind::<Text, _>(lease_owner)
                    .bind::<BigInt, _>(now + lease_ms)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(limit)
                    .bind::<BigInt, _>(per_tenant)
                    .bind::<BigInt, _>(scan)
                    .load(pg)?;
                if jobs
                    .iter()
                    .any(|job| durable_kinds.iter().any(|k| k.as_str() == job.kind))
                {
                    // Read at commit time: this claim's `claims + 1` must survive a crash.
                    diesel::sql_query("SET LOCAL synchronous_commit = on").execute(pg)?;
                }
                Ok(jobs)
            })
        }
        DbConnection::Sqlite(lite) => {
            let sql = SQL
                .replace("{owner}", "?")
                .replace("{until}", "?")
                .replace("{now}", &now.to_string())
                .replace("{limit}", &limit.to_string())
                .replace("{per_tenant}", &per_tenant.to_string())
                .replace("{scan}", &scan.to_string())
                .replace("{lock}", "");
            diesel::sql_query(sql)
                .bind::<Text, _>(lease_owner)
                .bind::<BigInt, _>(now + lease_ms)
                .load(lite)
        }
    }
}

/// The kind of the registration's job that a worker is running now (claimed, its row maybe
/// read already), if any. On PostgreSQL the registration's jobs stay locked until the
/// caller's transaction ends, so no claim takes one meanwhile (claims skip locked rows): a
/// job is either running already, and this says so, or is claimed after the caller's write
/// and reads it.
pub fn running_for_registration(
    conn: &mut DbConnection,
    tenant: &TenantId,
    registration: &RegistrationId,
) -> QueryResult<Option<JobKind>> {
    let query = j::outbox_jobs
        .filter(j::tenant.eq(tenant.as_str()))
        .filter(j::registration_id.eq(registration.to_string()))
        .filter(j::state.ne(FAILED))
        .order(j::id.asc())
        .select((j::state, j::kind));
    let jobs: Vec<(String, String)> = match conn {
        DbConnection::Pg(pg) => query.for_update().load(pg)?,
        // One writer at a time: a claim cannot interleave with the caller's transaction.
        DbConnection::Sqlite(lite) => query.load(lite)?,
    };
    Ok(jobs
        .into_iter()
        .find(|(state, _)| state == RUNNING)
        .and_then(|(_, kind)| JobKind::parse(&kind)))
}

/// Removes a finished job; false when the lease was lost (another worker owns it now).
pub fn complete(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    lease_owner: &str,
) -> QueryResult<bool> {
    let n = diesel::delete(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq(id))
            .filter(j::lease_owner.eq(lease_owner)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether job `id` is still leased by `lease_owner` (false once its result was recorded, or
/// another worker took it after the lease expired).
pub fn held_by(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    lease_owner: &str,
) -> QueryResult<bool> {
    let n: i64 = j::outbox_jobs
        .filter(j::tenant.eq(tenant.as_str()))
        .filter(j::id.eq(id))
        .filter(j::state.eq(RUNNING))
        .filter(j::lease_owner.eq(lease_owner))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Puts a leased job back for a later attempt. `count_attempt` is false when the job only
/// waits (for example for the webinar to exist at the provider).
pub fn retry_later(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    lease_owner: &str,
    next_run_at: i64,
    error: Option<&str>,
    count_attempt: bool,
) -> QueryResult<bool> {
    let bump = i32::from(count_attempt);
    let n = diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq(id))
            .filter(j::lease_owner.eq(lease_owner))
            .filter(j::state.eq(RUNNING)),
    )
    .set((
        j::state.eq(READY),
        j::attempts.eq(j::attempts + bump),
        j::last_error.eq(error),
        j::next_run_at.eq(next_run_at),
        j::lease_owner.eq(None::<String>),
        j::lease_until.eq(None::<i64>),
        j::updated_at.eq(now_ms()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Stops a job after a permanent error, keeping it for inspection.
pub fn fail(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    lease_owner: &str,
    error: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq(id))
            .filter(j::lease_owner.eq(lease_owner)),
    )
    .set((
        j::state.eq(FAILED),
        j::attempts.eq(j::attempts + 1),
        j::last_error.eq(error),
        j::lease_owner.eq(None::<String>),
        j::lease_until.eq(None::<i64>),
        j::updated_at.eq(now_ms()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Holds one leased job (its tenant's integration is disabled or refused); false when the
/// lease was lost meanwhile.
pub fn pause_job(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    lease_owner: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq(id))
            .filter(j::lease_owner.eq(lease_owner))
            .filter(j::state.eq(RUNNING)),
    )
    .set((
        j::state.eq(PAUSED),
        j::lease_owner.eq(None::<String>),
        j::lease_until.eq(None::<i64>),
        j::updated_at.eq(now_ms()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Holds every pending job of a tenant (its integration was disabled); nothing is dropped.
pub fn pause_tenant(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant))
            .filter(j::state.eq_any([READY, RUNNING])),
    )
    .set((
        j::state.eq(PAUSED),
        j::lease_owner.eq(None::<String>),
        j::lease_until.eq(None::<i64>),
        j::updated_at.eq(now_ms()),
    ))
    .execute(conn)
}

/// Makes a tenant's held jobs runnable again (credentials were put back).
pub fn resume_tenant(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    let now = now_ms();
    diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant))
            .filter(j::state.eq(PAUSED)),
    )
    .set((
        j::state.eq(READY),
        j::next_run_at.eq(now),
        j::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Number of jobs of a tenant in a state (for tests, metrics and status pages).
pub fn count(conn: &mut DbConnection, tenant: &TenantId, state: &str) -> QueryResult<i64> {
    let tenant = tenant.as_str();
    j::outbox_jobs
        .filter(j::tenant.eq(tenant))
        .filter(j::state.eq(state))
        .count()
        .get_result(conn)
}

/// Earliest time after `after` that a ready job comes due or a tenant's quota pause ends (to
/// sleep until then rather than poll blindly). Jobs due already but not claimed wait for a
/// tenant's slot, which a finishing job or the poll brings, so they do not count here.
pub fn next_due(conn: &mut DbConnection, after: i64) -> QueryResult<Option<i64>> {
    use super::schema::provider_configs::dsl as p;
    let job: Option<i64> = j::outbox_jobs
        .filter(j::state.eq(READY))
        .filter(j::next_run_at.gt(after))
        .select(diesel::dsl::min(j::next_run_at))
        .first(conn)?;
    let pause_end: Option<i64> = p::provider_configs
        .filter(p::throttle_until.gt(after))
        .select(diesel::dsl::min(p::throttle_until))
        .first(conn)?;
    Ok(job.into_iter().chain(pause_end).min())
}

/// Whether the webinar has a job of `kind` that is not FAILED (queued, leased or held).
pub fn has_unfinished(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar_id: &WebinarId,
    kind: JobKind,
) -> QueryResult<bool> {
    let tenant = tenant.as_str();
    let webinar_id = webinar_id.to_string();
    let webinar_id = webinar_id.as_str();
    diesel::select(diesel::dsl::exists(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant))
            .filter(j::webinar_id.eq(webinar_id))
            .filter(j::kind.eq(kind.as_str()))
            .filter(j::state.ne(FAILED)),
    ))
    .get_result(conn)
}

/// Whether a job older than `job_id` of the same registration is still queued, leased or
/// held (jobs of one registration run in order).
pub fn older_unfinished(
    conn: &mut DbConnection,
    tenant: &TenantId,
    registration_id: &RegistrationId,
    job_id: i64,
) -> QueryResult<bool> {
    let tenant = tenant.as_str();
    let registration_id = registration_id.to_string();
    let registration_id = registration_id.as_str();
    diesel::select(diesel::dsl::exists(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant))
            .filter(j::registration_id.eq(registration_id))
            .filter(j::id.lt(job_id))
            .filter(j::state.ne(FAILED)),
    ))
    .get_result(conn)
}

/// Jobs per state with the creation time of the oldest (for the outbox gauges).
pub fn counts_by_state(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64, Option<i64>)>> {
    j::outbox_jobs
        .group_by(j::state)
        .select((
            j::state,
            diesel::dsl::count_star(),
            diesel::dsl::min(j::created_at),
        ))
        .load(conn)
}

/// A successful run recorded with others by [`complete_batch`].
#[derive(Clone, Copy, Debug)]
pub struct Completion<'a> {
    /// The job, as claimed.
    pub job: &'a JobRow,
    /// Its lease owner.
    pub owner: &'a str,
    /// The registration it delivered and the provider's `eventuserid`, if it delivered one.
    pub delivered: Option<(RegistrationId, i64)>,
}

/// A registration [`complete_batch`] marked DELIVERED (for its feed entry).
#[derive(Debug, QueryableByName)]
pub struct DeliveredRegistration {
    /// Its tenant.
    #[diesel(sql_type = Text)]
    pub tenant: String,
    /// Its webinar.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub webinar_id: Option<String>,
    /// Its id.
    #[diesel(sql_type = Text)]
    pub id: String,
}

impl DeliveredRegistration {
    /// Its tenant, webinar and registration ids, typed.
    pub fn ids(&self) -> (TenantId, Option<WebinarId>, RegistrationId) {
        (
            TenantId::from_stored(&self.tenant),
            self.webinar_id.as_deref().map(WebinarId::from_stored),
            RegistrationId::from_stored(&self.id),
        )
    }
}

/// Completes many jobs (each only under its lease owner) and marks the registrations they
/// delivered DELIVERED (unless cancelled or forgotten since), in the caller's transaction;
/// returns the registrations that changed. `done` is in job id order, the lock order.
/// PostgreSQL does it in one statement over arrays; SQLite job by job, the same rules as
/// [`complete`] and [`super::registrations::mark_delivered`].
pub fn complete_batch(
    conn: &mut DbConnection,
    done: &[Completion<'_>],
    now: i64,
) -> QueryResult<Vec<DeliveredRegistration>> {
    if let DbConnection::Pg(pg) = conn {
        return complete_batch_pg(pg, done, now);
    }
    let mut changed = Vec::new();
    for c in done {
        complete(conn, &c.job.tenant_id(), c.job.id, c.owner)?;
        if let Some((registration, eventuserid)) = c.delivered
            && super::registrations::mark_delivered(
                conn,
                &c.job.tenant_id(),
                &registration,
                eventuserid,
                c.job.attempts + 1,
                now,
            )?
        {
            changed.push(DeliveredRegistration {
                tenant: c.job.tenant.clone(),
                webinar_id: c.job.webinar_id.clone(),
                id: registration.to_string(),
            });
        }
    }
    Ok(changed)
}

/// [`complete_batch`] on PostgreSQL: one statement, the rows as arrays.
fn complete_batch_pg(
    pg: &mut diesel::PgConnection,
    done: &[Completion<'_>],
    now: i64,
) -> QueryResult<Vec<DeliveredRegistration>> {
    use super::status::RegistrationStatus as S;
    use diesel::sql_types::{Array, Integer, Nullable};
    let mut ids = Vec::with_capacity(done.len());
    let mut owners = Vec::with_capacity(done.len());
    let mut tenants = Vec::with_capacity(done.len());
    let mut registrations = Vec::with_capacity(done.len());
    let mut eventuserids = Vec::with_capacity(done.len());
    let mut attempts = Vec::with_capacity(done.len());
    for c in done {
        ids.push(c.job.id);
        owners.push(c.owner);
        tenants.push(c.job.tenant.as_str());
        attempts.push(c.job.attempts.saturating_add(1));
        registrations.push(
            c.delivered
                .map(|(registration, _)| registration.to_string()),
        );
        eventuserids.push(c.delivered.map(|(_, eventuserid)| eventuserid));
    }
    let sql = format!(
        "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
             $5::bigint[], $6::int[]) AS v(job_id, owner, tenant, registration_id, eventuserid, attempts)), \
         done AS (DELETE FROM outbox_jobs o USING v \
             WHERE o.tenant = v.tenant AND o.id = v.job_id AND o.lease_owner = v.owner \
             RETURNING o.id) \
         UPDATE registrations r SET status = '{delivered}', eventuserid = v.eventuserid, \
             attempts = v.attempts, last_error = NULL, next_attempt_at = NULL, \
             delivered_at = $7, updated_at = $7 \
         FROM v WHERE v.registration_id IS NOT NULL AND r.tenant = v.tenant \
             AND r.id = v.registration_id AND r.status NOT IN ('{cancelled}', '{forgotten}') \
         RETURNING r.tenant, r.webinar_id, r.id",
        delivered = S::Delivered.as_str(),
        cancelled = S::Cancelled.as_str(),
        forgotten = S::Forgotten.as_str(),
    );
    diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Text>, _>(owners)
        .bind::<Array<Text>, _>(tenants)
        .bind::<Array<Nullable<Text>>, _>(registrations)
        .bind::<Array<Nullable<BigInt>>, _>(eventuserids)
        .bind::<Array<Integer>, _>(attempts)
        .bind::<BigInt, _>(now)
        .load(pg)
}

/// Whether a job older than `job_id` of any of these registrations is still queued, leased or
/// held (a forget runs after every earlier job of the registrations it covers).
pub fn older_unfinished_any(
    conn: &mut DbConnection,
    tenant: &TenantId,
    registration_ids: &[RegistrationId],
    job_id: i64,
) -> QueryResult<bool> {
    let tenant = tenant.as_str();
    let ids: Vec<String> = registration_ids.iter().map(ToString::to_string).collect();
    // Bounded lists per statement (SQLite's parameter limit).
    for chunk in ids.chunks(400) {
        let found: bool = diesel::select(diesel::dsl::exists(
            j::outbox_jobs
                .filter(j::tenant.eq(tenant))
                .filter(j::registration_id.eq_any(chunk))
                .filter(j::id.lt(job_id))
                .filter(j::state.ne(FAILED)),
        ))
        .get_result(conn)?;
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Replaces a job's payload (a forget the provider refused for good keeps no address).
pub fn set_payload(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: i64,
    payload: Option<&str>,
) -> QueryResult<()> {
    diesel::update(
        j::outbox_jobs
            .filter(j::tenant.eq(tenant.as_str()))
            .filter(j::id.eq(id)),
    )
    .set((j::payload.eq(payload), j::updated_at.eq(now_ms())))
    .execute(conn)
    .map(|_| ())
}
