//! The access audit: one record for each call that reads or changes personal data (who, for
//! which tenant, which method on which resource, how many items, the request id), on the
//! keyed chain shared with the key service (`servicekit::audit`): HMAC-chained, checkpointed,
//! and written before the caller is answered. If a record cannot be written the call is
//! refused with UNAVAILABLE (fail closed), never answered unaudited.
//!
//! Record members (after the chain's `seq`, `time`, `boot`): `"kind":"access",
//! "principal":"…","tenant":"…","method":"ListRegistrations","resource":"tenants/…",
//! "items":N,"outcome":"ok|error","code":"Ok|NotFound|…","request_id":"…"`. Never a personal
//! value: resources are names built from ids, and a filter or an email given in the request
//! is not recorded.

use std::path::Path;

pub use servicekit::audit::{
    AuditError, AuditKey, Checkpoint, VerifyReport, checkpoint_path, verify_file,
};
use servicekit::audit::{AuditRecord, ChainOrigin, member, number_member};
use zeroize::Zeroizing;

use crate::config::AuditConfig;

/// One access, as a handler describes it.
#[derive(Debug, Clone, Copy)]
pub struct AccessEvent<'a> {
    /// The authenticated caller.
    pub principal: &'a str,
    /// The tenant acted for.
    pub tenant: &'a str,
    /// The gRPC method, without its service (`ExportPersonData`).
    pub method: &'static str,
    /// The resource name the call named (a parent for lists).
    pub resource: &'a str,
    /// Items returned or changed.
    pub items: u64,
    /// `ok`, or `error` with `code`.
    pub ok: bool,
    /// The answer's gRPC code.
    pub code: tonic::Code,
    /// `x-request-id` when the caller sent a sane one, else a fresh UUID.
    pub request_id: &'a str,
}

impl AuditRecord for AccessEvent<'_> {
    fn write_members(&self, out: &mut Vec<u8>) {
        member(out, "kind", "access");
        member(out, "principal", self.principal);
        member(out, "tenant", self.tenant);
        member(out, "method", self.method);
        member(out, "resource", self.resource);
        number_member(out, "items", self.items);
        member(out, "outcome", if self.ok { "ok" } else { "error" });
        member(out, "code", &format!("{:?}", self.code));
        member(out, "request_id", self.request_id);
    }
}

/// The access audit log shared by the handlers.
#[derive(Debug)]
pub struct AccessAudit {
    chain: servicekit::audit::AuditLog,
}

impl AccessAudit {
    /// Opens the configured sink with the configured key and starts this process's chain.
    pub fn open(config: &AuditConfig) -> Result<Self, String> {
        let sink = config.sink_config().map_err(|e| e.to_string())?;
        let key = load_key(&config.key)?;
        let instance = if config.instance.is_empty() {
            std::env::var("HOSTNAME").unwrap_or_else(|_| "integrationservice".into())
        } else {
            config.instance.clone()
        };
        let chain = servicekit::audit::AuditLog::open(
            &sink,
            &key,
            ChainOrigin {
                service: "integrationservice",
                instance: &instance,
            },
            config.checkpoints(),
        )
        .map_err(|e| format!("audit.sink: {e}"))?;
        Ok(Self { chain })
    }

    /// Writes one record; returns only once the sink accepted it.
    pub async fn record(&self, event: &AccessEvent<'_>) -> Result<(), AuditError> {
        self.chain.record(event).await
    }
}

/// The chain key from `audit.key`: `file:/path`, `env:VAR`, or empty (a random key for this
/// process, with a warning: its records cannot be verified later).
pub fn load_key(spec: &str) -> Result<AuditKey, String> {
    if spec.is_empty() {
        tracing::warn!(
            "audit.key is not set: the access audit uses a random key, so its records cannot be verified after this process"
        );
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::fill(&mut bytes[..]);
        return Ok(AuditKey::from_bytes(bytes));
    }
    if let Some(path) = spec.strip_prefix("file:") {
        return AuditKey::load_file(Path::new(path)).map_err(|e| format!("audit.key: {e}"));
    }
    if let Some(var) = spec.strip_prefix("env:") {
        let value = Zeroizing::new(
            std::env::var(var)
                .map_err(|_| format!("audit.key: environment variable {var} is not set"))?,
        );
        return servicekit::audit::decode_key(value.as_bytes())
            .map(AuditKey::from_bytes)
            .ok_or_else(|| {
                "audit.key: expected 32 raw bytes, 64 hex characters or base64 of 32 bytes".into()
            });
    }
    Err("audit.key must be empty, file:/path or env:VAR".into())
}

/// Verifies an audit log under the key `spec` (as `audit.key`), and the checkpoint beside it
/// when there is one (`integrationservice audit verify`).
pub fn verify(file: &Path, spec: &str) -> Result<VerifyReport, String> {
    if spec.is_empty() {
        return Err("give the audit key (file:/path or env:VAR) to verify with".into());
    }
    let key = load_key(spec)?;
    let beside = checkpoint_path(file);
    let checkpoint = if beside.exists() {
        let text = std::fs::read_to_string(&beside)
            .map_err(|e| format!("reading {}: {e}", beside.display()))?;
        Some(Checkpoint::parse(&text).map_err(|e| format!("{}: {e}", beside.display()))?)
    } else {
        None
    };
    verify_file(file, &key, checkpoint.as_ref()).map_err(|e| e.to_string())
}
