//! Registrations that started at ON24, and attendance outcomes, against the simulator over
//! HTTP on both backends. A person registered through ON24's own channels (the simulator's
//! control API, so no REST call of ours) is brought in by metrics syncs as a registration of
//! origin ON24: once, whatever the number of syncs, never sent back to ON24, and never for a
//! suppressed person, even when two syncs run at once. Each registration's attendance outcome is settled once the event has
//! ended (live, on demand, both, no-show), stays UNKNOWN before, and moves when a later
//! on-demand viewing arrives.

use std::collections::HashMap;
use std::time::Duration;

use integrationservice::domain::metrics::import_registrants;
use integrationservice::domain::{
    Attendance, ChangeKind, Email, Engine, Registration, RegistrationOrigin, RegistrationStatus,
    StartTime, TenantId, WebinarId,
};
use integrationservice::testing::{ProviderCredentials, WorkerConfig, now_ms};
use on24sim::ViewingRequest;
use secrecy::SecretString;

use crate::both_backends;
use crate::engine::harness::{
    CLIENT_ID, Db, Stack, TOKEN_KEY, TOKEN_SECRET, fast_workers, registrant, webinar_input,
};

/// Workers that deliver at once but leave metrics syncs to the test (no scheduled pulls
/// during it), so each sync the test counts is its own.
fn deliver_only() -> WorkerConfig {
    WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3_600),
        ..fast_workers()
    }
}

/// REGISTRATION entries after `cursor`, as registration id -> count, and the last cursor.
async fn registration_changes(
    engine: &Engine,
    tenant: &TenantId,
    cursor: i64,
) -> (HashMap<String, usize>, i64) {
    let (mut by_registration, mut cursor) = (HashMap::new(), cursor);
    loop {
        let page = engine
            .metrics()
            .changes(tenant, cursor, 1000)
            .await
            .expect("feed");
        let Some(last) = page.last() else {
            return (by_registration, cursor);
        };
        cursor = last.seq;
        for c in page.iter().filter(|c| c.kind == ChangeKind::Registration) {
            let id = c.registration_id.expect("registration id").to_string();
            *by_registration.entry(id).or_insert(0) += 1;
        }
    }
}

async fn by_email(stack: &Stack, webinar: &WebinarId, email: &str) -> Vec<Registration> {
    stack
        .list_all(&stack.tenant, webinar)
        .await
        .into_iter()
        .filter(|r| r.email == email)
        .collect()
}

/// Registrant POSTs (registrations sent by us) to ON24 for `email`, in the whole journal.
async fn posts_for(stack: &Stack, email: &str) -> usize {
    stack
        .sim
        .control()
        .journal()
        .await
        .expect("journal")
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/registrant"))
        .filter(|e| {
            e.form
                .iter()
                .any(|(k, v)| k == "email" && v.eq_ignore_ascii_case(email))
        })
        .count()
}

