//! Authentication: both headers, case-insensitive names, deactivated tokens, inactive clients,
//! client-id scoping and the Elite tier.

use crate::common::*;

#[tokio::test]
async fn missing_or_wrong_credentials_are_401() {
    let env = Env::new().await;
    let url = env.url("/event");
    let none = env.http.get(&url).send().await.expect("send");
    assert_eq!(
        err(none).await,
        (
            401,
            "AccessTokenKey and AccessTokenSecret are wrong or invalid.".into()
        )
    );
    let key_only = env
        .http
        .get(&url)
        .header("accessTokenKey", KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(err(key_only).await.0, 401);
    let wrong = env
        .http
        .get(&url)
        .header("accessTokenKey", KEY)
        .header("accessTokenSecret", "nope")
        .send()
        .await
        .expect("send");
    assert_eq!(err(wrong).await.0, 401);
    let unknown = env
        .http
        .get(&url)
        .header("accessTokenKey", "X")
        .header("accessTokenSecret", SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(err(unknown).await.0, 401);
}

#[tokio::test]
async fn header_names_are_case_insensitive() {
    let env = Env::new().await;
    let r = env
        .http
        .get(env.url("/event"))
        .header("ACCESSTOKENKEY", KEY)
        .header("accesstokensecret", SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_token_only_sees_its_own_client() {
    let env = Env::new().await;
    let event = env.future_event().await;
    // The other account's token on our client id: permission 403.
    let url = env.url(&format!("/event/{event}"));
    let r = env
        .http
        .get(&url)
        .header("accessTokenKey", OTHER_KEY)
        .header("accessTokenSecret", OTHER_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(
        err(r).await,
        (
            403,
            "You do not have permission to perform the requested operation.".into()
        )
    );
    // The other account on its own client id cannot see our event.
    let url = format!("{}/client/{OTHER_CLIENT}/event/{event}", env.sim.base_url);
    let r = env
        .http
        .get(&url)
        .header("accessTokenKey", OTHER_KEY)
        .header("accessTokenSecret", OTHER_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(
        err(r).await,
        (404, format!("The event {event} doesn't exist."))
    );
    let list = format!("{}/client/{OTHER_CLIENT}/event", env.sim.base_url);
    let r = env
        .http
        .get(&list)
        .header("accessTokenKey", OTHER_KEY)
        .header("accessTokenSecret", OTHER_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(ok(r).await["totalevents"], 0);
}

#[tokio::test]
async fn deactivated_token_is_401_deactivated() {
    let env = Env::new().await;
    assert_eq!(env.get("/event").await.status(), 200);
    env.ctl.deactivate_token(KEY).await.expect("deactivate");
    assert_eq!(
        err(env.get("/event").await).await,
        (
            401,
            "AccessTokenKey and AccessTokenSecret are deactivated.".into()
        )
    );
    assert!(env.ctl.deactivate_token("no-such-key").await.is_err());
}

#[tokio::test]
async fn inactive_client_is_403() {
    let env = Env::new().await;
    env.ctl
        .set_client_active(CLIENT, false)
        .await
        .expect("deactivate client");
    assert_eq!(
        err(env.get("/event").await).await,
        (403, format!("The client id {CLIENT} is inactive."))
    );
    env.ctl
        .set_client_active(CLIENT, true)
        .await
        .expect("activate client");
    assert_eq!(env.get("/event").await.status(), 200);
}

#[tokio::test]
async fn non_elite_client_cannot_manage_events_but_can_read() {
    let env = Env::new().await;
    env.ctl
        .add_account(777, "basic-key", "basic-secret", false)
        .await
        .expect("add account");
    let base = format!("{}/client/777/event", env.sim.base_url);
    let h = |rb: reqwest::RequestBuilder| {
        rb.header("accessTokenKey", "basic-key")
            .header("accessTokenSecret", "basic-secret")
    };
    let r = h(env.http.post(&base))
        .form(&[("liveStart", "2099-01-01T10:00:00"), ("liveDuration", "60")])
        .send()
        .await
        .expect("send");
    assert_eq!(
        err(r).await,
        (403, "The client id is not an Elite user".into())
    );
    assert_eq!(
        h(env.http.get(&base)).send().await.expect("send").status(),
        200
    );
    let accounts = env.ctl.accounts().await.expect("accounts");
    assert!(accounts.iter().any(|a| a.client_id == 777 && !a.elite));
}
