//! Queries on `erasure_requests`: one row per forget request with its counts, state and times;
//! never the person's email.

use diesel::prelude::*;

use super::models::ErasureRequestRow;
use super::schema::erasure_requests::dsl as e;
use super::status::ErasureState;
use super::{DbConnection, now_ms};
use crate::ids::{ErasureRequestId, TenantId};

/// Records a new request.
pub(crate) fn insert(conn: &mut DbConnection, row: &ErasureRequestRow) -> QueryResult<()> {
    insert_batch!(&mut *conn, e::erasure_requests, std::slice::from_ref(row)).map(|_| ())
}

/// One request by id.
pub(crate) fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &ErasureRequestId,
) -> QueryResult<Option<ErasureRequestRow>> {
    e::erasure_requests
        .filter(e::tenant.eq(tenant.as_str()))
        .filter(e::id.eq(id.to_string()))
        .select(ErasureRequestRow::as_select())
        .first(conn)
        .optional()
}

/// A page of a tenant's requests ordered by id (UUIDv7: oldest first).
pub(crate) fn list(
    conn: &mut DbConnection,
    tenant: &TenantId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ErasureRequestRow>> {
    let mut q = e::erasure_requests
        .filter(e::tenant.eq(tenant.as_str()))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(e::id.gt(after.to_owned()));
    }
    q.order(e::id.asc())
        .limit(limit)
        .select(ErasureRequestRow::as_select())
        .load(conn)
}

/// Ends a request still pending at the provider: DONE, or FAILED with a reason.
pub(crate) fn finish(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &ErasureRequestId,
    state: ErasureState,
    failure_reason: Option<&str>,
) -> QueryResult<bool> {
    let now = now_ms();
    let n = diesel::update(
        e::erasure_requests
            .filter(e::tenant.eq(tenant.as_str()))
            .filter(e::id.eq(id.to_string()))
            .filter(e::state.eq(ErasureState::ProviderPending.as_str())),
    )
    .set((
        e::state.eq(state.as_str()),
        e::failure_reason.eq(failure_reason),
        e::updated_at.eq(now),
        e::completed_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// A tenant's requests that concern one person (by the keyed hash of the email), oldest first.
pub(crate) fn by_email_hash(
    conn: &mut DbConnection,
    tenant: &TenantId,
    email_hash: &str,
) -> QueryResult<Vec<ErasureRequestRow>> {
    e::erasure_requests
        .filter(e::tenant.eq(tenant.as_str()))
        .filter(e::email_hash.eq(email_hash))
        .order(e::id.asc())
        .select(ErasureRequestRow::as_select())
        .load(conn)
}

/// Puts a FAILED request back to PROVIDER_PENDING (a retry); false when it was not FAILED,
/// so two retries racing queue one job.
pub(crate) fn reopen(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &ErasureRequestId,
) -> QueryResult<bool> {
    let n = diesel::update(
        e::erasure_requests
            .filter(e::tenant.eq(tenant.as_str()))
            .filter(e::id.eq(id.to_string()))
            .filter(e::state.eq(ErasureState::Failed.as_str())),
    )
    .set((
        e::state.eq(ErasureState::ProviderPending.as_str()),
        e::failure_reason.eq(None::<String>),
        e::updated_at.eq(now_ms()),
        e::completed_at.eq(None::<i64>),
    ))
    .execute(conn)?;
    Ok(n > 0)
}
