//! Configuration of the `pkcs11:` root key: which module, token and key, and where the PIN
//! comes from, parsed from a spec after RFC 7512's PKCS#11 URI (without percent-decoding):
//! `pkcs11:token=LABEL;object=KEY_LABEL?module-path=/path/lib.so&pin-source=file:/path/pin`
//! (or `pin-env=VAR` instead of `pin-source`).

use std::path::PathBuf;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::RootKeyError;

/// Where the user PIN comes from. Never inline in configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// First line of this file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// Which module, token and key to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 shared library.
    pub module_path: PathBuf,
    /// Label of the token (the slot is found by it; slot ids change between restarts).
    pub token_label: String,
    /// Label of the AES key object.
    pub key_label: String,
    /// Where the user PIN is.
    pub pin: PinSource,
}

impl Pkcs11Config {
    /// Parses `pkcs11:token=..;object=..?module-path=..&pin-source=file:..` (or `pin-env=`).
    pub fn parse(spec: &str) -> Result<Self, RootKeyError> {
        let bad = |what: &str| RootKeyError::InvalidSpec(format!("pkcs11: {what}"));
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("must start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin) = (None, None, None, None);
        for attr in path
            .split(';')
            .chain(query.split('&'))
            .filter(|a| !a.is_empty())
        {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| bad("attribute without ="))?;
            match name {
                "token" => token = Some(value.to_owned()),
                "object" => object = Some(value.to_owned()),
                "module-path" => module = Some(PathBuf::from(value)),
                "pin-source" => {
                    let file = value
                        .strip_prefix("file:")
                        .ok_or_else(|| bad("pin-source must be file:PATH"))?;
                    pin = Some(PinSource::File(file.into()));
                }
                "pin-env" => pin = Some(PinSource::Env(value.to_owned())),
                // A PIN in the spec would end up in config files and process listings.
                "pin-value" => {
                    return Err(bad("pin-value is not accepted; use pin-source or pin-env"));
                }
                other => return Err(bad(&format!("unknown attribute {other}"))),
            }
        }
        Ok(Self {
            module_path: module.ok_or_else(|| bad("module-path is required"))?,
            token_label: token.ok_or_else(|| bad("token is required"))?,
            key_label: object.ok_or_else(|| bad("object (key label) is required"))?,
            pin: pin.ok_or_else(|| bad("pin-source or pin-env is required"))?,
        })
    }

    pub(super) fn read_pin(&self) -> Result<AuthPin, RootKeyError> {
        let pin = match &self.pin {
            PinSource::File(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    RootKeyError::Io {
                        path: path.display().to_string(),
                        source,
                    }
                })?);
                text.lines().next().unwrap_or_default().to_owned()
            }
            PinSource::Env(var) => std::env::var(var).map_err(|_| {
                RootKeyError::InvalidSpec(format!("pkcs11: PIN variable {var} is not set"))
            })?,
        };
        Ok(AuthPin::new(pin.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec() {
        let config = Pkcs11Config::parse(
            "pkcs11:token=ks;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
        )
        .expect("parses");
        assert_eq!(config.token_label, "ks");
        assert_eq!(config.key_label, "root");
        assert_eq!(config.pin, PinSource::File("/run/pin".into()));
        let env = Pkcs11Config::parse("pkcs11:token=ks;object=root?module-path=/m.so&pin-env=PIN")
            .expect("parses");
        assert_eq!(env.pin, PinSource::Env("PIN".into()));
        assert!(
            Pkcs11Config::parse("pkcs11:token=ks;object=r?module-path=/m&pin-value=1234").is_err()
        );
        assert!(Pkcs11Config::parse("pkcs11:token=ks?module-path=/m&pin-env=P").is_err());
    }
}
