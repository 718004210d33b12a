//! The suppression list through the public API with everything real (TLS, the key service,
//! the ON24 simulator, SQLite or PostgreSQL): after `ForgetPerson`, registering the person
//! again (any letter case, alone or in a batch) is refused with `PERSON_SUPPRESSED` on
//! `registration.email` while the rest of a batch goes through; a metrics sync stores none of
//! their figures although ON24 reports them; `UnsuppressPerson` lifts it. The list holds a
//! keyed hash that differs between tenants, and neither it nor the tenant keys hold an
//! address. A registration racing a forget of the same person never stays live after it.

use proto::webinar::v1::{
    batch_create_registration_result::Result as ItemResult,
    registration_service_client::RegistrationServiceClient, *,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use integrationservice::testing::{Store, StoreError};

use super::erasure::{Clients, TENANT, erasure_state, every_row};
use super::harness::assert_bad_field;
use crate::api::lifecycle::FullStack;
use crate::api_both_backends;

const GONE: &str = "Gone.Person@Example.com";

fn create(webinar: &str, email: &str) -> CreateRegistrationRequest {
    CreateRegistrationRequest {
        parent: webinar.into(),
        registration: Some(Registration {
            email: email.into(),
            first_name: "Erin".into(),
            last_name: "Example".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// INVALID_ARGUMENT with one violation of `registration.email` and an `ErrorInfo`, both with
/// reason `PERSON_SUPPRESSED`.
fn assert_suppressed(status: &Status) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violations = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].field, "registration.email");
    assert_eq!(violations[0].reason, "PERSON_SUPPRESSED");
    assert!(violations[0].description.starts_with("PERSON_SUPPRESSED"));
    assert_eq!(
        details.error_info().map(|i| i.reason.as_str()),
        Some("PERSON_SUPPRESSED")
    );
}

/// Every suppression list entry as (tenant, hash).
async fn entries(store: &Store) -> Vec<(String, String)> {
    store
        .run(|conn| {
            use diesel::prelude::*;
            use integrationservice::testing::schema::suppressions::dsl as s;
            s::suppressions
                .select((s::tenant, s::email_hash))
                .load::<(String, String)>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("suppressions")
}

async fn unsuppress(c: &mut Clients, email: &str) -> bool {
    c.regs
        .unsuppress_person(UnsuppressPersonRequest {
            parent: TENANT.into(),
            email: email.into(),
        })
        .await
        .expect("unsuppress")
        .into_inner()
        .lifted
}

async fn suppression(database_url: String) {
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let store = Store::connect(&database_url, 2).expect("store");
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    // Ended two hours ago: ON24 reports attendance for it.
    let a = c.active_webinar("suppression-a", -120).await;
    let first = c.register(&a.name, GONE).await;
    c.delivered(&first.name).await;
    // Nothing is suppressed before a forget.
    assert!(!unsuppress(&mut c, GONE).await);
    let done = c.forget(GONE, false).await;
    assert_eq!(done.forgotten_registration_count, 1);
    let request = done.erasure_request.expect("erasure request");
    erasure_state(&mut c, &request.name, ErasureState::Done).await;

    // Registering the person again is refused, whatever the letter case.
    for variant in [GONE, "gone.person@example.com", "GONE.PERSON@EXAMPLE.COM"] {
        let refused = c
            .regs
            .create_registration(create(&a.name, variant))
            .await
            .expect_err("suppressed");
        assert_suppressed(&refused);
    }
    // With surrounding spaces the address is refused as it stands.
    let spaced = c
        .regs
        .create_registration(create(&a.name, " gone.person@example.com "))
        .await
        .expect_err("refused");
    assert_bad_field(&spaced, "registration.email");

    // In a batch (an import sends its rows so), the person's item is refused with the reason
    // and the field, and the other person is registered.
    let results = c
        .regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: a.name.clone(),
            requests: vec![
                create("", "fresh@example.com"),
                create("", "gone.person@EXAMPLE.com"),
            ],
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    match &results[0].result {
        Some(ItemResult::Registration(r)) => {
            assert!(results[0].created);
            assert_eq!(r.email, "fresh@example.com");
        }
        other => panic!("the other person was refused: {other:?}"),
    }
    match &results[1].result {
        Some(ItemResult::Error(e)) => {
            assert_eq!(
                (e.code, results[1].index),
                (Code::InvalidArgument as i32, 1)
            );
            assert_eq!(e.reason, "PERSON_SUPPRESSED");
            let fields: Vec<&str> = e
                .field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect();
            assert_eq!(fields, ["registration.email"]);
        }
        other => panic!("the suppressed person was not refused: {other:?}"),
    }
    assert!(!results[1].created);

    // ON24 reports a person this tenant forgot (registered at ON24 directly): a sync stores
    // the figures of the other attendee and none of theirs.
    stack
        .sim
        .control()
        .seed_attendees(
            a.on24_event_id,
            &on24sim::SeedAttendees {
                count: 2,
                first: 1,
                email_prefix: "seeded".into(),
                ..on24sim::SeedAttendees::default()
            },
        )
        .await
        .expect("seed");
    let seeded = c.forget("Seeded1@example.com", false).await;
    assert!(!seeded.on24_erasure_queued);
    c.metrics
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: a.name.clone(),
        })
        .await
        .expect("sync");
    let attendees = c.attendee_emails(&a.name).await;
    assert_eq!(attendees, ["seeded2@example.com"]);

    // The same address forgotten in another tenant has another hash there.
    let mut regs_b = RegistrationServiceClient::new(stack.h.tenant_b().await);
    regs_b
        .forget_person(ForgetPersonRequest {
            parent: "tenants/tenant-b".into(),
            email: GONE.into(),
            forget_at_on24_if_unknown: false,
        })
        .await
        .expect("forget in tenant B");
    let list = entries(&store).await;
    let of = |tenant: &str| -> Vec<String> {
        list.iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, h)| h.clone())
            .collect()
    };
    let (in_a, in_b) = (of("tenant-a"), of("tenant-b"));
    assert_eq!((in_a.len(), in_b.len()), (2, 1), "{list:?}");
    assert!(!in_a.contains(&in_b[0]), "{list:?}");
    assert!(in_b[0].len() == 64 && in_b[0].chars().all(|ch| ch.is_ascii_hexdigit()));
    // Neither the list nor the tenant keys hold an address.
    let rows: Vec<_> = every_row(&store)
        .await
        .into_iter()
        .filter(|(table, _)| table == "suppressions" || table == "tenant_keys")
        .collect();
    // Three entries and each tenant's hash key (beside the keys sealing registrations).
    let hash_keys = rows
        .iter()
        .filter(|(table, row)| table == "tenant_keys" && row.contains("email_hash"))
        .count();
    let entries_held = rows
        .iter()
        .filter(|(table, _)| table == "suppressions")
        .count();
    assert_eq!((entries_held, hash_keys), (3, 2), "{rows:?}");
    for (table, row) in &rows {
        assert!(!row.contains('@'), "{table}: {row}");
        assert!(
            !row.to_lowercase().contains("gone.person"),
            "{table}: {row}"
        );
    }

    // The person consents again: lifting the suppression lets them register, once.
    assert!(unsuppress(&mut c, "GONE.person@example.com").await);
    assert!(!unsuppress(&mut c, GONE).await);
    let back = c.register(&a.name, GONE).await;
    assert_ne!(back.name, first.name);
    c.delivered(&back.name).await;
    // Tenant B's list is its own: the lift there did not happen.
    assert_eq!(
        entries(&store)
            .await
            .iter()
            .filter(|(t, _)| t == "tenant-b")
            .count(),
        1
    );
    stack.stop().await;
}

