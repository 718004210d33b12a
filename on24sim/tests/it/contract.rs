//! Contract test: for every operation the simulator implements, its real response has exactly
//! the field names of ON24's own example in `contract/on24-openapi.json`, recursively through
//! objects and arrays.

use std::collections::BTreeSet;

use on24sim::ViewingRequest;
use serde_json::Value;

use crate::common::*;

fn contract() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contract/on24-openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("contract file"))
        .expect("contract json")
}

/// Where the key sets of `ours` and `theirs` differ, as `path: missing/extra key` lines.
fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            out.extend(kb.difference(&ka).map(|k| format!("{path}: missing {k}")));
            out.extend(ka.difference(&kb).map(|k| format!("{path}: extra {k}")));
            for k in ka.intersection(&kb) {
                diff(&format!("{path}.{k}"), &a[*k], &b[*k], out);
            }
        }
        // ON24's example shows one item; every item of ours must have its fields.
        (Value::Array(a), Value::Array(b)) => {
            if let Some(t) = b.first() {
                for (i, x) in a.iter().enumerate() {
                    diff(&format!("{path}[{i}]"), x, t, out);
                }
            }
        }
        (Value::Object(_), Value::Null | Value::String(_) | Value::Number(_) | Value::Bool(_))
        | (Value::Array(_), Value::Null | Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            out.push(format!("{path}: structure differs"));
        }
        _ => {}
    }
}

fn example(doc: &Value, op: &str, name: Option<&str>) -> Value {
    on24sim::shapes::example(doc, op, name)
        .unwrap_or_else(|| panic!("contract has no example for {op} {name:?}"))
}

#[test]
fn the_comparison_can_fail() {
    let mut out = Vec::new();
    let theirs = serde_json::json!({"a": 1, "b": [{"c": 1, "d": 2}], "e": {"f": 1}});
    let ours = serde_json::json!({"a": 1, "b": [{"c": 1}], "e": {"f": 1, "g": 2}, "x": 0});
    diff("$", &ours, &theirs, &mut out);
    assert_eq!(out, vec!["$: extra x", "$.b[0]: missing d", "$.e: extra g"]);
}

#[tokio::test]
async fn responses_have_the_contract_field_names() {
    let doc = contract();
    let env = Env::new().await;
    let created = ok(env
        .post(
            "/event",
            &[("liveStart", "2099-06-01T10:00:00"), ("liveDuration", "60")],
        )
        .await)
    .await;
    let ev = created["wccevent"]["eventId"].as_i64().expect("id");
    let reg_path = format!("/event/{ev}/registrant");
    let registered = ok(env
        .post(&reg_path, &[("email", "c@example.com"), ("firstName", "C")])
        .await)
    .await;
    env.register(ev, "d@example.com", "D").await;
    let v = ViewingRequest {
        email: "c@example.com".into(),
        live_minutes: Some(5.0),
        archive_minutes: Some(3.0),
        questions: 1,
        ..Default::default()
    };
    env.ctl.add_viewing(ev, &v).await.expect("viewing");

    let mut cases: Vec<(&str, Option<&str>, Value)> = vec![
        (
            "EventManagement.CreateAWebinar",
            Some("Create a Webinar"),
            created,
        ),
        ("Registration.RESTRegistrationAPI", None, registered),
    ];
    cases.push((
        "AnalyticsClientLevel.Events",
        Some("includesubaccounts is not passed or if includesubaccounts = N"),
        ok(env.get("/event").await).await,
    ));
    cases.push((
        "AnalyticsClientLevel.Events",
        Some("includesubaccounts = Y"),
        ok(env.get("/event?includesubaccounts=Y").await).await,
    ));
    cases.push((
        "AnalyticsEventLevel.MetadataAndUsage",
        Some("When content type is webcast"),
        ok(env.get(&format!("/event/{ev}")).await).await,
    ));
    cases.push((
        "EventManagement.UpdateAWebinar",
        Some("Update a Webinar"),
        ok(env
            .put(&format!("/event/{ev}"), &[("title", "Updated")])
            .await)
        .await,
    ));
    cases.push((
        "Registration.UpdateRegistrantEventlevel",
        None,
        ok(env
            .patch(&reg_path, &[("email", "c@example.com"), ("company", "Co")])
            .await)
        .await,
    ));
    cases.push((
        "AnalyticsEventLevel.Registrants",
        None,
        ok(env.get(&reg_path).await).await,
    ));
    cases.push((
        "AnalyticsClientLevel.Registrants",
        None,
        ok(env.get("/registrant").await).await,
    ));
    cases.push((
        "AnalyticsClientLevel.RegistrantByEmail",
        None,
        ok(env.get("/registrant/c@example.com").await).await,
    ));
    cases.push((
        "AnalyticsEventLevel.Attendees",
        Some("Elite account"),
        ok(env.get(&format!("/event/{ev}/attendee")).await).await,
    ));
    cases.push((
        "AnalyticsEventLevel.AttendeeViewingSessions",
        None,
        ok(env.get(&format!("/event/{ev}/attendeesession")).await).await,
    ));
    cases.push((
        "Registration.UpdateRegistrantClientlevel",
        None,
        ok(env
            .patch("/registrant/d@example.com", &[("city", "X")])
            .await)
        .await,
    ));
    cases.push((
        "Registration.ForgetRegistrantClientlevel",
        None,
        ok(env.post("/forget", &[("email", "d@example.com")]).await).await,
    ));
    cases.push((
        "Registration.ForgetAllRegistrantEventlevel",
        None,
        ok(env.post(&format!("/event/{ev}/forgetall"), &[]).await).await,
    ));
    cases.push((
        "EventManagement.DeleteWebinar",
        None,
        ok(env.delete(&format!("/event/{ev}")).await).await,
    ));

    let mut problems = Vec::new();
    for (op, name, ours) in &cases {
        let theirs = example(&doc, op, *name);
        diff(op, ours, &theirs, &mut problems);
        // Lists must have had items, or the comparison above proved nothing about them.
        for list in ["events", "registrants", "attendees", "attendeesession"] {
            if let Some(a) = ours.get(list) {
                assert!(
                    a.as_array().is_some_and(|a| !a.is_empty()),
                    "{op}: empty {list}"
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "field names differ from ON24's contract:\n{}",
        problems.join("\n")
    );
    assert_eq!(cases.len(), 16);
}
