//! The key service's configuration: commented defaults embedded in the binary, then the file
//! given by `--config`, then `KEYSERVICE_*` environment variables (`__` separates levels, e.g.
//! `KEYSERVICE_DATABASE__URL`). Validated once at start; an error names the bad key.
//! Every key is documented in `docs/keyservice-config.md`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::Deserialize;

use crate::audit::{FsyncPolicy, SinkConfig};

/// The embedded defaults, also printed by `keyservice config defaults`-style docs.
pub const DEFAULTS: &str = r#"
# Addresses to listen on.
[listen]
main = "0.0.0.0:7443"      # gRPC, mTLS, TLS 1.3 only
health = "0.0.0.0:7080"    # plaintext, grpc.health.v1 only

# Server identity and the CA that client certificates must chain to (PEM files).
[tls]
cert = "tls/server.crt"
key = "tls/server.key"
client_ca = "tls/client-ca.crt"
# Accept a client certificate without a URI SAN, naming its holder `cn:<subject CN>`. Off: a
# caller is identified by exactly one URI SAN (e.g. a SPIFFE id) or refused.
allow_common_name = false

# Where the root key comes from: "file:/path", "env:VAR" (development only) or "pkcs11:...".
[root_key]
source = "file:root.key"
# Accept a file: root key readable by its group (mode 0440, as Kubernetes mounts Secrets for a
# non-root pod with its fsGroup). Off: only the owner may have any access.
allow_group_read = false

[database]
url = "keyservice.sqlite"  # postgres://... or a SQLite path
pool_size = 8

[policy]
file = "policy.toml"       # see docs/keyservice.md for the format

[audit]
sink = "stdout"            # "stdout" or "file:/path"
fsync = "interval"         # always | interval | never (file sink only)
fsync_interval_ms = 1000
# The key of the audit chain's HMAC: "" = derived from the root key (HKDF-SHA-256, label
# "webinar keyservice audit key v1"; not possible with a pkcs11: root key), or "file:/path"
# (32 bytes raw, hex or base64; mode 0600, or 0440 as a mounted Kubernetes Secret).
key = ""
hmac_key = ""              # key of the associated-data HMAC: "" = derived from the audit key, "file:/path" or "env:VAR"
instance = ""              # instance named in chain start records; "" = $HOSTNAME, else "keyservice"
checkpoint_records = 1000  # sign the chain head at least every N records...
checkpoint_interval_secs = 10  # ...or seconds (kept in <file>.checkpoint and the service log)

[limits]
max_request_bytes = 1048576  # a full batch with 4 KiB associated data per item fits
rate_per_second = 5000     # per identity; 0 = no limit
rate_burst = 10000
max_concurrent_requests = 512
request_timeout_ms = 5000
max_batch_items = 100

[rotation]
check_interval_secs = 300  # how often automatic rotation is checked
# Shortest waiting period ScheduleKeyDeletion accepts. Lowering it below a day is for tests:
# it is how long a mistaken deletion can still be cancelled.
min_deletion_waiting_secs = 86400

[hardening]
lock_memory = true         # mlockall, best effort
"#;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is missing or of the wrong type (figment names the key).
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value is present but not acceptable.
    #[error("configuration key {key}: {reason}")]
    Invalid {
        /// The dotted key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen addresses.
    pub listen: Listen,
    /// TLS material.
    pub tls: Tls,
    /// Root key provider.
    pub root_key: RootKey,
    /// Database.
    pub database: Database,
    /// Authorization policy.
    pub policy: PolicyConfig,
    /// Audit sink.
    pub audit: Audit,
    /// Request limits.
    pub limits: Limits,
    /// Automatic rotation.
    pub rotation: Rotation,
    /// Process hardening.
    pub hardening: Hardening,
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// The mTLS gRPC port.
    pub main: SocketAddr,
    /// The plaintext health port.
    pub health: SocketAddr,
}

/// `[tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Server certificate chain.
    pub cert: PathBuf,
    /// Server private key.
    pub key: PathBuf,
    /// Client CA bundle.
    pub client_ca: PathBuf,
    /// Identify a certificate without a URI SAN as `cn:<CN>` instead of refusing it.
    pub allow_common_name: bool,
}

/// `[root_key]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    /// `file:/path`, `env:VAR` or `pkcs11:...` (a locator, never the key itself).
    pub source: String,
    /// Accept a `file:` root key its group may read (0440/0640), as Kubernetes mounts Secrets.
    pub allow_group_read: bool,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres://…` or a SQLite path.
    pub url: String,
    /// Connections in the pool.
    pub pool_size: u32,
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The policy TOML file.
    pub file: PathBuf,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// `stdout` or `file:/path`.
    pub sink: String,
    /// `always`, `interval` or `never`.
    pub fsync: String,
    /// Interval of the `interval` policy.
    pub fsync_interval_ms: u64,
    /// Source of the chain key: `file:/path`, or empty (derived from the root key).
    pub key: String,
    /// Source of the associated-data HMAC key: `file:/path`, `env:VAR` or empty (derived).
    pub hmac_key: String,
    /// Instance name in chain start records; empty: `$HOSTNAME`, else `keyservice`.
    pub instance: String,
    /// Records between signed checkpoints.
    pub checkpoint_records: u64,
    /// Seconds between signed checkpoints.
    pub checkpoint_interval_secs: u64,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted request message.
    pub max_request_bytes: usize,
    /// Sustained requests per second per identity (batch items count one each); 0 = off.
    pub rate_per_second: u32,
    /// Burst per identity.
    pub rate_burst: u32,
    /// Requests served at once, all callers together.
    pub max_concurrent_requests: usize,
    /// Deadline of one request.
    pub request_timeout_ms: u64,
    /// Items in one batch call.
    pub max_batch_items: usize,
}

