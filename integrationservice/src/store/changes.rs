//! The change feed: an append-only, monotonic sequence per database that the CRM follows with a
//! cursor (the last `seq` it saw). On PostgreSQL a sequence number can commit after a higher one
//! from a concurrent transaction, and a reader could skip it for good; appending under a
//! transaction-scoped advisory lock makes numbers commit in order. The lock is taken just before
//! the insert, so it is held only for the end of the writing transaction.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{ChangeRow, NewChange};
use super::schema::changes::dsl as c;

/// Advisory lock key that serialises appends to `changes` on PostgreSQL.
const CHANGES_LOCK: i64 = 0x5745_4249_4e41_5201;

/// Appends changes (inside the transaction that made them).
pub fn append(conn: &mut DbConnection, rows: &[NewChange]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(CHANGES_LOCK)
            .execute(pg)?;
    }
    for chunk in rows.chunks(1000) {
        insert_batch!(conn, c::changes, chunk)?;
    }
    Ok(())
}

/// Changes of a tenant after `cursor`, oldest first.
pub fn list_after(
    conn: &mut DbConnection,
    tenant: &str,
    cursor: i64,
    limit: i64,
) -> QueryResult<Vec<ChangeRow>> {
    c::changes
        .filter(c::tenant.eq(tenant))
        .filter(c::seq.gt(cursor))
        .order(c::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)
}

/// Highest sequence number written so far (0 when empty).
pub fn last_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    let max: Option<i64> = c::changes.select(diesel::dsl::max(c::seq)).first(conn)?;
    Ok(max.unwrap_or(0))
}

/// Builds a change row stamped now.
pub fn change(
    tenant: &str,
    kind: &str,
    webinar_id: Option<&str>,
    registration_id: Option<&str>,
) -> NewChange {
    NewChange {
        tenant: tenant.to_owned(),
        kind: kind.to_owned(),
        webinar_id: webinar_id.map(str::to_owned),
        registration_id: registration_id.map(str::to_owned),
        created_at: super::now_ms(),
    }
}
