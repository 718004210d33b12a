//! Attendee analytics from simulated viewing: ON24's minute rounding, activity counts, and the
//! paginated viewing sessions.

use on24sim::ViewingRequest;

use crate::common::*;

fn watch(email: &str) -> ViewingRequest {
    ViewingRequest {
        email: email.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn minutes_are_rounded_as_on24_does() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    for (email, live_secs, archive_min, live_expected, archive_expected) in [
        ("short@example.com", 7, 0.4, 1, 1),
        ("mid@example.com", 139, 3.542, 2, 4),
        ("half@example.com", 150, 0.0, 3, 0),
    ] {
        env.register(ev, email, "V").await;
        let v = ViewingRequest {
            live_seconds: Some(live_secs),
            archive_minutes: Some(archive_min),
            ..watch(email)
        };
        env.ctl.add_viewing(ev, &v).await.expect("viewing");
        let list = ok(env.get(&format!("/event/{ev}/attendee")).await).await;
        let a = list["attendees"]
            .as_array()
            .expect("attendees")
            .iter()
            .find(|a| a["email"] == email)
            .expect("attendee")
            .clone();
        assert_eq!(a["liveminutes"], live_expected, "{email}");
        assert_eq!(a["cumulativeliveminutes"], live_expected, "{email}");
        assert_eq!(a["archiveminutes"], archive_expected, "{email}");
    }
}

#[tokio::test]
async fn activity_counts_and_totals() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let id = env.register(ev, "busy@example.com", "B").await;
    env.register(ev, "noshow@example.com", "N").await;
    let v = ViewingRequest {
        live_minutes: Some(30.0),
        questions: 2,
        polls: 3,
        surveys: 1,
        resources: 4,
        engagement: Some(7.5),
        ..watch("busy@example.com")
    };
    assert_eq!(env.ctl.add_viewing(ev, &v).await.expect("viewing"), id);
    env.ctl
        .add_viewing(
            ev,
            &ViewingRequest {
                live_minutes: Some(10.0),
                ..watch("busy@example.com")
            },
        )
        .await
        .expect("viewing");
    let list = ok(env.get(&format!("/event/{ev}/attendee")).await).await;
    assert_eq!(
        list["totalattendees"], 1,
        "only registrants who watched are attendees"
    );
    let a = &list["attendees"][0];
    assert_eq!(
        (
            a["eventuserid"].as_i64(),
            a["cumulativeliveminutes"].as_i64()
        ),
        (Some(id), Some(40))
    );
    assert_eq!(
        (a["askedquestions"].as_i64(), a["answeredpolls"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (
            a["answeredsurveys"].as_i64(),
            a["resourcesdownloaded"].as_i64()
        ),
        (Some(1), Some(4))
    );
    assert_eq!(a["engagementscore"], 7.5);
    assert_eq!(a["liveviewed"], 2);
    assert_eq!(a["firstliveactivity"], "2099-06-01T10:00:00-07:00");
    let meta = ok(env.get(&format!("/event/{ev}")).await).await;
    assert_eq!(meta["eventanalytics"]["totalregistrants"], 2);
    assert_eq!(meta["eventanalytics"]["totalattendees"], 1);
    assert_eq!(meta["eventanalytics"]["noshowcount"], 1);
    assert_eq!(meta["eventanalytics"]["totalcumulativeliveminutes"], 40);
}

#[tokio::test]
async fn viewing_needs_a_registration() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let e = env
        .ctl
        .add_viewing(
            ev,
            &ViewingRequest {
                live_minutes: Some(1.0),
                ..watch("ghost@example.com")
            },
        )
        .await;
    assert!(
        matches!(
            e,
            Err(on24sim::control::client::ControlError::Status { status: 404, .. })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn sessions_paginate_to_the_end() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    for i in 0..5 {
        let email = format!("s{i}@example.com");
        env.register(ev, &email, "S").await;
        let v = ViewingRequest {
            live_seconds: Some(60 + i),
            archive_seconds: Some(30),
            ..watch(&email)
        };
        env.ctl.add_viewing(ev, &v).await.expect("viewing");
    }
    let mut ids = Vec::new();
    for page in 0.. {
        let v = ok(env
            .get(&format!(
                "/event/{ev}/attendeesession?itemsPerPage=4&pageOffset={page}"
            ))
            .await)
        .await;
        assert_eq!(
            (v["totalattendeesessions"].as_i64(), v["pagecount"].as_i64()),
            (Some(10), Some(3))
        );
        let items = v["attendeesession"].as_array().expect("sessions").clone();
        if items.is_empty() {
            break;
        }
        ids.extend(items.iter().map(|s| s["id"].as_i64().expect("id")));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    let live = ok(env
        .get(&format!("/event/{ev}/attendeesession?sessionType=live"))
        .await)
    .await;
    assert_eq!(live["totalattendeesessions"], 5);
    assert_eq!(live["attendeesession"][0]["usage"], "Live");
    assert_eq!(live["attendeesession"][0]["duration"], "00:01:00");
}

#[tokio::test]
async fn bulk_seeded_attendees_read_like_booked_viewing() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    // One person registered the ordinary way first: seeding keeps that registration.
    let existing = env.register(ev, "seed1@example.com", "Known").await;
    let req = on24sim::SeedAttendees {
        count: 2_000,
        email_prefix: "seed".into(),
        viewing: ViewingRequest {
            live_minutes: Some(12.0),
            questions: 1,
            engagement: Some(4.0),
            ..ViewingRequest::default()
        },
        ..on24sim::SeedAttendees::default()
    };
    let done = env.ctl.seed_attendees(ev, &req).await.expect("seed");
    assert_eq!(done.seeded, 2_000);
    let list = ok(env.get(&format!("/event/{ev}/attendee")).await).await;
    assert_eq!(list["totalattendees"], 2_000);
    let attendees = list["attendees"].as_array().expect("attendees");
    let known = attendees
        .iter()
        .find(|a| a["email"] == "seed1@example.com")
        .expect("seeded existing registrant");
    assert_eq!(known["eventuserid"].as_i64(), Some(existing));
    let last = attendees
        .iter()
        .find(|a| a["email"] == "seed1999@example.com")
        .expect("last seeded");
    assert_eq!(last["liveminutes"], 12);
    assert_eq!(last["askedquestions"], 1);
    assert_eq!(last["eventuserid"].as_i64(), Some(done.last_eventuserid));

    // Bad input is refused, naming the field; an unknown event is 404.
    let zero = on24sim::SeedAttendees::default();
    let err = env
        .ctl
        .seed_attendees(ev, &zero)
        .await
        .expect_err("count 0");
    assert!(err.to_string().contains("count"), "{err}");
    let err = env.ctl.seed_attendees(1, &req).await.expect_err("no event");
    assert!(err.to_string().contains("404"), "{err}");
}

/// The attendee report's date filter, as ON24 documents it: `startDate`/`endDate` bound the
/// attendee activity (a bare date is the whole Pacific day, a time with its offset is exact),
/// `dateFilterMode=lastActivity` keeps those whose last activity is in the window.
#[tokio::test]
async fn attendee_report_filters_on_activity_dates() {
    let env = Env::new().await;
    // Live 2099-06-01 10:00 to 11:00 Pacific (17:00 to 18:00 UTC).
    let ev = env.future_event().await;
    for email in ["live@example.com", "both@example.com"] {
        env.register(ev, email, "V").await;
        let v = ViewingRequest {
            live_minutes: Some(30.0),
            ..watch(email)
        };
        env.ctl.add_viewing(ev, &v).await.expect("live viewing");
    }
    // On demand 40 days after the event.
    let late = ViewingRequest {
        archive_minutes: Some(20.0),
        archive_start: Some("2099-07-11T09:00:00+00:00".into()),
        ..watch("both@example.com")
    };
    env.ctl.add_viewing(ev, &late).await.expect("late viewing");
    let emails = |v: serde_json::Value| -> Vec<String> {
        let mut e: Vec<String> = v["attendees"]
            .as_array()
            .expect("attendees")
            .iter()
            .map(|a| a["email"].as_str().unwrap_or_default().to_owned())
            .collect();
        e.sort();
        e
    };
    let path = |q: &str| format!("/event/{ev}/attendee?{q}");
    let june = "startDate=2099-06-01T00:00:00%2B00:00&endDate=2099-06-30T00:00:00%2B00:00";
    assert_eq!(
        emails(ok(env.get(&path(june)).await).await),
        ["both@example.com", "live@example.com"],
        "without a mode, any activity in the window counts"
    );
    assert_eq!(
        emails(
            ok(env
                .get(&path(&format!("{june}&dateFilterMode=lastActivity")))
                .await)
            .await
        ),
        ["live@example.com"],
        "with lastActivity, only the last activity counts"
    );
    // The late session ends at 09:20 UTC: a window ending before it misses it, one from it on
    // finds it, and the windows share no attendee.
    let before = "startDate=2099-06-02T00:00:00%2B00:00&endDate=2099-07-11T09:19:59%2B00:00&dateFilterMode=lastActivity";
    let after = "startDate=2099-07-11T09:20:00%2B00:00&endDate=2099-07-20T00:00:00%2B00:00&dateFilterMode=lastActivity";
    assert!(emails(ok(env.get(&path(before)).await).await).is_empty());
    assert_eq!(
        emails(ok(env.get(&path(after)).await).await),
        ["both@example.com"]
    );
    assert_eq!(
        emails(
            ok(env
                .get(&path(
                    "startDate=2099-07-11&endDate=2099-07-11&dateFilterMode=lastActivity"
                ))
                .await)
            .await
        ),
        ["both@example.com"],
        "a bare date is the whole day"
    );
    let all = ok(env.get(&path("")).await).await;
    assert_eq!(all["totalattendees"], 2);
    assert_eq!(
        env.get(&path("startDate=yesterday"))
            .await
            .status()
            .as_u16(),
        400,
        "a date ON24 cannot read is refused"
    );
}

/// `GET /event/{eventId}/regfield` lists ON24's standard fields, then the custom questions
/// the control API defines, in ON24's shape (`required` as Y/N, `options` for choices).
#[tokio::test]
async fn registration_fields_are_listed_as_on24_does() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let listed = ok(env.get(&format!("/event/{ev}/regfield")).await).await;
    let ids: Vec<&str> = listed["registrationfields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["fieldid"].as_str())
        .collect();
    assert_eq!(ids, ["firstname", "lastname", "email", "company"]);
    let question = on24sim::RegField {
        field_id: "std1".into(),
        caption: "Team size".into(),
        field_type: "listbox".into(),
        validation_type: "numeric".into(),
        required: true,
        options: vec!["1-10".into(), "11-50".into()],
    };
    env.ctl
        .set_registration_fields(ev, &[question])
        .await
        .expect("fields set");
    let listed = ok(env.get(&format!("/event/{ev}/regfield")).await).await;
    let f = &listed["registrationfields"][0];
    assert_eq!(f["fieldid"], "std1");
    assert_eq!(f["fieldcaption"], "Team size");
    assert_eq!(f["fieldtype"], "listbox");
    assert_eq!(f["validationtype"], "numeric");
    assert_eq!(f["required"], "Y");
    assert_eq!(f["options"], serde_json::json!(["1-10", "11-50"]));
    assert_eq!(
        env.get("/event/999999/regfield").await.status().as_u16(),
        404
    );
}
