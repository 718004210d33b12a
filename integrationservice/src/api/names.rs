//! Resource names of `webinar.v1` and their parsing. Parsing is strict (exact segment count,
//! lowercase UUID ids, valid tenant id) so an id can never smuggle a path or a wildcard into a
//! query, and the tenant in a name is always the one authorized.

use uuid::Uuid;

/// `tenants/{tenant}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName {
    /// Tenant id.
    pub tenant: String,
}

/// `tenants/{tenant}/webinars/{webinar}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebinarName {
    /// Tenant id.
    pub tenant: String,
    /// Webinar id.
    pub webinar: Uuid,
}

/// `tenants/{tenant}/webinars/{webinar}/registrations/{registration}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationName {
    /// Tenant id.
    pub tenant: String,
    /// Webinar id.
    pub webinar: Uuid,
    /// Registration id.
    pub registration: Uuid,
}

/// A parsed name that belongs to one tenant.
pub trait Tenanted {
    /// The tenant the name belongs to.
    fn tenant(&self) -> &str;
}

impl Tenanted for TenantName {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}

impl Tenanted for WebinarName {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}

impl Tenanted for RegistrationName {
    fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// True for 1 to 63 characters of `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn is_valid_tenant_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn tenant(id: &str) -> Result<String, String> {
    if is_valid_tenant_id(id) {
        Ok(id.to_owned())
    } else {
        Err("the tenant id must be 1 to 63 characters of [a-z0-9-], not starting or ending with `-`".into())
    }
}

fn uuid(id: &str, what: &str) -> Result<Uuid, String> {
    match Uuid::try_parse(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(u),
        _ => Err(format!("the {what} id must be a lowercase hyphenated UUID")),
    }
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

/// Parses `tenants/{tenant}/webinars/{webinar}`.
pub fn parse_webinar(name: &str) -> Result<WebinarName, String> {
    let s = segments(name, "tenants/{tenant}/webinars/{webinar}")?;
    Ok(WebinarName {
        tenant: tenant(s[1])?,
        webinar: uuid(s[3], "webinar")?,
    })
}

/// Parses `tenants/{tenant}/webinars/{webinar}/metrics`.
pub fn parse_webinar_metrics(name: &str) -> Result<WebinarName, String> {
    let s = segments(name, "tenants/{tenant}/webinars/{webinar}/metrics")?;
    Ok(WebinarName {
        tenant: tenant(s[1])?,
        webinar: uuid(s[3], "webinar")?,
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
        webinar: uuid(s[3], "webinar")?,
        registration: uuid(s[5], "registration")?,
    })
}

/// Formats names for responses.
pub fn credentials_name(tenant: &str) -> String {
    format!("tenants/{tenant}/on24Credentials")
}

/// `tenants/{tenant}/webinars/{webinar}`.
pub fn webinar_name(tenant: &str, webinar: &Uuid) -> String {
    format!("tenants/{tenant}/webinars/{}", webinar.hyphenated())
}

/// `tenants/{tenant}/webinars/{webinar}/registrations/{registration}`.
pub fn registration_name(tenant: &str, webinar: &Uuid, registration: &Uuid) -> String {
    format!(
        "tenants/{tenant}/webinars/{}/registrations/{}",
        webinar.hyphenated(),
        registration.hyphenated()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_strictly() {
        let w = "tenants/acme/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a";
        assert_eq!(parse_webinar(w).expect("valid").tenant, "acme");
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
