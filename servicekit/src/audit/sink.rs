//! Where audit lines go: stdout (for a log collector) or an append-only file with a
//! documented fsync policy. Lines are written unbuffered (one `write` per group of lines, see
//! `AuditLog`), so a crash of the process loses nothing the kernel accepted; the fsync policy
//! decides what a crash of the machine may lose (the flushes themselves, and the latest signed
//! checkpoint kept beside the log as `<file>.checkpoint`, are the syncer's: `syncer.rs`).

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use super::AuditError;

/// When the file sink calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every write (a group of records), before their callers are answered: nothing
    /// acknowledged is ever lost, at a large throughput cost.
    Always,
    /// At most this long after a write (the default, 1 s), by a thread of its own: a machine
    /// crash may lose the records of the last interval. An interval of zero is `Always`.
    Interval(Duration),
    /// Never; the kernel flushes when it likes.
    Never,
}

/// The configured sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// JSON lines on standard output; the chain starts afresh at each process start.
    Stdout,
    /// Append to a file (created 0600), continuing the chain found at its end.
    File {
        /// The file.
        path: PathBuf,
        /// The fsync policy.
        fsync: FsyncPolicy,
    },
}

pub(super) enum Sink {
    Stdout,
    File(File),
}

/// Where a file sink keeps its latest checkpoint.
pub fn checkpoint_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

impl Sink {
    /// Opens the sink and returns, for a file with records, its last line.
    pub(super) fn open(config: &SinkConfig) -> Result<(Self, Option<String>), AuditError> {
        match config {
            SinkConfig::Stdout => Ok((Self::Stdout, None)),
            SinkConfig::File { path, .. } => {
                let mut file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .read(true)
                    .mode(0o600)
                    .open(path)?;
                // Only a regular file has a history to continue (a device such as /dev/full
                // has none and would read forever).
                let resume = if file.metadata()?.is_file() {
                    last_record(&mut file).map_err(|reason| AuditError::Resume {
                        path: path.display().to_string(),
                        reason,
                    })?
                } else {
                    None
                };
                Ok((Self::File(file), resume))
            }
        }
    }

    /// Writes `bytes` (complete lines, each ending in a newline) with one `write` call.
    pub(super) fn write_lines(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Self::File(file) => file.write_all(bytes),
        }
    }

    /// Another handle of a file sink's file, for flushing it from elsewhere.
    pub(super) fn file_handle(&self) -> io::Result<Option<File>> {
        match self {
            Self::Stdout => Ok(None),
            Self::File(file) => file.try_clone().map(Some),
        }
    }
}

/// Reads the last non-empty line of the file.
fn last_record(file: &mut File) -> Result<Option<String>, String> {
    const TAIL: u64 = 64 * 1024;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .map_err(|e| e.to_string())?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)
        .map_err(|_| "the end of the file is not UTF-8 text".to_owned())?;
    Ok(tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::to_owned))
}
