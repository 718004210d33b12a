//! The service's one typed configuration: commented defaults embedded in the binary, then the
//! file given by `--config`, then `INTEGRATIONSERVICE_*` environment variables (`__` nests).
//! `Config::validate` runs at start and names the bad key. Every key is documented in
//! `docs/integrationservice-config.md`.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::Deserialize;

/// The longest a cached data key may be reused: a key version disabled at the key service
/// stops decrypting here within `dek_cache.max_age_seconds`, which this bounds.
pub const MAX_DEK_AGE_SECONDS: u64 = 300;

/// The embedded defaults, also the reference for operators.
pub const DEFAULTS: &str = r#"
[listen]
# TLS gRPC for the CRM (mTLS client certificate or JWT bearer token).
grpc = "0.0.0.0:8443"
# Plaintext gRPC health (grpc.health.v1 only), for probes.
health = "0.0.0.0:8080"

[tls]
# Server certificate chain and private key (PEM). Required.
cert_file = ""
key_file = ""
# CA that signs CRM client certificates. Empty: mTLS callers are not accepted (JWT only).
client_ca_file = ""
# Oldest TLS version accepted: "1.3", or "1.2" for CRMs that cannot speak 1.3 yet (logged as a
# warning at start).
min_version = "1.3"

[jwt]
# Bearer tokens are accepted only when issuer, audience and one JWKS source are set.
jwks_file = ""
jwks_url = ""
issuer = ""
audience = ""
# Clock skew tolerated on exp/nbf, seconds.
leeway_seconds = 30
# How often a JWKS URL is fetched again, seconds.
jwks_refresh_seconds = 300

[auth]
# TOML file mapping principals to the tenants they may act for. Required (deny by default).
policy_file = ""
# Allow `tenants = ["*"]` entries in the policy (admin-like principals).
allow_wildcard = false
# Accept a client certificate without a URI SAN as the principal `cn:<subject CN>`. Off: a
# certificate names its holder by exactly one URI SAN or is refused.
allow_common_name = false

[api]
# File holding at least 32 bytes used to sign page tokens and cursors; shared by all replicas.
# Empty: a random key per process (tokens do not survive a restart or cross replicas).
page_token_key_file = ""

[limits]
# Requests per second each tenant may make on the CRM API, over every caller acting for it,
# with bursts up to tenant_burst; 0 turns the limit off. Over it: RESOURCE_EXHAUSTED with
# google.rpc.RetryInfo.
# The default leaves a tenant about a fifth of what one replica serves on 2 cores.
tenant_requests_per_second = 1000
tenant_burst = 2000
# The same per authenticated caller (certificate or token subject), over every tenant it acts for.
# A CRM back end is often one caller acting for every tenant, so this sits at a replica's capacity:
# it stops a leaked certificate from taking more than the whole, not a CRM from working.
principal_requests_per_second = 5000
principal_burst = 10000
# WatchChanges streams one tenant may have open on this replica; the next is refused with
# RESOURCE_EXHAUSTED. 0: no cap.
max_watches_per_tenant = 20
# Credential puts (each generates a data key at the key service) per tenant per minute, with
# bursts up to credential_put_burst; 0 turns the limit off.
credential_puts_per_minute = 10
credential_put_burst = 5
# The longest a call may wait for its answer, whatever deadline the caller sent (a shorter
# caller deadline applies as it is). Past it: DEADLINE_EXCEEDED.
request_timeout_ms = 60000

[hardening]
# No core dumps (always) and, when true, memory locked as it is touched (mlockall, best
# effort: needs CAP_IPC_LOCK or a large RLIMIT_MEMLOCK), so ON24 secrets and data keys are
# never swapped or dumped.
lock_memory = true

