//! Personal data encrypted at rest per tenant, on both backends, end to end: registrations
//! made alone and in a batch, delivered to the ON24 simulator, updated, a person who
//! registered at ON24 directly brought in by a metrics sync, attendee figures and
//! interactions synced, a person forgotten whose forget job waits. Then every row of every
//! table is read directly: no seeded email, name, company, job title, other registrant
//! field or interaction content is there in clear, while the service reads them all back
//! and still finds people by email (list filter, duplicates in another case, export). The keyed email hash of one address differs between two tenants. Rows
//! written in clear before encryption at rest (emails in clear, no keyed hash) read back
//! as they are and are found by email, and the background migration seals them in batches
//! without changing what reads return or what finds them.

use std::time::Duration;

use integrationservice::domain::{
    Email, RegistrationId, RegistrationPatch, RegistrationStatus, TenantId,
};
use integrationservice::testing::models::{InteractionRow, MetricsRow, RegistrationRow};
use integrationservice::testing::{
    AttendeeActivity, AttendeeInteraction, FieldCipher, InteractionKind, SealReport, StoreError,
    WorkerConfig, interactions, is_sealed, metrics, registrations, seal_plaintext_registrations,
};
use on24sim::{InteractionItem, Interactions, ViewingRequest};

use crate::api::erasure::every_row;
use crate::both_backends;
use crate::engine::harness::{Db, Stack, fast_workers, registrant, tenant_id};

/// Values seeded for tenant A (and the tenant whose forget job waits) that must never be
/// found in clear.
const SECRETS: [&str; 15] = [
    "q1@example.com",
    "o2@example.com",
    "p3@example.com",
    "walk.in@example.com",
    "waiting.forget@example.com",
    // The local part alone: no form of the address either.
    "walk.in",
    "Quentavius",
    "Marlowbrook",
    "Sprocketwerk",
    "Widgeteer",
    "Ottoline",
    "Fennimore",
    "Walkincorp",
    "Quibblesnatch",
    "Zorblefrost",
];

/// The keyed hash one tenant's erasure request kept for `email`.
async fn email_hash(stack: &Stack, tenant: &TenantId, email: &Email) -> String {
    let forgotten = stack
        .engine
        .registrations()
        .forget(tenant, email, false)
        .await
        .expect("forget");
    let id = forgotten.request.id.to_string();
    every_row(stack.engine.store())
        .await
        .into_iter()
        .filter(|(table, row)| table == "erasure_requests" && row.contains(&id))
        .find_map(|(_, row)| {
            row.split(|c: char| !c.is_ascii_hexdigit())
                .find(|token| token.len() == 64)
                .map(str::to_owned)
        })
        .expect("the request's hash")
}