api_both_backends!(suppressed_person_is_refused_until_lifted, suppression);

async fn register_forget_race(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    let w = c.active_webinar("suppression-race", 24 * 60).await;
    // The tenant's first forget makes its hash key; the races below also cover a tenant
    // that has one.
    let mut outcomes = (0, 0);
    for round in 0..40 {
        let email = format!("racer{round}@example.com");
        let mut regs = c.regs.clone();
        let mut forgets = c.regs.clone();
        let register = regs.create_registration(create(&w.name, &email));
        let forget = forgets.forget_person(ForgetPersonRequest {
            parent: TENANT.into(),
            email: email.clone(),
            forget_at_on24_if_unknown: false,
        });
        let (registered, forgotten) = tokio::join!(register, forget);
        forgotten.expect("forget");
        match registered {
            Ok(_) => outcomes.0 += 1,
            Err(status) => {
                assert_suppressed(&status);
                outcomes.1 += 1;
            }
        }
        // Whichever came first, the person is not live in the webinar once forgotten.
        let live = c
            .regs
            .list_registrations(ListRegistrationsRequest {
                parent: w.name.clone(),
                filter: format!("email = \"{email}\""),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .registrations;
        assert!(live.is_empty(), "round {round}: {live:?}");
        // And stays out.
        let again = c
            .regs
            .create_registration(create(&w.name, &email))
            .await
            .expect_err("suppressed");
        assert_suppressed(&again);
    }
    assert_eq!(outcomes.0 + outcomes.1, 40);
    stack.stop().await;
}

api_both_backends!(
    register_racing_forget_never_stays_live,
    register_forget_race
);
