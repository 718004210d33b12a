//! Where and how the ON24 client connects: credentials, region or explicit base URL,
//! timeouts and connection pool sizes.
//!
//! Real ON24 hosts are reached over HTTPS only. Plain `http` is accepted for loopback
//! addresses alone, so the in-process simulator can be used in tests and the local demo
//! without any way to send the access token in clear text over a network.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::error::On24Error;

/// An ON24 API credential: the numeric client id plus the access token pair.
///
/// `Debug` shows the client id only; the token key and secret never leave the
/// `SecretString`s except as request headers marked sensitive.
#[derive(Clone)]
pub struct On24Credentials {
    pub client_id: u64,
    pub access_token_key: SecretString,
    pub access_token_secret: SecretString,
}

impl On24Credentials {
    pub fn new(
        client_id: u64,
        access_token_key: impl Into<String>,
        access_token_secret: impl Into<String>,
    ) -> Self {
        Self {
            client_id,
            access_token_key: SecretString::from(access_token_key.into()),
            access_token_secret: SecretString::from(access_token_secret.into()),
        }
    }

    /// Rejects empty tokens or ones that cannot travel in an HTTP header, before any I/O.
    pub(crate) fn validate(&self) -> Result<(), On24Error> {
        for (name, value) in [
            ("access token key", &self.access_token_key),
            ("access token secret", &self.access_token_secret),
        ] {
            let v = value.expose_secret();
            if v.is_empty() || !v.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                // The value itself is never echoed.
                return Err(On24Error::Config(format!(
                    "the {name} is empty or holds characters not allowed in a header"
                )));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for On24Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("On24Credentials")
            .field("client_id", &self.client_id)
            .field("access_token_key", &"[REDACTED]")
            .field("access_token_secret", &"[REDACTED]")
            .finish()
    }
}

/// The ON24 data centre an account lives in (a per-account fact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    NorthAmerica,
    Europe,
}

impl Region {
    /// The region whose documented API host `host` (lower case) is, if any.
    pub fn of_host(host: &str) -> Option<Self> {
        [Self::NorthAmerica, Self::Europe].into_iter().find(|r| {
            Url::parse(r.base_url())
                .ok()
                .as_ref()
                .and_then(Url::host_str)
                == Some(host)
        })
    }

    /// The short code operators and the API use: `NA`, `EU`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NorthAmerica => "NA",
            Self::Europe => "EU",
        }
    }

    pub fn base_url(self) -> &'static str {
        match self {
            Self::NorthAmerica => "https://api.on24.com/v2",
            Self::Europe => "https://api.eu.on24.com/v2",
        }
    }
}

/// A validated API root such as `https://api.on24.com/v2`; operation paths
/// (`/client/{clientId}/...`) are appended to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    pub fn for_region(region: Region) -> Self {
        Self::parse(region.base_url()).unwrap_or_else(|_| unreachable!("region URLs are valid"))
    }

    /// Accepts `https://` anywhere and `http://` only for loopback hosts
    /// (`127.0.0.0/8`, `::1`, `localhost`). No credentials, query or fragment.
    pub fn parse(raw: &str) -> Result<Self, On24Error> {
        let url = Url::parse(raw.trim_end_matches('/'))
            .map_err(|e| On24Error::Config(format!("invalid ON24 base URL: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| On24Error::Config("ON24 base URL has no host".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(On24Error::Config(
                    "plain http is only allowed for a loopback ON24 simulator; use https".into(),
                ));
            }
            other => {
                return Err(On24Error::Config(format!(
                    "unsupported ON24 base URL scheme {other:?}"
                )));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(On24Error::Config(
                "ON24 base URL must not carry credentials".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(On24Error::Config(
                "ON24 base URL must not have a query or fragment".into(),
            ));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// Whether the host is a loopback name or address.
    pub fn is_loopback(&self) -> bool {
        self.0.host_str().is_some_and(is_loopback)
    }

    pub(crate) fn url(&self) -> &Url {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Connection settings for one client (one per tenant credential, or shared by many:
/// the connection pool is per `On24Client`).
#[derive(Debug, Clone)]
pub struct On24ClientConfig {
    pub base_url: BaseUrl,
    /// Time allowed to open a TCP (+TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole call, from sending to the last byte of the body.
    pub request_timeout: Duration,
    /// Idle pooled connections are closed after this long.
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
    /// Page size for paginated reads (ON24 accepts up to 100 on most list operations).
    pub page_size: u32,
    /// PEM certificates trusted in addition to the platform's roots (e.g. the CA of a
    /// TLS-inspecting egress proxy, or a test CA). `None`: platform roots only.
    pub extra_root_certs_pem: Option<String>,
    /// Where the client may connect (hosts, and the addresses names resolve to).
    pub egress: crate::egress::EgressPolicy,
}

impl On24ClientConfig {
    pub fn for_region(region: Region) -> Self {
        Self::with_base_url(BaseUrl::for_region(region))
    }

    pub fn with_base_url(base_url: BaseUrl) -> Self {
        let loopback = base_url.is_loopback();
        Self {
            base_url,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 16,
            page_size: 100,
            extra_root_certs_pem: None,
            // Code that names a loopback root itself (tests, tools) may reach it; the service
            // always sets the operator's policy instead.
            egress: crate::egress::EgressPolicy::new(crate::egress::DEFAULT_ON24_HOSTS, loopback),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_loopback_only_plain_http() {
        assert_eq!(
            BaseUrl::for_region(Region::NorthAmerica).as_str(),
            "https://api.on24.com/v2"
        );
        assert_eq!(
            BaseUrl::for_region(Region::Europe).as_str(),
            "https://api.eu.on24.com/v2"
        );
        for ok in [
            "http://127.0.0.1:9080/v2",
            "http://[::1]:9080/v2/",
            "http://localhost:1/wcc/api/v2",
            "https://api.on24.com/v2",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.on24.com/v2",
            "http://10.0.0.1/v2",
            "http://127.0.0.1.evil.example/v2",
            "ftp://127.0.0.1/v2",
            "https://user:pw@api.on24.com/v2",
            "https://api.on24.com/v2?x=1",
            "not a url",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:9/v2/")
                .map(|b| b.as_str().to_owned())
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:9/v2")
        );
    }

    #[test]
    fn credentials_debug_hides_tokens() {
        let c = On24Credentials::new(42, "key-AAAA", "secret-BBBB");
        let dbg = format!("{c:?}");
        assert!(dbg.contains("42"));
        assert!(!dbg.contains("key-AAAA") && !dbg.contains("secret-BBBB"));
        assert!(c.validate().is_ok());
        assert!(On24Credentials::new(1, "", "s").validate().is_err());
        match On24Credentials::new(1, "k", "bad secret\n").validate() {
            Err(err) => assert!(!err.to_string().contains("bad secret")),
            Ok(()) => panic!("a secret with a space and newline must be refused"),
        }
    }
}