async fn nothing_in_clear(db: Db) {
    let workers = WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3_600),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let (a, b) = (stack.tenant.clone(), tenant_id("other"));
    stack.put_credentials(&a).await;
    stack.put_credentials(&b).await;
    let (webinar, event) = stack.active_webinar(&a, "ev-sealed").await;
    let (webinar_b, _) = stack.active_webinar(&b, "ev-other").await;

    let mut alone = registrant("q1@example.com", "Quentavius", "Marlowbrook");
    alone.company = Some("Sprocketwerk GmbH".into());
    alone.job_title = Some("Chief Widgeteer".into());
    let (created, _) = engine
        .registrations()
        .register(&a, &webinar, alone)
        .await
        .expect("register");
    let batch = vec![
        registrant("o2@example.com", "Ottoline", "Doe"),
        registrant("p3@example.com", "Plain", "Fennimore"),
    ];
    engine
        .registrations()
        .register_batch(&a, &webinar, batch)
        .await
        .expect("batch");
    engine
        .registrations()
        .register(
            &b,
            &webinar_b,
            registrant("someone@example.com", "Some", "One"),
        )
        .await
        .expect("b registers");
    stack
        .wait_all(
            &a,
            &webinar,
            3,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    // The simulator received the plaintext (delivery opened the rows).
    let updated = engine
        .registrations()
        .update(
            &a,
            &webinar,
            &created.id,
            RegistrationPatch {
                job_title: Some("Chief Widgeteer Emeritus".into()),
                ..RegistrationPatch::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        updated.job_title.as_deref(),
        Some("Chief Widgeteer Emeritus")
    );

    let control = stack.sim.control();
    control
        .register_at_on24(
            event,
            &[
                ("email", "walk.in@example.com"),
                ("firstName", "Walk"),
                ("lastName", "In"),
                ("company", "Walkincorp"),
            ],
        )
        .await
        .expect("walk-in");
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "q1@example.com".into(),
                live_minutes: Some(12.0),
                interactions: Interactions {
                    questions: vec![InteractionItem {
                        text: "Is Quibblesnatch supported?".into(),
                        answer: Some("Zorblefrost is".into()),
                        ..InteractionItem::default()
                    }],
                    ..Interactions::default()
                },
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    engine.metrics().sync_now(&a, &webinar).await.expect("sync");

    // Read back in clear by the service.
    let got = engine
        .registrations()
        .get(&a, &webinar, &created.id)
        .await
        .expect("get");
    assert_eq!(
        (
            got.first_name.as_str(),
            got.last_name.as_str(),
            got.company.as_deref(),
            got.job_title.as_deref()
        ),
        (
            "Quentavius",
            "Marlowbrook",
            Some("Sprocketwerk GmbH"),
            Some("Chief Widgeteer Emeritus")
        )
    );
    let asked = engine
        .metrics()
        .interactions(&a, &webinar, &created.id, 10, "")
        .await
        .expect("interactions")
        .items;
    assert_eq!(
        asked
            .iter()
            .map(|i| (i.prompt.as_str(), i.response.as_str()))
            .collect::<Vec<_>>(),
        vec![("Is Quibblesnatch supported?", "Zorblefrost is")]
    );
    let listed = engine
        .registrations()
        .list(&a, &webinar, None, None, 100, "")
        .await
        .expect("list")
        .items;
    assert_eq!(listed.len(), 4, "three from the CRM, one from ON24");
    assert!(
        listed
            .iter()
            .any(|r| r.company.as_deref() == Some("Walkincorp")),
        "the ON24 walk-in reads back"
    );

    // Found by email through the keyed hash: the list filter, a duplicate in another case,
    // an access request.
    let filtered = engine
        .registrations()
        .list(
            &a,
            &webinar,
            None,
            Some(&Email::parse("O2@Example.com").expect("email")),
            100,
            "",
        )
        .await
        .expect("filter")
        .items;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].email, "o2@example.com");
    let (again, fresh) = engine
        .registrations()
        .register(
            &a,
            &webinar,
            registrant("Q1@EXAMPLE.com", "Quentavius", "Marlowbrook"),
        )
        .await
        .expect("register again");
    assert_eq!(
        again.id, created.id,
        "the same person, not a new registration"
    );
    assert!(!fresh);
    let export = engine
        .person_data()
        .export(&a, &Email::parse("q1@example.com").expect("email"))
        .await
        .expect("export");
    assert_eq!(export.registrations.len(), 1);
    assert_eq!(
        export.metrics.len(),
        1,
        "the synced figures, found by email"
    );

    // A forget whose provider job waits (the tenant has no credentials): its payload holds
    // the address sealed.
    let waiting = tenant_id("waiting");
    engine
        .registrations()
        .forget(
            &waiting,
            &Email::parse("waiting.forget@example.com").expect("email"),
            true,
        )
        .await
        .expect("forget queued");

    // Nothing of it in clear in any row of any table.
    let rows = every_row(engine.store()).await;
    for (table, row) in &rows {
        for secret in SECRETS {
            assert!(
                !row.to_lowercase().contains(&secret.to_lowercase()),
                "{secret} in clear in {table}"
            );
        }
    }
    let sealed = rows
        .iter()
        .filter(|(table, row)| table == "registrations" && row.contains("enc2:"))
        .count();
    assert!(sealed >= 4, "registrations hold ciphertext: {sealed}");
    assert!(is_sealed("enc1:AAAA") && is_sealed("enc2:AAAA"));

    // The keyed hash of one address differs between tenants.
    let email = Email::parse("Shared.Person@Example.com").expect("email");
    let (ha, hb) = (
        email_hash(&stack, &a, &email).await,
        email_hash(&stack, &b, &email).await,
    );
    assert_ne!(ha, hb, "a different keyed hash per tenant");
}

both_backends!(personal_fields_are_ciphertext_at_rest, nothing_in_clear);

/// A registration as a deployment wrote it before encryption at rest.
fn legacy_row(tenant: &TenantId, webinar: &str, n: usize) -> RegistrationRow {
    RegistrationRow {
        tenant: tenant.to_string(),
        id: RegistrationId::generate().to_string(),
        webinar_id: webinar.to_owned(),
        email: Some(format!("legacy{n}@example.com")),
        first_name: format!("Legacyfirst{n}"),
        last_name: "Oldrowson".into(),
        company: n.is_multiple_of(2).then(|| "Archivale Ltd".to_owned()),
        job_title: None,
        crm_reference_id: None,
        extra: r#"{"city":"Oldtown"}"#.into(),
        status: RegistrationStatus::Delivered.as_str().into(),
        eventuserid: Some(1000 + n as i64),
        attempts: 0,
        last_error: None,
        next_attempt_at: None,
        request_id: None,
        delivered_at: Some(1),
        created_at: 1,
        updated_at: 1,
        origin: "CRM".into(),
        attendance: "UNKNOWN".into(),
        email_hash: None,
    }
}

