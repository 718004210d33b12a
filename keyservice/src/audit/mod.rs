//! The audit log: one JSON line per operation, hash-chained, written before the caller gets
//! an answer. If a record cannot be written the operation is refused (fail closed): handlers
//! turn [`AuditError`] into `UNAVAILABLE`.
//!
//! Record format (fields in this order; see `docs/keyservice.md`):
//! `{"seq":N,"time":"RFC3339","identity":"…","operation":"unwrap","key_id":"…","key_version":3,
//! "outcome":"ok|denied|error","code":"OK|PermissionDenied|…","request_id":"…","trace_id":"…",
//! "aad_hmac":"hex","prev":"hex","hash":"hex"}` where `hash` = SHA-256 of the line's text
//! without its `,"hash":"…"` member, and `prev` is the previous line's `hash` (64 zeros for the
//! first). Never key material; associated data only as HMAC-SHA256 under a key that is not in
//! the log.

mod hmac_key;
mod record;
mod sink;
mod verify;

pub use hmac_key::load_hmac_key;
pub use record::{GENESIS, Outcome};
pub use sink::{FsyncPolicy, SinkConfig};
pub use verify::{VerifyError, verify_file, verify_lines};

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::authz::Operation;
use record::Record;
use sink::Sink;

/// Why an audit record could not be written (the operation is then refused).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The sink refused the write (disk full, file removed, stdout closed…).
    #[error("audit sink write failed: {0}")]
    Write(#[from] std::io::Error),
    /// The existing log file does not end with a valid record, so the chain cannot continue.
    #[error("audit log {path} cannot be continued: {reason}")]
    Resume {
        /// The file.
        path: String,
        /// What was wrong with its last line.
        reason: String,
    },
    /// An earlier write failed part-way; the chain is in an unknown state until restart.
    #[error("audit log is poisoned by an earlier failure")]
    Poisoned,
}

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

/// The audit log handle shared by all handlers.
pub struct AuditLog {
    state: Mutex<State>,
    hmac_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

struct State {
    next_seq: u64,
    prev: String,
    sink: Sink,
    poisoned: bool,
}

impl AuditLog {
    /// Opens the sink. A file sink continues the chain of the existing file (and refuses to
    /// start if its last line is not a valid record). `hmac_key` keys the associated-data HMAC.
    pub fn open(config: &SinkConfig, hmac_key: Zeroizing<[u8; 32]>) -> Result<Self, AuditError> {
        let (sink, resume) = Sink::open(config)?;
        let (next_seq, prev) = match resume {
            Some((seq, hash)) => (seq + 1, hash),
            None => (0, GENESIS.to_owned()),
        };
        Ok(Self {
            state: Mutex::new(State {
                next_seq,
                prev,
                sink,
                poisoned: false,
            }),
            hmac_key,
        })
    }

    /// Writes one record. Returns only after the sink accepted the line (and fsynced it when
    /// the policy says so); any failure must make the caller refuse the operation.
    pub fn record(&self, event: &AuditEvent<'_>) -> Result<(), AuditError> {
        let aad_hmac = event.associated_data.map(|aad| self.aad_hmac(aad));
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut state = self.state.lock().map_err(|_| AuditError::Poisoned)?;
        if state.poisoned {
            return Err(AuditError::Poisoned);
        }
        let record = Record::new(
            event,
            state.next_seq,
            &time,
            aad_hmac.as_deref(),
            &state.prev,
        );
        let (line, hash) = record.to_line();
        if let Err(error) = state.sink.write_line(&line) {
            // A partial line may be on disk; continuing would chain onto garbage.
            state.poisoned = true;
            return Err(error.into());
        }
        state.next_seq += 1;
        state.prev = hash;
        Ok(())
    }

    fn aad_hmac(&self, aad: &[u8]) -> String {
        // new_from_slice cannot fail for HMAC (any key length is accepted).
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.hmac_key.as_slice()) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(aad);
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests;
