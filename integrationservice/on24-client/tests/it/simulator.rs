//! The ON24 client against the in-process ON24 simulator over real HTTP: every operation
//! the simulator serves, every error class, pagination to the end, quota 403 versus
//! permission 403, and injected faults (timeouts, 5xx, resets) reported as retryable.
//! Every test is bounded by `tokio::time::timeout`, so a hang fails instead of blocking.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use on24_client::*;
use on24sim::{FaultConfig, SimConfig, SimHandle, Simulator, ViewingRequest};

const CLIENT: u64 = 4467;
const KEY: &str = "sim-key-4467";
const SECRET: &str = "sim-secret-4467-xyz";

/// Fails the test if `fut` takes longer than `secs`.
async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("the test hung")
}

struct Env {
    sim: SimHandle,
    client: On24Client,
}

fn config_for(sim: &SimHandle) -> On24ClientConfig {
    let mut cfg =
        On24ClientConfig::with_base_url(BaseUrl::parse(&sim.base_url).expect("loopback URL"));
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

async fn env() -> Env {
    let sim = Simulator::start(SimConfig::with_account(CLIENT as i64, KEY, SECRET))
        .await
        .expect("simulator starts");
    let client = On24Client::new(config_for(&sim), On24Credentials::new(CLIENT, KEY, SECRET))
        .expect("client");
    Env { sim, client }
}

fn future_start(days: i64) -> DateTime<FixedOffset> {
    (Utc::now() + chrono::Duration::days(days)).fixed_offset()
}

async fn new_event(client: &On24Client, title: &str, start: DateTime<FixedOffset>) -> u64 {
    let created = client
        .create_event(&NewEvent::new(title, start, 60))
        .await
        .expect("event created");
    created.event_id.expect("event id")
}

fn person(email: &str, first: &str) -> RegistrantForm {
    let mut r = RegistrantForm::new(email);
    r.first_name = Some(first.into());
    r.last_name = Some("Tester".into());
    r.company = Some("Acme".into());
    r
}

#[tokio::test]
async fn events_create_get_update_list_delete() {
    within(30, async {
        let Env { sim: _sim, client } = env().await;
        client.check_credentials().await.expect("credentials work");
        let id = new_event(&client, "Quarterly review", future_start(7)).await;
        let got = client.get_event(id).await.expect("get");
        assert_eq!(got.eventid, Some(id));
        assert_eq!(got.clientid, Some(CLIENT));

        let update = EventUpdate {
            title: Some("Quarterly review (moved)".into()),
            live_duration_minutes: Some(90),
            ..EventUpdate::default()
        };
        let updated = client.update_event(id, &update).await.expect("update");
        assert_eq!(updated.title.as_deref(), Some("Quarterly review (moved)"));

        let all = client
            .list_events(DateRange::default())
            .await
            .expect("list");
        assert!(all.iter().any(|e| e.eventid == Some(id)));

        client.delete_event(id).await.expect("delete");
        let gone = client
            .get_event(id)
            .await
            .expect_err("deleted event is gone");
        assert_eq!(gone.class(), "not_found", "{gone}");
        assert!(!gone.is_retryable());
    })
    .await;
}

#[tokio::test]
async fn event_list_is_read_to_the_end_across_pages() {
    within(30, async {
        let sim = Simulator::start(SimConfig::with_account(CLIENT as i64, KEY, SECRET))
            .await
            .expect("simulator");
        let mut cfg = config_for(&sim);
        cfg.page_size = 2;
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(new_event(&client, &format!("Paged {i}"), future_start(3 + i)).await);
        }
        sim.control()
            .clear_journal()
            .await
            .expect("journal cleared");
        let all = client
            .list_events(DateRange::default())
            .await
            .expect("list");
        let mut seen: Vec<u64> = all.iter().filter_map(|e| e.eventid).collect();
        seen.sort_unstable();
        ids.sort_unstable();
        assert_eq!(seen, ids, "every event exactly once");
        // Five events at two per page: pages 0, 1 and 2, nothing more.
        let journal = sim.control().journal().await.expect("journal");
        let offsets: Vec<String> = journal
            .iter()
            .filter(|j| j.method == "GET")
            .filter_map(|j| {
                j.query
                    .iter()
                    .find(|(k, _)| k == "pageoffset")
                    .map(|(_, v)| v.clone())
            })
            .collect();
        assert_eq!(offsets, ["0", "1", "2"]);
    })
    .await;
}