[database]
# postgres://... or a SQLite path (optionally prefixed sqlite://).
url = "integrationservice.sqlite"
max_connections = 16
# Apply embedded migrations at start (`integrationservice migrate` does it on demand).
migrate_on_start = true
# BENCHMARK ONLY, never in a deployment: store personal columns in clear, so that
# benches/service.rs can compare the hot paths with encryption at rest on and off in one run.
# A service started with it cannot read what an encrypting one wrote, and the reverse.
benchmark_plaintext_personal_data = false

[keyservice]
endpoint = "https://127.0.0.1:7443"
# Name expected in the key service certificate; empty: the endpoint's host.
server_name = ""
ca_file = ""
cert_file = ""
key_file = ""
# The KEK that wraps the data keys of ON24 credentials.
key_id = "on24-credentials"
timeout_ms = 5000

[dek_cache]
max_entries = 1024
# How long an unwrapped data key is reused without asking the key service: also the bound on
# how long a key version disabled at the key service still decrypts here. At most 300.
max_age_seconds = 30

[workers]
enabled = true
concurrency = 16
per_tenant_concurrency = 4
backoff_base_ms = 1000
backoff_max_ms = 600000
lease_seconds = 60
poll_interval_ms = 500

[metrics_poll]
enabled = true
# ON24's published freshness: live attendance 30 min to 2 h after the end, on-demand viewing
# 4 to 12 h. Pulls happen at live_first, live_last, then every archive_interval until
# archive_window after the end; SyncWebinarMetrics pulls at any time.
live_first_delay_seconds = 1800
live_last_delay_seconds = 7200
archive_interval_seconds = 14400
archive_window_seconds = 43200
# Recordings stay viewable for months: after the pulls above, pulls go on until
# long_tail_days after the end (0: none), a day apart at first, each gap double the last, at
# most long_tail_max_interval_days. Each reads only the attendees active since the last read.
long_tail_days = 90
long_tail_max_interval_days = 7
tick_seconds = 60

[retention]
# The purge runs with the workers (`workers.enabled`), on one replica at a time, every
# interval_seconds; 0 turns it off. Each delete statement takes at most batch_size rows.
interval_seconds = 3600
batch_size = 500
# Defaults in days, 0 keeps for ever; a tenant may override the first four
# (UpdateRetentionPolicy). Registrations and attendee metrics, after the webinar's end:
registration_days = 365
# Cancelled registrations, after the cancellation:
cancelled_registration_days = 30
# Unlinked webinars with what they still hold, after the unlinking:
unlinked_webinar_days = 90
# Failed outbox jobs, after the failure:
failed_job_days = 30
# Change-feed entries, after they were written: the feed's promise to every tenant. A cursor
# older than this gets FAILED_PRECONDITION `CURSOR_EXPIRED`.
change_feed_days = 30

[on24]
request_timeout_ms = 30000
# The ON24 API hosts a tenant's base_url may name (https, port 443, no IP literal); the
# addresses they resolve to must be public.
allowed_hosts = ["api.on24.com", "api.eu.on24.com"]
# More of the same, written as API roots ("https://api.eu.on24.com/v2"): their hosts join
# allowed_hosts. Set allowed_hosts = [] to allow only these.
allowed_base_urls = []
# The ON24 regions tenants of this deployment may use ("NA", "EU"): credentials naming another
# region, or a base URL on another region's host, are refused. One deployment per region keeps
# each region's personal data in it.
allowed_regions = ["NA", "EU"]
# Development only: also allow loopback hosts and addresses (any scheme and port), for the
# ON24 simulator on 127.0.0.1. Never in production. (`allow_http`, its earlier name, is still
# read: either one set to true allows loopback.)
allow_loopback = false

