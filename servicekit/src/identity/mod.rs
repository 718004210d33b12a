//! Who a caller is, by one set of rules for both services: a [`Principal`] names the caller
//! AND how it was authenticated, so two ways of authenticating can never produce the same
//! principal.
//!
//! - A client certificate names its holder by exactly one URI SAN (SPIFFE allows one); a
//!   certificate with several is refused, not read by its first. The URI keeps its text
//!   (`spiffe://webinar.local/integrationservice`). URIs in the reserved schemes `cn:` and
//!   `jwt:` are refused, so a certificate cannot pose as either of the principals below.
//! - A certificate without a URI SAN is refused unless the service allows common names; then
//!   its subject CN becomes `cn:<CN>`. A CN that could be read as a URI or a namespaced
//!   principal (it holds a `:`) is refused even then.
//! - A bearer token's subject becomes `jwt:<sub>`.
//!
//! Policies name principals by that text; see [`PrincipalPattern`] for wildcards.

mod certificate;
mod pattern;

pub use certificate::{CertificateIdentity, CommonNames};
pub use pattern::{PatternError, PrincipalPattern};

use std::{fmt, sync::Arc};

/// How a principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The single URI SAN of a verified client certificate.
    UriSan,
    /// The subject CN of a verified client certificate without a URI SAN (`cn:` prefix).
    CommonName,
    /// The subject of a verified bearer token (`jwt:` prefix).
    Token,
    /// The service itself (scheduled work) or a placeholder for an unidentified caller;
    /// never matched by a policy pattern.
    Internal,
}

/// Why a certificate or token does not name a usable principal. The messages are fixed
/// strings: safe to return to the caller and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not a parsable X.509 certificate.
    #[error("the client certificate cannot be parsed")]
    Unparsable,
    /// More than one URI SAN: SPIFFE allows exactly one, and picking one would be a guess.
    #[error("the client certificate has more than one URI SAN")]
    SeveralUris,
    /// The URI SAN is not an acceptable identity (no scheme, reserved scheme, bad characters).
    #[error("the client certificate's URI SAN is not an acceptable identity")]
    BadUri,
    /// No URI SAN, and common names are not accepted here.
    #[error("the client certificate has no URI SAN")]
    NoUri,
    /// The subject CN is missing or not an acceptable name.
    #[error("the client certificate's subject CN is not an acceptable identity")]
    BadCommonName,
    /// The token subject is empty or holds control characters.
    #[error("the bearer token's subject is not an acceptable identity")]
    BadSubject,
}

/// Longest principal text accepted (a URI SAN, a CN or a token subject).
pub const MAX_PRINCIPAL_LEN: usize = 1024;

/// An authenticated caller: how it was authenticated and its text as policies write it.
/// Equality compares both, so `Principal` values from different sources never compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    source: Source,
    text: Arc<str>,
}

impl Principal {
    /// The principal of a certificate's URI SAN (checked as described in the module docs).
    pub fn from_uri_san(uri: &str) -> Result<Self, IdentityError> {
        if !acceptable_uri(uri) {
            return Err(IdentityError::BadUri);
        }
        Ok(Self {
            source: Source::UriSan,
            text: Arc::from(uri),
        })
    }

    /// The principal `cn:<cn>` of a certificate's subject CN.
    pub fn from_common_name(cn: &str) -> Result<Self, IdentityError> {
        let plain = !cn.is_empty()
            && cn.len() <= MAX_PRINCIPAL_LEN
            && cn.trim() == cn
            && !cn.contains([':', '*'])
            && !cn.chars().any(char::is_control);
        if !plain {
            return Err(IdentityError::BadCommonName);
        }
        Ok(Self {
            source: Source::CommonName,
            text: Arc::from(format!("cn:{cn}")),
        })
    }

    /// The principal `jwt:<sub>` of a verified bearer token's subject.
    pub fn from_token_subject(sub: &str) -> Result<Self, IdentityError> {
        if sub.is_empty() || sub.len() > MAX_PRINCIPAL_LEN || sub.chars().any(char::is_control) {
            return Err(IdentityError::BadSubject);
        }
        Ok(Self {
            source: Source::Token,
            text: Arc::from(format!("jwt:{sub}")),
        })
    }

    /// The service acting on its own (e.g. `keyservice` for scheduled rotation), or a
    /// placeholder name for an unidentified caller in an audit record.
    pub fn internal(name: &str) -> Self {
        Self {
            source: Source::Internal,
            text: Arc::from(name),
        }
    }

    /// How the principal was authenticated.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The principal as policies and audit records write it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A URI with a scheme (RFC 3986 `scheme ":"`), not in a reserved scheme, of printable ASCII
/// without spaces or `*`; a `spiffe://` id must also be a well-formed SPIFFE id (no query,
/// fragment, empty, `.` or `..` path segments, or trailing `/`).
fn acceptable_uri(uri: &str) -> bool {
    if uri.is_empty() || uri.len() > MAX_PRINCIPAL_LEN {
        return false;
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'*') {
        return false;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || rest.is_empty() {
        return false;
    }
    if scheme.eq_ignore_ascii_case("cn") || scheme.eq_ignore_ascii_case("jwt") {
        return false;
    }
    if scheme.eq_ignore_ascii_case("spiffe") {
        let Some(id) = rest.strip_prefix("//") else {
            return false;
        };
        let (domain, path) = id.split_once('/').unwrap_or((id, ""));
        let domain_ok = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        let path_ok = path.is_empty()
            || path
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
        return scheme == "spiffe" && domain_ok && path_ok && !rest.contains(['?', '#']);
    }
    true
}

#[cfg(test)]
mod tests;
