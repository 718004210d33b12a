//! Queries on `provider_configs`: one row per tenant holding its envelope-encrypted provider
//! credentials, their health, and the tenant's quota slow-down.

use diesel::prelude::*;

use super::models::ProviderConfigRow;
use super::schema::provider_configs::dsl as p;
use super::{DbConnection, now_ms};
use crate::ids::TenantId;

/// The tenant's configuration, deleted or not.
pub fn get(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<Option<ProviderConfigRow>> {
    let tenant = tenant.as_str();
    p::provider_configs
        .filter(p::tenant.eq(tenant))
        .select(ProviderConfigRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts or replaces the tenant's configuration (inside a transaction).
pub fn put(conn: &mut DbConnection, row: &ProviderConfigRow) -> QueryResult<()> {
    let updated = diesel::update(p::provider_configs.filter(p::tenant.eq(&row.tenant)))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(p::provider_configs)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Inserts many configurations in one statement (bulk loads: imports and tests at scale).
pub fn insert_many(conn: &mut DbConnection, rows: &[ProviderConfigRow]) -> QueryResult<usize> {
    insert_batch!(conn, p::provider_configs, rows)
}

/// Records the result of a credential check or of a call that revealed the credentials' state.
pub fn set_status(
    conn: &mut DbConnection,
    tenant: &TenantId,
    status: &str,
    message: Option<&str>,
) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    let now = now_ms();
    diesel::update(p::provider_configs.filter(p::tenant.eq(tenant)))
        .set((
            p::status.eq(status),
            p::status_message.eq(message),
            p::last_check_at.eq(Some(now)),
            p::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Marks the configuration deleted and wipes its secret columns; the row stays so the tenant's
/// status can still be read and the integration reports itself disabled.
pub fn mark_deleted(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::update(p::provider_configs.filter(p::tenant.eq(tenant)))
        .set((
            p::deleted.eq(true),
            p::wrapped_dek.eq(Vec::<u8>::new()),
            p::nonce.eq(Vec::<u8>::new()),
            p::ciphertext.eq(Vec::<u8>::new()),
            p::updated_at.eq(now_ms()),
        ))
        .execute(conn)
}

/// Locks the tenant's row until the transaction ends (the first lock of the lock order), so
/// what is read next cannot change before the transaction commits.
pub fn lock(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    // A no-op update: a row lock on PostgreSQL, the write lock on SQLite; no FOR UPDATE there.
    diesel::update(p::provider_configs.filter(p::tenant.eq(tenant)))
        .set(p::updated_at.eq(p::updated_at))
        .execute(conn)
}

/// Slows a tenant down until `until` after a quota answer (`level` grows the next pause).
pub fn throttle(
    conn: &mut DbConnection,
    tenant: &TenantId,
    until: i64,
    level: i32,
) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::update(p::provider_configs.filter(p::tenant.eq(tenant)))
        .set((
            p::throttle_until.eq(Some(until)),
            p::throttle_level.eq(level),
        ))
        .execute(conn)
}

/// Clears the slow-down after a successful call, once its pause is over: a call that was
/// already on the wire when another replica met the quota may succeed, and must not lift the
/// pause the quota answer just started.
pub fn clear_throttle(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::update(
        p::provider_configs
            .filter(p::tenant.eq(tenant))
            .filter(p::throttle_level.gt(0))
            .filter(
                p::throttle_until
                    .is_null()
                    .or(p::throttle_until.le(now_ms())),
            ),
    )
    .set((p::throttle_until.eq(None::<i64>), p::throttle_level.eq(0)))
    .execute(conn)
}

/// (tenant, credentials status) of every tenant with credentials, for the per-tenant health
/// gauge.
pub fn statuses(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    p::provider_configs
        .filter(p::deleted.eq(false))
        .select((p::tenant, p::status))
        .order(p::tenant)
        .load(conn)
}

/// Records when metrics were last pulled for the tenant.
pub fn set_last_metrics(conn: &mut DbConnection, tenant: &TenantId, at: i64) -> QueryResult<usize> {
    let tenant = tenant.as_str();
    diesel::update(p::provider_configs.filter(p::tenant.eq(tenant)))
        .set(p::last_metrics_at.eq(Some(at)))
        .execute(conn)
}

/// One page of live configurations whose wrapped DEK is under a key version older than
/// `version`, in tenant order after `after` (keyset pagination: every page costs the same, and
/// rows moved meanwhile are not skipped or seen twice).
pub fn wrapped_below(
    conn: &mut DbConnection,
    version: i32,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ProviderConfigRow>> {
    let mut query = p::provider_configs
        .filter(p::deleted.eq(false))
        .filter(p::dek_key_version.lt(version))
        .order(p::tenant.asc())
        .limit(limit)
        .select(ProviderConfigRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(p::tenant.gt(after.to_owned()));
    }
    query.load(conn)
}

/// (key version, live configurations wrapped under it), for the rewrap gauge.
pub fn count_by_key_version(conn: &mut DbConnection) -> QueryResult<Vec<(i32, i64)>> {
    p::provider_configs
        .filter(p::deleted.eq(false))
        .group_by(p::dek_key_version)
        .select((p::dek_key_version, diesel::dsl::count_star()))
        .order(p::dek_key_version)
        .load(conn)
}

/// Swaps the wrapped DEK of one configuration if it is still the one that was rewrapped
/// (compare-and-set: a concurrent put of new credentials wins).
pub fn swap_wrapped_dek(
    conn: &mut DbConnection,
    tenant: &TenantId,
    secret_version: i64,
    old: &[u8],
    new: &[u8],
    new_version: i32,
) -> QueryResult<bool> {
    let tenant = tenant.as_str();
    let n = diesel::update(
        p::provider_configs
            .filter(p::tenant.eq(tenant))
            .filter(p::secret_version.eq(secret_version))
            .filter(p::wrapped_dek.eq(old)),
    )
    .set((p::wrapped_dek.eq(new), p::dek_key_version.eq(new_version)))
    .execute(conn)?;
    Ok(n == 1)
}
