//! The key of the associated-data HMAC in audit records. With a stable key an investigator
//! can tell whether two records used the same associated data (and check a suspected value)
//! without the log ever holding it in clear. With no key configured a random one is made at
//! start: records stay correlatable within one process lifetime only.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use zeroize::Zeroizing;

/// Loads `file:/path`, `env:VAR` or `""` (random). The material is 32 raw bytes, or 64 hex
/// characters, or base64 of 32 bytes. A key file readable by group or others is refused.
pub fn load_hmac_key(spec: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    if spec.is_empty() {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| format!("random audit HMAC key: {e}"))?;
        return Ok(key);
    }
    let raw = if let Some(path) = spec.strip_prefix("file:") {
        let meta = std::fs::metadata(path).map_err(|e| format!("audit.hmac_key {path}: {e}"))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "audit.hmac_key {path}: readable by group or others; chmod 600 it"
            ));
        }
        Zeroizing::new(std::fs::read(path).map_err(|e| format!("audit.hmac_key {path}: {e}"))?)
    } else if let Some(var) = spec.strip_prefix("env:") {
        Zeroizing::new(
            std::env::var(var)
                .map_err(|_| format!("audit.hmac_key: environment variable {var} is not set"))?
                .into_bytes(),
        )
    } else {
        return Err("audit.hmac_key must be empty, file:/path or env:VAR".to_owned());
    };
    decode(&raw).ok_or_else(|| {
        "audit.hmac_key: expected 32 raw bytes, 64 hex characters or base64 of 32 bytes".to_owned()
    })
}

fn decode(raw: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(raw);
        return Some(key);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    let bytes = Zeroizing::new(
        hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())?,
    );
    (bytes.len() == 32).then(|| {
        key.copy_from_slice(&bytes);
        key
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_permissions() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("k");
        xtask::pki::write_private(&path, hex::encode([9u8; 32]).as_bytes())?;
        let spec = format!("file:{}", path.display());
        assert_eq!(
            *load_hmac_key(&spec).map_err(anyhow::Error::msg)?,
            [9u8; 32]
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(load_hmac_key(&spec).is_err());
        assert!(load_hmac_key("plain").is_err());
        assert_ne!(*load_hmac_key("").map_err(anyhow::Error::msg)?, [0u8; 32]);
        Ok(())
    }
}
