//! Caller identities over real mTLS: exactly one URI SAN names the caller; a certificate
//! with only a CN (even a SPIFFE-looking one) or with two URI SANs is refused; policy
//! wildcards stop at path segments; common names only where `tls.allow_common_name` is on.

use proto::keyservice::v1::{ListKeysRequest, key_admin_service_client::KeyAdminServiceClient};
use tonic::Code;
use xtask::pki::IssuedCertificate;

use crate::support::{ADMIN, TestDb, TestService};

async fn list_keys(service: &TestService, cert: &IssuedCertificate) -> Result<(), tonic::Status> {
    let channel = service.channel_with(Some(cert)).await.expect("connect");
    KeyAdminServiceClient::new(channel)
        .list_keys(ListKeysRequest::default())
        .await
        .map(|_| ())
}

fn refused(result: Result<(), tonic::Status>, what: &str) {
    match result {
        Err(status) => assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}"),
        Ok(()) => panic!("{what}: let in"),
    }
}

#[tokio::test]
async fn certificates_name_exactly_one_principal_or_none() {
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;
    let ok = service.cert_for(ADMIN);
    list_keys(&service, &ok).await.expect("the admin's URI SAN");
    // A CN that spells the admin's SPIFFE id: refused, not the admin.
    let posing = service.ca.client_cert_with_uris(ADMIN, &[]).expect("cert");
    refused(list_keys(&service, &posing).await, "CN-only certificate");
    // Two URI SANs, the admin's second: refused, not read by either.
    let two = service
        .ca
        .client_cert_with_uris("x", &["spiffe://webinar.local/crm/demo", ADMIN])
        .expect("cert");
    refused(list_keys(&service, &two).await, "two URI SANs");
    let two = service
        .ca
        .client_cert_with_uris("x", &[ADMIN, "spiffe://webinar.local/crm/demo"])
        .expect("cert");
    refused(list_keys(&service, &two).await, "two URI SANs, admin first");
    // A URI SAN in a reserved namespace is no principal at all.
    let jwt = service
        .ca
        .client_cert_with_uris("x", &["jwt:admin"])
        .expect("cert");
    refused(list_keys(&service, &jwt).await, "jwt: URI SAN");
    let audit = std::fs::read_to_string(&service.audit_path).expect("audit");
    assert!(
        audit.contains("\"identity\":\"unidentified\""),
        "refusals are audited"
    );
    service.stop().await;
}

#[tokio::test]
async fn wildcards_stop_at_segments_and_common_names_need_opting_in() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\nidentity = \"spiffe://webinar.local/crm*\"\noperations = [\"admin:*\"]\nkeys = [\"*\"]\n\
         [[rule]]\nidentity = \"cn:batch-job\"\noperations = [\"admin:*\"]\nkeys = [\"*\"]\n",
    )
    .expect("policy");
    let service = TestService::start(&db, |config| {
        config.policy.file = policy.clone();
        config.tls.allow_common_name = true;
    })
    .await;
    let cert = |uri: &str| service.cert_for(uri);
    list_keys(&service, &cert("spiffe://webinar.local/crm"))
        .await
        .expect("crm itself");
    list_keys(&service, &cert("spiffe://webinar.local/crm/tenant-a"))
        .await
        .expect("below crm");
    let evil = list_keys(&service, &cert("spiffe://webinar.local/crm-evil")).await;
    assert_eq!(
        evil.map_err(|s| s.code()),
        Err(Code::PermissionDenied),
        "crm* must not match crm-evil"
    );
    let batch = service
        .ca
        .client_cert_with_uris("batch-job", &[])
        .expect("cert");
    list_keys(&service, &batch)
        .await
        .expect("cn:batch-job where common names are allowed");
    // Still: a CN that looks like a URI never becomes one.
    let posing = service
        .ca
        .client_cert_with_uris("spiffe://webinar.local/crm", &[])
        .expect("cert");
    refused(list_keys(&service, &posing).await, "URI-looking CN");
    service.stop().await;
}
