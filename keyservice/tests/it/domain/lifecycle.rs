//! Key lifecycle: scheduled deletion and its waiting period, listing and validation,
//! rotation policy.

use super::*;

async fn deletion_waiting_period_honoured(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("doomed")).await.expect("creates");
    let wrapped = km.wrap("doomed", b"dek", b"").await.expect("wraps");

    assert!(matches!(
        km.schedule_key_deletion("doomed", Some(Duration::from_millis(500)))
            .await,
        Err(Error::InvalidArgument { .. })
    ));
    let key = km
        .schedule_key_deletion("doomed", Some(Duration::from_secs(1)))
        .await
        .expect("schedules");
    assert_eq!(key.state, KeyState::DeleteScheduled);
    assert!(key.delete_time.is_some());
    assert!(matches!(
        km.generate_data_key("doomed", b"").await,
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(
        km.unwrap(&wrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rotate_key("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));

    // Cancelling within the waiting period restores everything.
    let key = km.cancel_key_deletion("doomed").await.expect("cancels");
    assert_eq!((key.state, key.delete_time), (KeyState::Enabled, None));
    km.unwrap(&wrapped.wrapped_key, b"")
        .await
        .expect("unwraps again");

    km.schedule_key_deletion("doomed", Some(Duration::from_secs(1)))
        .await
        .expect("schedules");
    assert_eq!(
        km.purge_deleted_keys().await.expect("purges"),
        0,
        "waiting period not over"
    );
    let (key, _) = km.get_key("doomed").await.expect("still there");
    assert_eq!(key.state, KeyState::DeleteScheduled);
    until_past("the deletion time", key.delete_time).await;
    assert!(matches!(
        km.cancel_key_deletion("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));
    assert_eq!(km.purge_deleted_keys().await.expect("purges"), 1);
    let (key, _) = km.get_key("doomed").await.expect("row kept");
    assert_eq!(key.state, KeyState::Destroyed);
    assert!(matches!(
        km.unwrap(&wrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.create_key(new_key("doomed")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        km.cancel_key_deletion("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));

    // The sealed material is gone from the database.
    let store = Store::open(url, 2).expect("store");
    let sealed = store
        .run_blocking(|c| queries::sealed_kek(c, "doomed", 1))
        .expect("query")
        .expect("row");
    assert!(sealed.is_empty());
}
both_backends!(
    deletion_waiting_period_honoured,
    deletion_postgres,
    deletion_sqlite
);

async fn admin_listing_and_validation(url: &str) {
    let km = manager(url, software_root()).await;
    for id in ["e", "a", "c", "b", "d"] {
        km.create_key(new_key(id)).await.expect("creates");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = km.list_keys(2, &token).await.expect("lists");
        pages += 1;
        seen.extend(page.keys.iter().map(|k| k.id.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    assert!(matches!(
        km.list_keys(0, "not a token!").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.list_keys(-1, "").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.create_key(new_key("a")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        km.create_key(new_key("Bad_Id")).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(km.get_key("zzz").await, Err(Error::NotFound(_))));
    let too_many = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: (1 << 30) + 1,
        },
        ..new_key("f")
    };
    assert!(matches!(
        km.create_key(too_many).await,
        Err(Error::InvalidArgument { .. })
    ));
    let too_fast = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: Some(Duration::from_millis(10)),
            max_wraps_per_version: 0,
        },
        ..new_key("f")
    };
    assert!(matches!(
        km.create_key(too_fast).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(admin_listing_and_validation, admin_postgres, admin_sqlite);

async fn rotation_policy_rotates_by_itself(url: &str) {
    let km = manager(url, software_root()).await;
    let by_count = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: 3,
        },
        ..new_key("by-count")
    };
    km.create_key(by_count).await.expect("creates");
    let mut versions = Vec::new();
    let mut wrapped = Vec::new();
    for i in 0..7u8 {
        let w = km.wrap("by-count", &[i; 16], b"").await.expect("wraps");
        versions.push(w.version.version);
        wrapped.push(w);
    }
    assert_eq!(
        versions,
        [1, 1, 1, 2, 2, 2, 3],
        "a version never wraps more than its limit"
    );
    for (i, w) in wrapped.iter().enumerate() {
        let (plain, _) = km.unwrap(&w.wrapped_key, b"").await.expect("unwraps");
        assert_eq!(plain.as_slice(), &[i as u8; 16]);
    }
    km.refresh().await.expect("flushes counts");
    let (_, stored) = km.get_key("by-count").await.expect("gets");
    assert_eq!(
        stored.iter().map(|v| v.wrap_count).collect::<Vec<_>>(),
        [3, 3, 1]
    );

    let by_age = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: Some(Duration::from_secs(1)),
            max_wraps_per_version: 0,
        },
        ..new_key("by-age")
    };
    let key = km.create_key(by_age).await.expect("creates");
    assert!(key.next_rotation_time.is_some());
    assert!(
        km.rotate_due_keys().await.expect("checks").is_empty(),
        "not due yet"
    );
    until_past("the rotation time", key.next_rotation_time).await;
    let rotated = km.rotate_due_keys().await.expect("rotates");
    assert_eq!(rotated, [version("by-age", 2)]);
    assert_eq!(
        km.wrap("by-age", b"k", b"")
            .await
            .expect("wraps")
            .version
            .version,
        2
    );
    assert!(
        km.rotate_due_keys().await.expect("checks").is_empty(),
        "just rotated"
    );
}
both_backends!(
    rotation_policy_rotates_by_itself,
    rotation_policy_postgres,
    rotation_policy_sqlite
);
