//! The library against a real TLS server: trust comes from the CA file, the server name is
//! checked, UNAVAILABLE is retried for idempotent calls, the bearer token is sent, and the
//! change feed resumes from the last cursor after the stream breaks.

use std::time::Duration;

use futures::StreamExt;
use secrecy::SecretString;
use webinar_client::{
    ConnectOptions, ErrorKind, RetryPolicy, WebinarApi, changes::WatchOptions, exit_code,
};

use crate::feed_server;

fn options(server: &feed_server::Running) -> ConnectOptions {
    let mut options = ConnectOptions::new(server.endpoint.clone());
    options.ca_cert = Some(server.ca_file.clone());
    options.server_name = Some("localhost".into());
    options.timeout = Duration::from_secs(5);
    options.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    };
    options
}

#[tokio::test]
async fn unavailable_is_retried_until_the_server_answers() {
    let server = feed_server::start(2).await;
    let api = WebinarApi::new(options(&server).connect().expect("connect"), "t");
    let (changes, next) = api.list_changes("c0", 10, None).await.expect("list");
    assert_eq!(changes.len(), 1);
    assert_eq!(next, "c0+c9");
    assert_eq!(server.seen.lock().expect("lock").list_calls, 3);
}

#[tokio::test]
async fn retries_give_up_after_the_configured_attempts() {
    let server = feed_server::start(10).await;
    let api = WebinarApi::new(options(&server).connect().expect("connect"), "t");
    let error = api.list_changes("", 10, None).await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(exit_code(error.kind()), 6);
    assert_eq!(server.seen.lock().expect("lock").list_calls, 4);
}

#[tokio::test]
async fn the_bearer_token_is_sent_and_its_absence_is_an_auth_error() {
    let server = feed_server::start(0).await;
    let api = WebinarApi::new(options(&server).connect().expect("connect"), "t");
    let error = api.get_webinar_metrics("w").await.expect_err("no token");
    assert_eq!(exit_code(error.kind()), 5);

    let mut with_token = options(&server);
    with_token.bearer_token = Some(SecretString::from("test-token".to_string()));
    assert!(
        !format!("{with_token:?}").contains("test-token"),
        "token in Debug"
    );
    let api = WebinarApi::new(with_token.connect().expect("connect"), "t");
    let metrics = api.get_webinar_metrics("w").await.expect("metrics");
    assert_eq!(metrics.registration_count, 42);
    assert_eq!(metrics.name, "tenants/t/webinars/w/metrics");
}

#[tokio::test]
async fn a_wrong_server_name_is_refused() {
    let server = feed_server::start(0).await;
    let mut wrong = options(&server);
    wrong.server_name = Some("not-the-server.example".into());
    wrong.retry = RetryPolicy::none();
    let api = WebinarApi::new(wrong.connect().expect("connect"), "t");
    assert!(api.list_changes("", 1, None).await.is_err());
    assert_eq!(server.seen.lock().expect("lock").list_calls, 0);
}

#[tokio::test]
async fn the_change_feed_resumes_from_the_last_cursor() {
    let server = feed_server::start(0).await;
    let api = WebinarApi::new(options(&server).connect().expect("connect"), "t");
    let mut feed = Box::pin(api.watch_changes(WatchOptions::default()));
    let mut cursors = Vec::new();
    while cursors.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .expect("the feed went quiet")
            .expect("the feed ended")
            .expect("a feed error");
        cursors.extend(message.changes.into_iter().map(|c| c.cursor));
    }
    assert_eq!(
        cursors,
        ["c1", "c2", "c3"],
        "nothing missed, nothing repeated"
    );
    assert_eq!(server.seen.lock().expect("lock").watch_cursors, ["", "c2"]);
}
