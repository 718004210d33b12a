//! Registrants: create (urlencoded and multipart), upsert by email, PATCH at event and client
//! level, soft delete (and its refusal once the event started), listings, look-up and forget.

use crate::common::*;

#[tokio::test]
async fn create_is_an_upsert_by_email_within_the_event() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let other = env.future_event().await;
    let id = env.register(ev, "Ann@Example.com", "Ann").await;
    let again = env
        .post(
            &format!("/event/{ev}/registrant"),
            &[("email", "ann@example.com"), ("company", "ACME")],
        )
        .await;
    let v = ok(again).await;
    assert_eq!(
        v["eventuserid"], id,
        "same email, same event: same registration"
    );
    assert_eq!(v["company"], "ACME");
    assert_eq!(v["firstname"], "Ann", "fields not sent are kept");
    assert_eq!(v["eventid"], ev);
    assert_ne!(
        env.register(other, "ann@example.com", "Ann").await,
        id,
        "another event: a new registration"
    );
    let list = ok(env.get(&format!("/event/{ev}/registrant")).await).await;
    assert_eq!(list["totalregistrants"], 1);
}

#[tokio::test]
async fn create_accepts_multipart() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let form = reqwest::multipart::Form::new()
        .text("email", "mp@example.com")
        .text("firstName", "Multi")
        .text("std1", "x");
    let r = env
        .auth(env.http.post(env.url(&format!("/event/{ev}/registrant"))))
        .multipart(form)
        .send()
        .await
        .expect("send");
    let v = ok(r).await;
    assert!(v["eventuserid"].as_i64().is_some());
    assert_eq!(v["firstname"], "Multi");
    assert_eq!(v["std1"], "x");
}

#[tokio::test]
async fn create_errors() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let path = format!("/event/{ev}/registrant");
    assert_eq!(
        err(env.post(&path, &[("firstName", "x")]).await).await,
        (400, "The email parameter is missing.".into())
    );
    assert_eq!(
        err(env.post(&path, &[("email", " ")]).await).await,
        (400, "The email parameter value is blank.".into())
    );
    assert_eq!(
        err(env
            .post("/event/999/registrant", &[("email", "a@b.c")])
            .await)
        .await,
        (404, "The event 999 doesn't exist.".into())
    );
    // honorrequired=N makes email optional.
    let r = env
        .post(&format!("{path}?honorrequired=N"), &[("firstName", "anon")])
        .await;
    assert!(ok(r).await["eventuserid"].as_i64().is_some());
}

#[tokio::test]
async fn patch_updates_only_sent_fields() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let id = env.register(ev, "pat@example.com", "Pat").await;
    let path = format!("/event/{ev}/registrant");
    let v = ok(env
        .patch(
            &path,
            &[
                ("email", "pat@example.com"),
                ("lastName", "Doe"),
                ("isBlocked", "Y"),
            ],
        )
        .await)
    .await;
    assert_eq!(
        (
            v["eventuserid"].as_i64(),
            v["firstname"].as_str(),
            v["lastname"].as_str()
        ),
        (Some(id), Some("Pat"), Some("Doe"))
    );
    assert_eq!(v["isblocked"], "Y");
    assert_eq!(
        err(env.patch(&path, &[("email", "nobody@example.com")]).await).await,
        (403, "The email provided was not found.".into())
    );
    assert_eq!(
        err(env.patch(&path, &[("lastName", "x")]).await).await,
        (400, "The email parameter is missing.".into())
    );
    assert_eq!(
        err(env
            .patch(
                &path,
                &[("email", "pat@example.com"), ("isBlocked", "maybe")]
            )
            .await)
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn soft_delete_before_start_and_refused_after() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let path = format!("/event/{ev}/registrant");
    env.register(ev, "soft@example.com", "Soft").await;
    let v = ok(env
        .post(&path, &[("email", "soft@example.com"), ("isDeleted", "Y")])
        .await)
    .await;
    assert_eq!(v["email"], "soft@example.com");
    assert_eq!(
        ok(env.get(&path).await).await["totalregistrants"],
        0,
        "soft-deleted users are hidden by default"
    );
    let deleted = ok(env.get(&format!("{path}?userstatus=deleted")).await).await;
    assert_eq!(deleted["registrants"][0]["userstatus"], "deleted");
    ok(env
        .post(&path, &[("email", "soft@example.com"), ("isDeleted", "N")])
        .await)
    .await;
    assert_eq!(ok(env.get(&path).await).await["totalregistrants"], 1);
    assert_eq!(
        err(env
            .post(&path, &[("email", "new@example.com"), ("isDeleted", "Y")])
            .await)
        .await,
        (
            412,
            "You're trying to soft delete the registrant you're creating.".into()
        )
    );

    let started = env.event_at("2020-01-01T10:00:00").await;
    let path = format!("/event/{started}/registrant");
    env.register(started, "late@example.com", "Late").await;
    let (status, msg) = err(env
        .post(&path, &[("email", "late@example.com"), ("isDeleted", "Y")])
        .await)
    .await;
    assert_eq!(status, 400);
    assert!(
        msg.contains("not allowed after the event has started"),
        "{msg}"
    );
    assert_eq!(ok(env.get(&path).await).await["totalregistrants"], 1);
}

