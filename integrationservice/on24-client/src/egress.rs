//! Where the client may connect. A tenant names its ON24 API root, so the name is checked
//! twice: the URL against the operator's list of ON24 hosts (https on port 443, no IP
//! literal), and every address a name resolves to against the ranges no ON24 host lives in
//! (private, loopback, link-local, carrier-grade NAT, unique-local, multicast, reserved).
//! Without both, a tenant could make the service call its own network (a metadata endpoint,
//! a cluster-internal service) and read parts of the answers.
//!
//! A deployment may also be held to some of ON24's regions (data residency): a host ON24
//! documents for a region outside them is refused like an unknown host, wherever it is named
//! (a tenant's base URL or a region's default root).
//!
//! Loopback is let through only under the operator's development flag, for the ON24
//! simulator on 127.0.0.1 (tests, the local stack, the chart's simulator mode); then any
//! scheme and port are accepted for loopback hosts, and nothing else changes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::{BaseUrl, Region};

/// The ON24 API hosts allowed when the operator names none.
pub const DEFAULT_ON24_HOSTS: &[&str] = &["api.on24.com", "api.eu.on24.com"];

/// The operator's egress rule for ON24 calls. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    hosts: Arc<[String]>,
    allow_loopback: bool,
    /// `None`: every region.
    regions: Option<Arc<[Region]>>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_ON24_HOSTS.iter().copied(), false)
    }
}

impl EgressPolicy {
    /// ON24 hosts (exact names, case-insensitive) and whether loopback is allowed
    /// (development only).
    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>, allow_loopback: bool) -> Self {
        Self {
            hosts: hosts
                .into_iter()
                .map(|h| normalise(h.as_ref()))
                .filter(|h| !h.is_empty())
                .collect(),
            allow_loopback,
            regions: None,
        }
    }

    /// The same rule held to these ON24 regions: their documented hosts stay allowed (when
    /// listed), the other regions' hosts are refused.
    pub fn with_regions(mut self, regions: impl IntoIterator<Item = Region>) -> Self {
        self.regions = Some(regions.into_iter().collect());
        self
    }

    /// Whether tenants of this deployment may use `region`.
    pub fn allows_region(&self, region: Region) -> bool {
        self.regions.as_ref().is_none_or(|r| r.contains(&region))
    }

    /// The host named by an operator's allowlist entry: a bare host (`api.eu.on24.com`) or
    /// an API root (`https://api.eu.on24.com/v2`, https on port 443 only).
    pub fn host_of_entry(entry: &str) -> Result<String, String> {
        if !entry.contains("://") {
            return Ok(normalise(entry));
        }
        let url = Url::parse(entry).map_err(|_| "is not a URL".to_string())?;
        if url.scheme() != "https" {
            return Err("must be an https URL".into());
        }
        if url.port_or_known_default() != Some(443) {
            return Err("must use port 443".into());
        }
        url.host_str()
            .map(normalise)
            .ok_or_else(|| "must name a host".into())
    }

    /// Whether the development flag lets loopback through.
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// The allowed ON24 hosts, lower case.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Checks a tenant's base URL before anything is stored or called. The reason names
    /// the rule, never the value.
    pub fn check_base_url(&self, raw: &str) -> Result<BaseUrl, String> {
        let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_string())?;
        self.check_url(&url)?;
        BaseUrl::parse(raw)
            .map_err(|_| "must be a plain URL (no credentials, query or fragment)".to_string())
    }

    /// The host rule on a parsed URL (shared by validation and the client).
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), String> {
        let host = url.host_str().ok_or("must name a host")?;
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let loopback = match ip {
            Some(ip) => ip.is_loopback(),
            None => normalise(host) == "localhost",
        };
        if loopback && self.allow_loopback {
            return Ok(());
        }
        if ip.is_some() {
            return Err("must name an allowed ON24 host, not an IP address".into());
        }
        if !self.hosts.iter().any(|h| *h == normalise(host)) {
            return Err(format!(
                "must name an allowed ON24 host ({})",
                self.hosts.join(", ")
            ));
        }
        if let Some(region) = Region::of_host(&normalise(host))
            && !self.allows_region(region)
        {
            return Err(format!(
                "must name an ON24 host of this deployment's regions ({})",
                self.region_names()
            ));
        }
        if url.scheme() != "https" {
            return Err("must be an https URL".into());
        }
        if url.port_or_known_default() != Some(443) {
            return Err("must use port 443".into());
        }
        Ok(())
    }

    fn region_names(&self) -> String {
        self.regions
            .as_ref()
            .map(|r| r.iter().map(|r| r.code()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    }

    /// Whether a connection to `ip` is allowed: a public unicast address, or loopback under
    /// the development flag.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => is_public_v4(v4),
            IpAddr::V6(v6) => is_public_v6(v6),
        }
    }

    /// A DNS resolver for reqwest that drops every address this policy refuses, and fails
    /// when none is left.
    pub(crate) fn resolver(&self) -> CheckedResolver {
        CheckedResolver {
            policy: self.clone(),
        }
    }
}

