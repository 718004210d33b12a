use super::*;

fn event<'a>(op: Operation, aad: Option<&'a [u8]>) -> AuditEvent<'a> {
    AuditEvent {
        identity: "spiffe://webinar.local/integrationservice",
        operation: op,
        key_id: Some("on24-credentials"),
        key_version: Some(1),
        outcome: Outcome::Ok,
        request_id: "req-1",
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        associated_data: aad,
    }
}

fn file_log(path: &std::path::Path) -> Result<AuditLog, AuditError> {
    AuditLog::open(
        &SinkConfig::File {
            path: path.to_owned(),
            fsync: FsyncPolicy::Never,
        },
        Zeroizing::new([7; 32]),
    )
}

#[tokio::test]
async fn chain_verifies_and_survives_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    {
        let log = file_log(&path)?;
        log.record(&event(Operation::Wrap, Some(b"tenant-1")))
            .await?;
        log.record(&event(Operation::Unwrap, Some(b"tenant-1")))
            .await?;
    }
    // a new process continues the same chain
    file_log(&path)?
        .record(&event(Operation::Rewrap, None))
        .await?;
    assert_eq!(verify_file(&path)?, 3);
    let text = std::fs::read_to_string(&path)?;
    assert!(
        !text.contains("tenant-1"),
        "associated data must not be in clear"
    );
    assert!(text.contains("\"aad_hmac\":\""));
    assert!(text.contains("\"seq\":2"));
    Ok(())
}

#[tokio::test]
async fn edits_and_removals_are_reported_at_the_right_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = file_log(&path)?;
    for _ in 0..4 {
        log.record(&event(Operation::Unwrap, Some(b"x"))).await?;
    }
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().collect();

    let mut edited = lines.clone();
    let changed = lines[1].replace("\"outcome\":\"ok\"", "\"outcome\":\"error\"");
    edited[1] = &changed;
    assert_eq!(verify_lines(edited).err().map(|e| e.line), Some(2));

    let mut removed = lines.clone();
    removed.remove(2);
    assert_eq!(verify_lines(removed).err().map(|e| e.line), Some(3));

    assert_eq!(
        verify_lines(lines[1..].to_vec()).err().map(|e| e.line),
        Some(1)
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_sink_refuses_and_stays_refused() -> anyhow::Result<()> {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let log = file_log(std::path::Path::new("/dev/full"))?;
    assert!(log.record(&event(Operation::Unwrap, None)).await.is_err());
    assert!(matches!(
        log.record(&event(Operation::Unwrap, None)).await,
        Err(AuditError::Poisoned)
    ));
    Ok(())
}

/// Many callers at once on a multi-threaded runtime: every record is written exactly once, in
/// one unbroken chain, although they share `write` calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_share_writes_and_form_one_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = std::sync::Arc::new(file_log(&path)?);
    let mut tasks = Vec::new();
    for task in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let request_id = format!("task-{task}-{i}");
                let mut e = event(Operation::Unwrap, Some(b"aad"));
                e.request_id = &request_id;
                log.record(&e).await?;
            }
            Ok::<_, AuditError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    assert_eq!(verify_file(&path)?, 32 * 50);
    let text = std::fs::read_to_string(&path)?;
    let mut ids = std::collections::HashSet::new();
    for line in text.lines() {
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
    let log = std::sync::Arc::new(file_log(&path)?);
    for round in 0..20 {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.record(&event(Operation::Unwrap, None)).await
            }));
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
        log.record(&event(Operation::Wrap, None)),
    )
    .await;
    assert!(matches!(last, Ok(Ok(()))), "a later record is written");
    // Whatever was chained was written: the chain has no gap.
    let count = verify_file(&path)?;
    assert!(count > 20 * 16 * 2 / 3, "{count} records");
    Ok(())
}
