//! Queries on `worker_leases`: which replica runs a singleton job (the rewrap pass) until
//! when. A lease is taken when it is free, expired or already ours, renewed while the job
//! runs and released when it ends; a replica that dies simply stops renewing.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::worker_leases::dsl as l;
use super::{DbConnection, now_ms};

/// Takes or renews lease `name` for `holder` until `ttl_ms` from now. False when another
/// holder's lease has not expired.
pub fn acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> QueryResult<bool> {
    let now = now_ms();
    let until = now.saturating_add(ttl_ms);
    let taken = diesel::update(
        l::worker_leases
            .filter(l::name.eq(name))
            .filter(l::holder.eq(holder).or(l::expires_at.le(now))),
    )
    .set((l::holder.eq(holder), l::expires_at.eq(until)))
    .execute(conn)?;
    if taken == 1 {
        return Ok(true);
    }
    let inserted = diesel::insert_into(l::worker_leases)
        .values((
            l::name.eq(name),
            l::holder.eq(holder),
            l::expires_at.eq(until),
        ))
        .execute(conn);
    match inserted {
        Ok(n) => Ok(n == 1),
        // Another replica holds it (the update found its row unexpired) or took it just now.
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives lease `name` up if `holder` still has it, so the next pass on any replica may start.
pub fn release(conn: &mut DbConnection, name: &str, holder: &str) -> QueryResult<usize> {
    diesel::update(
        l::worker_leases
            .filter(l::name.eq(name))
            .filter(l::holder.eq(holder)),
    )
    .set(l::expires_at.eq(0_i64))
    .execute(conn)
}