[audit]
# The access audit: one record per call that reads or changes personal data (principal,
# tenant, method, resource name, item count, request id; never a personal value), chained by
# an HMAC and written before the caller is answered. A record that cannot be written fails
# the call with UNAVAILABLE. "stdout" (service logs then go to stderr) or "file:/path".
sink = "stdout"
# always | interval | never (file sink only).
fsync = "interval"
fsync_interval_ms = 1000
# The chain's HMAC key: "file:/path" (32 bytes raw, 64 hex or base64; mode 0600, or 0440 as a
# mounted Kubernetes Secret) or "env:VAR". Empty: a random key per process (logged as a
# warning): records are still chained and fail closed, but nobody can verify them later.
# Set it in production, the same for every replica.
key = ""
# Instance named in chain start records; empty: $HOSTNAME, else "integrationservice".
instance = ""
# Sign the chain head at least every N records or seconds (kept in <file>.checkpoint and the
# service log).
checkpoint_records = 1000
checkpoint_interval_secs = 10
"#;

/// Listening addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// TLS gRPC address.
    pub grpc: SocketAddr,
    /// Plaintext health address.
    pub health: SocketAddr,
}

/// Process hardening (`servicekit::hardening`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardeningConfig {
    /// Lock memory (`mlockall`, best effort); core dumps are refused either way.
    pub lock_memory: bool,
}

/// Server TLS material.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Private key (PEM).
    pub key_file: PathBuf,
    /// CA for client certificates; empty disables mTLS callers.
    pub client_ca_file: PathBuf,
    /// Oldest TLS version accepted.
    pub min_version: TlsVersion,
}

/// A TLS protocol version the CRM port may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2 (and 1.3).
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    V1_3,
}

/// Bearer-token validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// JWKS file.
    pub jwks_file: PathBuf,
    /// JWKS URL.
    pub jwks_url: String,
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Tolerated clock skew.
    pub leeway_seconds: u64,
    /// Refresh period of `jwks_url`.
    pub jwks_refresh_seconds: u64,
}

impl JwtConfig {
    /// True when bearer tokens are accepted at all.
    pub fn enabled(&self) -> bool {
        !self.issuer.is_empty()
            && !self.audience.is_empty()
            && (!self.jwks_file.as_os_str().is_empty() || !self.jwks_url.is_empty())
    }
}

/// Authorization policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Principal to tenants policy file.
    pub policy_file: PathBuf,
    /// Whether `*` is allowed in the policy.
    pub allow_wildcard: bool,
    /// Whether a certificate without a URI SAN names its holder as `cn:<CN>`.
    pub allow_common_name: bool,
}

/// API edge settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Page-token signing key file.
    pub page_token_key_file: PathBuf,
}

/// Per-tenant and per-caller request rate limits on the CRM API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained requests per second per tenant; 0 = off.
    pub tenant_requests_per_second: u32,
    /// Burst per tenant (0: the rate).
    pub tenant_burst: u32,
    /// Sustained requests per second per authenticated caller; 0 = off.
    pub principal_requests_per_second: u32,
    /// Burst per caller (0: the rate).
    pub principal_burst: u32,
    /// Open `WatchChanges` streams per tenant and replica; 0 = no cap.
    pub max_watches_per_tenant: usize,
    /// Credential puts (data keys generated) per tenant per minute; 0 = off.
    pub credential_puts_per_minute: u32,
    /// Burst of credential puts per tenant (0: the rate).
    pub credential_put_burst: u32,
    /// The longest a call waits for its answer, in milliseconds (at least 1).
    pub request_timeout_ms: u64,
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// PostgreSQL URL or SQLite path.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Run migrations at start.
    pub migrate_on_start: bool,
    /// Benchmark only: personal columns in clear (see `DEFAULTS`).
    pub benchmark_plaintext_personal_data: bool,
}

/// Key service client settings (mTLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyServiceConfig {
    /// `https://host:port`.
    pub endpoint: String,
    /// Expected certificate name; empty means the endpoint's host.
    pub server_name: String,
    /// CA of the key service certificate.
    pub ca_file: PathBuf,
    /// Our client certificate.
    pub cert_file: PathBuf,
    /// Our client key.
    pub key_file: PathBuf,
    /// KEK id.
    pub key_id: String,
    /// Per-call deadline.
    pub timeout_ms: u64,
}

