//! Tenant offboarding on both backends: tenant A is purged (ON24 asked to forget its
//! delivered registrants first), every table is empty of it, its keys are gone, and tenant B
//! keeps every row and goes on delivering. A's KEK is scheduled for deletion at the key
//! service; once destroyed, A's wrapped keys as a copy taken before the purge holds them open
//! no more (crypto-shredding), nor A's registrations in the same copy, while B's still do.

use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::minimisation::MinimisationPolicy;
use integrationservice::domain::retention::Overrides;
use integrationservice::domain::{Email, Error, RegistrationStatus, TenantId};
use integrationservice::testing::models::InteractionRow;
use integrationservice::testing::tenant_purge::{TenantTable, count};
use integrationservice::testing::{
    AttendeeInteraction, FieldCipher, InteractionKind, KeyClient, StoreError, interactions,
    is_sealed, tenant_kek_id, tenant_key_aad, tenant_keys,
};
use proto::keyservice::v1::KeyState;
use zeroize::Zeroizing;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, person, tenant_id};

async fn rows(stack: &Stack, tenant: &TenantId) -> Vec<(&'static str, i64)> {
    let t = tenant.clone();
    stack
        .engine
        .store()
        .run(move |conn| {
            TenantTable::ALL
                .iter()
                .map(|table| Ok((table.as_str(), count(conn, &t, *table)?)))
                .collect::<Result<Vec<_>, Error>>()
        })
        .await
        .expect("counts")
}

