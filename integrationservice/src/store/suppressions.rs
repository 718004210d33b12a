//! Queries on `suppressions`: the people a tenant must not register or store figures of
//! again, by the keyed hash of their email (never the email).

use diesel::prelude::*;

use super::DbConnection;
use super::models::SuppressionRow;
use super::schema::suppressions::dsl as s;
use crate::ids::TenantId;

/// Adds a person; a person already on the list keeps their first entry.
pub(crate) fn add(conn: &mut DbConnection, row: &SuppressionRow) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(s::suppressions)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        DbConnection::Sqlite(c) => diesel::insert_into(s::suppressions)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }
    .map(|_| ())
}

/// Which of these hashes the tenant's list holds.
pub(crate) fn present(
    conn: &mut DbConnection,
    tenant: &TenantId,
    hashes: &[String],
) -> QueryResult<Vec<String>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    s::suppressions
        .filter(s::tenant.eq(tenant.as_str()))
        .filter(s::email_hash.eq_any(hashes))
        .select(s::email_hash)
        .load(conn)
}

/// Lifts one person's suppression; true when there was one.
pub(crate) fn remove(conn: &mut DbConnection, tenant: &TenantId, hash: &str) -> QueryResult<bool> {
    let n = diesel::delete(
        s::suppressions
            .filter(s::tenant.eq(tenant.as_str()))
            .filter(s::email_hash.eq(hash)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Who takes the tenant's erasure lock, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErasureLock {
    /// A write of a person's data (a registration, a chunk of attendee figures): shared, so
    /// writes never wait for each other.
    Write,
    /// A forget: exclusive, so it waits for writes already under way and holds new ones back
    /// until it committed.
    Forget,
}

/// Takes the tenant's erasure lock until the end of the current transaction, so that a
/// write of a person's data (registration, attendee figures) and a forget of the tenant never
/// interleave: the write then reads the suppression list after any forget that committed
/// before it, and a forget sees everything written before it. PostgreSQL: a transaction-level advisory lock on
/// the tenant. SQLite: nothing to do, its one connection runs one transaction at a time.
pub(crate) fn lock_tenant_erasure(
    conn: &mut DbConnection,
    tenant: &TenantId,
    how: ErasureLock,
) -> QueryResult<()> {
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    let function = match how {
        ErasureLock::Write => "pg_advisory_xact_lock_shared",
        ErasureLock::Forget => "pg_advisory_xact_lock",
    };
    diesel::sql_query(format!(
        "SELECT {function}(hashtextextended('erasure:' || $1, 0))"
    ))
    .bind::<diesel::sql_types::Text, _>(tenant.as_str())
    .execute(pg)
    .map(|_| ())
}
