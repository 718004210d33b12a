//! The handlers' side of the access audit (`crate::audit`): each call that reads or changes
//! personal data passes its result through [`ApiState::audited`], which records who did what
//! for which tenant and how many items, and refuses the answer (UNAVAILABLE) when the record
//! cannot be written.

use tonic::{Request, Status};

use super::ApiState;
use crate::audit::AccessEvent;
use crate::auth::Principal;
use crate::domain::TenantId;

/// What a caller is told when its call could not be audited.
const AUDIT_UNAVAILABLE: &str = "access audit unavailable; request refused";

/// `x-request-id` if the caller sent a sane one (1 to 128 of `[A-Za-z0-9._:-]`), else a
/// fresh UUID.
fn request_id<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Where an access is recorded: the method and the resource it named.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Access<'a> {
    /// The gRPC method, without its service.
    pub method: &'static str,
    /// The tenant acted for.
    pub tenant: &'a TenantId,
    /// The resource the call named (its parent for lists and tenant-wide calls).
    pub resource: &'a str,
}

/// Who is calling, as the audit records it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    principal: String,
    request_id: String,
}

impl Caller {
    /// The request's authenticated principal and request id.
    pub(crate) fn of<R>(request: &Request<R>) -> Self {
        Self {
            principal: request
                .extensions()
                .get::<Principal>()
                .map(ToString::to_string)
                .unwrap_or_default(),
            request_id: request_id(request),
        }
    }
}

impl ApiState {
    /// Records `access` with the result's item count (`items`) or its error code, then hands
    /// the result back; UNAVAILABLE instead when the record cannot be written.
    pub(crate) async fn audited<R, T>(
        &self,
        request: &Request<R>,
        access: Access<'_>,
        result: Result<T, Status>,
        items: impl FnOnce(&T) -> usize,
    ) -> Result<T, Status> {
        self.audited_as(&Caller::of(request), access, result, items)
            .await
    }

    /// [`Self::audited`] for a caller known already (a stream's later messages).
    pub(crate) async fn audited_as<T>(
        &self,
        caller: &Caller,
        access: Access<'_>,
        result: Result<T, Status>,
        items: impl FnOnce(&T) -> usize,
    ) -> Result<T, Status> {
        let (ok, code, count) = match &result {
            Ok(value) => (true, tonic::Code::Ok, items(value)),
            Err(status) => (false, status.code(), 0),
        };
        let event = AccessEvent {
            principal: &caller.principal,
            tenant: access.tenant.as_str(),
            method: access.method,
            resource: access.resource,
            items: u64::try_from(count).unwrap_or(u64::MAX),
            ok,
            code,
            request_id: &caller.request_id,
        };
        if let Err(error) = self.audit.record(&event).await {
            tracing::error!(%error, method = access.method, "access audit write failed; refusing the call");
            return Err(Status::unavailable(AUDIT_UNAVAILABLE));
        }
        result
    }
}