#[tokio::test]
async fn client_level_list_paginates_and_get_by_email() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(env.register(ev, &format!("u{i}@example.com"), "U").await);
    }
    let mut seen = Vec::new();
    for page in 0.. {
        let v = ok(env
            .get(&format!("/registrant?itemsperpage=2&pageoffset={page}"))
            .await)
        .await;
        assert_eq!(
            (v["totalregistrants"].as_i64(), v["pagecount"].as_i64()),
            (Some(5), Some(3))
        );
        let items = v["registrants"].as_array().expect("registrants").clone();
        if items.is_empty() {
            break;
        }
        seen.extend(items.iter().map(|r| r["eventuserid"].as_i64().expect("id")));
    }
    assert_eq!(seen, ids);
    let v = ok(env.get("/registrant/u3@example.com").await).await;
    assert_eq!(v["registrant"]["eventuserid"], ids[3]);
    assert_eq!(v["registrant"]["clientid"], CLIENT);
    let (status, msg) = err(env.get("/registrant/none@example.com").await).await;
    assert_eq!(
        (status, msg.as_str()),
        (404, "No registrant was found for that email address")
    );
    let (status, _) = err(env.get("/registrant/u3@example.com?eventid=1").await).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn client_level_patch_renames_across_events() {
    let env = Env::new().await;
    let (a, b) = (env.future_event().await, env.future_event().await);
    let ia = env.register(a, "old@example.com", "O").await;
    let ib = env.register(b, "old@example.com", "O").await;
    env.register(b, "taken@example.com", "T").await;
    let v = ok(env
        .patch("/registrant/old@example.com", &[("company", "NewCo")])
        .await)
    .await;
    assert_eq!(v["updatedregistrants"], serde_json::json!([ia, ib]));
    let (status, _) = err(env
        .patch(
            "/registrant/old@example.com",
            &[("email", "taken@example.com")],
        )
        .await)
    .await;
    assert_eq!(status, 400);
    ok(env
        .patch(
            "/registrant/old@example.com",
            &[("email", "new@example.com")],
        )
        .await)
    .await;
    let v = ok(env
        .get(&format!("/registrant/new@example.com?eventid={a}"))
        .await)
    .await;
    assert_eq!(v["registrant"]["company"], "NewCo");
    assert_eq!(
        err(env
            .patch("/registrant/old@example.com", &[("company", "x")])
            .await)
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn forget_rewrites_fields_as_the_contract_lists() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let path = format!("/event/{ev}/registrant");
    let id = ok(env
        .post(
            &path,
            &[
                ("email", "gdpr@example.com"),
                ("firstName", "G"),
                ("company", "C"),
                ("city", "X"),
                ("marketingEmail", "Y"),
            ],
        )
        .await)
    .await["eventuserid"]
        .as_i64()
        .expect("id");
    let v = ok(env
        .post(
            "/forget",
            &[("email", "gdpr@example.com"), ("eventid", &ev.to_string())],
        )
        .await)
    .await;
    assert_eq!(
        v["deletedregistrants"]["eventuserids"],
        serde_json::json!([id])
    );
    let r =
        ok(env.get(&format!("{path}?userstatus=forgotten")).await).await["registrants"][0].clone();
    assert_eq!(r["email"], format!("{id}-deleted"));
    assert_eq!(
        (r["firstname"].as_str(), r["lastname"].as_str()),
        (Some("deleted"), Some("deleted"))
    );
    assert!(r["company"].is_null() && r["city"].is_null() && r["std1"].is_null());
    assert_eq!(
        (r["eventemail"].as_str(), r["marketingemail"].as_str()),
        (Some("N"), Some("N"))
    );
    assert_eq!(
        ok(env.get(&path).await).await["totalregistrants"],
        0,
        "forgotten users are omitted by default"
    );
    assert_eq!(
        err(env.post("/forget", &[("email", "gdpr@example.com")]).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn forgetall_forgets_every_registrant_of_the_event() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let keep = env.future_event().await;
    let a = env.register(ev, "a@example.com", "A").await;
    let b = env.register(ev, "b@example.com", "B").await;
    env.register(keep, "a@example.com", "A").await;
    let v = ok(env.post(&format!("/event/{ev}/forgetall"), &[]).await).await;
    assert_eq!(
        v["deletedregistrants"]["eventuserids"],
        serde_json::json!([a, b])
    );
    assert_eq!(
        ok(env.get(&format!("/event/{keep}/registrant")).await).await["totalregistrants"],
        1
    );
    assert_eq!(err(env.post("/event/1/forgetall", &[]).await).await.0, 404);
}

#[tokio::test]
async fn registrant_list_filters() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    let path = format!("/event/{ev}/registrant");
    ok(env
        .post(&path, &[("email", "p1@example.com"), ("partnerRef", "crm")])
        .await)
    .await;
    ok(env
        .post(&path, &[("email", "p2@example.com"), ("partnerRef", "web")])
        .await)
    .await;
    let v = ok(env.get(&format!("{path}?partnerref=crm")).await).await;
    assert_eq!(
        (
            v["totalregistrants"].as_i64(),
            v["registrants"][0]["email"].as_str()
        ),
        (Some(1), Some("p1@example.com"))
    );
    assert_eq!(
        ok(env.get(&format!("{path}?email=P2@example.com")).await).await["totalregistrants"],
        1
    );
    assert_eq!(
        ok(env
            .get("/registrant?startDate=2000-01-01&endDate=2000-01-02")
            .await)
        .await["totalregistrants"],
        0
    );
    // Query dates are Pacific days.
    let today = on24sim::state::time::iso_pacific(chrono::Utc::now())[..10].to_string();
    let v = ok(env
        .get(&format!(
            "/registrant?startDate=2000-01-01&endDate={today}&dateFilterMode=lastActivity"
        ))
        .await)
    .await;
    assert_eq!(v["totalregistrants"], 2);
    assert_eq!(
        err(env.get(&format!("{path}?startDate=yesterday")).await)
            .await
            .0,
        400
    );
}