async fn registrations_from_on24(db: Db) {
    let stack = Stack::start_with(db, deliver_only(), Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-walk-in").await;

    // One person the CRM sent, delivered the usual way.
    engine
        .registrations()
        .register(
            &tenant,
            &webinar,
            registrant("crm.person@example.com", "Crm", "Person"),
        )
        .await
        .expect("register");
    stack
        .wait_all(
            &tenant,
            &webinar,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;

    // A person the tenant forgot (suppressed), never registered here: no call to ON24.
    let forgotten = engine
        .registrations()
        .forget(
            &tenant,
            &Email::parse("gone@example.com").expect("email"),
            false,
        )
        .await
        .expect("forget");
    assert!(!forgotten.provider_erasure_queued);

    // Both register through ON24's own page; the CRM person registers there again too.
    let control = stack.sim.control();
    let walk_in_id = control
        .register_at_on24(
            event,
            &[
                ("email", "Walk.In@Example.com"),
                ("firstName", "Walk"),
                ("lastName", "In"),
                ("company", "Elsewhere"),
                ("city", "Lyon"),
                ("companySize", "50-99"),
                ("std3", "from the page"),
                ("extEventUserCd", "crm-contact-9"),
            ],
        )
        .await
        .expect("walk-in registers at ON24");
    control
        .register_at_on24(
            event,
            &[
                ("email", "gone@example.com"),
                ("firstName", "Gone"),
                ("lastName", "Person"),
            ],
        )
        .await
        .expect("suppressed person registers at ON24");
    control
        .register_at_on24(
            event,
            &[
                ("email", "crm.person@example.com"),
                ("firstName", "Crm"),
                ("lastName", "Person"),
            ],
        )
        .await
        .expect("CRM person registers at ON24 again");
    let (_, start) = registration_changes(engine, &tenant, 0).await;

    // Three syncs: the walk-in appears after the first, once.
    let mut cursor = start;
    let mut walk_in: Option<Registration> = None;
    for n in 1..=3 {
        let report = engine
            .metrics()
            .sync_now(&tenant, &webinar)
            .await
            .expect("sync");
        assert_eq!(
            report.registrations_imported,
            usize::from(n == 1),
            "sync {n} brings the walk-in in exactly once"
        );
        let found = by_email(&stack, &webinar, "walk.in@example.com").await;
        assert_eq!(found.len(), 1, "one registration after sync {n}");
        let r = found.into_iter().next().expect("walk-in");
        let (changes, next) = registration_changes(engine, &tenant, cursor).await;
        if n == 1 {
            assert!(
                changes.contains_key(&r.id.to_string()),
                "the walk-in is in the change feed: {changes:?}"
            );
        } else {
            assert!(
                changes.is_empty(),
                "sync {n} announces no registration again: {changes:?}"
            );
        }
        cursor = next;
        if let Some(first) = &walk_in {
            assert_eq!(first.id, r.id, "the same registration every time");
        }
        walk_in = Some(r);
    }
    let r = walk_in.expect("walk-in");
    assert_eq!(r.origin, RegistrationOrigin::On24);
    assert_eq!(r.status, RegistrationStatus::Delivered);
    assert_eq!(r.eventuserid, Some(walk_in_id));
    assert_eq!(
        (r.first_name.as_str(), r.last_name.as_str()),
        ("Walk", "In")
    );
    assert_eq!(r.company.as_deref(), Some("Elsewhere"));
    assert_eq!(r.crm_reference_id.as_deref(), Some("crm-contact-9"));
    assert_eq!(r.fields.city.as_deref(), Some("Lyon"));
    assert_eq!(r.fields.company_size.as_deref(), Some("50-99"));
    assert_eq!(r.fields.std3.as_deref(), Some("from the page"));

    // The CRM's own person stays one registration of origin CRM; the suppressed one never
    // appears.
    let crm = by_email(&stack, &webinar, "crm.person@example.com").await;
    assert_eq!(crm.len(), 1);
    assert_eq!(crm[0].origin, RegistrationOrigin::Crm);
    assert!(
        by_email(&stack, &webinar, "gone@example.com")
            .await
            .is_empty()
    );
    assert_eq!(stack.list_all(&tenant, &webinar).await.len(), 2);

    // Nothing of theirs was ever sent to ON24 by us; the CRM person was, once.
    assert_eq!(posts_for(&stack, "walk.in@example.com").await, 0);
    assert_eq!(posts_for(&stack, "gone@example.com").await, 0);
    assert_eq!(posts_for(&stack, "crm.person@example.com").await, 1);

    // After the first sync, registrants are read only from the last sync's day on.
    let reads: Vec<_> = stack
        .sim
        .control()
        .journal()
        .await
        .expect("journal")
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.ends_with(&format!("/event/{event}/registrant")))
        .collect();
    assert_eq!(reads.len(), 3, "one registrant read per sync");
    assert!(
        !reads[0].query.iter().any(|(k, _)| k == "startdate"),
        "the first read takes every registrant"
    );
    for later in &reads[1..] {
        assert!(
            later.query.iter().any(|(k, _)| k == "startdate")
                && later.query.iter().any(|(k, _)| k == "enddate"),
            "later reads are date-filtered: {:?}",
            later.query
        );
    }

    // Forgetting the walk-in erases their registration like any other, and the next sync
    // (whose read still covers the day they registered at ON24) does not bring them back.
    let forgotten = engine
        .registrations()
        .forget(
            &tenant,
            &Email::parse("walk.in@example.com").expect("email"),
            false,
        )
        .await
        .expect("forget");
    assert_eq!(forgotten.registrations, 1);
    let after = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(after.registrations_imported, 0);
    let tombstone = engine
        .registrations()
        .get(&tenant, &webinar, &r.id)
        .await
        .expect("tombstone");
    assert_eq!(tombstone.status, RegistrationStatus::Forgotten);
    assert!(tombstone.email.is_empty() && tombstone.first_name.is_empty());
    assert!(
        by_email(&stack, &webinar, "walk.in@example.com")
            .await
            .is_empty()
    );
}

both_backends!(
    a_registration_started_at_on24_comes_back_once,
    registrations_from_on24
);

async fn attendance_outcomes(db: Db) {
    let stack = Stack::start_with(db, deliver_only(), Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // Ended two hours ago.
    let (webinar, event) = stack.active_webinar(&tenant, "ev-attendance").await;
    // Starts tomorrow: nobody's outcome is known yet.
    let mut later = webinar_input("ev-attendance-later");
    later.start_at =
        StartTime::from_parts(chrono::Utc::now().timestamp() + 86_400, 0).expect("tomorrow");
    let (upcoming, _) = stack.active_webinar_with(&tenant, later).await;

    let people = ["live", "on-demand", "both", "no-show"];
    for p in people {
        engine
            .registrations()
            .register(
                &tenant,
                &webinar,
                registrant(&format!("{p}@example.com"), "Someone", p),
            )
            .await
            .expect("register");
    }
    engine
        .registrations()
        .register(
            &tenant,
            &upcoming,
            registrant("early@example.com", "Early", "Bird"),
        )
        .await
        .expect("register");
    let all = stack
        .wait_all(
            &tenant,
            &webinar,
            people.len(),
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    stack
        .wait_all(
            &tenant,
            &upcoming,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    assert!(all.iter().all(|r| r.attendance == Attendance::Unknown));
    let ids: HashMap<String, String> = all
        .iter()
        .map(|r| (r.email.clone(), r.id.to_string()))
        .collect();

    let control = stack.sim.control();
    let view = |email: &str, live: f64, archive: f64| ViewingRequest {
        email: email.into(),
        live_minutes: (live > 0.0).then_some(live),
        archive_minutes: (archive > 0.0).then_some(archive),
        ..ViewingRequest::default()
    };
    for v in [
        view("live@example.com", 30.0, 0.0),
        view("on-demand@example.com", 0.0, 20.0),
        view("both@example.com", 15.0, 25.0),
    ] {
        control.add_viewing(event, &v).await.expect("viewing");
    }
    let (_, start) = registration_changes(engine, &tenant, 0).await;

    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(report.attendees, 3);
    let outcome = |all: &[Registration], email: &str| {
        all.iter()
            .find(|r| r.email == email)
            .map(|r| r.attendance)
            .expect("registration")
    };
    let all = stack.list_all(&tenant, &webinar).await;
    assert_eq!(outcome(&all, "live@example.com"), Attendance::AttendedLive);
    assert_eq!(
        outcome(&all, "on-demand@example.com"),
        Attendance::AttendedOnDemand
    );
    assert_eq!(outcome(&all, "both@example.com"), Attendance::AttendedBoth);
    assert_eq!(outcome(&all, "no-show@example.com"), Attendance::NoShow);
    let (changes, cursor) = registration_changes(engine, &tenant, start).await;
    for p in people {
        assert_eq!(
            changes.get(&ids[&format!("{p}@example.com")]),
            Some(&1),
            "{p}'s outcome is announced once: {changes:?}"
        );
    }
    let counts = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("metrics")
        .registrations_by_attendance;
    for (a, n) in [
        (Attendance::Unknown, 0),
        (Attendance::AttendedLive, 1),
        (Attendance::AttendedOnDemand, 1),
        (Attendance::AttendedBoth, 1),
        (Attendance::NoShow, 1),
    ] {
        assert_eq!(counts.get(&a), Some(&n), "{a:?} in {counts:?}");
    }

    // Before its end a webinar's outcomes stay UNKNOWN, even after a sync.
    engine
        .metrics()
        .sync_now(&tenant, &upcoming)
        .await
        .expect("sync upcoming");
    let early = stack.list_all(&tenant, &upcoming).await;
    assert_eq!(early[0].attendance, Attendance::Unknown);

    // Nothing changed: no outcome announced again. Then the no-show watches the recording.
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let (changes, cursor) = registration_changes(engine, &tenant, cursor).await;
    assert!(changes.is_empty(), "nothing re-announced: {changes:?}");
    control
        .add_viewing(event, &view("no-show@example.com", 0.0, 12.0))
        .await
        .expect("late viewing");
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let all = stack.list_all(&tenant, &webinar).await;
    assert_eq!(
        outcome(&all, "no-show@example.com"),
        Attendance::AttendedOnDemand
    );
    let (changes, _) = registration_changes(engine, &tenant, cursor).await;
    assert_eq!(
        changes.keys().collect::<Vec<_>>(),
        vec![&ids["no-show@example.com"]],
        "only the late viewer's outcome changed"
    );
}

both_backends!(
    attendance_outcomes_are_settled_by_syncs,
    attendance_outcomes
);

/// Two syncs of the same webinar at once (on PostgreSQL from two replicas, each its own
/// single flight; SQLite has one process per database, so there from one engine) bring every
/// ON24-side person in exactly once between them.
async fn concurrent_syncs(db: Db) {
    let postgres = matches!(db, Db::Postgres);
    let stack = Stack::start_with(db, deliver_only(), Duration::from_secs(10)).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-walk-ins").await;
    let control = stack.sim.control();
    const PEOPLE: usize = 60;
    for n in 0..PEOPLE {
        let email = format!("walk{n}@example.com");
        control
            .register_at_on24(
                event,
                &[
                    ("email", email.as_str()),
                    ("firstName", "Walk"),
                    ("lastName", "In"),
                ],
            )
            .await
            .expect("register at ON24");
    }
    let other = postgres.then(|| stack.replica(None));
    let second = other.as_ref().map_or(&stack.engine, |r| &r.engine);
    let creds = ProviderCredentials {
        client_id: CLIENT_ID as u64,
        region: "NA".into(),
        base_url: Some(stack.sim.base_url.clone()),
        token_key: SecretString::from(TOKEN_KEY.to_owned()),
        token_secret: SecretString::from(TOKEN_SECRET.to_owned()),
    };
    let now = now_ms();
    let (a, b) = tokio::join!(
        import_registrants(&stack.engine, &creds, &tenant, &webinar, event, None, now),
        import_registrants(second, &creds, &tenant, &webinar, event, None, now),
    );
    let a = a.expect("store a").expect("ON24 a");
    let b = b.expect("store b").expect("ON24 b");
    assert_eq!(a + b, PEOPLE, "each person brought in by one of the two");
    let all = stack.list_all(&tenant, &webinar).await;
    assert_eq!(all.len(), PEOPLE);
    assert!(all.iter().all(|r| r.origin == RegistrationOrigin::On24));
    let (changes, _) = registration_changes(&stack.engine, &tenant, 0).await;
    assert_eq!(changes.len(), PEOPLE, "each announced once");
    assert!(changes.values().all(|&n| n == 1), "{changes:?}");
}

both_backends!(concurrent_syncs_bring_each_person_in_once, concurrent_syncs);
