//! Data minimisation on both backends: optional fields outside a tenant's allowlist are
//! neither stored nor sent to ON24, and with `metrics_registered_only` a pull stores figures
//! only of the people the CRM registered; the default keeps everything. People brought in
//! from ON24 keep only the allowed fields too.

use std::time::Duration;

use integrationservice::domain::minimisation::{MinimisationPolicy, OptionalField};
use integrationservice::domain::{Error, RegistrantField, RegistrationStatus, TenantId, WebinarId};
use integrationservice::testing::metrics;
use on24sim::{SeedAttendees, ViewingRequest};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, registrant};

fn attendee(n: usize) -> integrationservice::domain::RegistrationInput {
    let mut person = registrant(&format!("attendee{n}@example.com"), "Ann", "Lee");
    person.company = Some("Acme".into());
    person.job_title = Some("Chief Tester".into());
    person.fields.city = Some("Lyon".into());
    person.fields.std1 = Some("custom-value".into());
    person
}

async fn stored_metrics(stack: &Stack, tenant: &TenantId, webinar: &WebinarId) -> usize {
    let (t, w) = (tenant.clone(), *webinar);
    stack
        .engine
        .store()
        .run(move |conn| metrics::for_webinar(conn, &t, &w).map_err(Error::from))
        .await
        .expect("metrics")
        .len()
}

/// Every form value ON24 received in registration calls.
async fn sent_values(stack: &Stack) -> Vec<String> {
    stack
        .sim
        .control()
        .journal()
        .await
        .expect("journal")
        .into_iter()
        .filter(|e| e.method == "POST" && e.path.contains("/registrant"))
        .flat_map(|e| e.form.into_iter().map(|(_, v)| v))
        .collect()
}

async fn only_what_the_tenant_keeps(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "minimal").await;
    engine
        .minimisation()
        .set(
            &tenant,
            MinimisationPolicy {
                allowed_fields: Some(vec![OptionalField::Company]),
                metrics_registered_only: true,
                updated_at: None,
            },
        )
        .await
        .expect("policy");
    let regs = engine.registrations();
    regs.register_batch(&tenant, &webinar, (0..3).map(attendee).collect())
        .await
        .expect("register");
    let delivered = stack
        .wait_all(
            &tenant,
            &webinar,
            3,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    for r in &delivered {
        assert_eq!(r.company.as_deref(), Some("Acme"), "kept");
        assert_eq!(r.job_title, None, "dropped");
        assert_eq!(r.fields.get(RegistrantField::City), None, "dropped");
        assert_eq!(r.fields.get(RegistrantField::Std1), None, "dropped");
    }
    let sent = sent_values(&stack).await;
    assert!(
        sent.iter().any(|v| v == "Acme"),
        "the kept field reaches ON24"
    );
    for dropped in ["Chief Tester", "Lyon", "custom-value"] {
        assert!(!sent.iter().any(|v| v == dropped), "{dropped} was sent");
    }
    // An update cannot bring a dropped field in either.
    let first = &delivered[0];
    let patch = integrationservice::domain::RegistrationPatch {
        job_title: Some("Still Dropped".into()),
        ..Default::default()
    };
    let updated = regs
        .update(&tenant, &webinar, &first.id, patch)
        .await
        .expect("update");
    assert_eq!(updated.job_title, None);

    // ON24 reports ten attendees; three were registered through the CRM.
    stack
        .sim
        .control()
        .seed_attendees(
            event,
            &SeedAttendees {
                count: 10,
                first: 0,
                email_prefix: "attendee".into(),
                viewing: ViewingRequest {
                    live_minutes: Some(10.0),
                    ..ViewingRequest::default()
                },
                ..SeedAttendees::default()
            },
        )
        .await
        .expect("seed");
    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(report.attendees, 10, "ON24 reported all ten");
    assert_eq!(stored_metrics(&stack, &tenant, &webinar).await, 3);
    assert_eq!(
        report.registrations_imported, 0,
        "nobody the CRM did not register is brought in from ON24"
    );

    // Back to the default: every field and every attendee.
    engine
        .minimisation()
        .set(&tenant, MinimisationPolicy::default())
        .await
        .expect("default");
    let (all, _) = regs
        .register(&tenant, &webinar, attendee(3))
        .await
        .expect("register");
    assert_eq!(all.job_title.as_deref(), Some("Chief Tester"));
    assert_eq!(all.fields.get(RegistrantField::City), Some("Lyon"));
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(stored_metrics(&stack, &tenant, &webinar).await, 10);

    // Someone who registered at ON24 is brought in keeping only what the tenant keeps.
    engine
        .minimisation()
        .set(
            &tenant,
            MinimisationPolicy {
                allowed_fields: Some(vec![OptionalField::Company]),
                metrics_registered_only: false,
                updated_at: None,
            },
        )
        .await
        .expect("policy");
    stack
        .sim
        .control()
        .register_at_on24(
            event,
            &[
                ("email", "walk.in@example.com"),
                ("firstName", "Walk"),
                ("lastName", "In"),
                ("company", "Acme"),
                ("jobTitle", "Chief Tester"),
                ("city", "Lyon"),
                ("std1", "custom-value"),
            ],
        )
        .await
        .expect("registered at ON24");
    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(report.registrations_imported, 1);
    let walk_in = stack
        .list_all(&tenant, &webinar)
        .await
        .into_iter()
        .find(|r| r.email == "walk.in@example.com")
        .expect("brought in");
    assert_eq!(walk_in.company.as_deref(), Some("Acme"), "kept");
    assert_eq!(walk_in.job_title, None, "dropped");
    assert_eq!(walk_in.fields.get(RegistrantField::City), None, "dropped");
    assert_eq!(walk_in.fields.get(RegistrantField::Std1), None, "dropped");
}

both_backends!(
    minimisation_keeps_only_the_allowed,
    only_what_the_tenant_keeps
);
