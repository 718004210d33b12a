//! Access requests through the public API with everything real (TLS, the key service, the
//! ON24 simulator, SQLite or PostgreSQL): `ExportPersonData` gives back one person's
//! registrations in two webinars with their attendee metrics, and nothing of another email
//! or of another tenant; after a forget, the erasure request (matched by keyed hash) and the
//! suppression. `ListRegistrations` filters by email. A bad address is refused naming
//! `email`.

use proto::webinar::v1::{
    person_data_service_client::PersonDataServiceClient,
    registration_service_client::RegistrationServiceClient, *,
};
use tonic::transport::Channel;

use super::erasure::{Clients, TENANT, erasure_state};
use super::harness::assert_bad_field;
use crate::api::lifecycle::FullStack;
use crate::api_both_backends;

async fn export(
    client: &mut PersonDataServiceClient<Channel>,
    parent: &str,
    email: &str,
) -> ExportPersonDataResponse {
    client
        .export_person_data(ExportPersonDataRequest {
            parent: parent.into(),
            email: email.into(),
        })
        .await
        .expect("export")
        .into_inner()
}

async fn emails_filtered(c: &mut Clients, webinar: &str, filter: &str) -> Vec<String> {
    c.regs
        .list_registrations(ListRegistrationsRequest {
            parent: webinar.into(),
            page_size: 100,
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations
        .into_iter()
        .map(|r| r.email)
        .collect()
}

async fn person_export(database_url: String) {
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let mut c = Clients::new(&stack).await;
    let mut people = PersonDataServiceClient::new(stack.h.tenant_a().await);
    c.put_credentials(&stack).await;
    // Both ended two hours ago: ON24 reports attendance for them.
    let a = c.active_webinar("export-a", -120).await;
    let b = c.active_webinar("export-b", -120).await;
    let one_a = c.register(&a.name, "person1@example.com").await;
    let one_b = c.register(&b.name, "person1@example.com").await;
    let other = c.register(&a.name, "person2@example.com").await;
    for r in [&one_a, &one_b, &other] {
        c.delivered(&r.name).await;
    }
    for w in [&a, &b] {
        stack
            .sim
            .control()
            .seed_attendees(
                w.on24_event_id,
                &on24sim::SeedAttendees {
                    count: 2,
                    first: 1,
                    email_prefix: "person".into(),
                    viewing: on24sim::ViewingRequest {
                        live_minutes: Some(12.0),
                        interactions: on24sim::Interactions {
                            questions: vec![on24sim::InteractionItem {
                                text: "Is there a recording?".into(),
                                answer: Some("Yes, tomorrow.".into()),
                                ..on24sim::InteractionItem::default()
                            }],
                            ..on24sim::Interactions::default()
                        },
                        ..on24sim::ViewingRequest::default()
                    },
                    ..on24sim::SeedAttendees::default()
                },
            )
            .await
            .expect("seed");
        c.metrics
            .sync_webinar_metrics(SyncWebinarMetricsRequest {
                name: w.name.clone(),
            })
            .await
            .expect("sync");
    }

    // Any letter case finds the person: both registrations and both webinars' figures.
    let got = export(&mut people, TENANT, "Person1@Example.com").await;
    let mut names: Vec<&str> = got.registrations.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = vec![one_a.name.as_str(), one_b.name.as_str()];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert!(
        got.registrations
            .iter()
            .all(|r| r.email == "person1@example.com" && r.first_name == "Erin"),
        "{got:?}"
    );
    let mut metric_regs: Vec<&str> = got
        .attendee_metrics
        .iter()
        .map(|m| m.registration.as_str())
        .collect();
    metric_regs.sort_unstable();
    assert_eq!(metric_regs, expected, "{got:?}");
    assert!(
        got.attendee_metrics
            .iter()
            .all(|m| m.email == "person1@example.com" && m.live_minutes > 0),
        "{got:?}"
    );
    // Their question in each webinar, with the presenter's answer.
    let mut asked: Vec<(&str, &str, &str)> = got
        .attendee_interactions
        .iter()
        .flat_map(|p| {
            p.interactions
                .iter()
                .map(|i| (p.webinar.as_str(), i.prompt.as_str(), i.response.as_str()))
        })
        .collect();
    asked.sort_unstable();
    let mut both = vec![
        (a.name.as_str(), "Is there a recording?", "Yes, tomorrow."),
        (b.name.as_str(), "Is there a recording?", "Yes, tomorrow."),
    ];
    both.sort_unstable();
    assert_eq!(asked, both, "{got:?}");
    assert!(got.erasure_requests.is_empty() && !got.suppressed);
    // Nothing of the other person.
    let text = format!("{got:?}");
    assert!(
        !text.contains("person2") && !text.contains(&other.name),
        "{text}"
    );

    // The list filter by email, alone and with a status.
    assert_eq!(
        emails_filtered(&mut c, &a.name, "email = \"PERSON2@example.com\"").await,
        ["person2@example.com"]
    );
    assert_eq!(
        emails_filtered(
            &mut c,
            &a.name,
            "email = \"person1@example.com\" AND status = DELIVERED"
        )
        .await,
        ["person1@example.com"]
    );
    assert!(
        emails_filtered(
            &mut c,
            &a.name,
            "email = \"person1@example.com\" AND status = FAILED"
        )
        .await
        .is_empty()
    );
    for bad in ["email = person1@example.com", "email = \"nobody\""] {
        let refused = c
            .regs
            .list_registrations(ListRegistrationsRequest {
                parent: a.name.clone(),
                filter: bad.into(),
                ..Default::default()
            })
            .await
            .expect_err("bad filter");
        assert_bad_field(&refused, "filter");
    }

    // Not an address: INVALID_ARGUMENT naming `email`.
    for bad in ["", "not-an-address", "a@b"] {
        let refused = people
            .export_person_data(ExportPersonDataRequest {
                parent: TENANT.into(),
                email: bad.into(),
            })
            .await
            .expect_err("invalid email");
        assert_bad_field(&refused, "email");
    }

    // Another tenant forgets the same address: tenant A's export shows none of it, and
    // tenant B's holds only its own request and suppression.
    let channel_b = stack.h.tenant_b().await;
    RegistrationServiceClient::new(channel_b.clone())
        .forget_person(ForgetPersonRequest {
            parent: "tenants/tenant-b".into(),
            email: "person1@example.com".into(),
            forget_at_on24_if_unknown: false,
        })
        .await
        .expect("forget in tenant B");
    let in_a = export(&mut people, TENANT, "person1@example.com").await;
    assert!(in_a.erasure_requests.is_empty() && !in_a.suppressed);
    assert_eq!(in_a.registrations.len(), 2);
    let in_b = export(
        &mut PersonDataServiceClient::new(channel_b),
        "tenants/tenant-b",
        "person1@example.com",
    )
    .await;
    assert!(
        in_b.registrations.is_empty()
            && in_b.attendee_metrics.is_empty()
            && in_b.attendee_interactions.is_empty()
    );
    assert_eq!(in_b.erasure_requests.len(), 1);
    assert!(in_b.suppressed);
    // Tenant A's caller may not read tenant B's person.
    let denied = people
        .export_person_data(ExportPersonDataRequest {
            parent: "tenants/tenant-b".into(),
            email: "person1@example.com".into(),
        })
        .await
        .expect_err("other tenant");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // Forgotten in tenant A: the registrations and figures are gone, the request (matched by
    // keyed hash) and the suppression are there.
    let done = c.forget("person1@example.com", false).await;
    let request = done.erasure_request.expect("erasure request");
    erasure_state(&mut c, &request.name, ErasureState::Done).await;
    let after = export(&mut people, TENANT, "PERSON1@example.com").await;
    assert!(
        after.registrations.is_empty()
            && after.attendee_metrics.is_empty()
            && after.attendee_interactions.is_empty()
    );
    let requests: Vec<&str> = after
        .erasure_requests
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(requests, [request.name.as_str()]);
    assert!(after.suppressed);
    // The other person's export shows no request of the first.
    let two = export(&mut people, TENANT, "person2@example.com").await;
    assert!(two.erasure_requests.is_empty() && !two.suppressed);
    // Registered by the CRM in A; in B ON24 reported them, so a sync brought them in.
    let mut origins: Vec<(String, i32)> = two
        .registrations
        .iter()
        .map(|r| {
            (
                r.name
                    .rsplit_once("/registrations/")
                    .map_or(String::new(), |(w, _)| w.to_owned()),
                r.origin,
            )
        })
        .collect();
    origins.sort_unstable();
    let mut expected_origins = vec![
        (a.name.clone(), RegistrationOrigin::Crm as i32),
        (b.name.clone(), RegistrationOrigin::On24 as i32),
    ];
    expected_origins.sort_unstable();
    assert_eq!(origins, expected_origins, "{two:?}");
    stack.stop().await;
}

api_both_backends!(export_gives_one_person_across_webinars, person_export);
