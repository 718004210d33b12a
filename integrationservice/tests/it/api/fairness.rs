//! Fairness on the CRM API: a tenant far over its request quota is refused with
//! RESOURCE_EXHAUSTED and RetryInfo, while another tenant's registrations keep being accepted
//! and delivered and its live credential checks keep reaching ON24; a tenant's watch past its cap is refused; a tenant's changes wake only that
//! tenant's watchers, on this replica and on another one.

use std::time::{Duration, Instant};

use integrationservice::domain::{
    AccessToken, BaseUrl, CredentialsInput, On24ClientId, Region, TenantId,
};
use proto::webinar::v1::{
    CheckOn24CredentialsRequest, CreateRegistrationRequest, CredentialStatus,
    GetRegistrationRequest, ListWebinarsRequest, PutOn24CredentialsRequest, RegistrationStatus,
    WatchChangesRequest, WatchChangesResponse, metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient,
};
use tonic::Code;
use tonic_types::StatusExt;
use xtask::pki::CertificateAuthority;

use super::harness::{Harness, assert_reason};
use super::lifecycle::{FullStack, eventually, person};
use crate::api_both_backends;

/// Tenant A's quota in the test: 5 requests per second, bursts of 5.
const RATE: u32 = 5;

fn list(tenant: &str) -> ListWebinarsRequest {
    ListWebinarsRequest {
        parent: format!("tenants/{tenant}"),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_over_its_quota_is_refused_while_another_keeps_going() {
    let db = xtask::testdb::TestSqlite::new().expect("sqlite");
    let stack = FullStack::start(db.url.clone(), |config| {
        config.limits.tenant_requests_per_second = RATE;
        config.limits.tenant_burst = RATE;
        // Only the tenant buckets are under test here.
        config.limits.principal_requests_per_second = 0;
    })
    .await;
    let harness = &stack.h;
    let mut a = WebinarServiceClient::new(harness.tenant_a().await);
    let mut b = RegistrationServiceClient::new(harness.tenant_b().await);
    let mut b_credentials = ProviderConfigServiceClient::new(harness.tenant_b().await);
    // B's credentials and webinar go in through the engine, so that B starts the run with
    // its whole burst.
    let engine = harness.engine().clone();
    let tenant_b = TenantId::parse("tenant-b").expect("tenant");
    let on24 = stack.credentials();
    let loopback = on24_client::EgressPolicy::new(Vec::<String>::new(), true);
    engine
        .providers()
        .put(
            &tenant_b,
            CredentialsInput {
                client_id: On24ClientId::parse(&on24.client_id).expect("client id"),
                access_token_key: AccessToken::parse(on24.access_token_key.clone()).expect("key"),
                access_token_secret: AccessToken::parse(on24.access_token_secret.clone())
                    .expect("secret"),
                region: Region::Na,
                base_url: BaseUrl::parse(&on24.base_url, &loopback).expect("simulator url"),
                check: true,
            },
        )
        .await
        .expect("B's credentials");
    let webinar = engine
        .webinars()
        .create(
            &tenant_b,
            crate::engine::harness::webinar_input("fair-b"),
            None,
        )
        .await
        .expect("B's webinar");
    let parent = format!("tenants/tenant-b/webinars/{}", webinar.id);

    // Ten times A's quota (burst plus one second's worth), as fast as it can go; B stays
    // within its own quota (its burst), registering people and checking its credentials live
    // at ON24, turn about, spread over A's run.
    let calls = 10 * 2 * RATE;
    let b_every = calls / RATE;
    let started = Instant::now();
    let (mut admitted, mut refused) = (0_u32, 0_u32);
    let mut b_registered = Vec::new();
    let mut b_checks = 0_usize;
    // B's call times, printed beside A's refusals: every B call is answered on its first
    // attempt (asserted), and these show it was not queued behind A.
    let mut b_latencies = Vec::new();
    for i in 0..calls {
        match a.list_webinars(list("tenant-a")).await {
            Ok(_) => admitted += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let retry = status
                    .get_details_retry_info()
                    .and_then(|r| r.retry_delay)
                    .expect("RetryInfo with a delay");
                assert!(
                    retry > Duration::ZERO && retry <= Duration::from_secs(1),
                    "{retry:?}"
                );
                assert!(!status.message().contains("tenant-a"), "{status:?}");
                refused += 1;
            }
        }
        if i % b_every == b_every - 1 && (i / b_every) % 2 == 1 {
            let sent = Instant::now();
            let checked = b_credentials
                .check_on24_credentials(CheckOn24CredentialsRequest {
                    name: "tenants/tenant-b/on24Credentials".into(),
                })
                .await
                .expect("tenant B's credential check is not slowed by tenant A")
                .into_inner()
                .on24_credentials
                .expect("credentials");
            b_latencies.push(sent.elapsed());
            assert_eq!(
                checked.status,
                CredentialStatus::Healthy as i32,
                "B's live check reached ON24: {checked:?}"
            );
            b_checks += 1;
        } else if i % b_every == b_every - 1 {
            let sent = Instant::now();
            let created = b
                .create_registration(CreateRegistrationRequest {
                    parent: parent.clone(),
                    registration: Some(person(b_registered.len())),
                    request_id: String::new(),
                })
                .await
                .expect("tenant B is not slowed by tenant A")
                .into_inner()
                .registration
                .expect("registration");
            b_latencies.push(sent.elapsed());
            b_registered.push(created.name);
        }
    }
    assert_eq!(b_registered.len() + b_checks, RATE as usize);
    assert!(b_checks > 0 && !b_registered.is_empty());
    b_latencies.sort();
    println!(
        "tenant B during A's flood: {} calls, median {:?}, slowest {:?}; A: {admitted} admitted, {refused} refused",
        b_latencies.len(),
        b_latencies[b_latencies.len() / 2],
        b_latencies[b_latencies.len() - 1],
    );
    let elapsed = started.elapsed();
    // The bucket admits its burst plus RATE per second of the run, never more.
    let allowed = RATE + u32::try_from(elapsed.as_millis()).expect("ms") * RATE / 1000 + 1;
    assert!(refused > 0, "no call refused in {elapsed:?}");
    assert!(
        admitted <= allowed,
        "{admitted} admitted in {elapsed:?}, at most {allowed}"
    );
    // B's registrations reach ON24 (B's reads are within its quota again by then; a refused
    // read is retried).
    for name in b_registered {
        eventually("B's registration delivered to ON24", || {
            let (mut b, name) = (b.clone(), name.clone());
            async move {
                let r = b
                    .get_registration(GetRegistrationRequest { name })
                    .await
                    .ok()?
                    .into_inner()
                    .registration?;
                (r.status == RegistrationStatus::Delivered as i32).then_some(())
            }
        })
        .await;
    }
    stack.stop().await;
}

fn watch(tenant: &str) -> WatchChangesRequest {
    WatchChangesRequest {
        parent: format!("tenants/{tenant}"),
        ..Default::default()
    }
}

#[tokio::test]
async fn watch_past_the_tenant_cap_is_refused() {
    const CAP: usize = 3;
    let ca = CertificateAuthority::new("watch cap CA").expect("CA");
    let harness = Harness::launch(ca, |config| {
        config.limits.max_watches_per_tenant = CAP;
    })
    .await;
    let mut a = MetricsServiceClient::new(harness.tenant_a().await);
    let mut b = MetricsServiceClient::new(harness.tenant_b().await);
    let mut open = Vec::new();
    for _ in 0..CAP {
        open.push(
            a.watch_changes(watch("tenant-a"))
                .await
                .expect("within the cap"),
        );
    }
    let refused = a
        .watch_changes(watch("tenant-a"))
        .await
        .expect_err("one past the cap");
    assert_reason(&refused, Code::ResourceExhausted, "TOO_MANY_WATCHES");
    // Another tenant's watches are counted apart.
    let _b = b.watch_changes(watch("tenant-b")).await.expect("tenant B");
    // Closing one frees its slot once the server sees the stream end.
    drop(open.pop());
    testkit::eventually("a slot to free up", Duration::from_secs(10), || {
        let mut a = a.clone();
        async move { a.watch_changes(watch("tenant-a")).await }
    })
    .await;
    harness.stop().await;
}

#[tokio::test]
async fn caller_over_its_quota_is_refused_naming_the_caller_limit() {
    let ca = CertificateAuthority::new("caller fairness CA").expect("CA");
    let harness = Harness::launch(ca, |config| {
        config.limits.tenant_requests_per_second = 0;
        config.limits.principal_requests_per_second = RATE;
        config.limits.principal_burst = RATE;
    })
    .await;
    let mut a = WebinarServiceClient::new(harness.tenant_a().await);
    let mut b = WebinarServiceClient::new(harness.tenant_b().await);
    let mut refused = None;
    for _ in 0..10 * 2 * RATE {
        if let Err(status) = a.list_webinars(list("tenant-a")).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("a caller at ten times its quota is refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let info = refused.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "RATE_LIMITED");
    assert_eq!(
        info.metadata.get("limit").map(String::as_str),
        Some("caller")
    );
    assert!(refused.get_details_retry_info().is_some(), "RetryInfo");
    b.list_webinars(list("tenant-b"))
        .await
        .expect("another caller is not slowed");
    harness.stop().await;
}

/// The first watch message that carries changes, within `within` (a heartbeat comes only
/// after 30 s, so a message sooner was woken by a change).
async fn next_changes(
    stream: &mut tonic::Streaming<WatchChangesResponse>,
    within: Duration,
) -> WatchChangesResponse {
    tokio::time::timeout(within, async {
        loop {
            let message = stream.message().await.expect("message").expect("open");
            if !message.changes.is_empty() {
                return message;
            }
        }
    })
    .await
    .expect("a change arrived before the heartbeat")
}

/// Watchers of tenants A and B; a change of A (a credential put) reaches A's watcher at once
/// and does not wake B's. On PostgreSQL the watchers sit on a second replica of the same
/// database, which hears of the change only through the database; B's change then reaches
/// B's watcher the same way (so B's wake-ups are counted where they happen).
async fn a_tenants_changes_wake_only_its_watchers(database_url: String) {
    let postgres = database_url.starts_with("postgres");
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    // The first replica serves (its migrations done) before the second starts.
    let _serving = stack.h.tenant_a().await;
    let other = if postgres {
        let url = database_url.clone();
        let ca = CertificateAuthority::new("watching replica CA").expect("CA");
        Some(
            Harness::launch(ca, move |config| {
                config.database.url = url;
            })
            .await,
        )
    } else {
        None
    };
    let watching = other.as_ref().unwrap_or(&stack.h);
    let mut a = MetricsServiceClient::new(watching.tenant_a().await);
    let mut b = MetricsServiceClient::new(watching.tenant_b().await);
    let mut a_stream = a
        .watch_changes(watch("tenant-a"))
        .await
        .expect("watch A")
        .into_inner();
    let mut b_stream = b
        .watch_changes(watch("tenant-b"))
        .await
        .expect("watch B")
        .into_inner();
    let engine = watching.engine().clone();
    let tenant_b = TenantId::parse("tenant-b").expect("tenant");
    testkit::eventually("both watchers subscribed", Duration::from_secs(10), || {
        let engine = engine.clone();
        async move { (engine.signals().watched_tenants() == 2).then_some(()) }
    })
    .await;
    // The watching replica's listener may still be connecting; when it connects it wakes every
    // watcher once for what it may have missed, which is no change of B's, and A's change then
    // reaches A's watcher through that read. Either way the listener is connected once A's
    // watcher has its change, so B's change later can only arrive as a notification.
    assert_eq!(engine.signals().change_wakes(&tenant_b), 0);

    let mut creds = ProviderConfigServiceClient::new(stack.h.tenant_a().await);
    creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(stack.credentials()),
            live_check: false,
            validate_only: false,
        })
        .await
        .expect("put A's credentials");
    let got = next_changes(&mut a_stream, Duration::from_secs(10)).await;
    assert!(
        got.changes
            .iter()
            .all(|c| c.resource.starts_with("tenants/tenant-a/")),
        "{got:?}"
    );
    assert_eq!(
        engine.signals().change_wakes(&tenant_b),
        0,
        "tenant A's change woke no watcher of tenant B"
    );

    // B's own change does wake B's watcher, through the same path.
    let mut creds_b = ProviderConfigServiceClient::new(stack.h.tenant_b().await);
    let mut b_credentials = stack.credentials();
    b_credentials.name = "tenants/tenant-b/on24Credentials".into();
    creds_b
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(b_credentials),
            live_check: false,
            validate_only: false,
        })
        .await
        .expect("put B's credentials");
    next_changes(&mut b_stream, Duration::from_secs(10)).await;

    drop((a_stream, b_stream));
    if let Some(other) = other {
        other.stop().await;
    }
    stack.stop().await;
}

api_both_backends!(
    a_tenants_changes_wake_only_its_watchers_runs,
    a_tenants_changes_wake_only_its_watchers
);
