//! A development PKI made with rcgen: one CA, server certificates and client certificates
//! whose identity is a URI SAN (SPIFFE style) and a CN. Used by the local stack and by tests,
//! so no certificate is ever checked in.

use std::{fs, path::Path};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};

/// A certificate authority that can issue server and client certificates.
pub struct CertificateAuthority {
    /// The CA certificate, PEM encoded (what peers put in their trust store).
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// A leaf certificate with its private key, both PEM encoded.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate, PEM encoded.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM encoded.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate").finish_non_exhaustive()
    }
}

impl IssuedCertificate {
    /// Writes `<stem>.crt` and `<stem>.key` (mode 0600) into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<()> {
        fs::write(dir.join(format!("{stem}.crt")), &self.cert_pem)?;
        write_private(&dir.join(format!("{stem}.key")), self.key_pem.as_bytes())
    }
}

/// What a client certificate should say about its holder.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// Subject common name.
    pub common_name: String,
    /// Optional URI SAN, e.g. `spiffe://webinar.local/integrationservice`.
    pub uri: Option<String>,
    /// Issue a certificate that expired yesterday (for negative tests).
    pub expired: bool,
}

impl CertificateAuthority {
    /// Creates a new self-signed CA with the given common name.
    pub fn new(common_name: &str) -> Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues a server certificate valid for the given DNS names and IP addresses.
    pub fn server_cert(&self, names: &[&str]) -> Result<IssuedCertificate> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = name(names.first().copied().unwrap_or("server"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// Issues a client certificate for the given identity.
    pub fn client_cert(&self, identity: &ClientIdentity) -> Result<IssuedCertificate> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(&identity.common_name);
        if let Some(uri) = &identity.uri {
            params.subject_alt_names = vec![SanType::URI(uri.as_str().try_into()?)];
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if identity.expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        self.issue(params)
    }

    /// Shorthand for a client certificate with a SPIFFE-style URI SAN and CN.
    pub fn client_cert_for(&self, common_name: &str, uri: &str) -> Result<IssuedCertificate> {
        self.client_cert(&ClientIdentity {
            common_name: common_name.to_string(),
            uri: Some(uri.to_string()),
            expired: false,
        })
    }

    /// A client certificate with the given CN and exactly these URI SANs (none, or several:
    /// shapes the services must refuse, for negative tests).
    pub fn client_cert_with_uris(
        &self,
        common_name: &str,
        uris: &[&str],
    ) -> Result<IssuedCertificate> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(common_name);
        params.subject_alt_names = uris
            .iter()
            .map(|uri| Ok(SanType::URI((*uri).try_into()?)))
            .collect::<Result<_>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Result<IssuedCertificate> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes the CA certificate (not its key) to `path`.
    pub fn write_cert(&self, path: &Path) -> Result<()> {
        fs::write(path, &self.cert_pem).with_context(|| format!("writing {}", path.display()))
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Writes a file readable only by its owner (private keys, root keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}