/// `[rotation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Seconds between automatic rotation checks (and purges of expired deletions).
    pub check_interval_secs: u64,
    /// Shortest deletion waiting period `ScheduleKeyDeletion` accepts, in seconds.
    pub min_deletion_waiting_secs: u64,
}

/// `[hardening]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardening {
    /// Try `mlockall`.
    pub lock_memory: bool,
}

impl Config {
    /// Defaults, then `file` if given, then `KEYSERVICE_*` variables; validated.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        Self::from_figment(figment.merge(Env::prefixed("KEYSERVICE_").split("__")))
    }

    /// The embedded defaults only (tests start from these and override fields).
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULTS)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Self = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.database.url.is_empty() {
            return invalid("database.url", "must not be empty");
        }
        if self.database.pool_size == 0 {
            return invalid("database.pool_size", "must be at least 1");
        }
        let source = self.root_key.source.as_str();
        if !["file:", "env:", "pkcs11:"]
            .iter()
            .any(|p| source.starts_with(p))
        {
            return invalid("root_key.source", "must start with file:, env: or pkcs11:");
        }
        self.audit_sink()?;
        if !(self.audit.hmac_key.is_empty()
            || self.audit.hmac_key.starts_with("file:")
            || self.audit.hmac_key.starts_with("env:"))
        {
            return invalid("audit.hmac_key", "must be empty, file:/path or env:VAR");
        }
        if !(self.audit.key.is_empty() || self.audit.key.starts_with("file:")) {
            return invalid("audit.key", "must be empty or file:/path");
        }
        if self.audit.checkpoint_records == 0 || self.audit.checkpoint_interval_secs == 0 {
            return invalid(
                "audit.checkpoint_records",
                "checkpoint_records and checkpoint_interval_secs must be at least 1",
            );
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.limits.max_request_bytes) {
            return invalid(
                "limits.max_request_bytes",
                "must be between 1024 and 16 MiB",
            );
        }
        if self.limits.max_concurrent_requests == 0 {
            return invalid("limits.max_concurrent_requests", "must be at least 1");
        }
        if self.limits.request_timeout_ms == 0 {
            return invalid("limits.request_timeout_ms", "must be at least 1");
        }
        if !(1..=1000).contains(&self.limits.max_batch_items) {
            return invalid("limits.max_batch_items", "must be between 1 and 1000");
        }
        if self.rotation.check_interval_secs == 0 {
            return invalid("rotation.check_interval_secs", "must be at least 1");
        }
        if self.rotation.min_deletion_waiting_secs == 0 {
            return invalid("rotation.min_deletion_waiting_secs", "must be at least 1");
        }
        Ok(())
    }

    /// The instance name for audit start records.
    pub fn audit_instance(&self) -> String {
        if !self.audit.instance.is_empty() {
            return self.audit.instance.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "keyservice".to_owned())
    }

    /// When the audit chain signs checkpoints.
    pub fn audit_checkpoints(&self) -> crate::audit::CheckpointPolicy {
        crate::audit::CheckpointPolicy {
            every_records: self.audit.checkpoint_records,
            every: Duration::from_secs(self.audit.checkpoint_interval_secs),
        }
    }

    /// The audit sink described by `audit.sink` and `audit.fsync*`.
    pub fn audit_sink(&self) -> Result<SinkConfig, ConfigError> {
        let fsync = match self.audit.fsync.as_str() {
            "always" => FsyncPolicy::Always,
            "never" => FsyncPolicy::Never,
            "interval" => {
                FsyncPolicy::Interval(Duration::from_millis(self.audit.fsync_interval_ms))
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: "audit.fsync",
                    reason: "must be always, interval or never".to_owned(),
                });
            }
        };
        match self.audit.sink.as_str() {
            "stdout" => Ok(SinkConfig::Stdout),
            sink => match sink.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(SinkConfig::File {
                    path: PathBuf::from(path),
                    fsync,
                }),
                _ => Err(ConfigError::Invalid {
                    key: "audit.sink",
                    reason: "must be stdout or file:/path".to_owned(),
                }),
            },
        }
    }

    /// `limits.request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.limits.request_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() -> Result<(), ConfigError> {
        let config = Config::defaults()?;
        assert_eq!(config.listen.main.port(), 7443);
        assert_eq!(config.listen.health.port(), 7080);
        let mut bad = config.clone();
        bad.audit.sink = "syslog".into();
        let err = bad
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("audit.sink"), "{err}");
        let mut bad = config;
        bad.root_key.source = "/plain/path".into();
        let err = bad
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("root_key.source"), "{err}");
        Ok(())
    }
}
