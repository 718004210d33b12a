//! The ON24 credentials a tenant puts, each field checked once by its constructor: the client
//! id, the access token key and secret, the region and an explicit API root. A value of one of
//! these types is valid by construction; the API names the field when one is refused, and no
//! description ever repeats a secret.

use on24_client::EgressPolicy;
use secrecy::{ExposeSecret, SecretString};

use super::Invalid;

/// An ON24 client id: digits, stored as a signed 64-bit number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct On24ClientId(i64);

impl On24ClientId {
    /// Accepts 1 to 20 digits whose value fits a signed 64-bit number (the stored column).
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if value.is_empty() {
            return Err(Invalid::new("required"));
        }
        if value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("must be 1 to 20 digits"));
        }
        value
            .parse::<i64>()
            .ok()
            .map(Self)
            .ok_or_else(|| Invalid::new("must be at most 9223372036854775807"))
    }

    /// The number, as ON24 takes it.
    pub fn get(self) -> u64 {
        self.0.unsigned_abs()
    }

    /// The number, as the store keeps it.
    pub fn stored(self) -> i64 {
        self.0
    }
}

/// An ON24 access token key or secret: 8 to 256 printable ASCII characters without spaces.
/// Held as a secret from the moment it is accepted; `Debug` prints no part of it.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    /// Checks `value` and takes it into a secret.
    pub fn parse(value: String) -> Result<Self, Invalid> {
        if value.is_empty() {
            return Err(Invalid::new("required"));
        }
        if (8..=256).contains(&value.len()) && value.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            Ok(Self(SecretString::from(value)))
        } else {
            Err(Invalid::new(
                "must be 8 to 256 printable ASCII characters without spaces",
            ))
        }
    }

    /// The secret, for sealing and for calls to ON24.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    /// The last four characters, the only part ever shown back (`key_last_four`).
    pub fn last_four(&self) -> String {
        let v = self.0.expose_secret();
        v[v.len().saturating_sub(4)..].to_owned()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

/// The ON24 region whose API root a tenant's calls go to when no base URL is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Region {
    /// North America (the default).
    #[default]
    Na,
    /// Europe.
    Eu,
}

impl Region {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Na => "NA",
            Self::Eu => "EU",
        }
    }

    /// The same region as the ON24 client names it.
    pub fn on24(self) -> on24_client::Region {
        match self {
            Self::Na => on24_client::Region::NorthAmerica,
            Self::Eu => on24_client::Region::Europe,
        }
    }

    /// The region if this deployment serves it (`on24.allowed_regions`); the description
    /// names the regions it does serve.
    pub fn check_allowed(self, egress: &EgressPolicy) -> Result<Self, Invalid> {
        if egress.allows_region(self.on24()) {
            return Ok(self);
        }
        let allowed: Vec<&str> = [Self::Na, Self::Eu]
            .into_iter()
            .filter(|r| egress.allows_region(r.on24()))
            .map(Self::as_str)
            .collect();
        Err(Invalid::new(format!(
            "this deployment serves only the ON24 regions {}",
            allowed.join(", ")
        )))
    }
}

/// An explicit ON24 API root for a tenant: one of the operator's ON24 hosts on 443, or
/// loopback when the operator allows it (a simulator), as the egress policy says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// The longest base URL accepted.
    pub const MAX_LEN: usize = 512;

    /// `None` for empty (the region's root), otherwise the URL if `egress` allows it. The
    /// description never repeats the value.
    pub fn parse(value: &str, egress: &EgressPolicy) -> Result<Option<Self>, Invalid> {
        if value.is_empty() {
            return Ok(None);
        }
        if value.len() > Self::MAX_LEN {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_LEN
            )));
        }
        egress.check_base_url(value).map_err(Invalid::new)?;
        Ok(Some(Self(value.to_owned())))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_digits_that_fit_the_stored_column() {
        assert_eq!(
            On24ClientId::parse("12345").map(On24ClientId::get),
            Ok(12345)
        );
        assert!(On24ClientId::parse("9223372036854775807").is_ok());
        assert!(On24ClientId::parse("00000000000000000042").is_ok());
        for bad in [
            "",
            "12a",
            "-1",
            " 1",
            "9223372036854775808",
            "12345678901234567890",
            "000000000000000000042",
        ] {
            assert!(On24ClientId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_token_is_8_to_256_printable_ascii_without_spaces() {
        assert!(AccessToken::parse("key-1234".into()).is_ok());
        assert!(AccessToken::parse("k".repeat(256)).is_ok());
        for bad in [
            String::new(),
            "short".into(),
            "k".repeat(257),
            "has space1".into(),
            "tab\tinside".into(),
            "naïve-key".into(),
        ] {
            let refused = AccessToken::parse(bad.clone()).expect_err("refused");
            assert!(bad.is_empty() || !refused.rule().contains(&bad));
        }
        assert_eq!(
            AccessToken::parse("key-12345678".into())
                .expect("ok")
                .last_four(),
            "5678"
        );
        assert_eq!(
            format!(
                "{:?}",
                AccessToken::parse("key-12345678".into()).expect("ok")
            ),
            "AccessToken(..)"
        );
    }

    #[test]
    fn regions_outside_the_deployment_are_refused() {
        let eu = EgressPolicy::default().with_regions([on24_client::Region::Europe]);
        assert_eq!(Region::Eu.check_allowed(&eu), Ok(Region::Eu));
        let refused = Region::Na.check_allowed(&eu).expect_err("NA refused");
        assert!(refused.rule().contains("EU"), "{}", refused.rule());
        assert_eq!(
            Region::Na.check_allowed(&EgressPolicy::default()),
            Ok(Region::Na)
        );
    }

    #[test]
    fn base_url_is_empty_or_an_allowed_host_of_at_most_512_characters() {
        let egress = EgressPolicy::new(["api.on24.com"], false);
        assert_eq!(BaseUrl::parse("", &egress), Ok(None));
        assert!(
            BaseUrl::parse("https://api.on24.com/v2", &egress)
                .expect("allowed")
                .is_some()
        );
        let long = format!("https://api.on24.com/{}", "a".repeat(BaseUrl::MAX_LEN));
        assert!(BaseUrl::parse(&long, &egress).is_err());
        for bad in ["ftp://x", "https://evil.example", "http://127.0.0.1:9"] {
            assert!(BaseUrl::parse(bad, &egress).is_err(), "{bad}");
        }
    }
}