#[tokio::test]
async fn registrants_create_upsert_update_get_list_soft_delete_and_forget() {
    within(30, async {
        let Env { sim, client } = env().await;
        let event = new_event(&client, "Registration test", future_start(10)).await;
        let jane = client
            .create_registrant(event, &person("jane@example.com", "Jane"))
            .await
            .expect("registered");
        let uid = jane.eventuserid.expect("eventuserid");
        // Registration is an upsert by email: retrying gives the same registration.
        let again = client
            .create_registrant(event, &person("jane@example.com", "Jane"))
            .await
            .expect("re-registered");
        assert_eq!(again.eventuserid, Some(uid));

        let mut change = RegistrantUpdate {
            registrant: RegistrantForm::new("jane@example.com"),
            is_blocked: None,
        };
        change.registrant.company = Some("Globex".into());
        let updated = client
            .update_registrant(event, &change)
            .await
            .expect("patched");
        assert_eq!(updated.company.as_deref(), Some("Globex"));

        let found = client
            .get_registrant("jane@example.com", Some(event))
            .await
            .expect("by email");
        assert_eq!(
            (found.eventuserid, found.company.as_deref()),
            (Some(uid), Some("Globex"))
        );

        client
            .create_registrant(event, &person("joe@example.com", "Joe"))
            .await
            .expect("second registrant");
        let listed = client.list_event_registrants(event).await.expect("list");
        assert_eq!(listed.registrants.len(), 2);
        let client_wide = client
            .list_client_registrants(DateRange::default())
            .await
            .expect("client list");
        assert!(client_wide.iter().any(|r| r.eventuserid == Some(uid)));

        client
            .soft_delete_registrant(event, "joe@example.com")
            .await
            .expect("soft deleted");
        let journal = sim.control().journal().await.expect("journal");
        let soft = journal
            .iter()
            .rev()
            .find(|j| {
                j.method == "POST" && j.form.iter().any(|(k, v)| k == "isDeleted" && v == "Y")
            })
            .expect("the soft delete reached ON24");
        assert_eq!(soft.status, 200);
        assert!(soft.token_secret_present);
        assert!(
            journal.iter().all(|j| j.token_key.as_deref() != Some(KEY)),
            "key masked"
        );

        let forgotten = client
            .forget(&["jane@example.com".into()], None)
            .await
            .expect("forget");
        assert_eq!(forgotten, vec![uid]);
        let err = client
            .get_registrant("jane@example.com", None)
            .await
            .expect_err("forgotten");
        assert_eq!(err.class(), "not_found");

        client
            .create_registrant(event, &person("ann@example.com", "Ann"))
            .await
            .expect("third registrant");
        let all_gone = client.forget_all_in_event(event).await.expect("forget all");
        assert!(!all_gone.is_empty());
    })
    .await;
}

#[tokio::test]
async fn soft_delete_after_the_start_is_refused_for_good() {
    within(30, async {
        let Env { sim: _sim, client } = env().await;
        let started = (Utc::now() - chrono::Duration::minutes(5)).fixed_offset();
        let event = new_event(&client, "Already live", started).await;
        client
            .create_registrant(event, &person("late@example.com", "Late"))
            .await
            .expect("registered");
        let err = client
            .soft_delete_registrant(event, "late@example.com")
            .await
            .expect_err("refused after start");
        assert!(!err.is_retryable(), "{err}");
        assert!(
            err.on24_message()
                .is_some_and(|m| m.contains("not allowed")),
            "{err}"
        );
        assert!(
            !err.to_string().contains("late@example.com"),
            "no email in errors"
        );
    })
    .await;
}

