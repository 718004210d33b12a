//! Erasure requests: what each `ForgetPerson` call erased here and where its erasure at the
//! provider stands (LOCAL_DONE when nothing was to be sent; PROVIDER_PENDING, then DONE or
//! FAILED with the reason). A request never holds the person's email. Created by the forget
//! (`registrations/forget.rs`), ended by the forget job's result (`workers/apply.rs`).

use super::{Error, Page, paging};
use crate::ids::{ErasureRequestId, TenantId};
use crate::store::erasure_requests;
use crate::store::models::ErasureRequestRow;
pub use crate::store::status::ErasureState;

/// Erasure request service.
#[derive(Debug)]
pub struct ErasureRequests<'a> {
    pub(crate) engine: &'a super::Engine,
}

/// One forget request as the CRM sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureRequest {
    /// The tenant.
    pub tenant: TenantId,
    /// Its id.
    pub id: ErasureRequestId,
    /// Where it stands.
    pub state: ErasureState,
    /// Why the provider refused it (FAILED).
    pub failure_reason: Option<String>,
    /// Registrations erased here.
    pub registrations: i64,
    /// Attendee metrics rows deleted here.
    pub metrics: i64,
    /// When it was received (and the local erasure done), ms since the epoch.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// When it ended.
    pub completed_at: Option<i64>,
}

/// Row to domain type.
pub fn view(row: &ErasureRequestRow) -> ErasureRequest {
    ErasureRequest {
        tenant: TenantId::from_stored(&row.tenant),
        id: ErasureRequestId::from_stored(&row.id),
        state: ErasureState::parse(&row.state).unwrap_or(ErasureState::Failed),
        failure_reason: row.failure_reason.clone(),
        registrations: row.registration_count,
        metrics: row.metrics_count,
        created_at: row.created_at,
        updated_at: row.updated_at,
        completed_at: row.completed_at,
    }
}

impl ErasureRequests<'_> {
    /// One request.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &ErasureRequestId,
    ) -> Result<ErasureRequest, Error> {
        let (t, i) = (tenant.clone(), *id);
        let row = self
            .engine
            .store
            .run(move |conn| Ok::<_, Error>(erasure_requests::get(conn, &t, &i)?))
            .await?;
        row.map(|r| view(&r))
            .ok_or_else(|| Error::not_found(format!("tenants/{tenant}/erasureRequests/{id}")))
    }

    /// A page of the tenant's requests, oldest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<ErasureRequest>, Error> {
        let limit = paging::limit(page_size)?;
        let kind = format!("erasureRequests/{tenant}");
        let after = paging::decode_page_token(&kind, page_token)?;
        let t = tenant.clone();
        let rows = self
            .engine
            .store
            .run(move |conn| {
                Ok::<_, Error>(erasure_requests::list(
                    conn,
                    &t,
                    after.as_deref(),
                    limit + 1,
                )?)
            })
            .await?;
        Ok(super::webinars::page(
            rows,
            limit,
            &kind,
            |r| r.id.clone(),
            view,
        ))
    }
}
