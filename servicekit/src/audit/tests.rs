//! The chain on real files: restarts, every kind of tampering `verify` must catch, fail
//! closed, and group commit under concurrency and cancellation.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::*;

struct Event<'a> {
    what: &'a str,
    request_id: &'a str,
}

impl AuditRecord for Event<'_> {
    fn write_members(&self, out: &mut Vec<u8>) {
        member(out, "what", self.what);
        member(out, "request_id", self.request_id);
    }
}

fn event(what: &str) -> Event<'_> {
    Event {
        what,
        request_id: "req-1",
    }
}

/// How long a test waits for the syncer's thread.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

fn key() -> AuditKey {
    AuditKey::from_bytes(Zeroizing::new([7; 32]))
}

const ORIGIN: ChainOrigin<'static> = ChainOrigin {
    service: "test",
    instance: "pod-0",
};

fn open(path: &Path, checkpoints: CheckpointPolicy) -> Result<AuditLog, AuditError> {
    AuditLog::open(
        &SinkConfig::File {
            path: path.to_owned(),
            fsync: FsyncPolicy::Never,
        },
        &key(),
        ORIGIN,
        checkpoints,
    )
}

fn rare() -> CheckpointPolicy {
    CheckpointPolicy {
        every_records: u64::MAX,
        every: std::time::Duration::from_secs(3600),
    }
}

fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .map(str::to_owned)
        .collect())
}

fn verify(lines: &[String], checkpoint: Option<&Checkpoint>) -> Result<VerifyReport, VerifyError> {
    verify_lines(lines.iter().map(String::as_str), &key(), checkpoint)
}

fn read_checkpoint(log: &Path) -> anyhow::Result<Checkpoint> {
    Ok(Checkpoint::parse(&std::fs::read_to_string(
        checkpoint_path(log),
    )?)?)
}

/// A log with two chains (a restart) and five records in the second.
async fn two_boots(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("audit.log");
    {
        let log = open(&path, rare())?;
        log.record(&event("a")).await?;
        log.record(&event("b")).await?;
    }
    let log = open(&path, rare())?;
    for what in ["c", "d", "e", "f", "g"] {
        log.record(&event(what)).await?;
    }
    drop(log);
    Ok(path)
}

#[tokio::test]
async fn restarts_continue_the_chain_and_verify() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = two_boots(dir.path()).await?;
    let lines = lines(&path)?;
    assert_eq!(lines.len(), 3 + 6);
    let report = verify(&lines, Some(&read_checkpoint(&path)?))?;
    assert_eq!((report.records, report.chains), (9, 2));
    let first: serde_json::Value = serde_json::from_str(&lines[0])?;
    let restart: serde_json::Value = serde_json::from_str(&lines[3])?;
    assert_eq!(first["kind"], "start");
    assert_eq!(first["instance"], "pod-0");
    assert_eq!(restart["kind"], "start");
    assert_eq!(restart["prev_boot"], first["boot"]);
    assert_eq!(
        restart["prev"],
        serde_json::from_str::<serde_json::Value>(&lines[2])?["mac"]
    );
    assert_ne!(restart["boot"], first["boot"]);
    Ok(())
}

#[tokio::test]
async fn an_edited_record_fails_even_with_its_mac_recomputed_without_the_key() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let path = two_boots(dir.path()).await?;
    let lines = lines(&path)?;
    let mut edited = lines.clone();
    edited[5] = edited[5].replace("\"what\":\"d\"", "\"what\":\"x\"");
    assert_eq!(verify(&edited, None).map_err(|e| e.line), Err(6));
    // Recomputing the chain with plain SHA-256 (all an attacker without the key can do).
    use sha2::Digest as _;
    let (body, _) = line::split_line(&edited[5]).expect("mac member");
    let forged = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    edited[5] = format!("{},\"mac\":\"{forged}\"}}", &body[..body.len() - 1]);
    assert_eq!(verify(&edited, None).map_err(|e| e.line), Err(6));
    // And under another key.
    let other = AuditKey::from_bytes(Zeroizing::new([8; 32]));
    let err = verify_lines(lines.iter().map(String::as_str), &other, None).expect_err("key");
    assert_eq!(err.line, 1);
    Ok(())
}

#[tokio::test]
async fn removed_and_reordered_records_fail() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = two_boots(dir.path()).await?;
    let lines = lines(&path)?;
    let mut removed = lines.clone();
    removed.remove(5);
    assert_eq!(verify(&removed, None).map_err(|e| e.line), Err(6));
    let mut reordered = lines.clone();
    reordered.swap(5, 6);
    assert_eq!(verify(&reordered, None).map_err(|e| e.line), Err(6));
    // The first chain's last record removed: the restart no longer continues from its end.
    let mut cut = lines.clone();
    cut.remove(2);
    assert_eq!(verify(&cut, None).map_err(|e| e.line), Err(3));
    // The start record removed.
    assert_eq!(verify(&lines[1..], None).map_err(|e| e.line), Err(1));
    Ok(())
}