#[tokio::test]
async fn attendee_analytics_and_sessions_read_to_the_end() {
    within(30, async {
        let sim = Simulator::start(SimConfig::with_account(CLIENT as i64, KEY, SECRET))
            .await
            .expect("simulator");
        let mut cfg = config_for(&sim);
        cfg.page_size = 1;
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let start = (Utc::now() - chrono::Duration::hours(3)).fixed_offset();
        let event = new_event(&client, "Watched", start).await;
        for (email, live_secs) in [("a@example.com", 20u64), ("b@example.com", 1900)] {
            client
                .create_registrant(event, &person(email, "V"))
                .await
                .expect("registered");
            let v = ViewingRequest {
                email: email.into(),
                live_seconds: Some(live_secs),
                archive_minutes: Some(3.0),
                questions: 2,
                polls: 1,
                ..ViewingRequest::default()
            };
            sim.control()
                .add_viewing(event as i64, &v)
                .await
                .expect("viewing booked");
        }
        let attendees = client.list_event_attendees(event).await.expect("attendees");
        assert_eq!(attendees.attendees.len(), 2);
        let a = attendees
            .attendees
            .iter()
            .find(|a| a.email.as_deref() == Some("a@example.com"))
            .expect("a attended");
        // Under a minute reads 1 (ON24's rounding).
        assert_eq!(a.liveminutes, Some(1));
        assert_eq!((a.askedquestions, a.answeredpolls), (Some(2), Some(1)));
        let b = attendees
            .attendees
            .iter()
            .find(|a| a.email.as_deref() == Some("b@example.com"))
            .expect("b attended");
        assert_eq!(b.liveminutes, Some(32));

        // Four sessions (one live + one archive each) at one per page.
        let sessions = client
            .list_attendee_sessions(event)
            .await
            .expect("sessions");
        assert_eq!(sessions.len(), 4);
        let mut ids: Vec<u64> = sessions.iter().filter_map(|s| s.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 4, "no page read twice");
    })
    .await;
}

#[tokio::test]
async fn auth_errors_are_permanent_and_never_show_the_secret() {
    within(30, async {
        let Env { sim, client } = env().await;
        let wrong = client
            .with_credentials(On24Credentials::new(CLIENT, KEY, "not-the-secret"))
            .expect("client");
        let err = wrong.check_credentials().await.expect_err("wrong secret");
        assert_eq!(
            err.permanent_kind(),
            Some(PermanentKind::InvalidCredentials)
        );
        assert_eq!((err.class(), err.status()), ("auth", Some(401)));
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("not-the-secret") && !text.contains(KEY),
            "{text}"
        );

        sim.control()
            .deactivate_token(KEY)
            .await
            .expect("deactivated");
        let err = client.check_credentials().await.expect_err("deactivated");
        assert_eq!(err.permanent_kind(), Some(PermanentKind::DeactivatedToken));
        assert_eq!(err.class(), "auth");
    })
    .await;
}

#[tokio::test]
async fn quota_403_is_retryable_but_permission_403_is_not() {
    within(30, async {
        let Env { sim, client } = env().await;
        let ctl = sim.control();
        ctl.add_account(5001, "other-key-5001", "other-secret-5001", false)
            .await
            .expect("second account");

        // A token that asks about another client's id: permission 403, permanent.
        let foreign = client
            .with_credentials(On24Credentials::new(5001, KEY, SECRET))
            .expect("client");
        let err = foreign
            .check_credentials()
            .await
            .expect_err("not our client");
        assert_eq!(
            (err.class(), err.status()),
            ("forbidden", Some(403)),
            "{err}"
        );
        assert!(!err.is_retryable() && !err.is_quota());

        // A non-Elite account may not create events: permanent "not Elite".
        let basic = client
            .with_credentials(On24Credentials::new(
                5001,
                "other-key-5001",
                "other-secret-5001",
            ))
            .expect("client");
        let err = basic
            .create_event(&NewEvent::new("x", future_start(1), 30))
            .await
            .expect_err("not elite");
        assert_eq!(err.permanent_kind(), Some(PermanentKind::NotElite), "{err}");

        // An inactive client: permanent.
        ctl.set_client_active(5001, false).await.expect("inactive");
        let err = basic.check_credentials().await.expect_err("inactive");
        assert_eq!(err.permanent_kind(), Some(PermanentKind::Inactive), "{err}");

        // The quota: two calls, then 403 "maximum number of calls": retryable, class quota.
        ctl.set_quota(Some(CLIENT as i64), Some(2), Duration::from_secs(60))
            .await
            .expect("quota set");
        client.check_credentials().await.expect("call 1");
        client.check_credentials().await.expect("call 2");
        let err = client.check_credentials().await.expect_err("over quota");
        assert!(err.is_quota() && err.is_retryable(), "{err}");
        assert_eq!((err.class(), err.status()), ("quota", Some(403)));
        assert!(
            err.on24_message()
                .is_some_and(|m| m.contains("maximum number of calls"))
        );
    })
    .await;
}

