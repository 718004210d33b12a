//! Edge guarantees beyond single RPCs: the audit chain (checked with the real
//! `keyservice audit verify` binary) detects removed and edited lines, the per-identity rate
//! limit answers RESOURCE_EXHAUSTED, and an unwritable audit sink refuses operations.

use std::process::Command;

use proto::keyservice::v1::{GenerateDataKeyRequest, GetKeyRequest};
use tonic::Code;

use crate::support::{ADMIN, KEY, SERVICE, TestDb, TestService, create_key};

/// Runs `keyservice audit verify` with the audit key derived from the service's root key and
/// the checkpoint file the service kept beside the log.
fn verify_with_binary(
    path: &std::path::Path,
    root_key: &std::path::Path,
    checkpoint: &std::path::Path,
) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keyservice"))
        .args(["audit", "verify"])
        .arg(path)
        .arg(format!("--root-key=file:{}", root_key.display()))
        .arg(format!("--checkpoint={}", checkpoint.display()))
        .output()
        .expect("run keyservice audit verify");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_removed_and_edited_lines() {
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;
    create_key(&service).await;
    let mut keys = service.keys(SERVICE).await;
    for _ in 0..5 {
        keys.generate_data_key(GenerateDataKeyRequest {
            name: KEY.into(),
            associated_data: b"tenant".to_vec(),
        })
        .await
        .expect("generate");
    }
    let audit = service.audit_path.clone();
    let service_dir = service.stop().await;
    let root_key = service_dir.path().join("root.key");
    let checkpoint = keyservice::audit::checkpoint_path(&audit);
    let verify = |path: &std::path::Path| verify_with_binary(path, &root_key, &checkpoint);

    // The start record, the key's creation and five generates; the final checkpoint signs
    // the last of them.
    let (code, out) = verify(&audit);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("7 records"), "{out}");
    assert!(out.contains("reaches its checkpoint"), "{out}");

    let text = std::fs::read_to_string(&audit).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().expect("tempdir");

    let removed = dir.path().join("removed.log");
    let mut kept = lines.clone();
    kept.remove(3);
    std::fs::write(&removed, kept.join("\n") + "\n").expect("write");
    let (code, out) = verify(&removed);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 4"), "{out}");

    let edited = dir.path().join("edited.log");
    let mut changed = lines.clone();
    let forged = lines[2].replace(SERVICE, "spiffe://webinar.local/someone-else");
    assert_ne!(forged, lines[2]);
    changed[2] = &forged;
    std::fs::write(&edited, changed.join("\n") + "\n").expect("write");
    let (code, out) = verify(&edited);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 3"), "{out}");

    // Two records swapped.
    let reordered = dir.path().join("reordered.log");
    let mut swapped = lines.clone();
    swapped.swap(4, 5);
    std::fs::write(&reordered, swapped.join("\n") + "\n").expect("write");
    let (code, out) = verify(&reordered);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 5"), "{out}");

    // The last record cut off: the chain alone is intact, the checkpoint is not reached.
    let truncated = dir.path().join("truncated.log");
    std::fs::write(&truncated, lines[..lines.len() - 1].join("\n") + "\n").expect("write");
    let (code, out) = verify(&truncated);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("truncated"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_gives_resource_exhausted_per_identity() {
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |config| {
        config.limits.rate_per_second = 1;
        config.limits.rate_burst = 3;
    })
    .await;
    let mut admin = service.admin(ADMIN).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let code = match admin.get_key(GetKeyRequest { name: KEY.into() }).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        codes.push(code);
    }
    // the key does not exist: the first calls get through to NOT_FOUND, then the limit bites
    assert_eq!(&codes[..3], &[Code::NotFound; 3], "{codes:?}");
    assert_eq!(codes[4], Code::ResourceExhausted, "{codes:?}");
    // another identity has its own bucket
    let other = service
        .keys(SERVICE)
        .await
        .generate_data_key(GenerateDataKeyRequest {
            name: KEY.into(),
            associated_data: vec![],
        })
        .await
        .expect_err("no key yet");
    assert_eq!(other.code(), Code::NotFound);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_audit_sink_refuses_operations() {
    let db = TestDb::sqlite();
    // /dev/full accepts the open and fails every write: the service must fail closed.
    let service = TestService::start(&db, |config| {
        config.audit.sink = "file:/dev/full".into();
    })
    .await;
    let refused = service
        .admin(ADMIN)
        .await
        .get_key(GetKeyRequest { name: KEY.into() })
        .await
        .expect_err("no audit, no answer");
    assert_eq!(refused.code(), Code::Unavailable);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused_before_decoding() {
    use proto::keyservice::v1::WrapKeyRequest;
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |config| {
        config.limits.max_request_bytes = 1024;
    })
    .await;
    let refused = service
        .keys(SERVICE)
        .await
        .wrap_key(WrapKeyRequest {
            name: KEY.into(),
            plaintext: vec![1; 32],
            associated_data: vec![0; 2048],
        })
        .await
        .expect_err("larger than limits.max_request_bytes");
    // tonic reports an over-long message as OUT_OF_RANGE (older versions: RESOURCE_EXHAUSTED)
    assert!(
        matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{refused:?}"
    );
    service.stop().await;
}
