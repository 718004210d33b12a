//! Tenant offboarding on both backends: tenant A is purged (ON24 asked to forget its
//! delivered registrants first), every table is empty of it, its keys are gone, and tenant B
//! keeps every row and goes on delivering.

use std::time::Duration;

use integrationservice::domain::minimisation::MinimisationPolicy;
use integrationservice::domain::retention::Overrides;
use integrationservice::domain::{Email, Error, RegistrationStatus, TenantId};
use integrationservice::testing::models::InteractionRow;
use integrationservice::testing::tenant_purge::{TenantTable, count};
use integrationservice::testing::{AttendeeInteraction, InteractionKind, interactions, metrics};

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
        .run(move |conn| metrics::insert(conn, &figures).map_err(Error::from))
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
            interactions::replace(conn, &t, &w, &["x@example.com".to_owned()], &[row])
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
    let b_before = rows(&stack, &b).await;
    let forgets_before = forget_calls(&stack).await;

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
}

both_backends!(purge_tenant_a_keeps_tenant_b, purge_one_tenant);