#[tokio::test]
async fn not_found_and_validation_are_permanent() {
    within(30, async {
        let Env { sim, client } = env().await;
        let err = client
            .get_event(987_654_321)
            .await
            .expect_err("no such event");
        assert_eq!((err.class(), err.status()), ("not_found", Some(404)));
        assert_eq!(
            err.on24_message(),
            Some("The event 987654321 doesn't exist.")
        );

        // A page size ON24 refuses reaches it and comes back as a 400.
        let mut cfg = config_for(&sim);
        cfg.page_size = 500;
        let big = On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let err = big
            .list_events(DateRange::default())
            .await
            .expect_err("bad page size");
        assert_eq!(
            (err.class(), err.status()),
            ("validation", Some(400)),
            "{err}"
        );
        assert!(!err.is_retryable());

        // A value the client can check itself never costs a call.
        sim.control().clear_journal().await.expect("cleared");
        let err = client
            .create_event(&NewEvent::new("bad", future_start(1), 17))
            .await
            .expect_err("17 minutes is not a valid duration");
        assert_eq!(err.class(), "validation");
        assert!(sim.control().journal().await.expect("journal").is_empty());
    })
    .await;
}

async fn with_faults(faults: FaultConfig, request_timeout: Duration) -> (SimHandle, On24Client) {
    let Env { sim, .. } = env().await;
    sim.control().set_faults(&faults).await.expect("faults set");
    let mut cfg = config_for(&sim);
    cfg.request_timeout = request_timeout;
    let client = On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
    (sim, client)
}

#[tokio::test]
async fn slow_and_hung_calls_time_out_as_retryable() {
    within(20, async {
        let slow = FaultConfig {
            latency_ms: 3_000,
            ..FaultConfig::default()
        };
        let (_sim, client) = with_faults(slow, Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        let err = client.check_credentials().await.expect_err("too slow");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the timeout held"
        );
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.class(), "timeout");

        // A per-call timeout on the same pool: a longer one lets the slow call through.
        let patient = client.with_request_timeout(Duration::from_secs(10));
        patient
            .check_credentials()
            .await
            .expect("3 s is within 10 s");

        let hang = FaultConfig {
            hang_rate: 1.0,
            ..FaultConfig::default()
        };
        let (_sim2, client) = with_faults(hang, Duration::from_millis(300)).await;
        let err = client.check_credentials().await.expect_err("hung");
        assert_eq!(err.class(), "timeout");
        assert!(err.is_retryable());
    })
    .await;
}

#[tokio::test]
async fn server_errors_and_resets_are_retryable() {
    within(20, async {
        let errors = FaultConfig {
            error_rate: 1.0,
            error_status: 503,
            ..FaultConfig::default()
        };
        let (_sim, client) = with_faults(errors, Duration::from_secs(5)).await;
        let err = client.check_credentials().await.expect_err("503");
        assert_eq!((err.class(), err.status()), ("server", Some(503)));
        assert!(err.is_retryable());

        let resets = FaultConfig {
            reset_rate: 1.0,
            ..FaultConfig::default()
        };
        let (_sim2, client) = with_faults(resets, Duration::from_secs(5)).await;
        let err = client.check_credentials().await.expect_err("reset");
        assert_eq!(err.class(), "connection", "{err}");
        assert!(err.is_retryable());

        // Recovery: the same client works again once the faults stop.
        _sim2
            .control()
            .clear_faults()
            .await
            .expect("faults cleared");
        client.check_credentials().await.expect("works again");
    })
    .await;
}

#[tokio::test]
async fn wcc_prefix_and_http_only_on_loopback() {
    within(20, async {
        let Env { sim, .. } = env().await;
        // The contract's own server path works the same.
        let cfg = On24ClientConfig::with_base_url(BaseUrl::parse(&sim.wcc_base_url).expect("url"));
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        client
            .check_credentials()
            .await
            .expect("works under /wcc/api/v2");
        assert!(BaseUrl::parse(&sim.base_url.replace("127.0.0.1", "192.0.2.1")).is_err());
    })
    .await;
}

#[tokio::test]
async fn refused_connections_are_retryable_and_fast() {
    within(20, async {
        // A port that was just free: nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let cfg = On24ClientConfig::with_base_url(
            BaseUrl::parse(&format!("http://127.0.0.1:{port}/v2")).expect("url"),
        );
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let err = client
            .check_credentials()
            .await
            .expect_err("nobody listens");
        assert_eq!(err.class(), "connection", "{err}");
        assert!(err.is_retryable() && err.status().is_none());
    })
    .await;
}

