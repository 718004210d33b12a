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
