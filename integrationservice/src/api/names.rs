//! Resource names of `webinar.v1` and their parsing. Parsing is strict (exact segment count,
//! lowercase UUID ids, valid tenant id) so an id can never smuggle a path or a wildcard into a
//! query, and the tenant in a name is always the one authorized.

use crate::domain::{ErasureRequestId, RegistrationId, TenantId, WebinarId};

/// `tenants/{tenant}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName {
    /// Tenant id.
    pub tenant: TenantId,
}

/// `tenants/{tenant}/webinars/{webinar}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebinarName {
    /// Tenant id.
    pub tenant: TenantId,
    /// Webinar id.
    pub webinar: WebinarId,
}

/// `tenants/{tenant}/webinars/{webinar}/registrations/{registration}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationName {
    /// Tenant id.
    pub tenant: TenantId,
    /// Webinar id.
    pub webinar: WebinarId,
    /// Registration id.
    pub registration: RegistrationId,
}

/// `tenants/{tenant}/erasureRequests/{erasure_request}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErasureRequestName {
    /// Tenant id.
    pub tenant: TenantId,
    /// Erasure request id.
    pub erasure_request: ErasureRequestId,
}

/// A parsed name that belongs to one tenant.
pub(crate) trait Tenanted {
    /// The tenant the name belongs to.
    fn tenant(&self) -> &TenantId;
}

impl Tenanted for TenantName {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

impl Tenanted for WebinarName {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

impl Tenanted for ErasureRequestName {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

impl Tenanted for RegistrationName {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

fn tenant(id: &str) -> Result<TenantId, String> {
    TenantId::parse(id).map_err(String::from)
}

fn webinar(id: &str) -> Result<WebinarId, String> {
    WebinarId::parse(id).map_err(String::from)
}

fn registration(id: &str) -> Result<RegistrationId, String> {
    RegistrationId::parse(id).map_err(String::from)
}

fn segments<'a>(name: &'a str, shape: &str) -> Result<Vec<&'a str>, String> {
    if name.is_empty() {
        return Err(format!("required; expected `{shape}`"));
    }
    let parts: Vec<&str> = name.split('/').collect();
    let expected: Vec<&str> = shape.split('/').collect();
    let matches = parts.len() == expected.len()
        && parts.iter().zip(&expected).all(|(p, e)| {
            if e.starts_with('{') {
                !p.is_empty()
            } else {
                p == e
            }
        });
    if matches {
        Ok(parts)
    } else {
        Err(format!("expected `{shape}`"))
    }
}

/// Parses `tenants/{tenant}`.
pub fn parse_tenant(name: &str) -> Result<TenantName, String> {
    let s = segments(name, "tenants/{tenant}")?;
    Ok(TenantName {
        tenant: tenant(s[1])?,
    })
}

/// Parses `tenants/{tenant}/on24Credentials`.
pub fn parse_credentials(name: &str) -> Result<TenantName, String> {
    let s = segments(name, "tenants/{tenant}/on24Credentials")?;
    Ok(TenantName {
        tenant: tenant(s[1])?,
    })
}

/// Parses `tenants/{tenant}/retentionPolicy`.
pub(crate) fn parse_retention_policy(name: &str) -> Result<TenantName, String> {
    let s = segments(name, "tenants/{tenant}/retentionPolicy")?;
    Ok(TenantName {
        tenant: tenant(s[1])?,
    })
}

/// Parses `tenants/{tenant}/minimisationPolicy`.
pub(crate) fn parse_minimisation_policy(name: &str) -> Result<TenantName, String> {
    let s = segments(name, "tenants/{tenant}/minimisationPolicy")?;
    Ok(TenantName {
        tenant: tenant(s[1])?,
    })
}

/// Parses `tenants/{tenant}/webinars/{webinar}`.
pub fn parse_webinar(name: &str) -> Result<WebinarName, String> {
    let s = segments(name, "tenants/{tenant}/webinars/{webinar}")?;
    Ok(WebinarName {
        tenant: tenant(s[1])?,
        webinar: webinar(s[3])?,
    })
}

/// Parses `tenants/{tenant}/webinars/{webinar}/metrics`.
pub fn parse_webinar_metrics(name: &str) -> Result<WebinarName, String> {
    let s = segments(name, "tenants/{tenant}/webinars/{webinar}/metrics")?;
    Ok(WebinarName {
        tenant: tenant(s[1])?,
        webinar: webinar(s[3])?,
    })
}

/// Parses `tenants/{tenant}/webinars/{webinar}/registrations/{registration}`.
pub fn parse_registration(name: &str) -> Result<RegistrationName, String> {
    let s = segments(
        name,
        "tenants/{tenant}/webinars/{webinar}/registrations/{registration}",
    )?;
    Ok(RegistrationName {
        tenant: tenant(s[1])?,
        webinar: webinar(s[3])?,
        registration: registration(s[5])?,
    })
}

/// Parses `tenants/{tenant}/erasureRequests/{erasure_request}`.
pub(crate) fn parse_erasure_request(name: &str) -> Result<ErasureRequestName, String> {
    let s = segments(name, "tenants/{tenant}/erasureRequests/{erasure_request}")?;
    Ok(ErasureRequestName {
        tenant: tenant(s[1])?,
        erasure_request: ErasureRequestId::parse(s[3]).map_err(String::from)?,
    })
}

/// `tenants/{tenant}/erasureRequests/{erasure_request}`.
pub(crate) fn erasure_request_name(tenant: &TenantId, id: &ErasureRequestId) -> String {
    format!("tenants/{tenant}/erasureRequests/{id}")
}

/// `tenants/{tenant}/on24Credentials`.
pub(crate) fn credentials_name(tenant: &TenantId) -> String {
    format!("tenants/{tenant}/on24Credentials")
}

/// `tenants/{tenant}/webinars/{webinar}`.
pub fn webinar_name(tenant: &TenantId, webinar: &WebinarId) -> String {
    format!("tenants/{tenant}/webinars/{webinar}")
}

/// `tenants/{tenant}/webinars/{webinar}/registrations/{registration}`.
pub fn registration_name(
    tenant: &TenantId,
    webinar: &WebinarId,
    registration: &RegistrationId,
) -> String {
    format!("tenants/{tenant}/webinars/{webinar}/registrations/{registration}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_strictly() {
        let w = "tenants/acme/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a";
        assert_eq!(parse_webinar(w).expect("valid").tenant.as_str(), "acme");
        for bad in [
            "",
            "tenants/acme",
            "tenants/ACME/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a",
            "tenants/acme/webinars/0190F0C4-8B7E-7C3A-9A53-4F1E2D3C4B5A",
            "tenants/acme/webinars/*",
            "tenants/acme/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a/",
            "tenants/-x/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a",
            "projects/acme/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a",
        ] {
            assert!(parse_webinar(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(parse_tenant("tenants/a").is_ok());
        assert!(parse_credentials("tenants/a/on24Credentials").is_ok());
        assert!(parse_credentials("tenants/a/credentials").is_err());
    }
}