#[tokio::test]
async fn concurrent_calls_share_one_client() {
    within(30, async {
        let Env { sim: _sim, client } = env().await;
        let event = new_event(&client, "Busy", future_start(5)).await;
        let calls = (0..40).map(|i| {
            let client = client.clone();
            async move {
                client
                    .create_registrant(event, &person(&format!("p{i}@example.com"), "P"))
                    .await
                    .map(|r| r.eventuserid)
            }
        });
        let ids = futures::future::join_all(calls).await;
        let mut ids: Vec<u64> = ids
            .into_iter()
            .map(|r| r.expect("ok").expect("id"))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 40, "one registration each");
        let listed = client.list_event_registrants(event).await.expect("list");
        assert_eq!(listed.registrants.len(), 40);
    })
    .await;
}

/// Collects formatted log output in memory.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_operations_and_classes_but_no_secrets_or_emails() {
    let buf = LogBuf::default();
    let writer = buf.clone();
    // Our client at its most verbose (reqwest and hyper log through `log`, not tracing).
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("on24_client=trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // tracing-core asks only the registering thread's dispatcher about a new callsite while
    // a single dispatcher exists, so a callsite first hit by a parallel test would be cached
    // as disabled for ours too. A second live dispatcher makes it ask all of them.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);
    within(30, async {
        let Env { sim, client } = env().await;
        let event = new_event(&client, "Logged", future_start(4)).await;
        client
            .create_registrant(event, &person("hidden.person@example.com", "Hidden"))
            .await
            .expect("registered");
        client
            .get_registrant("hidden.person@example.com", Some(event))
            .await
            .expect("found");
        let _ = client.get_registrant("nobody.here@example.com", None).await;
        let wrong = client
            .with_credentials(On24Credentials::new(CLIENT, KEY, "wrong-secret-value"))
            .expect("client");
        let _ = wrong.check_credentials().await;
        sim.control()
            .set_faults(&FaultConfig {
                error_rate: 1.0,
                ..FaultConfig::default()
            })
            .await
            .expect("faults");
        let _ = client
            .forget(&["hidden.person@example.com".into()], None)
            .await;
    })
    .await;
    let logs =
        String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        logs.contains("create_registrant") && logs.contains("ON24 call succeeded"),
        "logs were captured at debug level: {logs}"
    );
    assert!(
        logs.contains("class=\"auth\"") || logs.contains("class=auth"),
        "{logs}"
    );
    for leak in [
        SECRET,
        KEY,
        "wrong-secret-value",
        "hidden.person",
        "nobody.here",
        "Hidden",
    ] {
        assert!(!logs.contains(leak), "{leak} leaked into logs");
    }
}

#[tokio::test]
async fn page_stream_makes_one_call_per_page_polled() {
    use futures::StreamExt;
    within(30, async {
        let sim = Simulator::start(SimConfig::with_account(CLIENT as i64, KEY, SECRET))
            .await
            .expect("simulator");
        let mut cfg = config_for(&sim);
        cfg.page_size = 1;
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        for i in 0..3 {
            new_event(&client, &format!("Lazy {i}"), future_start(2 + i)).await;
        }
        sim.control().clear_journal().await.expect("cleared");
        let first = {
            let mut pages = std::pin::pin!(pages::<EventPage>(&client, |page| {
                Operation::ListEvents {
                    page,
                    range: DateRange::default(),
                }
            }));
            pages.next().await.expect("a page").expect("ok")
        };
        assert_eq!(first.len(), 1);
        let journal = sim.control().journal().await.expect("journal");
        assert_eq!(journal.len(), 1, "only the page that was read was fetched");
    })
    .await;
}

