//! Cancel (soft delete at ON24) and forget (erase locally, then at ON24), on both backends.

use std::time::Duration;

use integrationservice::domain::{Email, Error, RegistrationStatus, StartTime};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, person, webinar_input};

async fn cancel_and_forget(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // ON24 refuses cancellations once an event started: these start tomorrow.
    let tomorrow =
        StartTime::from_parts(chrono::Utc::now().timestamp() + 86_400, 0).expect("tomorrow");
    let mut first = webinar_input("ev-gdpr");
    first.start_at = tomorrow;
    let mut later = webinar_input("ev-gdpr-2");
    later.start_at = tomorrow;
    let (webinar, event) = stack.active_webinar_with(&tenant, first).await;
    let (second, _) = stack.active_webinar_with(&tenant, later).await;
    engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..3).map(person).collect())
        .await
        .expect("batch");
    engine
        .registrations()
        .register(&tenant, &second, person(1))
        .await
        .expect("second");
    let all = stack
        .wait_all(
            &tenant,
            &webinar,
            3,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    stack
        .wait_all(
            &tenant,
            &second,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;

    // Cancel: CANCELLED at once, soft delete reaches ON24.
    let target = all
        .iter()
        .find(|r| r.email == "person0@example.com")
        .expect("person0")
        .clone();
    let cancelled = engine
        .registrations()
        .cancel(&tenant, &webinar, &target.id)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, RegistrationStatus::Cancelled);
    eventually(
        "the soft delete at ON24",
        Duration::from_secs(10),
        || async {
            let journal = stack.sim.control().journal().await.ok()?;
            journal
                .iter()
                .any(|e| {
                    e.method == "POST"
                        && e.path.contains(&format!("/event/{event}/registrant"))
                        && e.form.iter().any(|(k, v)| k == "isDeleted" && v == "Y")
                })
                .then_some(())
        },
    )
    .await;
    // Cancelled registrations refuse updates; registering again reactivates.
    assert!(matches!(
        engine
            .registrations()
            .update(&tenant, &webinar, &target.id, Default::default())
            .await,
        Err(Error::FailedPrecondition(_))
    ));
    let (back, created) = engine
        .registrations()
        .register(&tenant, &webinar, person(0))
        .await
        .expect("again");
    assert!(created);
    assert_eq!(back.id, target.id);

    // Forget person1: both registrations are scrubbed tombstones, ON24 is told.
    let forgotten = engine
        .registrations()
        .forget(
            &tenant,
            &Email::parse("PERSON1@example.com").expect("email"),
            false,
        )
        .await
        .expect("forget");
    assert_eq!(forgotten.registrations, 2);
    assert!(forgotten.provider_erasure_queued);
    let rows = stack.list_all(&tenant, &webinar).await;
    let tomb = rows
        .iter()
        .find(|r| r.status == RegistrationStatus::Forgotten)
        .expect("tombstone");
    assert!(tomb.email.is_empty() && tomb.eventuserid.is_none() && tomb.delivered_at.is_none());
    assert!(tomb.first_name.is_empty() && tomb.company.is_none());
    eventually("the forget at ON24", Duration::from_secs(10), || async {
        let journal = stack.sim.control().journal().await.ok()?;
        journal
            .iter()
            .any(|e| e.method == "POST" && e.path.ends_with("/forget"))
            .then_some(())
    })
    .await;
    // The forget job is gone once ON24 confirmed: the address does not linger in the outbox.
    let remaining = eventually("the outbox to drain", Duration::from_secs(10), || async {
        let t = tenant.to_string();
        let n = engine
            .store()
            .run(move |conn| {
                use diesel::prelude::*;
                use integrationservice::testing::schema::outbox_jobs::dsl as j;
                j::outbox_jobs
                    .filter(j::tenant.eq(t))
                    .count()
                    .get_result::<i64>(conn)
                    .map_err(integrationservice::testing::StoreError::from)
            })
            .await
            .ok()?;
        (n == 0).then_some(n)
    })
    .await;
    assert_eq!(remaining, 0);
}

both_backends!(cancel_and_forget_reach_on24, cancel_and_forget);