#[tokio::test]
async fn a_truncated_tail_fails_against_the_checkpoint() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = open(
        &path,
        CheckpointPolicy {
            every_records: 3,
            every: std::time::Duration::from_secs(3600),
        },
    )?;
    for i in 0..7 {
        log.record(&event(&i.to_string())).await?;
    }
    // Signed after the writes reaching 3 records: seq 2 (start record, 0 and 1), then 5; kept
    // by the syncer's thread, off the write path.
    let checkpoint = testkit::eventually("the checkpoint of seq 5", DEADLINE, || async {
        read_checkpoint(&path).and_then(|c| {
            anyhow::ensure!(c.seq == 5, "seq {}", c.seq);
            Ok(c)
        })
    })
    .await;
    let lines = lines(&path)?;
    verify(&lines, Some(&checkpoint))?;
    // Records after the checkpoint may be cut without notice; records it covers may not.
    verify(&lines[..6], Some(&checkpoint))?;
    let err = verify(&lines[..5], Some(&checkpoint)).expect_err("truncated");
    assert!(err.reason.contains("truncated"), "{err}");
    // A forged checkpoint does not help.
    let mut forged = checkpoint.clone();
    forged.seq = 2;
    assert!(verify(&lines[..5], Some(&forged)).is_err());
    // Dropping the log signs its final head.
    drop(log);
    assert_eq!(read_checkpoint(&path)?.seq, 7);
    Ok(())
}

#[tokio::test]
async fn interleaved_chains_of_two_replicas_verify() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    let (log_a, log_b) = (open(&a, rare())?, open(&b, rare())?);
    for _ in 0..3 {
        log_a.record(&event("a")).await?;
        log_b.record(&event("b")).await?;
    }
    let mut mixed = Vec::new();
    for (x, y) in lines(&a)?.into_iter().zip(lines(&b)?) {
        mixed.push(x);
        mixed.push(y);
    }
    assert_eq!(verify(&mixed, None)?.chains, 2);
    Ok(())
}

#[tokio::test]
async fn a_log_ending_in_a_forged_line_is_not_continued() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    open(&path, rare())?.record(&event("a")).await?;
    let text = std::fs::read_to_string(&path)?.replace("\"what\":\"a\"", "\"what\":\"z\"");
    std::fs::write(&path, text)?;
    assert!(matches!(
        open(&path, rare()),
        Err(AuditError::Resume { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn a_failing_sink_refuses_and_stays_refused() -> anyhow::Result<()> {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let log = open(Path::new("/dev/full"), rare())?;
    assert!(log.record(&event("a")).await.is_err());
    assert!(matches!(
        log.record(&event("b")).await,
        Err(AuditError::Poisoned)
    ));
    Ok(())
}

/// A batch's records land consecutively in the chain, interleaved with nothing, and verify;
/// on a failing sink the whole batch is refused.
#[tokio::test]
async fn records_written_together_are_consecutive_and_verify() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = open(&path, rare())?;
    log.record(&event("before")).await?;
    let (a, b, c) = (event("item-0"), event("item-1"), event("item-2"));
    log.record_many(&[&a, &b, &c]).await?;
    log.record_many(&[]).await?;
    log.record(&event("after")).await?;
    drop(log);
    let lines = lines(&path)?;
    let whats: Vec<String> = lines
        .iter()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["what"].to_string()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        whats,
        [
            "\"before\"",
            "\"item-0\"",
            "\"item-1\"",
            "\"item-2\"",
            "\"after\""
        ]
    );
    let report = verify(&lines, Some(&read_checkpoint(&path)?))?;
    assert_eq!(report.records, 6);

    let full = open(Path::new("/dev/full"), rare())?;
    assert!(full.record_many(&[&a, &b]).await.is_err());
    assert!(full.record_many(&[&c]).await.is_err());
    Ok(())
}

#[test]
fn key_files_accept_secret_mounts_but_not_others() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("k");
    std::fs::write(&path, hex::encode([9u8; 32]))?;
    let load = |p: &Path| AuditKey::load_file(p).map(|k| *k.subkey("x"));
    let expected = *AuditKey::from_bytes(Zeroizing::new([9; 32])).subkey("x");
    for mode in [0o400, 0o440, 0o600, 0o640] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        assert_eq!(load(&path).ok(), Some(expected), "mode {mode:o}");
    }
    // A Kubernetes Secret volume: the file is a symlink into a timestamped directory.
    let data = dir.path().join("..data");
    std::fs::create_dir(&data)?;
    std::fs::write(data.join("audit.key"), [9u8; 32])?;
    std::fs::set_permissions(
        data.join("audit.key"),
        std::fs::Permissions::from_mode(0o440),
    )?;
    let link = dir.path().join("audit.key");
    std::os::unix::fs::symlink(data.join("audit.key"), &link)?;
    assert_eq!(load(&link).ok(), Some(expected));
    for mode in [0o644, 0o660, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        assert!(load(&path).is_err(), "mode {mode:o}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    std::fs::write(&path, "short")?;
    assert!(load(&path).is_err());
    // Derivation is stable and label-separated.
    let a = AuditKey::derive(b"root", "label one");
    assert_eq!(
        *a.subkey("s"),
        *AuditKey::derive(b"root", "label one").subkey("s")
    );
    assert_ne!(
        *a.subkey("s"),
        *AuditKey::derive(b"root", "label two").subkey("s")
    );
    Ok(())
}

/// Many callers at once on a multi-threaded runtime: every record is written exactly once, in
/// one unbroken chain, although they share `write` calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_share_writes_and_form_one_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = std::sync::Arc::new(open(&path, CheckpointPolicy::default())?);
    let mut tasks = Vec::new();
    for task in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let request_id = format!("task-{task}-{i}");
                log.record(&Event {
                    what: "x",
                    request_id: &request_id,
                })
                .await?;
            }
            Ok::<_, AuditError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let lines = lines(&path)?;
    assert_eq!(verify(&lines, None)?.records, 1 + 32 * 50);
    let mut ids = std::collections::HashSet::new();
    for line in &lines[1..] {
        let value: serde_json::Value = serde_json::from_str(line)?;
        let id = value["request_id"].as_str().unwrap_or_default().to_owned();
        assert!(ids.insert(id.clone()), "{id} written twice");
    }
    assert_eq!(ids.len(), 32 * 50, "every record once");
    Ok(())
}

