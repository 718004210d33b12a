use zeroize::Zeroizing;

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

fn root() -> crate::rootkey::SoftwareRootKey {
    crate::rootkey::SoftwareRootKey::new(Zeroizing::new([5; 32]), "test")
}

fn file_log(path: &std::path::Path) -> anyhow::Result<AuditLog> {
    let keys = AuditKeys::load("", "", Some(&root())).map_err(anyhow::Error::msg)?;
    Ok(AuditLog::open(
        &SinkConfig::File {
            path: path.to_owned(),
            fsync: FsyncPolicy::Never,
        },
        &keys,
        "pod-0",
        CheckpointPolicy::default(),
    )?)
}

fn aad_hmacs(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(h) = value["aad_hmac"].as_str() {
            out.push(h.to_owned());
        }
    }
    Ok(out)
}

/// Same associated data before and after a restart gives the same HMAC (the key is derived
/// from the root key, not made per start), and the chain verifies across the restart.
#[tokio::test]
async fn aad_hmac_and_chain_survive_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.log");
    file_log(&path)?
        .record(&event(Operation::Wrap, Some(b"tenant-1")))
        .await?;
    file_log(&path)?
        .record(&event(Operation::Unwrap, Some(b"tenant-1")))
        .await?;
    let hmacs = aad_hmacs(&path)?;
    assert_eq!(hmacs.len(), 2);
    assert_eq!(hmacs[0], hmacs[1], "same AAD, same HMAC across restarts");
    let keys = AuditKeys::load("", "", Some(&root())).map_err(anyhow::Error::msg)?;
    let checkpoint = Checkpoint::parse(&std::fs::read_to_string(checkpoint_path(&path))?)?;
    let report = verify_file(&path, &keys.chain, Some(&checkpoint))?;
    assert_eq!((report.records, report.chains), (4, 2));
    let text = std::fs::read_to_string(&path)?;
    assert!(
        !text.contains("tenant-1"),
        "associated data must not be in clear"
    );
    Ok(())
}
