//! The audit chain both services write: one JSON line per record, chained by an HMAC under a
//! persistent audit key, written before the caller gets an answer. If a record cannot be
//! written the operation must be refused (fail closed): [`AuditLog::record`] returns
//! [`AuditError`] and the service maps it to `UNAVAILABLE`.
//!
//! Each line is `{"seq":N,"time":"RFC3339","boot":"…",<the service's members>,"prev":"hex",
//! "mac":"hex"}`: `mac` is HMAC-SHA-256, under the chain sub-key of the audit key
//! ([`CHAIN_LABEL`]), of the line without its `mac` member, and `prev` the previous line's
//! `mac`. Without the key nobody can edit, insert or drop a record and recompute the chain.
//!
//! Every process start begins a chain of its own, named by a random boot id, with a start
//! record (`seq` 0, `"kind":"start"`, the service, the instance, and for a file that already
//! holds a chain `prev_boot` and `prev` = that chain's last `mac`), so chains of several
//! replicas on one stream stay apart and a restart shows where the previous chain ended.
//! Signed checkpoints of the head ([`Checkpoint`]) are kept outside the log, so cutting off
//! its tail is detected too. [`verify_lines`] checks all of it.

mod checkpoint;
mod key;
mod line;
mod sink;
mod syncer;
mod verify;

pub use checkpoint::{Checkpoint, CheckpointPolicy};
pub use key::{AuditKey, AuditKeyError, CHAIN_LABEL, decode_key};
pub use line::{AuditRecord, GENESIS, hex32, member, number_member};
pub use sink::{FsyncPolicy, SinkConfig, checkpoint_path};
pub use verify::{VerifyError, VerifyReport, verify_file, verify_lines};

use std::{collections::VecDeque, sync::Mutex, time::Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::oneshot;

use line::{LineHead, RecordTime, mac_hex, split_line, write_line};
use sink::Sink;
use syncer::Syncer;

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

/// Who writes a chain, as its start record names it.
#[derive(Debug, Clone, Copy)]
pub struct ChainOrigin<'a> {
    /// The service (`keyservice`, `integrationservice`).
    pub service: &'a str,
    /// The instance (pod or host name).
    pub instance: &'a str,
}

/// The audit log handle shared by all handlers.
///
/// Group commit: a record is chained (seq, prev, mac) the moment it is recorded, under a
/// short lock, and appended to a pending buffer. One caller at a time — the one holding the
/// baton — hands everything pending to the sink in a single `write`, answers each caller whose
/// record it wrote, and passes the baton to a caller still waiting, who writes what piled up
/// meanwhile. Under load one `write(2)` carries many records; alone, a record is written at
/// once by its own caller. Nobody is answered before its record is written (fail closed): if
/// a write fails, every record in it and every record chained after it is refused and the
/// log stays refused (poisoned).
///
/// Disk flushes and checkpoint files are the [`Syncer`]'s, on a thread of its own: the baton
/// holder never waits for a disk. Under `fsync = always` a write's callers are answered when
/// the flush covering it is done; otherwise after the write, as the fsync policy promises.
pub struct AuditLog {
    state: Mutex<State>,
    /// Used only by the baton holder, so the state lock is free while the kernel writes.
    sink: Mutex<Sink>,
    /// A file sink's flushes and checkpoints (`None` for stdout, which has neither).
    syncer: Option<Syncer>,
    /// The chain key's HMAC state, keyed once and cloned per record (two SHA-256 blocks
    /// saved per record). It is as secret as the key and lives as long as the log.
    keyed: Hmac<Sha256>,
    /// This chain's boot id (hex).
    boot: [u8; 32],
    checkpoints: CheckpointPolicy,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

struct State {
    next_seq: u64,
    /// Mac (hex) of the last chained record.
    prev: [u8; 64],
    /// Chained lines not yet handed to the sink.
    pending: Vec<u8>,
    /// Seq and mac of the last record in `pending`.
    pending_head: Option<(u64, [u8; 64])>,
    /// A cleared buffer of an earlier batch, reused so steady load does not allocate.
    spare: Vec<u8>,
    /// Callers of the records in `pending` whose callers do not hold the baton, oldest first.
    waiting: VecDeque<oneshot::Sender<Turn>>,
    /// Someone holds the baton: a write is in progress or about to start.
    writing: bool,
    poisoned: bool,
    /// Seq and mac of the last record the sink accepted.
    written_head: Option<(u64, [u8; 64])>,
    /// Records written since the last checkpoint, and when it was.
    since_checkpoint: u64,
    last_checkpoint: Instant,
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

/// The start record's own members.
struct StartRecord<'a> {
    origin: ChainOrigin<'a>,
    prev_boot: Option<&'a str>,
}

impl AuditRecord for StartRecord<'_> {
    fn write_members(&self, out: &mut Vec<u8>) {
        member(out, "kind", "start");
        member(out, "service", self.origin.service);
        member(out, "instance", self.origin.instance);
        if let Some(prev_boot) = self.prev_boot {
            member(out, "prev_boot", prev_boot);
        }
    }
}