/// A caller that goes away while it waits (a cancelled request) must not strand the others:
/// its record is still written, and later records still get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_callers_neither_lose_records_nor_block_others() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = std::sync::Arc::new(open(&path, CheckpointPolicy::default())?);
    for round in 0..20 {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move { log.record(&event("x")).await }));
        }
        // Abort some of them wherever they are: before, while waiting, or holding the baton.
        for task in tasks.iter().skip(round % 3).step_by(3) {
            task.abort();
        }
        for task in tasks {
            match task.await {
                Ok(result) => result?,
                Err(e) if e.is_cancelled() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let last = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        log.record(&event("last")),
    )
    .await;
    assert!(matches!(last, Ok(Ok(()))), "a later record is written");
    // Whatever was chained was written: the chain has no gap.
    let count = verify(&lines(&path)?, None)?.records;
    assert!(count > 20 * 16 * 2 / 3, "{count} records");
    Ok(())
}

/// Under `fsync = always` a caller is answered only after the flush covering its record, and
/// the checkpoint that falls due is kept after that flush; many callers share flushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_answers_after_the_flush_and_checkpoints_follow_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = std::sync::Arc::new(AuditLog::open(
        &SinkConfig::File {
            path: path.clone(),
            fsync: FsyncPolicy::Always,
        },
        &key(),
        ORIGIN,
        CheckpointPolicy {
            every_records: 10,
            every: std::time::Duration::from_secs(3600),
        },
    )?);
    let mut tasks = Vec::new();
    for task in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let id = format!("t{task}");
                log.record(&Event {
                    what: "x",
                    request_id: &id,
                })
                .await?;
            }
            Ok::<_, AuditError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let lines = lines(&path)?;
    assert_eq!(lines.len(), 1 + 8 * 20);
    let checkpoint = testkit::eventually("a checkpoint", DEADLINE, || async {
        read_checkpoint(&path)
    })
    .await;
    let report = verify(&lines, Some(&checkpoint))?;
    assert!(report.checkpoint_checked);
    drop(log);
    assert_eq!(read_checkpoint(&path)?.seq, 8 * 20);
    Ok(())
}

/// Under `fsync = interval` lines are answered after their write and flushed by the syncer
/// within the interval; records keep flowing while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_flushes_off_the_write_path() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(
        &SinkConfig::File {
            path: path.clone(),
            fsync: FsyncPolicy::Interval(std::time::Duration::from_millis(5)),
        },
        &key(),
        ORIGIN,
        CheckpointPolicy {
            every_records: 25,
            every: std::time::Duration::from_millis(20),
        },
    )?;
    for i in 0..200 {
        log.record(&event(&i.to_string())).await?;
    }
    testkit::eventually("a checkpoint of a written head", DEADLINE, || async {
        read_checkpoint(&path).map(|c| c.seq > 0)
    })
    .await;
    drop(log);
    let lines = lines(&path)?;
    assert_eq!(verify(&lines, Some(&read_checkpoint(&path)?))?.records, 201);
    Ok(())
}

/// A checkpoint that cannot be kept poisons the log: later records are refused.
#[tokio::test]
async fn a_checkpoint_that_cannot_be_kept_refuses_later_records() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = open(
        &path,
        CheckpointPolicy {
            every_records: 2,
            every: std::time::Duration::from_secs(3600),
        },
    )?;
    // The temporary checkpoint file cannot be created: a directory stands in its way.
    let mut blocked = checkpoint_path(&path).into_os_string();
    blocked.push(".tmp");
    std::fs::create_dir(&blocked)?;
    log.record(&event("a")).await?;
    let refused = testkit::eventually("a refused record", DEADLINE, || async {
        log.record(&event("b")).await.is_err()
    });
    refused.await;
    assert!(matches!(
        log.record(&event("c")).await,
        Err(AuditError::Poisoned)
    ));
    assert!(log.checkpoint().is_err());
    Ok(())
}
