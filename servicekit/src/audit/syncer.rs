//! Flushing a file log to disk, on a thread of its own, so that no caller waits for a disk
//! flush the policy does not promise it: `fsync` of the log (after each write under `always`,
//! at most `interval` after a write under `interval`) and the signed checkpoints, each kept
//! only after the log is flushed, so a checkpoint never names a record the disk may not hold.
//! Under `always` the callers of a write are answered once the flush that covers it is done
//! (one flush covers every write before it, and the next write goes ahead meanwhile); under
//! the other policies callers are answered after their `write`. A flush or checkpoint that
//! fails poisons the log: its waiters and every later record are refused.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write as _},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    sync::{
        Arc, Condvar, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use tokio::sync::oneshot;

use super::{Checkpoint, FsyncPolicy, Turn};

/// The durable side of a file log: another handle of its file, its checkpoint file, and the
/// thread that flushes them.
pub(super) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    /// Another handle of the log file: `fsync` through it flushes the sink's writes.
    file: File,
    checkpoint: PathBuf,
    policy: FsyncPolicy,
    work: Mutex<Work>,
    wake: Condvar,
    /// One flush at a time, whether the thread or [`Syncer::keep_now`] does it; the seq of
    /// the newest checkpoint kept, so the checkpoint file never goes back to an older head.
    kept: Mutex<Option<u64>>,
    /// A flush or checkpoint failed: every later record must be refused.
    failed: AtomicBool,
}

#[derive(Default)]
struct Work {
    /// Lines were written since the last flush began.
    dirty: bool,
    /// Callers waiting for a flush (policy `always`).
    waiters: Vec<oneshot::Sender<Turn>>,
    /// The newest checkpoint to keep (it covers any older one not kept yet).
    checkpoint: Option<Checkpoint>,
    stop: bool,
}

impl Work {
    fn urgent(&self) -> bool {
        !self.waiters.is_empty() || self.checkpoint.is_some()
    }
}

impl Syncer {
    /// Starts the thread for a file log. `file` is a handle of the log file.
    pub(super) fn start(file: File, checkpoint: PathBuf, policy: FsyncPolicy) -> io::Result<Self> {
        // An interval of zero is a flush after every write.
        let policy = match policy {
            FsyncPolicy::Interval(every) if every.is_zero() => FsyncPolicy::Always,
            other => other,
        };
        let shared = Arc::new(Shared {
            file,
            checkpoint,
            policy,
            work: Mutex::new(Work::default()),
            wake: Condvar::new(),
            kept: Mutex::new(None),
            failed: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name("audit-fsync".to_owned())
            .spawn({
                let shared = shared.clone();
                move || shared.run()
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Whether a flush or checkpoint has failed (the log must refuse everything since).
    pub(super) fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Whether the callers of a write wait for its flush (policy `always`).
    pub(super) fn flush_each_write(&self) -> bool {
        self.shared.policy == FsyncPolicy::Always
    }

    /// Notes a successful write: `waiters` (its callers, under `always`) are answered once a
    /// flush covering it is done; `checkpoint` (when one is due) is kept after that flush.
    pub(super) fn written(
        &self,
        waiters: Vec<oneshot::Sender<Turn>>,
        checkpoint: Option<Checkpoint>,
    ) {
        let mut work = self.shared.lock_work();
        work.dirty = true;
        work.waiters.extend(waiters);
        if checkpoint.is_some() {
            work.checkpoint = checkpoint;
        }
        let urgent = work.urgent();
        drop(work);
        if urgent {
            self.shared.wake.notify_one();
        }
    }

    /// Flushes the log and keeps `checkpoint` now, on the calling thread (a checkpoint asked
    /// for outside the write path: at shutdown, or when the log is dropped).
    pub(super) fn keep_now(&self, checkpoint: &Checkpoint) -> io::Result<()> {
        self.shared.flush(Some(checkpoint))
    }
}

impl Drop for Syncer {
    /// Finishes the queued work (answering its waiters) and stops the thread.
    fn drop(&mut self) {
        self.shared.lock_work().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock_work(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(|poisoned| {
            self.failed.store(true, Ordering::Release);
            poisoned.into_inner()
        })
    }

    fn run(&self) {
        let mut work = self.lock_work();
        loop {
            if !work.urgent() {
                if work.stop {
                    return;
                }
                work = match self.policy {
                    FsyncPolicy::Interval(every) => {
                        let (mut work, waited) = self
                            .wake
                            .wait_timeout(work, every)
                            .unwrap_or_else(|p| p.into_inner());
                        // The interval's flush: nothing else flushed what was written before
                        // the wait began (every flush clears `dirty`).
                        if waited.timed_out() && work.dirty {
                            work.dirty = false;
                            drop(work);
                            let _ = self.flush(None);
                            work = self.lock_work();
                        }
                        work
                    }
                    FsyncPolicy::Always | FsyncPolicy::Never => {
                        self.wake.wait(work).unwrap_or_else(|p| p.into_inner())
                    }
                };
                continue;
            }
            work.dirty = false;
            let waiters = std::mem::take(&mut work.waiters);
            let checkpoint = work.checkpoint.take();
            drop(work);
            let turn = match self.flush(checkpoint.as_ref()) {
                Ok(()) => Turn::Written,
                Err(_) => Turn::Failed,
            };
            for waiter in waiters {
                let _ = waiter.send(turn);
            }
            work = self.lock_work();
        }
    }

    /// Flushes the log (unless the policy is `never`), then keeps `checkpoint`. Any failure
    /// poisons the log.
    fn flush(&self, checkpoint: Option<&Checkpoint>) -> io::Result<()> {
        let flushed = self.flush_once(checkpoint);
        if let Err(error) = &flushed {
            self.failed.store(true, Ordering::Release);
            tracing::error!(%error, "audit log flush or checkpoint failed; refusing records from now on");
        }
        flushed
    }

    fn flush_once(&self, checkpoint: Option<&Checkpoint>) -> io::Result<()> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if self.failed.load(Ordering::Acquire) {
            return Err(io::Error::other("an earlier audit flush failed"));
        }
        if self.policy != FsyncPolicy::Never {
            self.file.sync_data()?;
        }
        let Some(checkpoint) = checkpoint else {
            return Ok(());
        };
        if kept.is_some_and(|seq| seq >= checkpoint.seq) {
            return Ok(());
        }
        let line = checkpoint.to_line();
        tracing::info!(checkpoint = line.trim_end(), "audit checkpoint");
        write_checkpoint(&self.checkpoint, self.policy, line.as_bytes())?;
        *kept = Some(checkpoint.seq);
        Ok(())
    }
}

/// Replaces the checkpoint file (a temporary file, then rename, so a reader sees the old or
/// the new checkpoint, never half of one).
fn write_checkpoint(path: &Path, policy: FsyncPolicy, line: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(line)?;
    if policy != FsyncPolicy::Never {
        file.sync_data()?;
    }
    std::fs::rename(&temporary, path)
}
