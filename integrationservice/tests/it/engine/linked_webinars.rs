//! Linked webinars on both backends: linking an ON24 event the service did not create copies
//! its live times (so its attendance outcomes settle once it has ended: a live attendee
//! ATTENDED_LIVE, a registrant who watched nothing NO_SHOW) and reads its custom
//! registration questions; a webinar linked before its times were read gets them, and its
//! questions, on its first sync.

use std::time::Duration;

use integrationservice::domain::{Attendance, CrmReference, RegistrationOrigin, WebinarId};
use integrationservice::testing::{WorkerConfig, now_ms};
use on24_client::NewEvent;
use on24sim::{RegField, ViewingRequest};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, fast_workers};

/// ON24's registration page of the event: the standard fields and two custom questions.
pub(crate) fn custom_fields() -> Vec<RegField> {
    let mut fields = on24sim::state::regfields::default_fields();
    fields.push(RegField {
        field_id: "std1".into(),
        caption: "How did you hear of us?".into(),
        field_type: "radio".into(),
        validation_type: "none".into(),
        required: true,
        options: vec!["Email".into(), "Partner".into(), "Web".into()],
    });
    fields.push(RegField {
        field_id: "std2".into(),
        caption: "What would you like to ask?".into(),
        field_type: "textarea".into(),
        validation_type: "none".into(),
        required: false,
        options: Vec::new(),
    });
    fields
}

/// An hour-long event created at ON24 directly, three hours ago (so it has ended), with the
/// two custom questions and two people registered at ON24: one watched live, one nothing.
/// Returns its id and scheduled start (ms).
async fn ended_event_with_people(stack: &Stack) -> (i64, i64) {
    let start_ms = now_ms() - 3 * 3_600_000;
    let start = chrono::DateTime::from_timestamp_millis(start_ms)
        .expect("start")
        .fixed_offset();
    let created = stack
        .on24()
        .create_event(&NewEvent::new("Linked", start, 60))
        .await
        .expect("event created at ON24");
    let event = i64::try_from(created.event_id.expect("event id")).expect("event id");
    let control = stack.sim.control();
    control
        .set_registration_fields(event, &custom_fields())
        .await
        .expect("questions");
    for email in ["live@example.com", "absent@example.com"] {
        control
            .register_at_on24(
                event,
                &[("email", email), ("firstName", "On"), ("lastName", "Site")],
            )
            .await
            .expect("registered at ON24");
    }
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "live@example.com".into(),
                live_minutes: Some(40.0),
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    (event, start_ms)
}

/// Syncs the webinar now and checks both people's outcomes.
async fn sync_settles_both(stack: &Stack, webinar: &WebinarId) {
    let tenant = &stack.tenant;
    let report = stack
        .engine
        .metrics()
        .sync_now(tenant, webinar)
        .await
        .expect("sync");
    assert_eq!(report.registrations_imported, 2);
    let outcomes: Vec<(String, RegistrationOrigin, Attendance)> = stack
        .list_all(tenant, webinar)
        .await
        .into_iter()
        .map(|r| (r.email, r.origin, r.attendance))
        .collect();
    for expected in [
        ("live@example.com", Attendance::AttendedLive),
        ("absent@example.com", Attendance::NoShow),
    ] {
        assert!(
            outcomes.contains(&(expected.0.into(), RegistrationOrigin::On24, expected.1)),
            "{expected:?} in {outcomes:?}"
        );
    }
}

async fn linked_webinar_settles_attendance(db: Db) {
    // Workers run the link's job but leave metrics syncs to the test, so the sync it counts
    // is the one that brings the people in.
    let workers = WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3_600),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (event, start_ms) = ended_event_with_people(&stack).await;

    let webinar = engine
        .webinars()
        .link(
            &tenant,
            event,
            &CrmReference::parse("linked-event").expect("reference"),
            None,
        )
        .await
        .expect("link");
    assert_eq!(webinar.start_at, 0, "times are read by the link's job");
    let linked = eventually(
        "the link's job read the event",
        Duration::from_secs(20),
        || async {
            let w = engine.webinars().get(&tenant, &webinar.id).await.ok()?;
            (w.start_at > 0 && w.registration_questions.is_some()).then_some(w)
        },
    )
    .await;
    // ON24 has the start to the minute.
    assert!((linked.start_at - start_ms).abs() < 60_000, "start copied");
    assert_eq!(linked.duration_minutes, 60);
    let questions = linked.registration_questions.expect("questions");
    let ids: Vec<&str> = questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["std1", "std2"], "only the custom questions");
    assert!(questions[0].required && questions[0].options.len() == 3);
    assert!(!questions[1].required && questions[1].options.is_empty());

    sync_settles_both(&stack, &webinar.id).await;
}

/// A webinar linked while its times were not read yet (here: no worker runs, so the link's
/// job never does; before the fix, every linked webinar stayed so) gets them on its first
/// sync, with its questions, and its outcomes settle in that same sync.
async fn first_sync_reads_the_times(db: Db) {
    let stack = Stack::start_opt(db, None, Duration::from_secs(5)).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (event, _) = ended_event_with_people(&stack).await;
    let webinar = stack
        .engine
        .webinars()
        .link(
            &tenant,
            event,
            &CrmReference::parse("linked-unread").expect("reference"),
            None,
        )
        .await
        .expect("link");
    sync_settles_both(&stack, &webinar.id).await;
    let synced = stack
        .engine
        .webinars()
        .get(&tenant, &webinar.id)
        .await
        .expect("webinar");
    assert!(synced.start_at > 0 && synced.duration_minutes == 60);
    assert_eq!(synced.registration_questions.map(|q| q.len()), Some(2));
}

both_backends!(
    linked_webinar_takes_times_and_settles_attendance,
    linked_webinar_settles_attendance
);
both_backends!(
    linked_webinar_gets_its_times_on_the_first_sync,
    first_sync_reads_the_times
);
