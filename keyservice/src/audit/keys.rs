//! The key service's audit keys. The chain key is persistent so the log verifies across
//! restarts and replicas: by default it is derived from the root key (HKDF-SHA-256 with
//! [`AUDIT_KEY_LABEL`]), so it needs no secret of its own; `audit.key = "file:/path"` reads it
//! from a file instead (required with a PKCS#11 root key, which never leaves the HSM). The
//! associated-data HMAC key is a sub-key of it ([`AAD_HMAC_LABEL`]) unless `audit.hmac_key`
//! names one, so the same associated data gives the same `aad_hmac` after a restart.

use std::path::Path;

use servicekit::audit::AuditKey;
use zeroize::Zeroizing;

use crate::rootkey::RootKey;

/// HKDF `info` deriving the audit key from the root key.
pub const AUDIT_KEY_LABEL: &str = "webinar keyservice audit key v1";
/// HKDF `info` deriving the associated-data HMAC key from the audit key.
pub const AAD_HMAC_LABEL: &str = "webinar keyservice audit aad hmac v1";

/// The keys an audit log needs.
#[derive(Debug)]
pub struct AuditKeys {
    /// Keys the chain (and checkpoints).
    pub chain: AuditKey,
    /// Keys the HMAC of associated data in records.
    pub aad_hmac: Zeroizing<[u8; 32]>,
}

impl AuditKeys {
    /// The keys `audit.key` and `audit.hmac_key` describe; `root` is asked only when
    /// `audit.key` is empty.
    pub fn load(
        audit_key: &str,
        hmac_key: &str,
        root: Option<&dyn RootKey>,
    ) -> Result<Self, String> {
        let chain = chain_key(audit_key, root)?;
        let aad_hmac = if hmac_key.is_empty() {
            chain.subkey(AAD_HMAC_LABEL)
        } else {
            load_hmac_key(hmac_key)?
        };
        Ok(Self { chain, aad_hmac })
    }
}

/// The chain key alone (what `audit verify` needs).
pub(super) fn chain_key(audit_key: &str, root: Option<&dyn RootKey>) -> Result<AuditKey, String> {
    if audit_key.is_empty() {
        let root = root.ok_or("audit.key is empty and no root key is available")?;
        return root.audit_key().map_err(|e| {
            format!("audit.key is empty and the root key cannot derive it ({e}); set audit.key = \"file:/path\"")
        });
    }
    let path = audit_key
        .strip_prefix("file:")
        .ok_or("audit.key must be empty or file:/path")?;
    AuditKey::load_file(Path::new(path)).map_err(|e| e.to_string())
}

/// Loads `file:/path` or `env:VAR` holding 32 raw bytes, 64 hex characters or base64 of 32
/// bytes. A file may be readable by its group (a Kubernetes Secret mount) but not by others.
pub fn load_hmac_key(spec: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    if let Some(path) = spec.strip_prefix("file:") {
        let key =
            AuditKey::load_file(Path::new(path)).map_err(|e| format!("audit.hmac_key: {e}"))?;
        // The file's bytes are the HMAC key itself, not material to derive from.
        return Ok(key.into_bytes());
    }
    if let Some(var) = spec.strip_prefix("env:") {
        let value = Zeroizing::new(
            std::env::var(var)
                .map_err(|_| format!("audit.hmac_key: environment variable {var} is not set"))?
                .into_bytes(),
        );
        return servicekit::audit::decode_key(&value).ok_or_else(|| {
            "audit.hmac_key: expected 32 raw bytes, 64 hex characters or base64 of 32 bytes"
                .to_owned()
        });
    }
    Err("audit.hmac_key must be empty, file:/path or env:VAR".to_owned())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn hmac_key_formats_and_permissions() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("k");
        xtask::pki::write_private(&path, hex::encode([9u8; 32]).as_bytes())?;
        let spec = format!("file:{}", path.display());
        assert_eq!(
            *load_hmac_key(&spec).map_err(anyhow::Error::msg)?,
            [9u8; 32]
        );
        // A Secret mount (group-readable) is fine, readable by others is not.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440))?;
        assert!(load_hmac_key(&spec).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(load_hmac_key(&spec).is_err());
        assert!(load_hmac_key("plain").is_err());
        Ok(())
    }

    #[test]
    fn the_default_keys_come_from_the_root_key_and_are_stable() -> anyhow::Result<()> {
        use crate::rootkey::SoftwareRootKey;
        let root = SoftwareRootKey::new(Zeroizing::new([3; 32]), "test");
        let a = AuditKeys::load("", "", Some(&root)).map_err(anyhow::Error::msg)?;
        let b = AuditKeys::load("", "", Some(&root)).map_err(anyhow::Error::msg)?;
        assert_eq!(*a.aad_hmac, *b.aad_hmac);
        assert_eq!(*a.chain.subkey("x"), *b.chain.subkey("x"));
        let other = SoftwareRootKey::new(Zeroizing::new([4; 32]), "test");
        let c = AuditKeys::load("", "", Some(&other)).map_err(anyhow::Error::msg)?;
        assert_ne!(*a.aad_hmac, *c.aad_hmac);
        assert!(AuditKeys::load("", "", None).is_err());
        Ok(())
    }
}