async fn existing_rows_sealed(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-legacy").await;
    const ROWS: usize = 25;
    let rows: Vec<RegistrationRow> = (0..ROWS)
        .map(|n| legacy_row(&tenant, &webinar.to_string(), n))
        .collect();
    let seeded = rows.clone();
    let plain = FieldCipher::plain(tenant.as_str());
    let question = AttendeeInteraction {
        kind: InteractionKind::Question,
        occurred_at: Some(1),
        reference: "q1".into(),
        prompt: "Oldquestion about pricing?".into(),
        response: "Oldanswer: soon".into(),
        responded_at: None,
    };
    let (t, w) = (tenant.clone(), webinar);
    let activity = AttendeeActivity {
        live_minutes: 9,
        ..AttendeeActivity::default()
    };
    engine
        .store()
        .run(move |conn| {
            registrations::insert(conn, &plain, &seeded)?;
            let figures = MetricsRow::new(&t, &w, "legacy0@example.com", Some(1000), &activity, 1);
            metrics::insert(conn, &plain, &[figures])?;
            let row = InteractionRow::new(&t, &w, "legacy0@example.com", 0, &question);
            interactions::replace(
                conn,
                &plain,
                &t,
                &w,
                &["legacy0@example.com".to_owned()],
                &[row],
            )
            .map_err(StoreError::from)
        })
        .await
        .expect("seed plaintext rows");
    let in_clear = |rows: &[(String, String)]| {
        rows.iter()
            .filter(|(t, row)| t == "registrations" && row.contains("Oldrowson"))
            .count()
    };
    assert_eq!(in_clear(&every_row(engine.store()).await), ROWS);
    // Read while in clear.
    let before = engine
        .registrations()
        .list(&tenant, &webinar, None, None, 100, "")
        .await
        .expect("list")
        .items;
    assert_eq!(before.len(), ROWS);
    let first = before
        .iter()
        .find(|r| r.email == "legacy0@example.com")
        .expect("legacy0")
        .id;
    let asked = |engine: &integrationservice::domain::Engine| {
        let (tenant, webinar) = (tenant.clone(), webinar);
        let engine = engine.clone();
        async move {
            engine
                .metrics()
                .interactions(&tenant, &webinar, &first, 10, "")
                .await
                .expect("interactions")
                .items
                .into_iter()
                .map(|i| (i.prompt, i.response))
                .collect::<Vec<_>>()
        }
    };
    let asked_before = asked(engine).await;
    assert_eq!(asked_before.len(), 1);
    // Found by email while in clear, and after the migration the same way.
    let found = |engine: &integrationservice::domain::Engine| {
        let (tenant, webinar) = (tenant.clone(), webinar);
        let engine = engine.clone();
        async move {
            let email = Email::parse("Legacy3@Example.com").expect("email");
            let listed = engine
                .registrations()
                .list(&tenant, &webinar, None, Some(&email), 100, "")
                .await
                .expect("filter")
                .items
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>();
            let zero = Email::parse("legacy0@example.com").expect("email");
            let export = engine
                .person_data()
                .export(&tenant, &zero)
                .await
                .expect("export");
            let attendees = engine
                .metrics()
                .attendees(&tenant, &webinar, 100, "")
                .await
                .expect("attendees")
                .items
                .len();
            (
                listed,
                export.registrations.len(),
                export.metrics.len(),
                attendees,
            )
        }
    };
    let found_before = found(engine).await;
    assert_eq!(found_before.0.len(), 1);
    assert_eq!(found_before.1..=found_before.3, 1..=1);
    // A duplicate of a clear row in another case is refused (the same registration back).
    let duplicate = engine
        .registrations()
        .register(
            &tenant,
            &webinar,
            registrant("LEGACY5@example.com", "Legacyfirst5", "Oldrowson"),
        )
        .await
        .expect("register again");
    assert!(!duplicate.1, "no second registration of a clear row");

    // Small batches, so the migration pages.
    let report = seal_plaintext_registrations(engine, 7)
        .await
        .expect("migration");
    assert_eq!(
        report.sealed + report.skipped,
        ROWS as u64 + 2,
        "registrations, the interaction, the figures: {report:?}"
    );
    let all = every_row(engine.store()).await;
    assert_eq!(in_clear(&all), 0, "nothing left in clear");
    for n in 0..ROWS {
        let email = format!("legacy{n}@example.com");
        assert!(
            all.iter().all(|(_, row)| !row.contains(&email)),
            "{email} in clear"
        );
    }
    assert_eq!(found(engine).await, found_before, "found by email after");
    for secret in [
        "Legacyfirst",
        "Archivale",
        "Oldtown",
        "Oldquestion",
        "Oldanswer",
    ] {
        assert!(
            all.iter().all(|(_, row)| !row.contains(secret)),
            "{secret} in clear"
        );
    }
    // Read back identically, and the ids, statuses and delivery state untouched.
    let after = engine
        .registrations()
        .list(&tenant, &webinar, None, None, 100, "")
        .await
        .expect("list")
        .items;
    let key = |r: &integrationservice::domain::Registration| {
        (
            r.id,
            r.email.clone(),
            r.first_name.clone(),
            r.last_name.clone(),
            r.company.clone(),
            r.job_title.clone(),
            r.fields.to_json(),
            r.status,
            r.eventuserid,
        )
    };
    assert_eq!(
        after.iter().map(key).collect::<Vec<_>>(),
        before.iter().map(key).collect::<Vec<_>>()
    );
    assert!(after.iter().all(|r| r.fields.to_json().contains("Oldtown")));
    assert_eq!(asked(engine).await, asked_before);
    // Nothing left: a second run seals nothing.
    let again = seal_plaintext_registrations(engine, 7)
        .await
        .expect("again");
    assert_eq!(again, SealReport::default());
}

