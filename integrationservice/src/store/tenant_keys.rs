//! Queries on `tenant_keys`: a tenant's secrets by purpose, each a data key kept only wrapped
//! by the key service.

use diesel::prelude::*;

use super::DbConnection;
use super::models::TenantKeyRow;
use super::schema::tenant_keys::dsl as k;
use crate::ids::TenantId;

/// The tenant's key for `purpose`, if one was made.
pub fn get(
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

/// Every key of the tenant, by purpose.
pub fn of_tenant(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<Vec<TenantKeyRow>> {
    k::tenant_keys
        .filter(k::tenant.eq(tenant.as_str()))
        .order(k::purpose.asc())
        .select(TenantKeyRow::as_select())
        .load(conn)
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

/// A page of keys wrapped under a version of the credentials key below `version`, in
/// (tenant, purpose) order after `after` (the rewrap pass). Keys under a tenant's own KEK are
/// left out: their versions count on that key, not the credentials key.
pub(crate) fn wrapped_below(
    conn: &mut DbConnection,
    version: i32,
    after: Option<(&str, &str)>,
    limit: i64,
) -> QueryResult<Vec<TenantKeyRow>> {
    under_shared_kek_page(conn, Some(version), after, limit)
}

/// A page of keys made before per-tenant KEKs (wrapped under the credentials key, `kek`
/// empty), in (tenant, purpose) order after `after`: the ones the rewrap pass moves to their
/// tenant's own KEK.
pub(crate) fn under_shared_kek(
    conn: &mut DbConnection,
    after: Option<(&str, &str)>,
    limit: i64,
) -> QueryResult<Vec<TenantKeyRow>> {
    under_shared_kek_page(conn, None, after, limit)
}

/// Keys under the credentials key (below `version` when given), keyset-paged.
fn under_shared_kek_page(
    conn: &mut DbConnection,
    below: Option<i32>,
    after: Option<(&str, &str)>,
    limit: i64,
) -> QueryResult<Vec<TenantKeyRow>> {
    let mut query = k::tenant_keys
        .filter(k::kek.eq(""))
        .order((k::tenant.asc(), k::purpose.asc()))
        .limit(limit)
        .select(TenantKeyRow::as_select())
        .into_boxed();
    if let Some(version) = below {
        query = query.filter(k::kek_version.lt(version));
    }
    if let Some((tenant, purpose)) = after {
        query = query.filter(
            k::tenant.gt(tenant.to_owned()).or(k::tenant
                .eq(tenant.to_owned())
                .and(k::purpose.gt(purpose.to_owned()))),
        );
    }
    query.load(conn)
}

/// Replaces a key's wrapped form if it is still `old` (compare-and-set); true when swapped.
pub(crate) fn swap_wrapped(
    conn: &mut DbConnection,
    row: &TenantKeyRow,
    new: &[u8],
    new_version: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        k::tenant_keys
            .filter(k::tenant.eq(&row.tenant))
            .filter(k::purpose.eq(&row.purpose))
            .filter(k::wrapped_key.eq(&row.wrapped_key)),
    )
    .set((k::wrapped_key.eq(new), k::kek_version.eq(new_version)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Replaces a key's wrapped form and the KEK that wrapped it if it is still `row`'s
/// (compare-and-set); true when moved.
pub(crate) fn move_to_kek(
    conn: &mut DbConnection,
    row: &TenantKeyRow,
    new: &[u8],
    new_version: i32,
    kek: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        k::tenant_keys
            .filter(k::tenant.eq(&row.tenant))
            .filter(k::purpose.eq(&row.purpose))
            .filter(k::wrapped_key.eq(&row.wrapped_key)),
    )
    .set((
        k::wrapped_key.eq(new),
        k::kek_version.eq(new_version),
        k::kek.eq(kek),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
