//! Shared test set-up: a simulator with two accounts and a reqwest client that speaks ON24.

use on24sim::{AccountConfig, ControlClient, SimConfig, SimHandle, Simulator};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub const CLIENT: i64 = 22950;
pub const KEY: &str = "63129107067A520E6B7DE18D5E1CB2BF";
pub const SECRET: &str = "072639740ac239333e3708a1623b9de3590d972e6b1060071b726ecfd9b216001b";
pub const OTHER_CLIENT: i64 = 4467;
pub const OTHER_KEY: &str = "OTHERKEY00000000000000000000000";
pub const OTHER_SECRET: &str = "othersecret-0000000000000000000000000000000";

pub struct Env {
    pub sim: SimHandle,
    pub http: Client,
    pub ctl: ControlClient,
}

pub fn http() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().build().expect("reqwest client")
}

impl Env {
    pub async fn new() -> Self {
        let mut cfg = SimConfig::with_account(CLIENT, KEY, SECRET);
        cfg.accounts
            .push(AccountConfig::new(OTHER_CLIENT, OTHER_KEY, OTHER_SECRET));
        Self::with(cfg).await
    }

    pub async fn with(cfg: SimConfig) -> Self {
        let sim = Simulator::start(cfg).await.expect("start simulator");
        let ctl = sim.control();
        ctl.health().await.expect("simulator healthy");
        Self {
            sim,
            http: http(),
            ctl,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/client/{CLIENT}{path}", self.sim.base_url)
    }

    pub fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.header("accessTokenKey", KEY)
            .header("accessTokenSecret", SECRET)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.auth(self.http.get(self.url(path)))
            .send()
            .await
            .expect("send")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.auth(self.http.post(self.url(path)))
            .form(form)
            .send()
            .await
            .expect("send")
    }

    pub async fn patch(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.auth(self.http.patch(self.url(path)))
            .form(form)
            .send()
            .await
            .expect("send")
    }

    pub async fn put(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.auth(self.http.put(self.url(path)))
            .form(form)
            .send()
            .await
            .expect("send")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.auth(self.http.delete(self.url(path)))
            .send()
            .await
            .expect("send")
    }

    /// Creates a webinar starting at `live_start`; returns its id.
    pub async fn event_at(&self, live_start: &str) -> i64 {
        let r = self
            .post(
                "/event",
                &[
                    ("liveStart", live_start),
                    ("liveDuration", "60"),
                    ("title", "T"),
                ],
            )
            .await;
        let v = ok(r).await;
        v["wccevent"]["eventId"].as_i64().expect("eventId")
    }

    /// A webinar next year (not started).
    pub async fn future_event(&self) -> i64 {
        self.event_at("2099-06-01T10:00:00").await
    }

    pub async fn register(&self, event: i64, email: &str, first: &str) -> i64 {
        let r = self
            .post(
                &format!("/event/{event}/registrant"),
                &[("email", email), ("firstName", first)],
            )
            .await;
        ok(r).await["eventuserid"].as_i64().expect("eventuserid")
    }
}

/// The JSON of a 200 answer (panics with the body otherwise).
pub async fn ok(r: Response) -> Value {
    let status = r.status();
    let body = r.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "body: {body}");
    serde_json::from_str(&body).expect("json body")
}

/// Status and `message` of an error answer.
pub async fn err(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json error body");
    (
        status,
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}
