//! The gRPC edge of `webinar.v1`: thin handlers that validate every field, authorize the
//! tenant named in the request, map proto <-> domain, and call the domain services. Rules live
//! in the domain, not here.

pub mod convert;
pub mod error;
pub mod metrics;
pub mod names;
pub mod page_token;
pub mod provider_config;
pub mod registration_fields;
pub mod registrations;
pub mod validate;
pub mod webinars;

use std::sync::Arc;

use tonic::{Request, Status};

use crate::auth::{Authorizer, Principal};
use page_token::PageTokens;

/// What every handler shares.
#[derive(Debug)]
pub struct ApiState {
    /// Tenant authorization.
    pub authz: Authorizer,
    /// Page-token and cursor signer.
    pub tokens: PageTokens,
    /// Whether `http://` ON24 base URLs are accepted (simulator).
    pub allow_http: bool,
    /// The domain services.
    pub engine: crate::domain::Engine,
    /// Cancelled at shutdown: long-lived streams end so the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl ApiState {
    /// Authorizes the request's caller for `tenant`.
    pub fn authorize<T>(&self, request: &Request<T>, tenant: &str) -> Result<Principal, Status> {
        self.authz.check(request, tenant)
    }

    /// Parses the resource name in `field` (INVALID_ARGUMENT naming it) and authorizes the
    /// caller for its tenant (PERMISSION_DENIED), in that order.
    pub fn resolve<T, N: names::Tenanted>(
        &self,
        request: &Request<T>,
        field: &str,
        name: &str,
        parse: fn(&str) -> Result<N, String>,
    ) -> Result<N, Status> {
        let parsed = parse(name).map_err(|d| validate::invalid(field, d))?;
        self.authorize(request, parsed.tenant())?;
        Ok(parsed)
    }
}

/// Shared handle given to every service.
pub type State = Arc<ApiState>;

/// Wraps a domain page token (or change cursor) for `scope`; empty stays empty.
pub(crate) fn wrap_token(state: &ApiState, scope: &str, inner: &str) -> String {
    if inner.is_empty() {
        String::new()
    } else {
        state.tokens.encode(scope, inner)
    }
}

/// Unwraps a page token of `scope` into the domain's page token; empty stays empty (the
/// first page). The counterpart of `wrap_token`; the error is the field violation's text.
pub(crate) fn page_cursor(state: &ApiState, scope: &str, token: &str) -> Result<String, String> {
    if token.is_empty() {
        Ok(String::new())
    } else {
        state.tokens.decode(scope, token)
    }
}
