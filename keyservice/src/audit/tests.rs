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

#[test]
fn chain_verifies_and_survives_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    {
        let log = file_log(&path)?;
        log.record(&event(Operation::Wrap, Some(b"tenant-1")))?;
        log.record(&event(Operation::Unwrap, Some(b"tenant-1")))?;
    }
    // a new process continues the same chain
    file_log(&path)?.record(&event(Operation::Rewrap, None))?;
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

#[test]
fn edits_and_removals_are_reported_at_the_right_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    let log = file_log(&path)?;
    for _ in 0..4 {
        log.record(&event(Operation::Unwrap, Some(b"x")))?;
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

#[test]
fn a_failing_sink_refuses_and_stays_refused() -> anyhow::Result<()> {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let log = file_log(std::path::Path::new("/dev/full"))?;
    assert!(log.record(&event(Operation::Unwrap, None)).is_err());
    assert!(matches!(
        log.record(&event(Operation::Unwrap, None)),
        Err(AuditError::Poisoned)
    ));
    Ok(())
}
