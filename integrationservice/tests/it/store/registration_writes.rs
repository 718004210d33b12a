//! Registration writes on both backends: the rules the one-statement PostgreSQL path
//! (`ON CONFLICT DO NOTHING`, no look-up first) must keep exactly as the transactional path
//! does: idempotent replay by email and request id, duplicates inside one batch, a request id
//! of another email refused, a cancelled person reactivated, one job and one feed entry per
//! accepted write, PAUSED under blocking credentials, refusals, and concurrent registrations
//! of one person giving one registration.

use diesel::prelude::*;
use integrationservice::domain::{
    ChangeKind, Email, Error, RegisterOutcome, RegistrationId, RegistrationInput,
    RegistrationStatus, RequestId, TenantId, WebinarId,
};
use integrationservice::testing::{StoreError, schema};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, person, webinar_input};

/// A well-formed webinar id that names no webinar.
const MISSING: &str = "0190b3c4-0000-7000-8000-000000000000";

/// A client request id (request ids are UUIDs).
const RID_1: &str = "0190b3c4-0000-7000-8000-0000000000a1";

fn with_request(mut p: RegistrationInput, id: &str) -> RegistrationInput {
    p.request_id = Some(RequestId::parse(id).expect("request id"));
    p
}

/// Delivery jobs of one registration, and their states.
async fn job_states(
    stack: &Stack,
    tenant: &TenantId,
    registration: &RegistrationId,
) -> Vec<String> {
    use schema::outbox_jobs::dsl as j;
    let (t, r) = (tenant.to_string(), registration.to_string());
    stack
        .engine
        .store()
        .run(move |conn| {
            j::outbox_jobs
                .filter(j::tenant.eq(t))
                .filter(j::registration_id.eq(r))
                .filter(
                    j::kind.eq(
                        integrationservice::domain::jobs::JobKind::DeliverRegistration.as_str(),
                    ),
                )
                .select(j::state)
                .load::<String>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("jobs")
}

/// Number of REGISTRATION feed entries of one registration.
async fn feed_entries(stack: &Stack, tenant: &TenantId, registration: &RegistrationId) -> usize {
    let changes = stack
        .engine
        .metrics()
        .changes(tenant, 0, 1000)
        .await
        .expect("feed");
    changes
        .iter()
        .filter(|c| {
            c.kind == ChangeKind::Registration && c.registration_id.as_ref() == Some(registration)
        })
        .count()
}

fn ok(o: &RegisterOutcome) -> (RegistrationId, bool) {
    let r = o.result.as_ref().expect("accepted");
    (r.id, o.created)
}

async fn registration_writes(db: Db) {
    // No workers: registrations stay as written.
    let stack = Stack::start_opt(db, None, std::time::Duration::from_secs(5)).await;
    let tenant = stack.tenant.clone();
    let engine = &stack.engine;
    let regs = engine.registrations();
    let missing = WebinarId::parse(MISSING).expect("webinar id");

    // Refusals before anything is written.
    let refused = regs.register(&tenant, &missing, person(1)).await;
    assert!(
        matches!(refused, Err(Error::IntegrationDisabled { .. })),
        "{refused:?}"
    );
    stack.put_credentials(&tenant).await;
    let webinar = engine
        .webinars()
        .create(&tenant, webinar_input("ev-writes"), None)
        .await
        .expect("webinar")
        .id;
    let refused = regs.register(&tenant, &missing, person(1)).await;
    assert!(
        matches!(refused, Err(Error::NotFound { .. })),
        "{refused:?}"
    );

    // An invalid email cannot be registered: its refusal is `Email::parse`'s, before any
    // batch is made.
    assert!(matches!(
        Email::parse("not-an-email").map_err(|e| e.at("registration.email")),
        Err(Error::Validation { .. })
    ));
    // One batch: new people, the same email twice (another case), a request id of another
    // email.
    let batch = || {
        let mut again = person(1);
        again.email = Email::parse("PERSON1@example.COM").expect("email");
        vec![
            with_request(person(1), RID_1),
            person(2),
            again,
            with_request(person(3), RID_1),
        ]
    };
    let first = regs
        .register_batch(&tenant, &webinar, batch())
        .await
        .expect("batch");
    assert_eq!(first.len(), 4);
    let (p1, created) = ok(&first[0]);
    assert!(created);
    let (p2, created) = ok(&first[1]);
    assert!(created);
    assert_eq!(
        ok(&first[2]),
        (p1, false),
        "same email in one batch: one registration"
    );
    assert!(
        matches!(first[3].result, Err(Error::AlreadyExists { .. })),
        "{:?}",
        first[3].result
    );
    assert!(!first[3].created);
    let r1 = first[0].result.as_ref().expect("p1");
    assert_eq!(r1.email, "person1@example.com");
    assert_eq!(r1.status, RegistrationStatus::Pending);
    assert_eq!(r1.company.as_deref(), Some("Example Ltd"));

    // The same batch again: nothing new, the same registrations, the same refusals.
    let second = regs
        .register_batch(&tenant, &webinar, batch())
        .await
        .expect("replay");
    assert_eq!(ok(&second[0]), (p1, false));
    assert_eq!(ok(&second[1]), (p2, false));
    assert_eq!(ok(&second[2]), (p1, false));
    assert!(matches!(second[3].result, Err(Error::AlreadyExists { .. })));
    // Replay by request id alone, and a new person with a used request id.
    let (again, created) = regs
        .register(&tenant, &webinar, with_request(person(1), RID_1))
        .await
        .expect("replay one");
    assert_eq!((again.id, created), (p1, false));
    let refused = regs
        .register(&tenant, &webinar, with_request(person(5), RID_1))
        .await;
    assert!(
        matches!(refused, Err(Error::AlreadyExists { .. })),
        "{refused:?}"
    );
    let page = regs
        .list(&tenant, &webinar, None, None, 100, "")
        .await
        .expect("list");
    assert_eq!(page.items.len(), 2, "only person 1 and person 2 exist");

    // One job and one feed entry per accepted write, none for the repeats.
    for id in [p1, p2] {
        assert_eq!(job_states(&stack, &tenant, &id).await, vec!["READY"]);
        assert_eq!(feed_entries(&stack, &tenant, &id).await, 1);
    }

    // A cancelled person registered again is the same registration, reactivated.
    regs.cancel(&tenant, &webinar, &p2).await.expect("cancel");
    let (back, created) = regs
        .register(&tenant, &webinar, person(2))
        .await
        .expect("reactivate");
    assert!(created);
    assert_eq!(back.id, p2);
    assert_eq!(back.status, RegistrationStatus::Pending);
    assert_eq!(job_states(&stack, &tenant, &p2).await.len(), 2);
    assert_eq!(feed_entries(&stack, &tenant, &p2).await, 3);

    // Concurrent registrations of one new person: one registration, one creator, no error.
    let calls = (0..8).map(|_| {
        let engine = engine.clone();
        let (t, w) = (tenant.clone(), webinar);
        tokio::spawn(async move { engine.registrations().register(&t, &w, person(6)).await })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("register"))
        .collect();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(r, _)| r.id == results[0].0.id));
    assert_eq!(
        job_states(&stack, &tenant, &results[0].0.id).await,
        vec!["READY"]
    );

    // Credentials that block calls: new registrations are held (PAUSED, job PAUSED).
    let t = tenant.clone();
    stack
        .engine
        .store()
        .run(move |conn| {
            use schema::provider_configs::dsl as p;
            diesel::update(p::provider_configs.filter(p::tenant.eq(t)))
                .set(p::status.eq("NOT_AUTHENTICATED"))
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("block");
    let held = regs
        .register_batch(&tenant, &webinar, vec![person(7), person(8)])
        .await
        .expect("held");
    for o in &held {
        let r = o.result.as_ref().expect("accepted");
        assert!(o.created);
        assert_eq!(r.status, RegistrationStatus::Paused);
        assert_eq!(job_states(&stack, &tenant, &r.id).await, vec!["PAUSED"]);
    }

    // An unlinked webinar takes no registrations, new or repeated.
    engine
        .webinars()
        .unlink(&tenant, &webinar)
        .await
        .expect("unlink");
    for p in [person(9), person(1)] {
        let refused = regs.register(&tenant, &webinar, p).await;
        assert!(
            matches!(refused, Err(Error::WebinarUnlinked { .. })),
            "{refused:?}"
        );
    }
}

both_backends!(writes_keep_every_rule, registration_writes);