/// Cache of unwrapped data keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DekCacheConfig {
    /// Bound on cached keys.
    pub max_entries: u64,
    /// Lifetime of a cached key.
    pub max_age_seconds: u64,
}

/// Outbox delivery workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    /// Run workers in this process.
    pub enabled: bool,
    /// Deliveries in flight per process.
    pub concurrency: usize,
    /// Deliveries in flight per tenant.
    pub per_tenant_concurrency: usize,
    /// First retry delay.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// Claim lease.
    pub lease_seconds: u64,
    /// Idle poll period.
    pub poll_interval_ms: u64,
}

/// Metrics poll schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsPollConfig {
    /// Run the poller in this process.
    pub enabled: bool,
    /// First live-attendance pull after the end.
    pub live_first_delay_seconds: u64,
    /// Last live-attendance pull after the end.
    pub live_last_delay_seconds: u64,
    /// On-demand pull period.
    pub archive_interval_seconds: u64,
    /// How long after the end on-demand pulls continue.
    pub archive_window_seconds: u64,
    /// How long after the end long-tail pulls continue (0: none).
    pub long_tail_days: u32,
    /// Longest gap between two long-tail pulls.
    pub long_tail_max_interval_days: u32,
    /// Scheduler tick.
    pub tick_seconds: u64,
}

/// Retention defaults and the purge (`domain::retention`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Purge period; 0 = off.
    pub interval_seconds: u64,
    /// Rows per delete statement.
    pub batch_size: u32,
    /// Registrations and metrics, days after the webinar's end.
    pub registration_days: u32,
    /// Cancelled registrations, days after the cancellation.
    pub cancelled_registration_days: u32,
    /// Unlinked webinars, days after the unlinking.
    pub unlinked_webinar_days: u32,
    /// Failed jobs, days after the failure.
    pub failed_job_days: u32,
    /// Change-feed entries, days after they were written.
    pub change_feed_days: u32,
}

impl RetentionConfig {
    /// The engine's retention settings.
    pub fn defaults(&self) -> crate::domain::retention::RetentionDefaults {
        crate::domain::retention::RetentionDefaults {
            periods: crate::domain::retention::Periods {
                registration_days: self.registration_days,
                cancelled_registration_days: self.cancelled_registration_days,
                unlinked_webinar_days: self.unlinked_webinar_days,
                failed_job_days: self.failed_job_days,
            },
            change_feed_days: self.change_feed_days,
            batch_size: self.batch_size,
        }
    }
}

/// ON24 HTTP client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct On24Config {
    /// Whole-request timeout.
    pub request_timeout_ms: u64,
    /// ON24 hosts tenants may name.
    pub allowed_hosts: Vec<String>,
    /// ON24 API roots whose hosts tenants may name too.
    pub allowed_base_urls: Vec<String>,
    /// ON24 regions tenants may use.
    pub allowed_regions: Vec<crate::domain::Region>,
    /// Development only: loopback hosts and addresses allowed (the simulator).
    pub allow_loopback: bool,
    /// The earlier name of `allow_loopback`, still read. A separate key rather than a serde
    /// alias: the built-in defaults set `allow_loopback`, and an alias would then see the
    /// field twice in a file that uses the earlier name.
    #[serde(default)]
    pub allow_http: Option<bool>,
}

impl On24Config {
    /// Whether loopback targets are allowed, under either name of the setting.
    pub fn loopback_allowed(&self) -> bool {
        self.allow_loopback || self.allow_http == Some(true)
    }