fn normalise(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10, carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // 192.0.0.0/24, protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18.0.0/15, benchmarking
        || a >= 240) // 240.0.0.0/4, reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // fc00::/7, unique local
        || (first & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (first & 0xffc0) == 0xfec0 // fec0::/10, site-local (deprecated)
        || first == 0x0064 && ip.segments()[1] == 0xff9b // 64:ff9b::/96 and /48, NAT64
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // 2001:db8::/32, documentation
        || ip.segments()[..6] == [0; 6]) // ::/96 (deprecated IPv4-compatible)
}

/// reqwest's resolver under an [`EgressPolicy`]: the system resolver, then the address check.
/// IP-literal URLs never reach a resolver; the client checks those when it is built.
#[derive(Debug, Clone)]
pub(crate) struct CheckedResolver {
    policy: EgressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows_address(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the ON24 host resolves to no permitted address".into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> EgressPolicy {
        EgressPolicy::default()
    }

    #[test]
    fn only_the_configured_hosts_on_443() {
        let p = strict();
        for ok in [
            "https://api.on24.com/v2",
            "https://API.eu.on24.com/v2",
            "https://api.on24.com:443/v2",
            "https://api.on24.com./v2",
        ] {
            assert!(p.check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://169.254.169.254/v2",
            "https://10.0.0.1/v2",
            "https://[::1]/v2",
            "https://[fd00::1]/v2",
            "https://keyservice.default.svc/v2",
            "https://api.on24.com:8443/v2",
            "http://api.on24.com/v2",
            "https://example.com/v2",
            "https://api.on24.com.evil.example/v2",
            "https://127.0.0.1:9080/v2",
            "http://localhost:9080/v2",
            "https://user:pw@api.on24.com/v2",
            "not a url",
        ] {
            assert!(p.check_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_development_flag_adds_loopback_only() {
        let p = EgressPolicy::new(DEFAULT_ON24_HOSTS, true);
        for ok in [
            "http://127.0.0.1:9080/v2",
            "https://127.0.0.1:8443/v2",
            "http://localhost:9080/v2",
            "http://[::1]:9080/v2",
        ] {
            assert!(p.check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in ["https://10.0.0.1/v2", "http://api.on24.com/v2"] {
            assert!(p.check_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_region_list_refuses_the_other_regions_hosts() {
        let eu = EgressPolicy::default().with_regions([Region::Europe]);
        assert!(eu.allows_region(Region::Europe));
        assert!(!eu.allows_region(Region::NorthAmerica));
        assert!(eu.check_base_url("https://api.eu.on24.com/v2").is_ok());
        let refused = eu
            .check_base_url("https://api.on24.com/v2")
            .expect_err("NA host refused");
        assert!(refused.contains("EU"), "{refused}");
        assert!(eu.check_base_url("https://unknown.example.com/v2").is_err());
        assert!(EgressPolicy::default().allows_region(Region::NorthAmerica));
    }

    #[test]
    fn allowlist_entries_are_hosts_or_https_roots() {
        assert_eq!(
            EgressPolicy::host_of_entry("https://API.eu.on24.com/v2").as_deref(),
            Ok("api.eu.on24.com")
        );
        assert_eq!(
            EgressPolicy::host_of_entry("api.on24.com.").as_deref(),
            Ok("api.on24.com")
        );
        for bad in [
            "http://api.on24.com",
            "https://api.on24.com:8443/v2",
            "https://",
        ] {
            assert!(EgressPolicy::host_of_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_outside_the_public_internet_are_refused() {
        let p = strict();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!p.allows_address(bad.parse().expect("ip")), "{bad}");
        }
        for ok in ["52.1.2.3", "100.128.0.1", "2600:1f18::1"] {
            assert!(p.allows_address(ok.parse().expect("ip")), "{ok}");
        }
        let dev = EgressPolicy::new(DEFAULT_ON24_HOSTS, true);
        assert!(dev.allows_address("127.0.0.1".parse().expect("ip")));
        assert!(dev.allows_address("::1".parse().expect("ip")));
        assert!(!dev.allows_address("10.0.0.1".parse().expect("ip")));
    }
}
