//! Fairness on the CRM API: a tenant far over its request quota is refused with
//! RESOURCE_EXHAUSTED and RetryInfo, while another tenant's calls keep succeeding; a tenant's
//! watch past its cap is refused.

use std::time::{Duration, Instant};

use proto::webinar::v1::{
    ListWebinarsRequest, WatchChangesRequest, metrics_service_client::MetricsServiceClient,
    webinar_service_client::WebinarServiceClient,
};
use tonic::Code;
use tonic_types::StatusExt;
use xtask::pki::CertificateAuthority;

use super::harness::{Harness, assert_reason};

/// Tenant A's quota in the test: 5 requests per second, bursts of 5.
const RATE: u32 = 5;

fn list(tenant: &str) -> ListWebinarsRequest {
    ListWebinarsRequest {
        parent: format!("tenants/{tenant}"),
        ..Default::default()
    }
}

#[tokio::test]
async fn tenant_over_its_quota_is_refused_while_another_keeps_going() {
    let ca = CertificateAuthority::new("fairness CA").expect("CA");
    let harness = Harness::launch(ca, |config| {
        config.limits.tenant_requests_per_second = RATE;
        config.limits.tenant_burst = RATE;
        // Only the tenant buckets are under test here.
        config.limits.principal_requests_per_second = 0;
    })
    .await;
    let mut a = WebinarServiceClient::new(harness.tenant_a().await);
    let mut b = WebinarServiceClient::new(harness.tenant_b().await);

    // Ten times A's quota (burst plus one second's worth), as fast as it can go; B stays
    // within its own quota (its burst), spread over A's run.
    let calls = 10 * 2 * RATE;
    let b_every = calls / RATE;
    let started = Instant::now();
    let (mut admitted, mut refused) = (0_u32, 0_u32);
    let mut b_calls = 0;
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
        if i % b_every == b_every - 1 {
            b.list_webinars(list("tenant-b"))
                .await
                .expect("tenant B is not slowed by tenant A");
            b_calls += 1;
        }
    }
    assert_eq!(b_calls, RATE);
    let elapsed = started.elapsed();
    // The bucket admits its burst plus RATE per second of the run, never more.
    let allowed = RATE + u32::try_from(elapsed.as_millis()).expect("ms") * RATE / 1000 + 1;
    assert!(refused > 0, "no call refused in {elapsed:?}");
    assert!(
        admitted <= allowed,
        "{admitted} admitted in {elapsed:?}, at most {allowed}"
    );
    harness.stop().await;
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
