//! Queries on `tenant_keys`: a tenant's secrets by purpose, each a data key kept only wrapped
//! by the key service.

use diesel::prelude::*;

use super::DbConnection;
use super::models::TenantKeyRow;
use super::schema::tenant_keys::dsl as k;
use crate::ids::TenantId;

/// The tenant's key for `purpose`, if one was made.
pub(crate) fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
    purpose: &str,
) -> QueryResult<Option<TenantKeyRow>> {
    k::tenant_keys
        .filter(k::tenant.eq(tenant.as_str()))
        .filter(k::purpose.eq(purpose))
        .select(TenantKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a new key unless the tenant has one for its purpose already (two replicas making
/// the first one at once: the first stored wins, and both read it back with [`get`]).
pub(crate) fn insert_if_absent(conn: &mut DbConnection, row: &TenantKeyRow) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(k::tenant_keys)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        DbConnection::Sqlite(c) => diesel::insert_into(k::tenant_keys)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }
    .map(|_| ())
}
