//! The batch recorder of successful runs (`workers::apply::Recorder`, one transaction for many
//! jobs, one multi-row statement on PostgreSQL) keeps the rules of recording each run alone:
//! a job is removed only by its lease owner (a run whose lease was lost leaves the job to its
//! new owner), a registration cancelled meanwhile stays CANCELLED, a success with nothing to
//! record only completes its job, and only registrations that changed get a feed entry.

use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::{ChangeKind, RegistrationId, RegistrationStatus, jobs};
use integrationservice::testing::{BatchedSuccess, Recorder};
use integrationservice::testing::{StoreError, outbox};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, person, webinar_input};

async fn job_exists(stack: &Stack, id: i64) -> bool {
    stack
        .engine
        .store()
        .run(move |conn| {
            use integrationservice::testing::schema::outbox_jobs::dsl as j;
            diesel::select(diesel::dsl::exists(j::outbox_jobs.filter(j::id.eq(id))))
                .get_result::<bool>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("job lookup")
}

async fn batch_keeps_the_rules(db: Db) {
    // No workers: this test claims and records by hand.
    let stack = Stack::start_opt(db, None, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let t = stack.tenant.clone();
    stack.put_credentials(&t).await;
    let webinar = engine
        .webinars()
        .create(&t, webinar_input("recorder"), None)
        .await
        .expect("webinar")
        .id;
    let regs: Vec<_> = engine
        .registrations()
        .register_batch(&t, &webinar, (0..4).map(person).collect())
        .await
        .expect("register")
        .into_iter()
        .map(|o| o.result.expect("registered"))
        .collect();
    let claimed = engine
        .store()
        .run(|conn| outbox::claim(conn, "owner-a", 60_000, 100, 100, &[]).map_err(StoreError::from))
        .await
        .expect("claim");
    let job_of = |reg: &RegistrationId| {
        claimed
            .iter()
            .find(|j| {
                j.kind == jobs::JobKind::DeliverRegistration.as_str()
                    && j.registration_id.as_deref() == Some(reg.to_string().as_str())
            })
            .cloned()
            .expect("delivery job claimed")
    };
    let jobs: Vec<_> = regs.iter().map(|r| job_of(&r.id)).collect();
    // The third person cancels after the delivery job was claimed, before it is recorded.
    engine
        .registrations()
        .cancel(&t, &webinar, &regs[2].id)
        .await
        .expect("cancel");
    let cursor = engine
        .metrics()
        .changes(&t, 0, 1000)
        .await
        .expect("feed")
        .last()
        .map_or(0, |c| c.seq);

    let (recorder, recording) = Recorder::start(engine.clone());
    let delivered = |n: usize| BatchedSuccess::Delivered {
        registration_id: regs[n].id,
        eventuserid: 7000 + n as i64,
    };
    // Recorded together (concurrently, so they share batches).
    let results = futures::future::join_all([
        recorder.record(jobs[0].clone(), "owner-a".into(), delivered(0)),
        // This run lost its lease: the job now belongs to someone else.
        recorder.record(jobs[1].clone(), "owner-b".into(), delivered(1)),
        recorder.record(jobs[2].clone(), "owner-a".into(), delivered(2)),
        recorder.record(jobs[3].clone(), "owner-a".into(), BatchedSuccess::Nothing),
    ])
    .await;
    assert_eq!(results, [true; 4], "every batch was written");
    drop(recorder);
    recording.await.expect("recorder stops once dropped");

    assert!(
        !job_exists(&stack, jobs[0].id).await,
        "completed by its owner"
    );
    assert!(
        job_exists(&stack, jobs[1].id).await,
        "another owner's job is left alone"
    );
    assert!(
        !job_exists(&stack, jobs[2].id).await,
        "completed by its owner"
    );
    assert!(
        !job_exists(&stack, jobs[3].id).await,
        "completed by its owner"
    );

    let first = engine
        .registrations()
        .get(&t, &webinar, &regs[0].id)
        .await
        .expect("get");
    assert_eq!(first.status, RegistrationStatus::Delivered);
    assert_eq!(first.eventuserid, Some(7000));
    assert_eq!(first.attempts, 1);
    assert!(first.delivered_at.is_some());
    assert_eq!(
        engine
            .registrations()
            .get(&t, &webinar, &regs[2].id)
            .await
            .expect("get")
            .status,
        RegistrationStatus::Cancelled,
        "a cancellation made meanwhile stays"
    );
    let fourth = engine
        .registrations()
        .get(&t, &webinar, &regs[3].id)
        .await
        .expect("get");
    assert_eq!(
        fourth.status,
        RegistrationStatus::Pending,
        "nothing recorded"
    );
    assert_eq!(fourth.eventuserid, None);

    let fed: Vec<RegistrationId> = engine
        .metrics()
        .changes(&t, cursor, 1000)
        .await
        .expect("feed")
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Registration)
        .filter_map(|c| c.registration_id)
        .collect();
    assert!(
        fed.contains(&regs[0].id),
        "the delivered registration is in the feed"
    );
    assert!(
        !fed.contains(&regs[2].id),
        "the cancelled one did not change"
    );
    assert!(
        !fed.contains(&regs[3].id),
        "nothing was recorded for the fourth"
    );
}

both_backends!(batch_records_like_one_by_one, batch_keeps_the_rules);