fn held(rows: &[(&'static str, i64)], table: TenantTable) -> i64 {
    rows.iter()
        .find(|(name, _)| *name == table.as_str())
        .map(|(_, n)| *n)
        .unwrap_or_default()
}

/// The tenant's wrapped keys as stored: what a copy of the database holds.
async fn keys_of(stack: &Stack, tenant: &TenantId) -> Vec<(String, Vec<u8>, String)> {
    let t = tenant.clone();
    stack
        .engine
        .store()
        .run(move |conn| tenant_keys::of_tenant(conn, &t).map_err(Error::from))
        .await
        .expect("keys")
        .into_iter()
        .map(|row| (row.purpose, row.wrapped_key, row.kek))
        .collect()
}

/// A tenant's registrations as stored: (id, sealed record of the personal values other than
/// the email, or a tombstone's `{}`).
async fn sealed_records(stack: &Stack, tenant: &TenantId) -> Vec<(String, String)> {
    use integrationservice::testing::schema::registrations::dsl as r;
    let t = tenant.to_string();
    stack
        .engine
        .store()
        .run(move |conn| {
            r::registrations
                .filter(r::tenant.eq(t))
                .select((r::id, r::extra))
                .load(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("registrations")
}

/// The personal-data key in a copy of a tenant's keys, if the key service still unwraps it.
async fn personal_data_key(
    keys: &KeyClient,
    tenant: &TenantId,
    copy: &[(String, Vec<u8>, String)],
) -> Option<Zeroizing<Vec<u8>>> {
    let (purpose, wrapped, _) = copy.iter().find(|(p, _, _)| p == "personal_data")?;
    keys.unwrap_key(wrapped, &tenant_key_aad(tenant.as_str(), purpose))
        .await
        .ok()
}

async fn forget_calls(stack: &Stack) -> usize {
    stack.journal_count("POST", "/forget").await
}

async fn purge_one_tenant(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let (a, b) = (stack.tenant.clone(), tenant_id("stays"));
    stack.put_credentials(&a).await;
    stack.put_credentials(&b).await;
    let (wa, _) = stack.active_webinar(&a, "leaves").await;
    let (wb, _) = stack.active_webinar(&b, "stays").await;
    let regs = engine.registrations();
    regs.register_batch(&a, &wa, (0..3).map(person).collect())
        .await
        .expect("a");
    regs.register_batch(&b, &wb, (10..12).map(person).collect())
        .await
        .expect("b");
    stack
        .wait_all(
            &a,
            &wa,
            3,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    stack
        .wait_all(
            &b,
            &wb,
            2,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    // A's tenant has a forgotten person (erasure record, suppression, hash key) and a policy.
    let forgotten = Email::parse("Person0@Example.com").expect("email");
    regs.forget(&a, &forgotten, false).await.expect("forget");
    engine
        .retention()
        .set_overrides(
            &a,
            Overrides {
                registration_days: Some(3),
                ..Overrides::default()
            },
        )
        .await
        .expect("policy");
    let figures = vec![super::retention::metrics_row(&a, &wa, "x@example.com")];
    engine
        .store()
        .run(move |conn| super::retention::insert_metrics(conn, &figures))
        .await
        .expect("metrics");
    let asked = AttendeeInteraction {
        kind: InteractionKind::Question,
        occurred_at: Some(1),
        reference: "q1".into(),
        prompt: "Will the slides be shared?".into(),
        response: String::new(),
        responded_at: None,
    };
    let (t, w) = (a.clone(), wa);
    engine
        .store()
        .run(move |conn| {
            let row = InteractionRow::new(&t, &w, "x@example.com", 0, &asked);
            let plain = FieldCipher::plain(t.as_str());
            interactions::replace(conn, &plain, &t, &w, &["x@example.com".to_owned()], &[row])
                .map_err(Error::from)
        })
        .await
        .expect("interactions");
    // Person 0's forget job ends at ON24 (and leaves the outbox) before the counts are taken.
    eventually("the forget job done", Duration::from_secs(20), || async {
        (held(&rows(&stack, &a).await, TenantTable::OutboxJobs) == 0).then_some(())
    })
    .await;
    engine
        .minimisation()
        .set(&a, MinimisationPolicy::default())
        .await
        .expect("minimisation");
    let before = rows(&stack, &a).await;
    for table in TenantTable::ALL {
        if !matches!(
            table,
            TenantTable::ChangeFeedHorizons | TenantTable::OutboxJobs
        ) {
            assert!(
                held(&before, table) > 0,
                "A has {} rows: {before:?}",
                table.as_str()
            );
        }
    }
    // B has a key of its own too (a forget of someone it never registered: no ON24 job).
    let nobody = Email::parse("nobody@example.com").expect("email");
    regs.forget(&b, &nobody, false).await.expect("b forgets");
    let b_before = rows(&stack, &b).await;
    let forgets_before = forget_calls(&stack).await;
    // The copy of A's keys a backup taken now holds, each under A's own KEK.
    let a_kek = tenant_kek_id(a.as_str());
    let copy = keys_of(&stack, &a).await;
    assert!(!copy.is_empty(), "A has keys");
    assert!(
        copy.iter().all(|(_, _, kek)| *kek == a_kek),
        "under A's KEK"
    );
    // ... and A's registrations as it holds them: sealed, and opening with A's key as long as
    // the key service unwraps it (the copy is worth attacking).
    // (Person 0's row is a tombstone: forgotten, its values emptied.)
    let backup: Vec<_> = sealed_records(&stack, &a)
        .await
        .into_iter()
        .filter(|(_, record)| record != "{}")
        .collect();
    assert_eq!(backup.len(), 2);
    let fresh = KeyClient::connect_lazy(&stack.keys.client_config).expect("key client");
    let personal = personal_data_key(&fresh, &a, &copy)
        .await
        .expect("A's personal-data key opens before the purge");
    let cipher = FieldCipher::new(a.as_str(), &personal);
    for (id, stored) in &backup {
        assert!(is_sealed(stored), "sealed at rest");
        let values = cipher
            .open_record("registrations", id, "extra", stored, 5)
            .expect("opens");
        let name = values[0].as_deref().expect("a first name");
        assert!(name.starts_with("First"), "the seeded name");
    }
    let b_keys = keys_of(&stack, &b).await;
    assert!(!b_keys.is_empty(), "B has keys");
    assert_ne!(b_keys[0].2, a_kek);

    let report = engine
        .offboarding()
        .purge_tenant(&a, true, Duration::from_secs(30))
        .await
        .expect("purge");
    assert_eq!(
        report.forgotten_at_provider, 2,
        "the delivered, not yet forgotten"
    );
    assert_eq!(report.provider_refusals, 0);
    assert!(
        report.key_deletion_scheduled,
        "A's KEK scheduled for deletion"
    );
    assert!(
        forget_calls(&stack).await > forgets_before,
        "ON24 was asked to forget"
    );
    let after = rows(&stack, &a).await;
    assert!(after.iter().all(|(_, n)| *n == 0), "A is gone: {after:?}");
    let deleted: i64 = report.deleted.iter().map(|(_, n)| *n as i64).sum();
    assert!(deleted >= before.iter().map(|(_, n)| *n).sum::<i64>());

    assert_eq!(rows(&stack, &b).await, b_before, "B untouched");
    regs.register(&b, &wb, person(12)).await.expect("b again");
    stack
        .wait_all(
            &b,
            &wb,
            3,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    // A is an unknown tenant now: no credentials, nothing to list.
    eventually("A has no credentials", Duration::from_secs(5), || async {
        engine.providers().get(&a).await.err()
    })
    .await;

    // After the waiting period the key service destroys A's KEK; B's stays.
    eventually("A's KEK destroyed", Duration::from_secs(20), || async {
        (stack.keys.key_state(&a_kek).await == KeyState::Destroyed).then_some(())
    })
    .await;
    assert_eq!(stack.keys.key_state(&b_keys[0].2).await, KeyState::Enabled);
    // A restored copy, read by a fresh replica (nothing cached): A's keys open no more, so
    // the copy's registrations do not either; B's still open.
    assert!(
        personal_data_key(&fresh, &a, &copy).await.is_none(),
        "the backup's registrations of A can still be opened"
    );
    for (purpose, wrapped, _) in &copy {
        assert!(
            fresh
                .unwrap_key(wrapped, &tenant_key_aad(a.as_str(), purpose))
                .await
                .is_err(),
            "A's {purpose} key still opens"
        );
    }
    for (purpose, wrapped, _) in &b_keys {
        fresh
            .unwrap_key(wrapped, &tenant_key_aad(b.as_str(), purpose))
            .await
            .expect("B's key opens");
    }
    // A repeated purge finds nothing and schedules nothing again.
    let again = engine
        .offboarding()
        .purge_tenant(&a, false, Duration::from_secs(5))
        .await
        .expect("purge again");
    assert!(!again.key_deletion_scheduled);

    // A comes back under the same tenant id: new credentials and a webinar need no key of
    // A's own, but a registration's personal data does, and A's KEK is destroyed: the caller
    // is told so (FAILED_PRECONDITION), not INTERNAL, and nothing is stored.
    stack.put_credentials(&a).await;
    let (wa2, _) = stack.active_webinar(&a, "ev-after-purge").await;
    match regs.register(&a, &wa2, person(20)).await {
        Err(Error::FailedPrecondition(message)) => {
            assert!(message.contains("purged"), "{message}")
        }
        other => panic!("a purged tenant's registration: {other:?}"),
    }
    assert_eq!(held(&rows(&stack, &a).await, TenantTable::Registrations), 0);
}

both_backends!(purge_tenant_a_keeps_tenant_b, purge_one_tenant);