both_backends!(existing_plaintext_rows_are_sealed, existing_rows_sealed);

/// A sync of a webinar still holding figures and interactions under the clear key of their
/// email (written before emails were sealed, the migration not there yet) finds them: the
/// changed figures and question replace them, under the keyed hash, rather than landing
/// beside them. (A sync asks for the clear keys only when the webinar holds some.)
async fn sync_over_clear_keyed(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-clear-keyed").await;
    let email = "legacy0@example.com";
    let plain = FieldCipher::plain(tenant.as_str());
    let (t, w) = (tenant.clone(), webinar);
    let old_question = AttendeeInteraction {
        kind: InteractionKind::Question,
        occurred_at: Some(1),
        reference: "q1".into(),
        prompt: "Oldquestion?".into(),
        response: String::new(),
        responded_at: None,
    };
    engine
        .store()
        .run(move |conn| {
            registrations::insert(conn, &plain, &[legacy_row(&t, &w.to_string(), 0)])?;
            let activity = AttendeeActivity {
                live_minutes: 9,
                ..AttendeeActivity::default()
            };
            metrics::insert(
                conn,
                &plain,
                &[MetricsRow::new(&t, &w, email, Some(1000), &activity, 1)],
            )?;
            let row = InteractionRow::new(&t, &w, email, 0, &old_question);
            interactions::replace(conn, &plain, &t, &w, &[email.to_owned()], &[row])
                .map_err(StoreError::from)
        })
        .await
        .expect("seed clear-keyed rows");
    let control = stack.sim.control();
    control
        .register_at_on24(
            event,
            &[
                ("email", email),
                ("firstName", "Legacyfirst0"),
                ("lastName", "Oldrowson"),
            ],
        )
        .await
        .expect("registered at ON24 too");
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: email.into(),
                live_minutes: Some(21.0),
                interactions: Interactions {
                    questions: vec![InteractionItem {
                        text: "Newquestion?".into(),
                        ..InteractionItem::default()
                    }],
                    ..Interactions::default()
                },
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");

    let attendees = engine
        .metrics()
        .attendees(&tenant, &webinar, 100, "")
        .await
        .expect("attendees")
        .items;
    assert_eq!(
        attendees.len(),
        1,
        "one attendee, not a second beside the first"
    );
    assert_eq!(attendees[0].activity.live_minutes, 21);
    let registration = attendees[0]
        .registration_id
        .expect("joined to the registration");
    let asked: Vec<String> = engine
        .metrics()
        .interactions(&tenant, &webinar, &registration, 10, "")
        .await
        .expect("interactions")
        .items
        .into_iter()
        .map(|i| i.prompt)
        .collect();
    assert_eq!(asked, ["Newquestion?"], "the old question replaced");
    let registrations = engine
        .registrations()
        .list(&tenant, &webinar, None, None, 100, "")
        .await
        .expect("list")
        .items;
    assert_eq!(registrations.len(), 1, "the person not brought in twice");
    let (t, w) = (tenant.clone(), webinar);
    let left = engine
        .store()
        .run(move |conn| {
            Ok::<_, StoreError>((
                metrics::has_clear_keys(conn, &t, &w)?,
                interactions::has_clear_keys(conn, &t, &w)?,
            ))
        })
        .await
        .expect("clear keys");
    assert_eq!(left, (false, false), "nothing left under a clear key");
}

both_backends!(a_sync_finds_rows_under_clear_keys, sync_over_clear_keyed);