/// A bare HTTP/1.1 server answering with the contract's own example bodies, for the two
/// operations `on24sim` does not serve (`GET /client/{clientId}`, client-level attendees).
/// Each connection gets one answer and is closed; request heads are recorded.
async fn contract_example_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../on24sim/contract/on24-openapi.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("contract")).expect("json");
    // The contract's single `example`, or the first of its named `examples`.
    let example = |p: &str| {
        let c = &doc["paths"][p]["get"]["responses"]["200"]["content"]["application/json"];
        match c.get("example") {
            Some(e) => e.clone(),
            None => c["examples"]
                .as_object()
                .and_then(|m| m.values().next())
                .map(|e| e["value"].clone())
                .expect("an example"),
        }
    };
    let client_info = example("/client/{clientId}");
    let attendees = example("/client/{clientId}/attendee");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/v2", listener.local_addr().expect("addr"));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let target = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            log.lock().unwrap_or_else(|p| p.into_inner()).push(head);
            let body = if target == format!("/v2/client/{CLIENT}") {
                client_info.clone()
            } else if target.starts_with(&format!("/v2/client/{CLIENT}/attendee?")) {
                // Three pages of one attendee each, built from the contract's example.
                let page: u64 = target
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("pageoffset="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut one = attendees["attendees"][0].clone();
                assert!(one.is_object(), "the contract has an attendee example");
                one["eventuserid"] = serde_json::json!(format!("{}", 1000 + page));
                let items = if page < 3 { vec![one] } else { vec![] };
                serde_json::json!({"clientid": CLIENT, "totalattendees": 3, "pagecount": 3,
                    "currentpage": page, "attendees": items})
            } else {
                serde_json::json!({"message": "Not Found"})
            };
            let body = body.to_string();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (base, seen)
}

#[tokio::test]
async fn account_and_client_attendees_decode_the_contract_examples_over_http() {
    within(20, async {
        let (base, seen) = contract_example_server().await;
        let mut cfg = On24ClientConfig::with_base_url(BaseUrl::parse(&base).expect("url"));
        cfg.page_size = 1;
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let info = client.get_client().await.expect("client info");
        assert_eq!(info.clientname.as_deref(), Some("ON24SalesElite"));
        assert!(info.subclients.iter().any(|s| s.id == Some(4475)));

        let all = client
            .list_client_attendees(DateRange::default())
            .await
            .expect("attendees");
        let ids: Vec<u64> = all.iter().filter_map(|a| a.eventuserid).collect();
        assert_eq!(
            ids,
            [1000, 1001, 1002],
            "string ids read as integers, pages to the end"
        );
        assert_eq!(all[0].liveminutes, Some(3));

        let heads = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            heads.len(),
            4,
            "one account call + three pages (pagecount stops the walk)"
        );
        for h in &heads {
            let lower = h.to_ascii_lowercase();
            assert!(lower.contains(&format!("accesstokenkey: {}", KEY.to_ascii_lowercase())));
            assert!(lower.contains("accesstokensecret: "));
        }
    })
    .await;
}