fn now() -> RecordTime {
    RecordTime::at(chrono::Utc::now())
}

impl AuditLog {
    /// Opens the sink and begins a new chain with its start record (written with the first
    /// record). A file that already holds
    /// a chain must end with a record whose mac holds under `key`: the new chain names it as
    /// its predecessor; otherwise the log is refused (moved aside by an operator, it starts
    /// afresh).
    pub fn open(
        config: &SinkConfig,
        key: &AuditKey,
        origin: ChainOrigin<'_>,
        checkpoints: CheckpointPolicy,
    ) -> Result<Self, AuditError> {
        let chain_key = key.subkey(CHAIN_LABEL);
        // HMAC accepts keys of any length.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(chain_key.as_slice())
            .map_err(|_| AuditError::Poisoned)?;
        let (sink, resume) = Sink::open(config)?;
        let syncer = match (config, sink.file_handle()?) {
            (SinkConfig::File { path, fsync }, Some(file)) => {
                Some(Syncer::start(file, checkpoint_path(path), *fsync)?)
            }
            _ => None,
        };
        let resume_error = |reason: &str| AuditError::Resume {
            path: match config {
                SinkConfig::File { path, .. } => path.display().to_string(),
                SinkConfig::Stdout => "stdout".to_owned(),
            },
            reason: reason.to_owned(),
        };
        let (prev_boot, prev) = match resume {
            None => (None, GENESIS.to_owned()),
            Some(line) => {
                let (body, mac) =
                    split_line(&line).ok_or_else(|| resume_error("the last line has no mac"))?;
                if mac_hex(&keyed, body.as_bytes()) != mac.as_bytes() {
                    return Err(resume_error(
                        "the last line's mac does not hold under the audit key (edited, or another key)",
                    ));
                }
                let value: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|_| resume_error("the last line is not JSON"))?;
                let boot = value["boot"]
                    .as_str()
                    .ok_or_else(|| resume_error("the last line has no boot id"))?;
                (Some(boot.to_owned()), mac.to_owned())
            }
        };
        let mut boot_bytes = [0u8; 16];
        getrandom::fill(&mut boot_bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut boot = [0u8; 32];
        boot.copy_from_slice(hex::encode(boot_bytes).as_bytes());
        let mut prev_hex = [0u8; 64];
        prev_hex.copy_from_slice(prev.as_bytes());
        // The start record goes out with the first write, so that opening a sink that
        // cannot be written fails the first operation (fail closed), not the start.
        let mut pending = Vec::with_capacity(4096);
        let time = now();
        let start_mac = write_line(
            &mut pending,
            &keyed,
            &LineHead {
                seq: 0,
                time: time.as_str(),
                boot: &boot,
            },
            &StartRecord {
                origin,
                prev_boot: prev_boot.as_deref(),
            },
            &prev_hex,
        );
        let log = Self {
            state: Mutex::new(State {
                next_seq: 1,
                prev: start_mac,
                pending,
                pending_head: Some((0, start_mac)),
                spare: Vec::new(),
                waiting: VecDeque::new(),
                writing: false,
                poisoned: false,
                written_head: None,
                since_checkpoint: 0,
                last_checkpoint: Instant::now(),
            }),
            sink: Mutex::new(sink),
            syncer,
            keyed,
            boot,
            checkpoints,
        };
        Ok(log)
    }

