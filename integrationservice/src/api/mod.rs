//! The gRPC edge of `webinar.v1`: thin handlers that parse every field into its domain type
//! (naming each refused field in a `google.rpc.BadRequest`), authorize the tenant named in the
//! request, map proto <-> domain, and call the domain services. Rules live in the domain
//! types' constructors, not here.

pub(crate) mod audit;
pub(crate) mod convert;
pub(crate) mod error;
pub(crate) mod limits;
pub(crate) mod metrics;
pub(crate) mod names;
pub(crate) mod page_token;
pub(crate) mod person_data;
pub(crate) mod provider_config;
pub(crate) mod registration_fields;
pub(crate) mod registrations;
pub(crate) mod tenants;
pub(crate) mod violations;
pub(crate) mod webinars;

use std::sync::Arc;

use tonic::{Request, Status};

use crate::auth::{Authorizer, Principal};
use crate::domain::{PageSize, TenantId};
use page_token::PageTokens;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct ApiState {
    /// Tenant authorization.
    pub authz: Authorizer,
    /// Page-token and cursor signer.
    pub tokens: PageTokens,
    /// Per-tenant and per-caller request rate limits.
    pub limits: limits::RequestLimits,
    /// Which ON24 base URLs tenants may name.
    pub egress: on24_client::EgressPolicy,
    /// The domain services.
    pub engine: crate::domain::Engine,
    /// The access audit of calls that read or change personal data.
    pub audit: crate::audit::AccessAudit,
    /// Cancelled at shutdown: long-lived streams end so the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl ApiState {
    /// Authorizes the request's caller for `tenant`, then takes a token from the tenant's and
    /// the caller's rate-limit buckets (RESOURCE_EXHAUSTED with RetryInfo when either is empty).
    pub(crate) fn authorize<T>(
        &self,
        request: &Request<T>,
        tenant: &TenantId,
    ) -> Result<Principal, Status> {
        let principal = self.authz.check(request, tenant.as_str())?;
        self.limits.check(tenant.as_str(), &principal.to_string())?;
        Ok(principal)
    }

    /// Parses the resource name in `field` (INVALID_ARGUMENT naming it) and authorizes the
    /// caller for its tenant (PERMISSION_DENIED), in that order.
    pub(crate) fn resolve<T, N: names::Tenanted>(
        &self,
        request: &Request<T>,
        field: &str,
        name: &str,
        parse: fn(&str) -> Result<N, String>,
    ) -> Result<N, Status> {
        let parsed = parse(name).map_err(|d| violations::invalid(field, d))?;
        self.authorize(request, parsed.tenant())?;
        Ok(parsed)
    }
}

/// Shared handle given to every service.
pub(crate) type State = Arc<ApiState>;

/// Wraps a domain page token (or change cursor) for `scope`; empty stays empty.
pub(crate) fn wrap_token(state: &ApiState, scope: &str, inner: &str) -> String {
    if inner.is_empty() {
        String::new()
    } else {
        state.tokens.encode(scope, inner)
    }
}

/// A list request's page, checked: how many items and the domain's page token.
#[derive(Debug)]
pub(crate) struct Paging {
    /// Items on the page (the default when the request said 0).
    pub size: i32,
    /// The domain's page token; empty for the first page.
    pub token: String,
}

impl ApiState {
    /// Checks a list request's `page_size` and `page_token` (signed for `scope`: the method,
    /// parent and filter, so a token cannot be replayed elsewhere), recording violations in
    /// `v`. The counterpart of `wrap_token`.
    pub(crate) fn paging(
        &self,
        v: &mut violations::Violations,
        scope: &str,
        page_size: i32,
        page_token: &str,
    ) -> Option<Paging> {
        let size = v.check("page_size", PageSize::parse(page_size).map(PageSize::get));
        let token = if page_token.is_empty() {
            Some(String::new())
        } else {
            v.check("page_token", self.tokens.decode(scope, page_token))
        };
        Some(Paging {
            size: i32::try_from(size?).unwrap_or(i32::MAX),
            token: token?,
        })
    }
}
