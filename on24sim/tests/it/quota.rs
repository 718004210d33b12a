//! The call quota: ON24's 403 with its exact message and no Retry-After, per client, per window.

use std::time::Duration;

use on24sim::{QUOTA_MESSAGE, QuotaConfig, SimConfig};

use crate::common::*;

#[tokio::test]
async fn exhausted_quota_is_403_with_on24_message_and_no_retry_after() {
    let env = Env::new().await;
    env.ctl
        .set_quota(Some(CLIENT), Some(3), Duration::from_secs(60))
        .await
        .expect("quota");
    for _ in 0..3 {
        assert_eq!(env.get("/event").await.status(), 200);
    }
    let r = env.get("/event").await;
    assert!(r.headers().get("retry-after").is_none());
    assert!(!r.headers().keys().any(|k| k.as_str().contains("ratelimit")));
    let (status, msg) = err(r).await;
    assert_eq!((status, msg.as_str()), (403, QUOTA_MESSAGE));
    assert_eq!(
        QUOTA_MESSAGE,
        "You have reached the maximum number of calls for this api"
    );
    // A permission 403 differs only by message.
    let other = format!("{}/client/{OTHER_CLIENT}/event", env.sim.base_url);
    let r = env.auth(env.http.get(other)).send().await.expect("send");
    assert_eq!(
        err(r).await,
        (
            403,
            "You do not have permission to perform the requested operation.".into()
        )
    );
}

#[tokio::test]
async fn quota_is_per_client_and_per_window() {
    let mut cfg = SimConfig::with_account(CLIENT, KEY, SECRET);
    cfg.accounts.push(on24sim::AccountConfig::new(
        OTHER_CLIENT,
        OTHER_KEY,
        OTHER_SECRET,
    ));
    cfg.quota = QuotaConfig {
        calls: Some(2),
        window_ms: 400,
    };
    let env = Env::with(cfg).await;
    assert_eq!(env.get("/event").await.status(), 200);
    assert_eq!(env.get("/event").await.status(), 200);
    assert_eq!(env.get("/event").await.status(), 403);
    let other = format!("{}/client/{OTHER_CLIENT}/event", env.sim.base_url);
    let r = env
        .http
        .get(other)
        .header("accessTokenKey", OTHER_KEY)
        .header("accessTokenSecret", OTHER_SECRET)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "another client has its own budget");
    // Refused calls take no budget: polling until the window turns costs nothing.
    testkit::eventually(
        "a new window to bring a new budget",
        Duration::from_secs(5),
        || async { env.get("/event").await.status() == 200 },
    )
    .await;
    // Unlimited again.
    env.ctl
        .set_quota(None, None, Duration::from_secs(60))
        .await
        .expect("quota");
    env.ctl
        .set_quota(Some(CLIENT), None, Duration::from_secs(60))
        .await
        .expect("quota");
    for _ in 0..5 {
        assert_eq!(env.get("/event").await.status(), 200);
    }
}