    /// This chain's boot id.
    pub fn boot_id(&self) -> &str {
        std::str::from_utf8(&self.boot).unwrap_or_default()
    }

    /// Writes one record. Returns only after the sink accepted the line (and fsynced it when
    /// the policy says so); any failure must make the caller refuse the operation.
    ///
    /// Cancel-safe: the record is chained as soon as this is first polled and is written even
    /// if the future is dropped; a dropped caller that held the baton writes before it goes.
    pub async fn record(&self, record: &(dyn AuditRecord + Sync)) -> Result<(), AuditError> {
        self.record_many(&[record]).await
    }

    /// Writes several records, consecutive in the chain, as one write: returns only after the
    /// sink accepted all of them (a batch request's items, answered together, so each item
    /// does not wait for a write of its own). All or nothing for the caller: any failure must
    /// make it refuse every operation the records describe. Cancel-safe like [`Self::record`].
    pub async fn record_many(
        &self,
        records: &[&(dyn AuditRecord + Sync)],
    ) -> Result<(), AuditError> {
        if records.is_empty() {
            return Ok(());
        }
        let time = now();
        let rx = {
            let mut guard = self.lock_state();
            let state = &mut *guard;
            if state.poisoned || self.flush_failed() {
                return Err(AuditError::Poisoned);
            }
            for record in records {
                let head = LineHead {
                    seq: state.next_seq,
                    time: time.as_str(),
                    boot: &self.boot,
                };
                state.prev =
                    write_line(&mut state.pending, &self.keyed, &head, *record, &state.prev);
                state.pending_head = Some((state.next_seq, state.prev));
                state.next_seq += 1;
            }
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
        turn.wait().await
    }

    /// Signs the head of what is written and keeps it outside the log (the checkpoint file of
    /// a file sink, after flushing the log, and an `audit checkpoint` event in the operational
    /// log), before returning. The log also does this itself by its [`CheckpointPolicy`] (off
    /// the write path) and when it is dropped.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let checkpoint = {
            let mut state = self.lock_state();
            self.sign_head(&mut state)
        };
        let Some(checkpoint) = checkpoint else {
            return Ok(());
        };
        match &self.syncer {
            Some(syncer) => syncer.keep_now(&checkpoint).map_err(|error| {
                self.lock_state().poisoned = true;
                AuditError::from(error)
            }),
            None => {
                log_checkpoint(&checkpoint);
                Ok(())
            }
        }
    }

    /// A signed checkpoint of the written head (none before the first write); restarts the
    /// policy's count.
    fn sign_head(&self, state: &mut State) -> Option<Checkpoint> {
        state.since_checkpoint = 0;
        state.last_checkpoint = Instant::now();
        let (seq, mac) = state.written_head?;
        Some(Checkpoint::sign(
            &self.keyed,
            self.boot_id(),
            seq,
            std::str::from_utf8(&mac).unwrap_or_default(),
        ))
    }

    /// A flush or checkpoint of the syncer failed: the log refuses everything since.
    fn flush_failed(&self) -> bool {
        self.syncer.as_ref().is_some_and(Syncer::failed)
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
    /// that was (or hands them to the syncer to be answered after the flush, under `always`),
    /// and passes the baton on. Returns how the holder learns the fate of the first write,
    /// which always carries its own record.
    fn write_pending(&self) -> Written {
        let mut first: Option<Written> = None;
        loop {
            let (mut batch, answered, head) = {
                let mut guard = self.lock_state();
                let state = &mut *guard;
                let batch = std::mem::replace(&mut state.pending, std::mem::take(&mut state.spare));
                (
                    batch,
                    std::mem::take(&mut state.waiting),
                    state.pending_head.take(),
                )
            };
            let written = match self.sink.lock() {
                Ok(mut sink) => sink.write_lines(&batch).map_err(AuditError::from),
                Err(_) => Err(AuditError::Poisoned),
            };
            let mut state = self.lock_state();
            // (Poisoned here only by a panic elsewhere while the write ran, or a failed flush.)
            let written = match written {
                Ok(()) if state.poisoned || self.flush_failed() => Err(AuditError::Poisoned),
                other => other,
            };
            let mut checkpoint = None;
            if written.is_ok()
                && let Some((seq, _)) = head
            {
                let first_in_batch = state.written_head.map_or(0, |h| h.0 + 1);
                state.since_checkpoint += seq + 1 - first_in_batch;
                state.written_head = head;
                let due = state.since_checkpoint >= self.checkpoints.every_records
                    || state.last_checkpoint.elapsed() >= self.checkpoints.every;
                if due {
                    checkpoint = self.sign_head(&mut state);
                }
            }
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
            match &self.syncer {
                Some(syncer) if ok => {
                    let mut waiters = Vec::new();
                    if syncer.flush_each_write() {
                        waiters.extend(answered);
                        if first.is_none() {
                            let (tx, rx) = oneshot::channel();
                            waiters.push(tx);
                            first = Some(Written::After(rx));
                        }
                    } else {
                        for waiter in answered {
                            let _ = waiter.send(Turn::Written);
                        }
                    }
                    syncer.written(waiters, checkpoint);
                }
                _ => {
                    if let Some(checkpoint) = &checkpoint {
                        log_checkpoint(checkpoint);
                    }
                    let turn = if ok { Turn::Written } else { Turn::Failed };
                    for waiter in answered {
                        let _ = waiter.send(turn);
                    }
                }
            }
            batch.clear();
            if state.spare.capacity() < batch.capacity() {
                state.spare = batch;
            }
            let first = first.get_or_insert(Written::Now(written));
            // Pass the baton to a caller still waiting; one that went away cannot take it.
            let mut passed = false;
            while let Some(next) = state.waiting.pop_front() {
                if next.send(Turn::Lead).is_ok() {
                    passed = true;
                    break;
                }
            }
            if passed || state.pending.is_empty() {
                if !passed {
                    state.writing = false;
                }
                drop(state);
                return std::mem::replace(first, Written::Now(Ok(())));
            }
            // Records whose callers all went away: write them before letting go.
        }
    }
}

/// How the baton holder learns whether its own record is written.
enum Written {
    /// Now: the write's result.
    Now(Result<(), AuditError>),
    /// When the flush covering the write is done (`fsync = always`).
    After(oneshot::Receiver<Turn>),
}

impl Written {
    async fn wait(self) -> Result<(), AuditError> {
        match self {
            Self::Now(result) => result,
            Self::After(rx) => match rx.await {
                Ok(Turn::Written) => Ok(()),
                _ => Err(AuditError::Poisoned),
            },
        }
    }
}

/// A checkpoint of a sink without a checkpoint file: the operational log carries it.
fn log_checkpoint(checkpoint: &Checkpoint) {
    let line = checkpoint.to_line();
    tracing::info!(checkpoint = line.trim_end(), "audit checkpoint");
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        let state = self.lock_state();
        let unsealed = !state.poisoned && !self.flush_failed() && state.since_checkpoint > 0;
        drop(state);
        if unsealed && let Err(error) = self.checkpoint() {
            tracing::error!(%error, "final audit checkpoint not written");
        }
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
        self.log.write_pending().wait().await
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