/// A blocking rustls HTTPS server on 127.0.0.1 with a certificate from a fresh dev CA
/// (`xtask::pki`). Answers every request with an empty event list. Returns the port and
/// the CA's PEM.
fn tls_server() -> (u16, String) {
    use std::io::{Read, Write};
    let ca = xtask::pki::CertificateAuthority::new("on24 test CA").expect("ca");
    let leaf = ca
        .server_cert(&["127.0.0.1", "localhost"])
        .expect("server cert");
    let certs = rustls_pemfile::certs(&mut leaf.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = rustls_pemfile::private_key(&mut leaf.key_pem.as_bytes())
        .expect("key")
        .expect("a key");
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = Vec::new();
            let mut buf = [0u8; 2048];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            if head.is_empty() {
                continue; // handshake refused by the client
            }
            let body = r#"{"totalevents":0,"events":[]}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, ca.cert_pem)
}

#[tokio::test]
async fn https_verifies_the_server_and_trusts_only_configured_roots() {
    within(20, async {
        let (port, ca_pem) = tls_server();
        let url = format!("https://127.0.0.1:{port}/v2");
        let creds = || On24Credentials::new(CLIENT, KEY, SECRET);

        // Platform roots only: our dev CA is unknown, so the handshake is refused.
        let strict = On24Client::new(
            On24ClientConfig::with_base_url(BaseUrl::parse(&url).expect("url")),
            creds(),
        )
        .expect("client");
        let err = strict
            .check_credentials()
            .await
            .expect_err("untrusted server");
        assert_eq!(err.class(), "connection", "{err}");

        // With the CA configured as an extra root, the same server is accepted.
        let mut cfg = On24ClientConfig::with_base_url(BaseUrl::parse(&url).expect("url"));
        cfg.extra_root_certs_pem = Some(ca_pem);
        let trusting = On24Client::new(cfg, creds()).expect("client");
        trusting.check_credentials().await.expect("trusted server");

        let mut bad = On24ClientConfig::with_base_url(BaseUrl::parse(&url).expect("url"));
        bad.extra_root_certs_pem = Some("not a certificate".into());
        assert_eq!(
            On24Client::new(bad, creds())
                .map(|_| ())
                .expect_err("no PEM")
                .class(),
            "config"
        );
    })
    .await;
}

#[tokio::test]
async fn registration_fields_and_custom_questions_are_read() {
    within(30, async {
        let env = env().await;
        let event = new_event(&env.client, "Questions", future_start(3)).await;
        env.sim
            .control()
            .set_registration_fields(
                event as i64,
                &[on24sim::RegField {
                    field_id: "std2".into(),
                    caption: "Your role".into(),
                    field_type: "radio".into(),
                    validation_type: "none".into(),
                    required: true,
                    options: vec!["Buyer".into(), "User".into()],
                }],
            )
            .await
            .expect("questions set");
        let fields = env
            .client
            .list_registration_fields(event)
            .await
            .expect("fields");
        assert_eq!(fields.len(), 1);
        let f = &fields[0];
        assert_eq!(
            (f.fieldid.as_deref(), f.fieldcaption.as_deref(), f.required),
            (Some("std2"), Some("Your role"), Some(true))
        );
        assert_eq!(f.options, ["Buyer", "User"]);
        assert!(
            env.client
                .list_registration_fields(event + 1000)
                .await
                .is_err()
        );
    })
    .await;
}

/// ON24 answers an event's whole registrant list in one body. A big event's is beyond what the
/// client holds in memory: the plain read refuses it, the streamed read takes every registrant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrant_list_beyond_the_body_bound_is_read_streamed() {
    within(180, async {
        let Env { sim, .. } = env().await;
        // A debug build reads tens of megabytes slowly: room beyond the suite's 5 s.
        let mut cfg = config_for(&sim);
        cfg.request_timeout = Duration::from_secs(120);
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let event = new_event(&client, "Crowded", future_start(3)).await;
        let count = 120_000u32;
        sim.control()
            .seed_attendees(
                event as i64,
                &on24sim::SeedAttendees {
                    count,
                    email_prefix: "crowd".into(),
                    ..on24sim::SeedAttendees::default()
                },
            )
            .await
            .expect("seeded");
        let whole = client.list_event_registrants(event).await;
        assert!(
            matches!(&whole, Err(e) if e.to_string().contains("body larger than")),
            "the plain read should hit the body bound: {:?}",
            whole.map(|p| p.registrants.len())
        );
        let emails = client
            .each_event_registrant(event, DateRange::default(), |r| r.email)
            .await
            .expect("streamed read");
        assert_eq!(emails.len(), count as usize);
        assert!(emails.iter().all(|e| e.starts_with("crowd")));
    })
    .await;
}

/// A streamed read whose caller stores slowly (here about 12 s for the whole list) still
/// completes within a 5 s call timeout: the timeout bounds ON24's time, not the caller's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_of_a_streamed_list_is_not_timed_out() {
    within(120, async {
        let Env { sim, .. } = env().await;
        let mut cfg = config_for(&sim);
        cfg.request_timeout = Duration::from_secs(5);
        let client =
            On24Client::new(cfg, On24Credentials::new(CLIENT, KEY, SECRET)).expect("client");
        let event = new_event(&client, "Slow store", future_start(3)).await;
        let count = 3_000u32;
        sim.control()
            .seed_attendees(
                event as i64,
                &on24sim::SeedAttendees {
                    count,
                    email_prefix: "slow".into(),
                    ..on24sim::SeedAttendees::default()
                },
            )
            .await
            .expect("seeded");
        // 3,000 registrants at 4 ms each: the read outlasts the call timeout twice over, and
        // ON24's own part (the simulator, a debug build on a busy machine) has room.
        let emails = client
            .each_event_registrant(event, DateRange::default(), |r| {
                // The caller's own work per registrant (a database write, say).
                std::thread::sleep(Duration::from_millis(4));
                r.email
            })
            .await
            .expect("a slow caller is not ON24 timing out");
        assert_eq!(emails.len(), count as usize);
    })
    .await;
}
