//! `env:VAR` root key: base64 of 32 bytes in an environment variable. Development only:
//! environment variables leak through child processes started before the key is read, the
//! orchestrator's view of the process and crash reports. The variable is erased from the
//! process (`/proc/PID/environ` included) as it is read.

use zeroize::Zeroizing;

use super::{RootKey, RootKeyError, SoftwareRootKey, decode_key_material};

/// Root key read from an environment variable at start.
#[derive(Debug)]
pub struct EnvRootKey(SoftwareRootKey);

impl EnvRootKey {
    /// Reads `var` and erases it from the process environment, logging a loud warning that
    /// this is for development only.
    pub fn open(var: &str) -> Result<Self, RootKeyError> {
        if var.is_empty() {
            return Err(RootKeyError::InvalidSpec(
                "env: needs a variable name".into(),
            ));
        }
        let value: Zeroizing<String> = servicekit::hardening::take_env_secret(var)
            .map_err(|e| RootKeyError::InvalidSpec(format!("environment variable {var}: {e}")))?
            .ok_or_else(|| {
                RootKeyError::InvalidSpec(format!("environment variable {var} is not set"))
            })?;
        let key = decode_key_material(value.as_bytes(), &format!("env:{var}"))?;
        tracing::warn!(
            variable = var,
            "ROOT KEY FROM AN ENVIRONMENT VARIABLE: DEVELOPMENT ONLY. Use file: or pkcs11: in production."
        );
        Ok(Self(SoftwareRootKey::new(key, format!("env:{var}"))))
    }
}

impl RootKey for EnvRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RootKeyError> {
        self.0.seal(aad, plaintext)
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
        self.0.unseal(aad, sealed)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn audit_key(&self) -> Result<servicekit::audit::AuditKey, RootKeyError> {
        self.0.audit_key()
    }
}