    /// The egress rule for ON24 calls this configuration sets.
    pub fn egress(&self) -> on24_client::EgressPolicy {
        // `validate` has refused entries that name no host.
        let hosts = self
            .allowed_hosts
            .iter()
            .chain(&self.allowed_base_urls)
            .filter_map(|entry| on24_client::EgressPolicy::host_of_entry(entry).ok());
        on24_client::EgressPolicy::new(hosts, self.loopback_allowed())
            .with_regions(self.allowed_regions.iter().map(|r| r.on24()))
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening addresses.
    pub listen: ListenConfig,
    /// Server TLS.
    pub tls: TlsConfig,
    /// Bearer tokens.
    pub jwt: JwtConfig,
    /// Authorization.
    pub auth: AuthConfig,
    /// API edge.
    pub api: ApiConfig,
    /// Request rate limits.
    pub limits: LimitsConfig,
    /// Process hardening.
    pub hardening: HardeningConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Key service client.
    pub keyservice: KeyServiceConfig,
    /// DEK cache.
    pub dek_cache: DekCacheConfig,
    /// Delivery workers.
    pub workers: WorkersConfig,
    /// Metrics poller.
    pub metrics_poll: MetricsPollConfig,
    /// Retention and the purge.
    pub retention: RetentionConfig,
    /// ON24 client.
    pub on24: On24Config,
    /// Access audit.
    pub audit: AuditConfig,
}

/// `[audit]`: the access audit's sink and key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// `stdout` or `file:/path`.
    pub sink: String,
    /// `always`, `interval` or `never`.
    pub fsync: String,
    /// Interval of the `interval` policy.
    pub fsync_interval_ms: u64,
    /// The chain key: `file:/path`, `env:VAR`, or empty (random per process).
    pub key: String,
    /// Instance name in chain start records.
    pub instance: String,
    /// Records between signed checkpoints.
    pub checkpoint_records: u64,
    /// Seconds between signed checkpoints.
    pub checkpoint_interval_secs: u64,
}

