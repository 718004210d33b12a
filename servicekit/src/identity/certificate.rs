//! Reading a principal from a verified client certificate: exactly one URI SAN, else the
//! subject CN where the service allows common names.

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use super::{IdentityError, Principal};

/// Whether a certificate without a URI SAN may name its holder by its subject CN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommonNames {
    /// Refused: only a URI SAN identifies (the default in both services).
    #[default]
    Refuse,
    /// Accepted as `cn:<CN>` when the certificate has no URI SAN at all.
    Accept,
}

impl CommonNames {
    /// `Accept` when `allowed`, else `Refuse` (for a boolean configuration key).
    pub fn accept_if(allowed: bool) -> Self {
        if allowed { Self::Accept } else { Self::Refuse }
    }
}

/// What a certificate says about its holder, parsed once; [`CertificateIdentity::principal`]
/// then applies a service's [`CommonNames`] rule without parsing again, so a cache of parsed
/// certificates can serve services with different rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// The URI SAN's principal, `Ok(None)` when there is none, or why it is refused.
    uri: Result<Option<Principal>, IdentityError>,
    /// The subject CN's principal, or why it is refused.
    common_name: Result<Principal, IdentityError>,
}

impl CertificateIdentity {
    /// Parses the DER of a (verified) leaf certificate.
    pub fn parse(der: &[u8]) -> Self {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return Self {
                uri: Err(IdentityError::Unparsable),
                common_name: Err(IdentityError::Unparsable),
            };
        };
        let uri = match cert.subject_alternative_name() {
            // A SAN extension that does not parse, or appears twice, is no identity.
            Err(_) => Err(IdentityError::Unparsable),
            Ok(None) => Ok(None),
            Ok(Some(san)) => {
                let mut uris = san
                    .value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::URI(uri) => Some(*uri),
                        _ => None,
                    });
                match (uris.next(), uris.next()) {
                    (None, _) => Ok(None),
                    (Some(uri), None) => Principal::from_uri_san(uri).map(Some),
                    (Some(_), Some(_)) => Err(IdentityError::SeveralUris),
                }
            }
        };
        let mut names = cert.subject().iter_common_name();
        let common_name = match (names.next(), names.next()) {
            (Some(cn), None) => cn
                .as_str()
                .map_err(|_| IdentityError::BadCommonName)
                .and_then(Principal::from_common_name),
            // None, or several CNs (which one would be the name?).
            _ => Err(IdentityError::BadCommonName),
        };
        Self { uri, common_name }
    }

    /// The holder's principal under `common_names`: the URI SAN's if there is exactly one
    /// acceptable URI SAN; with no URI SAN, `cn:<CN>` only where common names are accepted.
    pub fn principal(&self, common_names: CommonNames) -> Result<Principal, IdentityError> {
        match &self.uri {
            Ok(Some(principal)) => Ok(principal.clone()),
            Err(error) => Err(*error),
            Ok(None) => match common_names {
                CommonNames::Refuse => Err(IdentityError::NoUri),
                CommonNames::Accept => self.common_name.clone(),
            },
        }
    }
}
