//! Every RPC over real mTLS against PostgreSQL and SQLite: round trips, associated-data
//! binding, rotation, rewrap, version states, batches, deletion scheduling, validation and
//! authorization codes, and the audit trail those calls leave.

use proto::keyservice::v1::{
    BatchGenerateDataKeysRequest, BatchRewrapKeysRequest, BatchUnwrapKeysRequest,
    CancelKeyDeletionRequest, GenerateDataKeyRequest, GetKeyRequest, KeyState, KeyVersionState,
    ListKeysRequest, RewrapKeyRequest, RotateKeyRequest, ScheduleKeyDeletionRequest,
    SetMinDecryptionVersionRequest, UnwrapKeyRequest, UpdateKeyVersionRequest, WrapKeyRequest,
    batch_generate_data_keys_result, batch_rewrap_keys_result, batch_unwrap_keys_result,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{ADMIN, KEY, SERVICE, STRANGER, TestDb, TestService, create_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_round_trips_on_both_backends() {
    for (backend, db) in TestDb::both() {
        println!("backend: {backend}");
        let service = TestService::start(&db, |_| {}).await;
        round_trips(&service).await;
        let audit = service.audit_path.clone();
        let dir = service.stop().await;
        let root =
            keyservice::rootkey::open(&format!("file:{}", dir.path().join("root.key").display()))
                .expect("root key");
        let keys =
            keyservice::audit::AuditKeys::load("", "", Some(root.as_ref())).expect("audit keys");
        let records = keyservice::audit::verify_file(&audit, &keys.chain, None)
            .expect("audit chain verifies")
            .records;
        assert!(records >= 20, "{backend}: only {records} audit records");
        let text = std::fs::read_to_string(&audit).expect("audit log");
        assert!(
            !text.contains("tenant-42"),
            "associated data must not appear in clear"
        );
        assert!(text.contains("\"operation\":\"unwrap\""));
        assert!(text.contains("\"outcome\":\"denied\""));
        assert!(text.contains("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
    }
}

async fn round_trips(service: &TestService) {
    create_key(service).await;
    let mut admin = service.admin(ADMIN).await;
    let mut keys = service.keys(SERVICE).await;
    let aad = b"tenant-42/on24-credentials".to_vec();

    // generate -> unwrap gives the same plaintext; a traceparent lands in the audit record
    let mut request = tonic::Request::new(GenerateDataKeyRequest {
        name: KEY.into(),
        associated_data: aad.clone(),
    });
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("ascii"),
    );
    let generated = keys
        .generate_data_key(request)
        .await
        .expect("generate")
        .into_inner();
    assert_eq!(generated.plaintext.len(), 32);
    assert_eq!(generated.key_version, "keys/on24-credentials/versions/1");
    let unwrapped = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: generated.wrapped_key.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect("unwrap")
        .into_inner();
    assert_eq!(unwrapped.plaintext, generated.plaintext);

    // wrap a caller key -> unwrap
    let wrapped_v1 = keys
        .wrap_key(WrapKeyRequest {
            name: KEY.into(),
            plaintext: vec![7; 32],
            associated_data: aad.clone(),
        })
        .await
        .expect("wrap")
        .into_inner()
        .wrapped_key;
    let back = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect("unwrap wrapped")
        .into_inner();
    assert_eq!(back.plaintext, vec![7; 32]);

    // associated data swap and a flipped bit both fail, as the same "cannot unwrap"
    let swapped = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: b"tenant-43/on24-credentials".to_vec(),
        })
        .await
        .expect_err("aad swap must fail");
    assert_eq!(swapped.code(), Code::InvalidArgument);
    assert_eq!(swapped.message(), "cannot unwrap");
    let mut flipped = wrapped_v1.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let tampered = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: flipped,
            associated_data: aad.clone(),
        })
        .await
        .expect_err("tampered must fail");
    assert_eq!(
        (tampered.code(), tampered.message()),
        (Code::InvalidArgument, "cannot unwrap")
    );

    // rotate: old still unwraps, new wraps under v2, rewrap moves old to v2
    let rotated = admin
        .rotate_key(RotateKeyRequest { name: KEY.into() })
        .await
        .expect("rotate")
        .into_inner();
    assert_eq!(rotated.key.expect("key").primary_version, 2);
    let old = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect("old version still unwraps")
        .into_inner();
    assert_eq!(old.key_version, "keys/on24-credentials/versions/1");
    let new = keys
        .generate_data_key(GenerateDataKeyRequest {
            name: KEY.into(),
            associated_data: aad.clone(),
        })
        .await
        .expect("generate after rotate")
        .into_inner();
    assert_eq!(new.key_version, "keys/on24-credentials/versions/2");
    let rewrapped = keys
        .rewrap_key(RewrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect("rewrap")
        .into_inner();
    assert_eq!(rewrapped.key_version, "keys/on24-credentials/versions/2");
    let moved = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: rewrapped.wrapped_key.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect("unwrap rewrapped")
        .into_inner();
    assert_eq!(
        (moved.plaintext, moved.key_version.as_str()),
        (vec![7; 32], "keys/on24-credentials/versions/2")
    );

    // disabling v1 refuses it; enabling brings it back; min decryption version refuses it
    let disabled = admin
        .update_key_version(UpdateKeyVersionRequest {
            name: "keys/on24-credentials/versions/1".into(),
            state: KeyVersionState::Disabled as i32,
        })
        .await
        .expect("disable v1")
        .into_inner();
    assert_eq!(
        disabled.key_version.expect("version").state,
        KeyVersionState::Disabled as i32
    );
    let refused = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect_err("disabled version refuses");
    assert_eq!(refused.code(), Code::InvalidArgument);
    admin
        .update_key_version(UpdateKeyVersionRequest {
            name: "keys/on24-credentials/versions/1".into(),
            state: KeyVersionState::Enabled as i32,
        })
        .await
        .expect("enable v1");
    keys.unwrap_key(UnwrapKeyRequest {
        wrapped_key: wrapped_v1.clone(),
        associated_data: aad.clone(),
    })
    .await
    .expect("enabled again");

    // batches: one result per item, a bad item does not spoil the others
    let batch = keys
        .batch_generate_data_keys(BatchGenerateDataKeysRequest {
            requests: vec![
                GenerateDataKeyRequest {
                    name: KEY.into(),
                    associated_data: aad.clone(),
                },
                GenerateDataKeyRequest {
                    name: "keys/other".into(),
                    associated_data: aad.clone(),
                },
            ],
        })
        .await
        .expect("batch generate")
        .into_inner()
        .results;
    let first = match &batch[0].result {
        Some(batch_generate_data_keys_result::Result::Response(r)) => r.clone(),
        other => panic!("first item failed: {other:?}"),
    };
    match &batch[1].result {
        Some(batch_generate_data_keys_result::Result::Error(e)) => {
            assert_eq!(e.code, Code::PermissionDenied as i32)
        }
        other => panic!("second item should be refused: {other:?}"),
    }
    let mut request = tonic::Request::new(BatchUnwrapKeysRequest {
        requests: vec![
            UnwrapKeyRequest {
                wrapped_key: first.wrapped_key.clone(),
                associated_data: aad.clone(),
            },
            UnwrapKeyRequest {
                wrapped_key: vec![1, 2, 3],
                associated_data: aad.clone(),
            },
        ],
    });
    request
        .metadata_mut()
        .insert("x-request-id", "batch-unwrap-1".parse().expect("ascii"));
    let unwrapped = keys
        .batch_unwrap_keys(request)
        .await
        .expect("batch unwrap")
        .into_inner()
        .results;
    match &unwrapped[0].result {
        Some(batch_unwrap_keys_result::Result::Response(r)) => {
            assert_eq!(r.plaintext, first.plaintext)
        }
        other => panic!("unwrap item failed: {other:?}"),
    }
    match &unwrapped[1].result {
        Some(batch_unwrap_keys_result::Result::Error(e)) => {
            assert_eq!(
                (e.code, e.message.as_str()),
                (Code::InvalidArgument as i32, "cannot unwrap")
            )
        }
        other => panic!("garbage must not unwrap: {other:?}"),
    }
    // The batch's items are audited together: one record each, consecutive in the chain,
    // already written when the answer arrived.
    let text = std::fs::read_to_string(&service.audit_path).expect("audit log");
    let items: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["request_id"] == "batch-unwrap-1")
        .collect();
    let outcomes: Vec<&str> = items
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["ok", "error"]);
    assert_eq!(
        items[1]["seq"].as_u64(),
        items[0]["seq"].as_u64().map(|seq| seq + 1)
    );

    let rewrapped = keys
        .batch_rewrap_keys(BatchRewrapKeysRequest {
            requests: vec![RewrapKeyRequest {
                wrapped_key: wrapped_v1.clone(),
                associated_data: aad.clone(),
            }],
        })
        .await
        .expect("batch rewrap")
        .into_inner()
        .results;
    assert!(
        matches!(&rewrapped[0].result, Some(batch_rewrap_keys_result::Result::Response(r)) if r.key_version.ends_with("/2"))
    );
    let too_many = keys
        .batch_unwrap_keys(BatchUnwrapKeysRequest {
            requests: vec![UnwrapKeyRequest::default(); 101],
        })
        .await
        .expect_err("batch over the bound");
    assert_eq!(too_many.code(), Code::InvalidArgument);

    // v1 unwrapped just now: raising the minimum above it is refused unless forced.
    let in_use = admin
        .set_min_decryption_version(SetMinDecryptionVersionRequest {
            name: KEY.into(),
            min_decryption_version: 2,
            force: false,
        })
        .await
        .expect_err("v1 still in use");
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    assert!(
        in_use.message().contains("version(s) 1 "),
        "{}",
        in_use.message()
    );
    // min decryption version 2 refuses v1
    admin
        .set_min_decryption_version(SetMinDecryptionVersionRequest {
            name: KEY.into(),
            min_decryption_version: 2,
            force: true,
        })
        .await
        .expect("set min decryption version");
    let below_min = keys
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: wrapped_v1.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect_err("below min decryption version");
    assert_eq!(below_min.code(), Code::InvalidArgument);

    // get and list
    let got = admin
        .get_key(GetKeyRequest { name: KEY.into() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.versions.len(), 2);
    assert_eq!(got.key.expect("key").min_decryption_version, 2);
    let listed = admin
        .list_keys(ListKeysRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.keys.len(), 1);

    // deletion: scheduled keys refuse data-key operations until cancelled
    let scheduled = admin
        .schedule_key_deletion(ScheduleKeyDeletionRequest {
            name: KEY.into(),
            waiting_period: None,
        })
        .await
        .expect("schedule deletion")
        .into_inner();
    assert_eq!(
        scheduled.key.expect("key").state,
        KeyState::DeleteScheduled as i32
    );
    let during = keys
        .generate_data_key(GenerateDataKeyRequest {
            name: KEY.into(),
            associated_data: aad.clone(),
        })
        .await
        .expect_err("scheduled key refuses");
    assert_eq!(during.code(), Code::FailedPrecondition);
    admin
        .cancel_key_deletion(CancelKeyDeletionRequest { name: KEY.into() })
        .await
        .expect("cancel deletion");
    keys.generate_data_key(GenerateDataKeyRequest {
        name: KEY.into(),
        associated_data: aad.clone(),
    })
    .await
    .expect("enabled after cancel");

    // validation names the field; authorization refuses what the policy does not grant
    let bad = keys
        .generate_data_key(GenerateDataKeyRequest {
            name: "on24-credentials".into(),
            associated_data: vec![],
        })
        .await
        .expect_err("bad name");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let field = bad
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations[0].field.clone());
    assert_eq!(field.as_deref(), Some("name"));
    let admin_unwrap = admin_keys(service)
        .await
        .unwrap_key(UnwrapKeyRequest {
            wrapped_key: generated.wrapped_key.clone(),
            associated_data: aad.clone(),
        })
        .await
        .expect_err("admin may not unwrap");
    assert_eq!(admin_unwrap.code(), Code::PermissionDenied);
    let stranger = service
        .keys(STRANGER)
        .await
        .generate_data_key(GenerateDataKeyRequest {
            name: KEY.into(),
            associated_data: vec![],
        })
        .await
        .expect_err("identity not in the policy");
    assert_eq!(stranger.code(), Code::PermissionDenied);
    let service_rotate = service
        .admin(SERVICE)
        .await
        .rotate_key(RotateKeyRequest { name: KEY.into() })
        .await
        .expect_err("service may not rotate");
    assert_eq!(service_rotate.code(), Code::PermissionDenied);
}

async fn admin_keys(
    service: &TestService,
) -> proto::keyservice::v1::key_service_client::KeyServiceClient<tonic::transport::Channel> {
    service.keys(ADMIN).await
}
