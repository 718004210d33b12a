//! Data-key operations: round trips, rotation, rewrap, minimum and disabled versions,
//! wrap limits under concurrency, batches.

use super::*;

async fn rotate_then_unwrap_old_and_new(url: &str) {
    let km = manager(url, software_root()).await;
    let key = km
        .create_key(new_key("on24-credentials"))
        .await
        .expect("creates");
    assert_eq!((key.primary_version, key.state), (1, KeyState::Enabled));
    let aad = b"tenant=acme;purpose=on24";

    let generated = km
        .generate_data_key("on24-credentials", aad)
        .await
        .expect("generates");
    assert_eq!(generated.plaintext.len(), 32);
    assert_eq!(generated.version, version("on24-credentials", 1));
    let wrapped_v1 = km
        .wrap("on24-credentials", b"caller dek", aad)
        .await
        .expect("wraps");

    let (plain, from) = km
        .unwrap(&generated.wrapped_key, aad)
        .await
        .expect("unwraps");
    assert_eq!(plain.as_slice(), generated.plaintext.as_slice());
    assert_eq!(from.version, 1);
    assert!(matches!(
        km.unwrap(&generated.wrapped_key, b"tenant=other").await,
        Err(Error::CannotUnwrap)
    ));
    let mut flipped = generated.wrapped_key.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(
        km.unwrap(&flipped, aad).await,
        Err(Error::CannotUnwrap)
    ));

    let (key, new_version) = km.rotate_key("on24-credentials").await.expect("rotates");
    assert_eq!((key.primary_version, new_version.reference.version), (2, 2));

    let (plain, from) = km
        .unwrap(&wrapped_v1.wrapped_key, aad)
        .await
        .expect("old version unwraps");
    assert_eq!((plain.as_slice(), from.version), (&b"caller dek"[..], 1));
    let wrapped_v2 = km
        .wrap("on24-credentials", b"newer dek", aad)
        .await
        .expect("wraps");
    assert_eq!(wrapped_v2.version.version, 2);
    let (plain, _) = km
        .unwrap(&wrapped_v2.wrapped_key, aad)
        .await
        .expect("new version unwraps");
    assert_eq!(plain.as_slice(), b"newer dek");

    // Rewrap moves to the primary, keeps the plaintext and the associated data binding.
    let rewrapped = km
        .rewrap(&generated.wrapped_key, aad)
        .await
        .expect("rewraps");
    assert_eq!(rewrapped.version, version("on24-credentials", 2));
    let (plain, from) = km
        .unwrap(&rewrapped.wrapped_key, aad)
        .await
        .expect("unwraps");
    assert_eq!(
        (plain.as_slice(), from.version),
        (generated.plaintext.as_slice(), 2)
    );
    assert!(matches!(
        km.unwrap(&rewrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rewrap(&generated.wrapped_key, b"wrong").await,
        Err(Error::CannotUnwrap)
    ));

    assert!(matches!(
        km.wrap("missing", b"k", b"").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        km.wrap("on24-credentials", b"", b"").await,
        Err(Error::InvalidArgument { .. })
    ));
    let big_aad = vec![0u8; km.settings().max_associated_data_len + 1];
    assert!(matches!(
        km.unwrap(&wrapped_v2.wrapped_key, &big_aad).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(
    rotate_then_unwrap_old_and_new,
    rotate_unwrap_postgres,
    rotate_unwrap_sqlite
);

async fn min_decryption_and_disabled_versions_refuse(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("k")).await.expect("creates");
    let v1 = km.wrap("k", b"dek", b"ctx").await.expect("wraps");
    km.rotate_key("k").await.expect("rotates");
    let v2 = km.wrap("k", b"dek2", b"ctx").await.expect("wraps");

    // Nothing unwrapped yet: no version is known to be in use.
    let key = km
        .set_min_decryption_version("k", 2, false)
        .await
        .expect("sets");
    assert_eq!(key.min_decryption_version, 2);
    assert!(matches!(
        km.unwrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    km.unwrap(&v2.wrapped_key, b"ctx")
        .await
        .expect("v2 still unwraps");
    assert!(matches!(
        km.set_min_decryption_version("k", 3, true).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.set_min_decryption_version("k", 0, true).await,
        Err(Error::InvalidArgument { .. })
    ));
    km.set_min_decryption_version("k", 1, false)
        .await
        .expect("lowers again");
    km.unwrap(&v1.wrapped_key, b"ctx")
        .await
        .expect("v1 unwraps again");
    // v1 just unwrapped: raising the minimum above it is refused unless forced; a rewrap of
    // a v1 key does not count as use.
    km.rewrap(&v1.wrapped_key, b"ctx").await.expect("rewraps");
    let refused = km.set_min_decryption_version("k", 2, false).await;
    assert!(
        matches!(&refused, Err(Error::FailedPrecondition(m)) if m.contains("version(s) 1 ")),
        "{refused:?}"
    );
    km.set_min_decryption_version("k", 2, true)
        .await
        .expect("forced");
    km.set_min_decryption_version("k", 1, true)
        .await
        .expect("lowers again");

    let disabled = km
        .update_key_version(&version("k", 1), KeyVersionState::Disabled)
        .await
        .expect("disables");
    assert_eq!(disabled.state, KeyVersionState::Disabled);
    assert!(matches!(
        km.unwrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rewrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.update_key_version(&version("k", 2), KeyVersionState::Disabled)
            .await,
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(
        km.update_key_version(&version("k", 9), KeyVersionState::Disabled)
            .await,
        Err(Error::NotFound(_))
    ));
    km.update_key_version(&version("k", 1), KeyVersionState::Enabled)
        .await
        .expect("enables");
    km.unwrap(&v1.wrapped_key, b"ctx")
        .await
        .expect("v1 unwraps after enabling");

    let (_, versions) = km.get_key("k").await.expect("gets");
    assert_eq!(
        versions
            .iter()
            .map(|v| v.reference.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}
both_backends!(
    min_decryption_and_disabled_versions_refuse,
    min_version_postgres,
    min_version_sqlite
);

async fn wrap_limit_holds_under_concurrency(url: &str) {
    // A refresh every 10 ms races the wraps: the count must never dip while one runs.
    let busy = DomainSettings {
        refresh_interval: Duration::from_millis(10),
        ..settings()
    };
    let store = Store::open(url, 4).expect("store");
    let km = KeyManager::open(store, software_root(), busy)
        .await
        .expect("opens");
    let limited = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: 25,
        },
        ..new_key("limited")
    };
    km.create_key(limited).await.expect("creates");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let km = km.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    km.generate_data_key("limited", b"")
                        .await
                        .expect("generates");
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    km.refresh().await.expect("flushes");
    let (_, versions) = km.get_key("limited").await.expect("gets");
    let counts: Vec<u64> = versions.iter().map(|v| v.wrap_count).collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        320,
        "every wrap counted: {counts:?}"
    );
    assert!(
        counts.iter().all(|c| *c <= 25),
        "a version exceeded its limit: {counts:?}"
    );
}
both_backends!(
    wrap_limit_holds_under_concurrency,
    wrap_limit_postgres,
    wrap_limit_sqlite
);

async fn batches_report_per_item(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("batch")).await.expect("creates");
    let results = km
        .batch_generate_data_keys(&[
            GenerateItem {
                key_id: "batch".into(),
                associated_data: b"one".to_vec(),
            },
            GenerateItem {
                key_id: "nope".into(),
                associated_data: vec![],
            },
            GenerateItem {
                key_id: "batch".into(),
                associated_data: b"three".to_vec(),
            },
        ])
        .await
        .expect("batch accepted");
    assert_eq!(results.len(), 3);
    assert!(matches!(results[1], Err(Error::NotFound(_))));
    let first = results[0].as_ref().expect("ok");
    let third = results[2].as_ref().expect("ok");
    let items = vec![
        UnwrapItem {
            wrapped_key: first.wrapped_key.clone(),
            associated_data: b"one".to_vec(),
        },
        UnwrapItem {
            wrapped_key: third.wrapped_key.clone(),
            associated_data: b"one".to_vec(),
        },
        UnwrapItem {
            wrapped_key: vec![1, 2, 3],
            associated_data: vec![],
        },
    ];
    let unwrapped = km.batch_unwrap(&items).await.expect("batch accepted");
    assert_eq!(
        unwrapped[0].as_ref().expect("ok").0.as_slice(),
        first.plaintext.as_slice()
    );
    assert!(matches!(unwrapped[1], Err(Error::CannotUnwrap)));
    assert!(matches!(unwrapped[2], Err(Error::CannotUnwrap)));
    km.rotate_key("batch").await.expect("rotates");
    let rewrapped = km.batch_rewrap(&items[..1]).await.expect("batch accepted");
    assert_eq!(rewrapped[0].as_ref().expect("ok").version.version, 2);

    let too_many = vec![items[0].clone(); km.settings().max_batch_items + 1];
    assert!(matches!(
        km.batch_unwrap(&too_many).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.batch_rewrap(&[]).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(batches_report_per_item, batches_postgres, batches_sqlite);
