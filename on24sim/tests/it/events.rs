//! Webinars: create with each `liveStart` format, validation, get, update, delete, listing with
//! date filters and pagination to the end, and both path prefixes.

use crate::common::*;

#[tokio::test]
async fn create_accepts_every_contract_live_start_format() {
    let env = Env::new().await;
    for (input, good_after) in [
        ("08/26/2030 09:00 AM", "08/26/2030 09:00 AM"),
        ("2030-08-26T09:00:00", "08/26/2030 09:00 AM"),
        ("2030-08-26T09:00:00-07:00", "08/26/2030 09:00 AM"),
        (
            "Mon Aug 26 2030 18:00:00 GMT+0200 (CEST)",
            "08/26/2030 09:00 AM",
        ),
        // Winter: Pacific Standard Time.
        ("2030-01-10T09:00:00-08:00", "01/10/2030 09:00 AM"),
    ] {
        let r = env
            .post(
                "/event",
                &[
                    ("liveStart", input),
                    ("liveDuration", "60"),
                    ("title", "Formats"),
                ],
            )
            .await;
        let w = ok(r).await["wccevent"].clone();
        assert_eq!(w["goodAfter"], good_after, "input {input}");
        assert_eq!(
            w["liveDuration"], 3600,
            "ON24 answers liveDuration in seconds"
        );
        assert_eq!(w["title"], "Formats");
        assert_eq!(w["clientId"], CLIENT);
    }
}

#[tokio::test]
async fn create_validates_required_fields_and_duration() {
    let env = Env::new().await;
    for form in [
        vec![("liveDuration", "60")],
        vec![("liveStart", "2030-08-26T09:00:00")],
        vec![("liveStart", "yesterday-ish"), ("liveDuration", "60")],
        vec![("liveStart", "2030-08-26T09:00:00"), ("liveDuration", "50")],
        vec![
            ("liveStart", "2030-08-26T09:00:00"),
            ("liveDuration", "510"),
        ],
    ] {
        let (status, msg) = err(env.post("/event", &form).await).await;
        assert_eq!(status, 400, "{form:?}");
        assert!(
            msg.starts_with("Webinar was not created due to errors in the parameters"),
            "{msg}"
        );
    }
    // 150 is a 30-minute step above 120: accepted.
    let r = env
        .post(
            "/event",
            &[
                ("liveStart", "2030-08-26T09:00:00"),
                ("liveDuration", "150"),
            ],
        )
        .await;
    assert_eq!(ok(r).await["wccevent"]["liveDuration"], 9000);
}

#[tokio::test]
async fn get_update_delete_round_trip() {
    let env = Env::new().await;
    let id = env.future_event().await;
    let v = ok(env.get(&format!("/event/{id}")).await).await;
    assert_eq!(v["eventid"], id);
    assert_eq!(v["scheduledeventduration"], 60);
    assert_eq!(v["goodafter"], "2099-06-01T10:00:00-07:00");
    let u = ok(env
        .put(
            &format!("/event/{id}"),
            &[("title", "Renamed"), ("liveDuration", "90")],
        )
        .await)
    .await;
    assert_eq!(u["wccevent"]["title"], "Renamed");
    let v = ok(env.get(&format!("/event/{id}")).await).await;
    assert_eq!(v["description"], "Renamed");
    assert_eq!(v["eventduration"], 90);
    let d = ok(env.delete(&format!("/event/{id}")).await).await;
    assert_eq!(d["message"], "Event Successfully Deleted.");
    assert_eq!(
        err(env.delete(&format!("/event/{id}")).await).await,
        (410, "Event has already been deleted".into())
    );
    assert_eq!(err(env.get(&format!("/event/{id}")).await).await.0, 404);
    assert_eq!(err(env.delete("/event/123").await).await.0, 404);
    assert_eq!(
        err(env.put("/event/123", &[("title", "x")]).await).await.0,
        404
    );
}

#[tokio::test]
async fn list_paginates_to_the_end_and_filters_by_date() {
    let env = Env::new().await;
    let mut created = Vec::new();
    for day in 1..=7 {
        created.push(
            env.event_at(&format!("2030-03-{:02}T10:00:00", day + 10))
                .await,
        );
    }
    let mut seen = Vec::new();
    for page in 0.. {
        let v = ok(env
            .get(&format!(
                "/event?itemsPerPage=3&pageOffset={page}&includesubaccounts=Y"
            ))
            .await)
        .await;
        assert_eq!(v["totalevents"], 7);
        assert_eq!(v["pagecount"], 3);
        assert_eq!(v["currentpage"], page);
        let items = v["events"].as_array().expect("events").clone();
        if items.is_empty() {
            break;
        }
        seen.extend(items.iter().map(|e| e["eventid"].as_i64().expect("id")));
    }
    assert_eq!(seen, created, "ascending by goodafter, every event once");
    let v = ok(env
        .get("/event?startDate=2030-03-12&endDate=2030-03-13")
        .await)
    .await;
    assert_eq!(v["totalevents"], 2);
    let v = ok(env
        .get("/event?startdate=2030-03-12&enddate=2030-03-13&filterorder=desc")
        .await)
    .await;
    assert_eq!(v["events"][0]["eventid"], created[2]);
    assert_eq!(
        err(env.get("/event?startDate=12/03/2030").await).await,
        (400, "Error, incorrect date formats.".into())
    );
    assert_eq!(
        err(env
            .get("/event?startDate=2030-01-01&endDate=2030-12-01")
            .await)
        .await
        .0,
        400
    );
    assert_eq!(err(env.get("/event?itemsPerPage=500").await).await.0, 400);
}

#[tokio::test]
async fn wcc_prefix_serves_the_same_api() {
    let env = Env::new().await;
    let id = env.future_event().await;
    let url = format!("{}/client/{CLIENT}/event/{id}", env.sim.wcc_base_url);
    let r = env.auth(env.http.get(url)).send().await.expect("send");
    assert_eq!(ok(r).await["eventid"], id);
}

#[tokio::test]
async fn multipart_event_create() {
    let env = Env::new().await;
    let form = reqwest::multipart::Form::new()
        .text("liveStart", "2031-02-03T04:00:00")
        .text("liveDuration", "30")
        .text("title", "MP");
    let r = env
        .auth(env.http.post(env.url("/event")))
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(ok(r).await["wccevent"]["title"], "MP");
}

#[tokio::test]
async fn date_filter_mode_picks_the_date() {
    let env = Env::new().await;
    let id = env.event_at("2031-01-15T10:00:00").await;
    // Created today, live in 2031: found by creation date only with datefiltermode=creation.
    // Query dates are Pacific days.
    let today = on24sim::state::time::iso_pacific(chrono::Utc::now())[..10].to_string();
    let q = format!("/event?startDate={today}&endDate={today}");
    assert_eq!(ok(env.get(&q).await).await["totalevents"], 0);
    let v = ok(env.get(&format!("{q}&dateFilterMode=creation")).await).await;
    assert_eq!(v["events"][0]["eventid"], id);
    let v = ok(env
        .get("/event?startDate=2031-01-15&endDate=2031-01-15&dateFilterMode=LIVEEND")
        .await)
    .await;
    assert_eq!(v["totalevents"], 1);
    assert_eq!(
        err(env.get("/event?dateFilterMode=nonsense").await).await.0,
        400
    );
}
