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

use std::{collections::VecDeque, sync::Mutex};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;
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
///
/// Group commit: a record is chained (seq, prev, hash) the moment it is recorded, under a
/// short lock, and appended to a pending buffer. One caller at a time — the one holding the
/// baton — hands everything pending to the sink in a single `write`, answers each caller whose
/// record it wrote, and passes the baton to a caller still waiting, who writes what piled up
/// meanwhile. Under load one `write(2)` carries many records; alone, a record is written at
/// once by its own caller. Nobody is answered before its record is written (fail closed): if
/// a write fails, every record in it and every record chained after it is refused and the
/// log stays refused (poisoned), as before.
pub struct AuditLog {
    state: Mutex<State>,
    /// Used only by the baton holder, so the state lock is free while the kernel writes.
    sink: Mutex<Sink>,
    hmac_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

struct State {
    next_seq: u64,
    /// Hash (hex) of the last chained record.
    prev: [u8; 64],
    /// Chained lines not yet handed to the sink.
    pending: Vec<u8>,
    /// A cleared buffer of an earlier batch, reused so steady load does not allocate.
    spare: Vec<u8>,
    /// Callers of the records in `pending` whose callers do not hold the baton, oldest first.
    waiting: VecDeque<oneshot::Sender<Turn>>,
    /// Someone holds the baton: a write is in progress or about to start.
    writing: bool,
    poisoned: bool,
}

/// What a waiting caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The record is written.
    Written,
    /// The write carrying the record failed; the operation must be refused.
    Failed,
    /// The baton: write what is pending (the caller's own record among it).
    Lead,
}

impl AuditLog {
    /// Opens the sink. A file sink continues the chain of the existing file (and refuses to
    /// start if its last line is not a valid record). `hmac_key` keys the associated-data HMAC.
    pub fn open(config: &SinkConfig, hmac_key: Zeroizing<[u8; 32]>) -> Result<Self, AuditError> {
        let (sink, resume) = Sink::open(config)?;
        let mut prev = [0u8; 64];
        let next_seq = match resume {
            Some((seq, hash)) if hash.len() == 64 => {
                prev.copy_from_slice(hash.as_bytes());
                seq + 1
            }
            _ => {
                prev.copy_from_slice(GENESIS.as_bytes());
                0
            }
        };
        Ok(Self {
            state: Mutex::new(State {
                next_seq,
                prev,
                pending: Vec::with_capacity(4096),
                spare: Vec::new(),
                waiting: VecDeque::new(),
                writing: false,
                poisoned: false,
            }),
            sink: Mutex::new(sink),
            hmac_key,
        })
    }

    /// Writes one record. Returns only after the sink accepted the line (and fsynced it when
    /// the policy says so); any failure must make the caller refuse the operation.
    ///
    /// Cancel-safe: the record is chained as soon as this is first polled and is written even
    /// if the future is dropped; a dropped caller that held the baton writes before it goes.
    pub async fn record(&self, event: &AuditEvent<'_>) -> Result<(), AuditError> {
        let aad_hmac = event.associated_data.map(|aad| self.aad_hmac(aad));
        let aad_hmac = aad_hmac.as_ref().and_then(|h| std::str::from_utf8(h).ok());
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let rx = {
            let mut state = self.lock_state();
            if state.poisoned {
                crate::telemetry::audit_recorded(false);
                return Err(AuditError::Poisoned);
            }
            let prev = state.prev;
            let record = Record::new(
                event,
                state.next_seq,
                &time,
                aad_hmac,
                std::str::from_utf8(&prev).unwrap_or(GENESIS),
            );
            state.prev = record.write_line(&mut state.pending);
            state.next_seq += 1;
            if state.writing {
                let (tx, rx) = oneshot::channel();
                state.waiting.push_back(tx);
                Some(rx)
            } else {
                state.writing = true;
                None
            }
        };
        let mut turn = Baton {
            log: self,
            rx,
            finished: false,
        };
        let written = turn.wait().await;
        crate::telemetry::audit_recorded(written.is_ok());
        written
    }