impl AuditConfig {
    /// The sink described by `audit.sink` and `audit.fsync*`.
    pub fn sink_config(&self) -> Result<servicekit::audit::SinkConfig, ConfigError> {
        use servicekit::audit::{FsyncPolicy, SinkConfig};
        let fsync = match self.fsync.as_str() {
            "always" => FsyncPolicy::Always,
            "never" => FsyncPolicy::Never,
            "interval" => {
                FsyncPolicy::Interval(std::time::Duration::from_millis(self.fsync_interval_ms))
            }
            _ => {
                return Err(ConfigError(
                    "`audit.fsync` must be always, interval or never".into(),
                ));
            }
        };
        match self.sink.as_str() {
            "stdout" => Ok(SinkConfig::Stdout),
            sink => match sink.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(SinkConfig::File {
                    path: PathBuf::from(path),
                    fsync,
                }),
                _ => Err(ConfigError(
                    "`audit.sink` must be stdout or file:/path".into(),
                )),
            },
        }
    }

    /// When the chain signs checkpoints.
    pub fn checkpoints(&self) -> servicekit::audit::CheckpointPolicy {
        servicekit::audit::CheckpointPolicy {
            every_records: self.checkpoint_records.max(1),
            every: std::time::Duration::from_secs(self.checkpoint_interval_secs.max(1)),
        }
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then `file` (if any), then `INTEGRATIONSERVICE_*` variables; validated.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Self = figment
            // `INTEGRATIONSERVICE_CONFIG` names the file (a CLI flag), not a key.
            .merge(
                Env::prefixed("INTEGRATIONSERVICE_")
                    .ignore(&["config"])
                    .split("__"),
            )
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults only, for tests that fill in the rest.
    pub fn defaults() -> Result<Self, ConfigError> {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// Checks what serde cannot: required files, coherent pairs, non-zero limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let missing = |key: &str| ConfigError(format!("`{key}` is required"));
        self.audit.sink_config()?;
        if !(self.audit.key.is_empty()
            || self.audit.key.starts_with("file:")
            || self.audit.key.starts_with("env:"))
        {
            return Err(ConfigError(
                "`audit.key` must be empty, file:/path or env:VAR".into(),
            ));
        }
        if self.tls.cert_file.as_os_str().is_empty() {
            return Err(missing("tls.cert_file"));
        }
        if self.tls.key_file.as_os_str().is_empty() {
            return Err(missing("tls.key_file"));
        }
        if self.auth.policy_file.as_os_str().is_empty() {
            return Err(missing("auth.policy_file"));
        }
        if self.database.url.is_empty() {
            return Err(missing("database.url"));
        }
        if self.limits.request_timeout_ms == 0 {
            return Err(ConfigError(
                "`limits.request_timeout_ms` must be at least 1".into(),
            ));
        }
        let jwt = &self.jwt;
        let any_jwt = !jwt.issuer.is_empty()
            || !jwt.audience.is_empty()
            || !jwt.jwks_url.is_empty()
            || !jwt.jwks_file.as_os_str().is_empty();
        if any_jwt && !jwt.enabled() {
            return Err(ConfigError(
                "`jwt.issuer`, `jwt.audience` and one of `jwt.jwks_file`/`jwt.jwks_url` must be set together"
                    .into(),
            ));
        }
        if !jwt.jwks_file.as_os_str().is_empty() && !jwt.jwks_url.is_empty() {
            return Err(ConfigError(
                "set only one of `jwt.jwks_file` and `jwt.jwks_url`".into(),
            ));
        }
        if self.tls.client_ca_file.as_os_str().is_empty() && !jwt.enabled() {
            return Err(ConfigError(
                "no way to authenticate callers: set `tls.client_ca_file` or the `jwt.*` keys"
                    .into(),
            ));
        }
        for (key, value) in [
            (
                "database.max_connections",
                u64::from(self.database.max_connections),
            ),
            ("dek_cache.max_entries", self.dek_cache.max_entries),
            ("workers.concurrency", self.workers.concurrency as u64),
            (
                "workers.per_tenant_concurrency",
                self.workers.per_tenant_concurrency as u64,
            ),
            ("workers.lease_seconds", self.workers.lease_seconds),
            ("keyservice.timeout_ms", self.keyservice.timeout_ms),
            ("retention.batch_size", u64::from(self.retention.batch_size)),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("`{key}` must be greater than 0")));
            }
        }
        if self.dek_cache.max_age_seconds > MAX_DEK_AGE_SECONDS {
            return Err(ConfigError(format!(
                "`dek_cache.max_age_seconds` must be at most {MAX_DEK_AGE_SECONDS}"
            )));
        }
        if self.workers.backoff_base_ms > self.workers.backoff_max_ms {
            return Err(ConfigError(
                "`workers.backoff_base_ms` must not exceed `workers.backoff_max_ms`".into(),
            ));
        }
        if self.keyservice.key_id.is_empty() {
            return Err(missing("keyservice.key_id"));
        }
        for (key, path) in [
            ("keyservice.ca_file", &self.keyservice.ca_file),
            ("keyservice.cert_file", &self.keyservice.cert_file),
            ("keyservice.key_file", &self.keyservice.key_file),
        ] {
            if path.as_os_str().is_empty() {
                return Err(missing(key));
            }
        }
        let r = &self.retention;
        for (key, days) in [
            ("retention.registration_days", r.registration_days),
            (
                "retention.cancelled_registration_days",
                r.cancelled_registration_days,
            ),
            ("retention.unlinked_webinar_days", r.unlinked_webinar_days),
            ("retention.failed_job_days", r.failed_job_days),
            ("retention.change_feed_days", r.change_feed_days),
        ] {
            if days > crate::domain::retention::MAX_DAYS {
                return Err(ConfigError(format!(
                    "`{key}` must be at most {}",
                    crate::domain::retention::MAX_DAYS
                )));
            }
        }
        for entry in &self.on24.allowed_base_urls {
            if !entry.contains("://") {
                return Err(ConfigError(format!(
                    "`on24.allowed_base_urls` entry {entry:?} must be an https URL (bare hosts go in `on24.allowed_hosts`)"
                )));
            }
            if let Err(rule) = on24_client::EgressPolicy::host_of_entry(entry) {
                return Err(ConfigError(format!(
                    "`on24.allowed_base_urls` entry {entry:?} {rule}"
                )));
            }
        }
        if self.on24.allowed_regions.is_empty() {
            return Err(ConfigError(
                "`on24.allowed_regions` must name at least one region".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_name_missing_keys() {
        let config = Config::defaults().expect("defaults parse");
        assert_eq!(config.listen.grpc.port(), 8443);
        assert_eq!(config.listen.health.port(), 8080);
        assert_eq!(config.keyservice.key_id, "on24-credentials");
        let err = config.validate().expect_err("cert file is required");
        assert!(err.to_string().contains("tls.cert_file"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[database]\nurll = \"x\"\n").expect("write");
        let err = Config::load(Some(&file)).expect_err("typo refused");
        assert!(err.to_string().contains("urll"), "{err}");
    }

    #[test]
    fn residency_keys_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("eu.toml");
        std::fs::write(
            &file,
            "[on24]\nallowed_regions = [\"EU\"]\nallowed_hosts = []\nallowed_base_urls = [\"https://api.eu.on24.com/v2\"]\n",
        )
        .expect("write");
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::file_exact(&file));
        let config: Config = figment.extract().expect("parses");
        let egress = config.on24.egress();
        assert!(egress.check_base_url("https://api.eu.on24.com/v2").is_ok());
        assert!(egress.check_base_url("https://api.on24.com/v2").is_err());
        assert!(!egress.allows_region(on24_client::Region::NorthAmerica));

        std::fs::write(&file, "[on24]\nallowed_regions = [\"APAC\"]\n").expect("write");
        let err = Config::load(Some(&file)).expect_err("unknown region refused");
        assert!(err.to_string().contains("APAC"), "{err}");
    }

    #[test]
    fn the_earlier_name_of_allow_loopback_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("dev.toml");
        std::fs::write(&file, "[on24]\nallow_http = true\n").expect("write");
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Toml::file_exact(&file));
        let config: Config = figment.extract().expect("parses");
        assert!(config.on24.loopback_allowed());
        assert!(config.on24.egress().allows_loopback());
    }

    #[test]
    fn half_configured_jwt_is_refused() {
        let mut config = Config::defaults().expect("defaults parse");
        config.tls.cert_file = "c".into();
        config.tls.key_file = "k".into();
        config.auth.policy_file = "p".into();
        config.jwt.issuer = "https://issuer".into();
        let err = config.validate().expect_err("audience missing");
        assert!(err.to_string().contains("jwt.audience"), "{err}");
        config.jwt.audience = "webinar".into();
        config.jwt.jwks_file = "jwks.json".into();
        let err = config.validate().expect_err("key service files missing");
        assert!(err.to_string().contains("keyservice.ca_file"), "{err}");
        config.keyservice.ca_file = "ca".into();
        config.keyservice.cert_file = "c".into();
        config.keyservice.key_file = "k".into();
        config.validate().expect("complete");
        config.dek_cache.max_age_seconds = MAX_DEK_AGE_SECONDS + 1;
        let err = config.validate().expect_err("cache age over the bound");
        assert!(
            err.to_string().contains("dek_cache.max_age_seconds"),
            "{err}"
        );
        config.dek_cache.max_age_seconds = MAX_DEK_AGE_SECONDS;
        config.validate().expect("at the bound");
        config.on24.allowed_base_urls = vec!["http://api.on24.com/v2".into()];
        let err = config.validate().expect_err("plain http root");
        assert!(err.to_string().contains("on24.allowed_base_urls"), "{err}");
        config.on24.allowed_base_urls = vec!["api.on24.com".into()];
        let err = config.validate().expect_err("a bare host");
        assert!(err.to_string().contains("on24.allowed_base_urls"), "{err}");
        config.on24.allowed_base_urls = vec!["https://api.eu.on24.com/v2".into()];
        config.on24.allowed_regions.clear();
        let err = config.validate().expect_err("no region");
        assert!(err.to_string().contains("on24.allowed_regions"), "{err}");
    }
}
