//! A call still unanswered at its deadline is answered DEADLINE_EXCEEDED by the server, the
//! code gRPC specifies, not tonic's CANCELLED "Timeout expired": clients generated from the
//! protos in any language map codes, not message texts. A tonic client runs its own timer
//! for a deadline it sends, and reports it as CANCELLED itself, so this test sends none and
//! meets the server's cap (`limits.request_timeout_ms`); the caller's `grpc-timeout` is
//! checked through the Python client, whose timer fires after the server's.

use proto::webinar::v1::{
    CheckOn24CredentialsRequest, PutOn24CredentialsRequest,
    provider_config_service_client::ProviderConfigServiceClient,
};
use tonic::Code;

use super::lifecycle::FullStack;

#[tokio::test]
async fn a_call_past_its_deadline_is_answered_deadline_exceeded() {
    let db = xtask::testdb::TestSqlite::new().expect("sqlite");
    let stack = FullStack::start(db.url.clone(), |config| {
        config.limits.request_timeout_ms = 300;
    })
    .await;
    let mut creds = ProviderConfigServiceClient::new(stack.h.tenant_a().await);
    creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(stack.credentials()),
            live_check: false,
            validate_only: false,
        })
        .await
        .expect("put credentials");
    // The live check waits on ON24, which now answers after 3 s; the server gives any call
    // 300 ms.
    stack
        .sim
        .control()
        .set_faults(&on24sim::FaultConfig {
            latency_ms: 3000,
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("latency");
    let status = creds
        .check_on24_credentials(CheckOn24CredentialsRequest {
            name: "tenants/tenant-a/on24Credentials".into(),
        })
        .await
        .expect_err("ON24 answers after the deadline");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    // With ON24 quick again the same call is answered within the cap.
    stack
        .sim
        .control()
        .clear_faults()
        .await
        .expect("no latency");
    creds
        .check_on24_credentials(CheckOn24CredentialsRequest {
            name: "tenants/tenant-a/on24Credentials".into(),
        })
        .await
        .expect("answered in time");
    stack.stop().await;
}
