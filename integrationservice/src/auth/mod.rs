//! Authentication and tenant authorization of CRM callers.
//!
//! Every request passes the [`Authenticator`] interceptor: a bearer token, when present, must
//! be valid (it is never silently ignored in favour of a certificate); otherwise the verified
//! client certificate names the caller. The resulting [`Principal`] travels in the request
//! extensions, and handlers call [`Authorizer::check`] with the tenant named in the request.

pub(crate) mod identity;
pub(crate) mod jwt;
pub(crate) mod policy;
pub(crate) mod tls;

use std::sync::Arc;

use tonic::{Request, Status, metadata::MetadataValue};

pub(crate) use identity::{CommonNames, Principal};
pub(crate) use jwt::JwtVerifier;
pub(crate) use policy::TenantPolicy;

use crate::status::error_info_status;

/// When the credential a request was authenticated with stops being valid (a bearer token's
/// `exp`), in the request extensions beside the [`Principal`]. Long-lived calls (watch
/// streams) end then, so a stream never outlives the token that opened it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CredentialExpiry(pub std::time::SystemTime);

/// Turns request credentials into a [`Principal`] (the gRPC interceptor).
#[derive(Clone, Debug)]
pub(crate) struct Authenticator {
    jwt: Option<JwtVerifier>,
    accept_certificates: bool,
    common_names: CommonNames,
}

impl Authenticator {
    /// `jwt`: bearer tokens accepted when set; `accept_certificates`: a client CA is configured.
    /// Certificates without a URI SAN are refused until [`Self::common_names`] says otherwise.
    pub(crate) fn new(jwt: Option<JwtVerifier>, accept_certificates: bool) -> Self {
        Self {
            jwt,
            accept_certificates,
            common_names: CommonNames::Refuse,
        }
    }

    /// How certificates without a URI SAN are treated (`auth.allow_common_name`).
    pub(crate) fn common_names(mut self, common_names: CommonNames) -> Self {
        self.common_names = common_names;
        self
    }

    /// Authenticates one request: the principal, and when its credential expires if that is
    /// known (bearer tokens).
    pub(crate) fn authenticate<T>(
        &self,
        request: &Request<T>,
    ) -> Result<(Principal, Option<CredentialExpiry>), Status> {
        if let Some(header) = request.metadata().get("authorization") {
            return self.bearer(header);
        }
        if self.accept_certificates
            && let Some(certs) = request.peer_certs()
            && let Some(leaf) = certs.first()
        {
            return identity::CertificateIdentity::parse(leaf.as_ref())
                .principal(self.common_names)
                .map(|principal| (principal, None))
                .map_err(|refused| Status::unauthenticated(refused.to_string()));
        }
        Err(Status::unauthenticated(
            "authenticate with a client certificate or a bearer token",
        ))
    }

    fn bearer(
        &self,
        header: &MetadataValue<tonic::metadata::Ascii>,
    ) -> Result<(Principal, Option<CredentialExpiry>), Status> {
        let Some(verifier) = &self.jwt else {
            return Err(Status::unauthenticated(
                "bearer tokens are not accepted here",
            ));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
        let verified = verifier.verify(token.trim()).map_err(|reason| {
            error_info_status(tonic::Code::Unauthenticated, reason, "INVALID_TOKEN", &[])
        })?;
        Principal::from_token_subject(&verified.subject)
            .map(|principal| (principal, Some(CredentialExpiry(verified.expires_at))))
            .map_err(|refused| Status::unauthenticated(refused.to_string()))
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let (principal, expiry) = self.authenticate(&request)?;
        request.extensions_mut().insert(principal);
        if let Some(expiry) = expiry {
            request.extensions_mut().insert(expiry);
        }
        Ok(request)
    }
}

/// Checks that the authenticated caller may act for a tenant.
#[derive(Clone, Debug)]
pub(crate) struct Authorizer {
    policy: Arc<TenantPolicy>,
}

impl Authorizer {
    /// Wraps a loaded policy.
    pub(crate) fn new(policy: TenantPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }

    /// PERMISSION_DENIED (`ADMIN_REQUIRED`) unless the request's principal administers
    /// `tenant` (an `admin = true` policy entry covering it).
    pub(crate) fn check_admin<T>(
        &self,
        request: &Request<T>,
        tenant: &str,
    ) -> Result<Principal, Status> {
        let principal = request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("not authenticated"))?;
        if self.policy.administers(&principal, tenant) {
            Ok(principal)
        } else {
            tracing::info!(principal = %principal, tenant, "tenant administration denied");
            Err(error_info_status(
                tonic::Code::PermissionDenied,
                "the caller may not administer this tenant",
                "ADMIN_REQUIRED",
                &[("tenant", tenant)],
            ))
        }
    }

    /// PERMISSION_DENIED (`TENANT_MISMATCH`) unless the request's principal may act for
    /// `tenant`. The answer does not depend on whether anything exists in that tenant.
    pub(crate) fn check<T>(&self, request: &Request<T>, tenant: &str) -> Result<Principal, Status> {
        let principal = request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("not authenticated"))?;
        if self.policy.allows(&principal, tenant) {
            Ok(principal)
        } else {
            tracing::info!(principal = %principal, tenant, "tenant access denied");
            Err(error_info_status(
                tonic::Code::PermissionDenied,
                "the caller may not act for this tenant",
                "TENANT_MISMATCH",
                &[("tenant", tenant)],
            ))
        }
    }
}
