//! Fault injection: latency, 5xx, hangs (the client must time out), connection resets, all
//! reproducible from a seed, settable at start and at run time.

use std::time::{Duration, Instant};

use on24sim::{FaultConfig, SimConfig};

use crate::common::*;

#[tokio::test]
async fn latency_is_added() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            latency_ms: 150,
            jitter_ms: 50,
            ..Default::default()
        })
        .await
        .expect("faults");
    let t = Instant::now();
    assert_eq!(env.get("/event").await.status(), 200);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(150), "{took:?}");
    // Cleared latency is an order, not a stopwatch: a request sent after clearing overtakes
    // one that is still held by the latency it arrived under.
    env.ctl
        .set_faults(&FaultConfig {
            latency_ms: 10_000,
            ..Default::default()
        })
        .await
        .expect("faults");
    let held = tokio::spawn(env.auth(env.http.get(env.url("/event"))).send());
    testkit::eventually(
        "the held request at the simulator",
        Duration::from_secs(10),
        || async { env.ctl.inflight(CLIENT).await.expect("inflight").current == 1 },
    )
    .await;
    env.ctl.clear_faults().await.expect("clear");
    assert_eq!(env.get("/event").await.status(), 200);
    assert!(
        !held.is_finished(),
        "the later request overtook the held one"
    );
    held.abort();
}

#[tokio::test]
async fn error_rate_gives_5xx() {
    let mut cfg = SimConfig::with_account(CLIENT, KEY, SECRET);
    cfg.faults = FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    };
    let env = Env::with(cfg).await;
    assert_eq!(err(env.get("/event").await).await.0, 503);
    // The control API is never faulted.
    env.ctl.health().await.expect("control API answers");
    let bad = FaultConfig {
        error_rate: 2.0,
        ..Default::default()
    };
    assert!(
        env.ctl.set_faults(&bad).await.is_err(),
        "rates above 1 are refused"
    );
}

#[tokio::test]
async fn hang_makes_the_client_time_out_without_hanging_the_test() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            hang_rate: 1.0,
            ..Default::default()
        })
        .await
        .expect("faults");
    let e = env
        .auth(env.http.get(env.url("/event")))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("must time out");
    assert!(e.is_timeout(), "{e:?}");
    let j = env.ctl.journal().await.expect("journal");
    assert_eq!(j.last().and_then(|e| e.fault.as_deref()), Some("hang"));
    env.ctl.clear_faults().await.expect("clear");
    assert_eq!(env.get("/event").await.status(), 200);
    env.sim.shutdown().await;
}

#[tokio::test]
async fn hang_with_limit_drops_the_connection() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            hang_rate: 1.0,
            hang_ms: Some(100),
            ..Default::default()
        })
        .await
        .expect("faults");
    let e = env
        .auth(env.http.get(env.url("/event")))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect_err("dropped");
    assert!(
        !e.is_timeout(),
        "dropped by the server, before the client gave up: {e:?}"
    );
}

#[tokio::test]
async fn reset_is_a_connection_error() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            reset_rate: 1.0,
            ..Default::default()
        })
        .await
        .expect("faults");
    let e = env
        .auth(env.http.get(env.url("/event")))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect_err("reset");
    assert!(!e.is_timeout() && !e.is_status(), "{e:?}");
    let j = env.ctl.journal().await.expect("journal");
    assert_eq!(j.last().and_then(|e| e.fault.as_deref()), Some("reset"));
}

async fn statuses(env: &Env, n: usize) -> Vec<u16> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(env.get("/event").await.status().as_u16());
    }
    v
}

#[tokio::test]
async fn same_seed_same_faults() {
    let env = Env::new().await;
    let cfg = FaultConfig {
        error_rate: 0.5,
        seed: 7,
        ..Default::default()
    };
    env.ctl.set_faults(&cfg).await.expect("faults");
    let first = statuses(&env, 30).await;
    env.ctl.set_faults(&cfg).await.expect("faults");
    let second = statuses(&env, 30).await;
    assert_eq!(first, second);
    assert!(first.contains(&200) && first.contains(&500), "{first:?}");
    env.ctl
        .set_faults(&FaultConfig { seed: 8, ..cfg })
        .await
        .expect("faults");
    assert_ne!(
        statuses(&env, 30).await,
        first,
        "another seed, another sequence"
    );
    assert_eq!(env.ctl.faults().await.expect("faults").seed, 8);
}

#[tokio::test]
async fn lost_answer_carries_the_call_out_then_drops_it_within_scope_and_count() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            lost_answer_rate: 1.0,
            hang_ms: Some(200),
            only_method: Some("POST".into()),
            only_path_suffix: Some("/event".into()),
            max_faults: Some(1),
            ..Default::default()
        })
        .await
        .expect("faults");
    // Out of scope (a GET): answered normally.
    assert_eq!(env.get("/event").await.status(), 200);
    // The create is carried out, but the client hears nothing and then sees the reset.
    let lost = env
        .auth(env.http.post(env.url("/event")))
        .form(&[
            ("liveStart", "2099-06-01T10:00:00"),
            ("liveDuration", "60"),
            ("title", "T"),
        ])
        .send()
        .await;
    assert!(lost.is_err(), "the answer was lost: {lost:?}");
    let journal = env.ctl.journal().await.expect("journal");
    let create = journal
        .iter()
        .find(|e| e.method == "POST")
        .expect("journaled");
    assert_eq!(
        (create.status, create.fault.as_deref()),
        (200, Some("lost"))
    );
    let listed = ok(env
        .get("/event?startDate=2099-05-01&endDate=2099-07-01")
        .await)
    .await;
    assert_eq!(listed["totalevents"], 1, "the webinar exists: {listed}");
    // The one fault allowed is spent: the next create answers.
    env.future_event().await;
    let inflight = env.ctl.inflight(CLIENT).await.expect("inflight");
    assert_eq!(inflight.current, 0, "{inflight:?}");
    assert!(inflight.max >= 1);
}

#[tokio::test]
async fn inflight_counts_concurrent_calls_per_client() {
    let env = Env::new().await;
    env.ctl
        .set_faults(&FaultConfig {
            latency_ms: 300,
            ..Default::default()
        })
        .await
        .expect("faults");
    env.ctl.reset_inflight().await.expect("reset");
    let (a, b, c) = tokio::join!(env.get("/event"), env.get("/event"), env.get("/event"));
    assert!([a, b, c].iter().all(|r| r.status() == 200));
    let f = env.ctl.inflight(CLIENT).await.expect("inflight");
    assert_eq!((f.current, f.max), (0, 3));
    env.ctl.reset_inflight().await.expect("reset");
    assert_eq!(env.ctl.inflight(CLIENT).await.expect("inflight").max, 0);
}
