//! The key service's audit log: one record per operation (and per batch item, refusal and
//! automatic rotation) on the keyed chain shared with the integration service
//! (`servicekit::audit`), written before the caller gets an answer. If a record cannot be
//! written the operation is refused (fail closed): handlers turn [`AuditError`] into
//! `UNAVAILABLE`.
//!
//! Record members (after the chain's `seq`, `time`, `boot`; see `docs/keyservice.md`):
//! `"identity":"…","operation":"unwrap","key_id":"…","key_version":3,"outcome":"ok|denied|error",
//! "code":"Ok|PermissionDenied|…","request_id":"…","trace_id":"…","aad_hmac":"hex"`. Never key
//! material; associated data only as an HMAC under a sub-key of the audit key, so the same
//! associated data gives the same `aad_hmac` across restarts and replicas.

mod keys;
mod record;

pub use keys::{AAD_HMAC_LABEL, AUDIT_KEY_LABEL, AuditKeys, load_hmac_key};
pub use record::Outcome;
pub use servicekit::audit::{
    AuditError, AuditKey, Checkpoint, CheckpointPolicy, FsyncPolicy, SinkConfig, VerifyError,
    VerifyReport, checkpoint_path, verify_file, verify_lines,
};

use hmac::{Hmac, Mac};
use servicekit::audit::{ChainOrigin, hex32};
use sha2::Sha256;

use crate::authz::Operation;
use record::Record;

/// What happened, as the handlers describe it. Borrowed, so recording allocates little.
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    /// The caller's identity (from its certificate), or `"keyservice"` for internal work.
    pub identity: &'a str,
    /// The operation.
    pub operation: Operation,
    /// The key name, when the operation is about one key.
    pub key_id: Option<&'a str>,
    /// The key version used, when known.
    pub key_version: Option<u32>,
    /// The result.
    pub outcome: Outcome,
    /// The request id (from `x-request-id` metadata, else generated).
    pub request_id: &'a str,
    /// The W3C trace id from `traceparent`, if the caller sent one.
    pub trace_id: Option<&'a str>,
    /// The associated data of a wrap/unwrap/rewrap; only its keyed HMAC is recorded.
    pub associated_data: Option<&'a [u8]>,
}

/// One audit record waiting for its batch's write ([`AuditLog::defer`]): the associated data
/// is already reduced to its keyed HMAC, so nothing of it is held.
#[derive(Debug, Clone)]
pub struct DeferredRecord {
    operation: Operation,
    key_id: Option<String>,
    key_version: Option<u32>,
    outcome: Outcome,
    aad_hmac: Option<[u8; 64]>,
}

/// The audit log handle shared by all handlers.
pub struct AuditLog {
    chain: servicekit::audit::AuditLog,
    /// The associated-data HMAC state, keyed once and cloned per record (the unwrap path
    /// saves re-keying); as secret as the key, it lives as long as the log.
    aad: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the sink and starts this process's chain (see `servicekit::audit::AuditLog`).
    pub fn open(
        config: &SinkConfig,
        keys: &AuditKeys,
        instance: &str,
        checkpoints: CheckpointPolicy,
    ) -> Result<Self, AuditError> {
        let chain = servicekit::audit::AuditLog::open(
            config,
            &keys.chain,
            ChainOrigin {
                service: "keyservice",
                instance,
            },
            checkpoints,
        )?;
        // HMAC accepts keys of any length.
        let aad = <Hmac<Sha256> as Mac>::new_from_slice(keys.aad_hmac.as_slice())
            .map_err(|_| AuditError::Poisoned)?;
        Ok(Self { chain, aad })
    }

    /// Writes one record. Returns only after the sink accepted the line; any failure must
    /// make the caller refuse the operation. Cancel-safe (see the chain's `record`).
    pub async fn record(&self, event: &AuditEvent<'_>) -> Result<(), AuditError> {
        let aad_hmac = event.associated_data.map(|aad| self.aad_hmac(aad));
        let aad_hmac = aad_hmac.as_ref().and_then(|h| std::str::from_utf8(h).ok());
        let written = self.chain.record(&Record::new(event, aad_hmac)).await;
        crate::telemetry::audit_recorded(written.is_ok());
        written
    }

    /// Holds `event` for [`Self::record_batch`]: the items of one batch request are written
    /// together, once every item is done, and the answer waits for that one write.
    pub fn defer(&self, event: &AuditEvent<'_>) -> DeferredRecord {
        DeferredRecord {
            operation: event.operation,
            key_id: event.key_id.map(str::to_owned),
            key_version: event.key_version,
            outcome: event.outcome,
            aad_hmac: event.associated_data.map(|aad| self.aad_hmac(aad)),
        }
    }

    /// Writes the deferred records of one request (its caller, request and trace ids) as one
    /// group, consecutive in the chain. Returns only after the sink accepted all of them; any
    /// failure must make the caller refuse the whole request.
    pub async fn record_batch(
        &self,
        identity: &str,
        request_id: &str,
        trace_id: Option<&str>,
        deferred: &[DeferredRecord],
    ) -> Result<(), AuditError> {
        let records: Vec<Record<'_>> = deferred
            .iter()
            .map(|d| {
                let event = AuditEvent {
                    identity,
                    operation: d.operation,
                    key_id: d.key_id.as_deref(),
                    key_version: d.key_version,
                    outcome: d.outcome,
                    request_id,
                    trace_id,
                    associated_data: None,
                };
                let aad_hmac = d
                    .aad_hmac
                    .as_ref()
                    .and_then(|h| std::str::from_utf8(h).ok());
                Record::new(&event, aad_hmac)
            })
            .collect();
        let refs: Vec<&(dyn servicekit::audit::AuditRecord + Sync)> = records
            .iter()
            .map(|r| r as &(dyn servicekit::audit::AuditRecord + Sync))
            .collect();
        let written = self.chain.record_many(&refs).await;
        for _ in deferred {
            crate::telemetry::audit_recorded(written.is_ok());
        }
        written
    }

    /// Signs the chain's head now (also done every so many records and on drop).
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        self.chain.checkpoint()
    }

    fn aad_hmac(&self, aad: &[u8]) -> [u8; 64] {
        let mut mac = self.aad.clone();
        mac.update(aad);
        hex32(&mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests;
