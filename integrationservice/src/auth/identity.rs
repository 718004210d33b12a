//! Who a caller is: the identity read from its client certificate (first URI SAN, else
//! `cn:<common name>`) or from its bearer token (`jwt:<sub>`). The TLS layer has already
//! verified the certificate chains to the configured client CA.

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

/// An authenticated caller, as written in the tenant policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal(String);

impl Principal {
    /// The identity of a certificate holder.
    pub fn from_certificate(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let GeneralName::URI(uri) = name
                    && !uri.is_empty()
                {
                    return Some(Self((*uri).to_owned()));
                }
            }
        }
        let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
        (!cn.is_empty()).then(|| Self(format!("cn:{cn}")))
    }

    /// The identity of a bearer-token holder.
    pub fn from_token_subject(sub: &str) -> Self {
        Self(format!("jwt:{sub}"))
    }

    /// The identity as written in the policy file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
