//! The request journal: what reached "ON24", with secrets masked, and clearing it.

use crate::common::*;

#[tokio::test]
async fn journal_records_calls_and_masks_secrets() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    env.ctl.clear_journal().await.expect("clear");
    let form = [
        ("email", "j@example.com"),
        ("firstName", "J"),
        ("password", "hunter2"),
        ("accessTokenSecret", SECRET),
    ];
    ok(env
        .post(
            &format!("/event/{ev}/registrant?apiToken=qs-secret&x=1"),
            &form,
        )
        .await)
    .await;
    env.http.get(env.url("/event")).send().await.expect("send");
    let j = env.ctl.journal().await.expect("journal");
    assert_eq!(j.len(), 2);
    let e = &j[0];
    assert_eq!((e.method.as_str(), e.status), ("POST", 200));
    assert_eq!(e.path, format!("/v2/client/{CLIENT}/event/{ev}/registrant"));
    assert!(e.form.contains(&("email".into(), "j@example.com".into())));
    assert!(e.form.contains(&("password".into(), "***".into())));
    assert!(e.form.contains(&("accessTokenSecret".into(), "***".into())));
    assert!(
        e.query.contains(&("apiToken".into(), "***".into()))
            && e.query.contains(&("x".into(), "1".into()))
    );
    assert_eq!(e.token_key.as_deref(), Some("6312***"));
    assert!(e.token_secret_present);
    assert_eq!((j[1].status, j[1].token_key.as_deref()), (401, None));
    let raw = serde_json::to_string(&j).expect("json");
    for secret in [SECRET, KEY, "hunter2", "qs-secret"] {
        assert!(!raw.contains(secret), "journal leaks {secret}");
    }
    assert!(chrono_like(&e.timestamp), "{}", e.timestamp);
    env.ctl.clear_journal().await.expect("clear");
    assert!(env.ctl.journal().await.expect("journal").is_empty());
}

fn chrono_like(t: &str) -> bool {
    t.len() >= 20 && t.as_bytes()[4] == b'-' && t.ends_with('Z')
}

#[tokio::test]
async fn multipart_fields_are_journaled_too() {
    let env = Env::new().await;
    let ev = env.future_event().await;
    env.ctl.clear_journal().await.expect("clear");
    let form = reqwest::multipart::Form::new()
        .text("email", "m@example.com")
        .text("token_secret", "zzz");
    env.auth(env.http.post(env.url(&format!("/event/{ev}/registrant"))))
        .multipart(form)
        .send()
        .await
        .expect("send");
    let j = env.ctl.journal().await.expect("journal");
    assert_eq!(
        j[0].form,
        vec![
            ("email".to_string(), "m@example.com".to_string()),
            ("token_secret".to_string(), "***".to_string())
        ]
    );
}

#[test]
fn account_debug_never_shows_the_secret() {
    let a = on24sim::AccountConfig::new(1, "KEY-123456", "s3cr3t-value");
    let d = format!(
        "{a:?} {:?}",
        on24sim::SimConfig::with_account(1, "KEY-123456", "s3cr3t-value")
    );
    assert!(
        !d.contains("s3cr3t-value") && !d.contains("KEY-123456"),
        "{d}"
    );
}