    /// The state, even after a panic elsewhere: then the log is poisoned, so every waiting
    /// caller is still answered (refused) instead of waiting forever.
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            state.poisoned = true;
            state
        })
    }

    /// Run by the baton holder: writes everything pending, answers the callers whose records
    /// that was, and passes the baton on. Returns the result of the first write, which always
    /// carries the holder's own record.
    fn write_pending(&self) -> Result<(), AuditError> {
        let mut first: Option<Result<(), AuditError>> = None;
        loop {
            let (mut batch, answered) = {
                let mut guard = self.lock_state();
                let state = &mut *guard;
                let batch = std::mem::replace(&mut state.pending, std::mem::take(&mut state.spare));
                (batch, std::mem::take(&mut state.waiting))
            };
            let written = match self.sink.lock() {
                Ok(mut sink) => sink.write_lines(&batch).map_err(AuditError::from),
                Err(_) => Err(AuditError::Poisoned),
            };
            let mut state = self.lock_state();
            // (Poisoned here only by a panic elsewhere while the write ran.)
            let written = match written {
                Ok(()) if state.poisoned => Err(AuditError::Poisoned),
                other => other,
            };
            let ok = written.is_ok();
            if !ok {
                // A partial batch may be on disk, and everything chained since follows it:
                // nothing pending can be written any more.
                state.poisoned = true;
                state.pending.clear();
                for waiter in state.waiting.drain(..) {
                    let _ = waiter.send(Turn::Failed);
                }
            }
            let turn = if ok { Turn::Written } else { Turn::Failed };
            for waiter in answered {
                let _ = waiter.send(turn);
            }
            batch.clear();
            if state.spare.capacity() < batch.capacity() {
                state.spare = batch;
            }
            first.get_or_insert(written);
            // Pass the baton to a caller still waiting; one that went away cannot take it.
            while let Some(next) = state.waiting.pop_front() {
                if next.send(Turn::Lead).is_ok() {
                    return first.unwrap_or(Ok(()));
                }
            }
            if state.pending.is_empty() {
                state.writing = false;
                return first.unwrap_or(Ok(()));
            }
            // Records whose callers all went away: write them before letting go.
        }
    }

    fn aad_hmac(&self, aad: &[u8]) -> [u8; 64] {
        // new_from_slice cannot fail for HMAC (any key length is accepted). The keyed state
        // is made per call rather than kept: it is as secret as the key, and the hmac crate
        // does not zeroize it; it costs two SHA-256 blocks.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.hmac_key.as_slice()) {
            Ok(mac) => mac,
            Err(_) => return [b'0'; 64],
        };
        mac.update(aad);
        record::hex32(&mac.finalize().into_bytes().into())
    }
}

/// A caller's place in the group commit: waits to be told its record is written, or to be
/// handed the baton and write. Dropping it (a cancelled request) never strands the baton.
struct Baton<'a> {
    log: &'a AuditLog,
    /// `None` once this caller holds the baton.
    rx: Option<oneshot::Receiver<Turn>>,
    finished: bool,
}

impl Baton<'_> {
    async fn wait(&mut self) -> Result<(), AuditError> {
        if let Some(rx) = &mut self.rx {
            let turn = rx.await;
            self.rx = None;
            match turn {
                Ok(Turn::Written) => {
                    self.finished = true;
                    return Ok(());
                }
                Ok(Turn::Lead) => {}
                Ok(Turn::Failed) | Err(_) => {
                    self.finished = true;
                    return Err(AuditError::Poisoned);
                }
            }
        }
        // Let requests already running record theirs first, so this write carries them too.
        tokio::task::yield_now().await;
        self.finished = true;
        self.log.write_pending()
    }
}

impl Drop for Baton<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        match self.rx.take() {
            None => {
                let _ = self.log.write_pending();
            }
            Some(mut rx) => {
                // After close, a holder passing the baton skips this caller; a baton sent
                // before it is still here to take.
                rx.close();
                if rx.try_recv() == Ok(Turn::Lead) {
                    let _ = self.log.write_pending();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
