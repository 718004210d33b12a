//! The ON24 egress rule at the API edge: base URLs naming an address, a cluster-internal
//! name, another port or an unknown host are refused as INVALID_ARGUMENT on
//! `on24_credentials.base_url` before any connection, even with a live check.

use proto::webinar::v1::{
    On24Region, PutOn24CredentialsRequest,
    provider_config_service_client::ProviderConfigServiceClient,
};
use tonic::Code;

use super::harness::assert_bad_field;
use super::lifecycle::FullStack;

async fn refused_before_any_connection(database_url: String) {
    let stack = FullStack::start(database_url, |c| c.on24.allow_loopback = false).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let mut creds = ProviderConfigServiceClient::new(stack.h.tenant_a().await);
    for url in [
        "https://169.254.169.254/v2".to_owned(),
        "https://10.0.0.1/v2".to_owned(),
        "https://keyservice.default.svc/v2".to_owned(),
        "https://api.on24.com:8443/v2".to_owned(),
        "https://unknown.example.com/v2".to_owned(),
        format!("https://127.0.0.1:{port}/v2"),
        format!("http://localhost:{port}/v2"),
    ] {
        let mut on24 = stack.credentials();
        on24.base_url = url.clone();
        let status = creds
            .put_on24_credentials(PutOn24CredentialsRequest {
                on24_credentials: Some(on24),
                live_check: true,
                validate_only: true,
            })
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{url}: {status:?}");
        assert_bad_field(&status, "on24_credentials.base_url");
    }
    // The service answered every request above before this check, so a connection would be
    // queued already.
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached the listener"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_urls_outside_the_allowlist_are_refused_before_any_connection() {
    let db = xtask::testdb::TestSqlite::new().expect("sqlite");
    refused_before_any_connection(db.url.clone()).await;
}

/// An EU-only deployment (`on24.allowed_regions = ["EU"]`): the NA region, the NA host and
/// unknown hosts are refused naming the field; EU by region or by its host is accepted.
async fn eu_only_deployment(database_url: String) {
    let stack = FullStack::start(database_url, |c| {
        c.on24.allow_loopback = false;
        c.on24.allowed_regions = vec![integrationservice::domain::Region::Eu];
    })
    .await;
    let mut creds = ProviderConfigServiceClient::new(stack.h.tenant_a().await);
    let put = |region: On24Region, base_url: &str| {
        let mut on24 = stack.credentials();
        on24.region = region as i32;
        on24.base_url = base_url.to_owned();
        PutOn24CredentialsRequest {
            on24_credentials: Some(on24),
            live_check: false,
            validate_only: true,
        }
    };
    for (request, field) in [
        (put(On24Region::Na, ""), "on24_credentials.region"),
        (put(On24Region::Unspecified, ""), "on24_credentials.region"),
        (
            put(On24Region::Eu, "https://api.on24.com/v2"),
            "on24_credentials.base_url",
        ),
        (
            put(On24Region::Eu, "https://unknown.example.com/v2"),
            "on24_credentials.base_url",
        ),
    ] {
        let status = creds
            .put_on24_credentials(request)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_bad_field(&status, field);
    }
    for request in [
        put(On24Region::Eu, ""),
        put(On24Region::Eu, "https://api.eu.on24.com/v2"),
    ] {
        let accepted = creds
            .put_on24_credentials(request)
            .await
            .expect("EU accepted")
            .into_inner()
            .on24_credentials
            .expect("credentials");
        assert_eq!(accepted.region, On24Region::Eu as i32);
    }
    stack.stop().await;
}

crate::api_both_backends!(eu_only_deployment_refuses_other_regions, eu_only_deployment);
