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

/// Ready to be claimed once `next_run_at` has passed.
pub const READY: &str = "READY";
/// Leased by a worker until `lease_until`.
pub const RUNNING: &str = "RUNNING";
/// Held while the tenant's integration is disabled.
pub const PAUSED: &str = "PAUSED";
/// Stopped by a permanent error; kept for inspection.
pub const FAILED: &str = "FAILED";

/// Builds a job that is ready now.
pub fn new_job(
    tenant: &str,
    kind: &str,
    webinar_id: Option<&str>,
    registration_id: Option<&str>,
    payload: Option<String>,
) -> NewJob {
    let now = now_ms();
    NewJob {
        tenant: tenant.to_owned(),
        kind: kind.to_owned(),
        webinar_id: webinar_id.map(str::to_owned),
        registration_id: registration_id.map(str::to_owned),
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

/// Claims up to `limit` due jobs for `lease_owner` until `now + lease_ms`, skipping tenants
/// that are being slowed down after a quota answer.
pub fn claim(
    conn: &mut DbConnection,
    lease_owner: &str,
    lease_ms: i64,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let now = now_ms();
    const PICK: &str = "SELECT o.id FROM outbox_jobs o \
         WHERE ((o.state = 'READY' AND o.next_run_at <= {now}) \
             OR (o.state = 'RUNNING' AND o.lease_until < {now})) \
           AND NOT EXISTS (SELECT 1 FROM provider_configs p \
               WHERE p.tenant = o.tenant AND p.throttle_until IS NOT NULL AND p.throttle_until > {now}) \
         ORDER BY o.next_run_at, o.id LIMIT {limit}";
    match conn {
        DbConnection::Pg(pg) => {
            let pick = PICK.replace("{now}", "$3").replace("{limit}", "$4");
            let sql = format!(
                "UPDATE outbox_jobs SET state = 'RUNNING', lease_owner = $1, lease_until = $2, \
                 updated_at = $3 WHERE id IN ({pick} FOR UPDATE OF o SKIP LOCKED) RETURNING *"
            );
            diesel::sql_query(sql)
                .bind::<Text, _>(lease_owner)
                .bind::<BigInt, _>(now + lease_ms)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)
        }
        DbConnection::Sqlite(lite) => {
            let pick = PICK
                .replace("{now}", &now.to_string())
                .replace("{limit}", &limit.to_string());
            let sql = format!(
                "UPDATE outbox_jobs SET state = 'RUNNING', lease_owner = ?, lease_until = ?, \
                 updated_at = ? WHERE id IN ({pick}) RETURNING *"
            );
            diesel::sql_query(sql)
                .bind::<Text, _>(lease_owner)
                .bind::<BigInt, _>(now + lease_ms)
                .bind::<BigInt, _>(now)
                .load(lite)
        }
    }
}

/// Removes a finished job; false when the lease was lost (another worker owns it now).
pub fn complete(conn: &mut DbConnection, id: i64, lease_owner: &str) -> QueryResult<bool> {
    let n = diesel::delete(
        j::outbox_jobs
            .filter(j::id.eq(id))
            .filter(j::lease_owner.eq(lease_owner)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Puts a leased job back for a later attempt. `count_attempt` is false when the job only
/// waits (for example for the webinar to exist at the provider).
pub fn retry_later(
    conn: &mut DbConnection,
    id: i64,
    lease_owner: &str,
    next_run_at: i64,
    error: Option<&str>,
    count_attempt: bool,
) -> QueryResult<bool> {
    let bump = i32::from(count_attempt);
    let n = diesel::update(
        j::outbox_jobs
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
pub fn fail(conn: &mut DbConnection, id: i64, lease_owner: &str, error: &str) -> QueryResult<bool> {
    let n = diesel::update(
        j::outbox_jobs
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

/// Holds every pending job of a tenant (its integration was disabled); nothing is dropped.
pub fn pause_tenant(conn: &mut DbConnection, tenant: &str) -> QueryResult<usize> {
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
pub fn resume_tenant(conn: &mut DbConnection, tenant: &str) -> QueryResult<usize> {
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
pub fn count(conn: &mut DbConnection, tenant: &str, state: &str) -> QueryResult<i64> {
    j::outbox_jobs
        .filter(j::tenant.eq(tenant))
        .filter(j::state.eq(state))
        .count()
        .get_result(conn)
}

/// Earliest time any ready job is due (to sleep until then rather than poll blindly).
pub fn next_due(conn: &mut DbConnection) -> QueryResult<Option<i64>> {
    j::outbox_jobs
        .filter(j::state.eq(READY))
        .select(diesel::dsl::min(j::next_run_at))
        .first(conn)
}
