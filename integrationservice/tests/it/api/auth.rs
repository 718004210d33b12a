//! Authentication and tenant isolation over real TLS: mTLS identities (URI SAN, CN fallback,
//! unknown CA), JWT bearer tokens (valid, wrong issuer/audience, expired, bad signature), and a
//! tenant-A caller refused on every kind of tenant-B resource.

use tonic::Code;
use xtask::pki::{CertificateAuthority, ClientIdentity};

use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};

use crate::api::harness::{Harness, assert_bad_field, assert_reason, now, with_token};

const B_WEBINAR: &str = "tenants/tenant-b/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a";
const B_REGISTRATION: &str = "tenants/tenant-b/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a/registrations/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5b";

/// A request that passes authorization for `tenant` and then fails validation on `webinar`:
/// INVALID_ARGUMENT proves the caller was let in, PERMISSION_DENIED that it was not.
fn probe(tenant: &str) -> CreateWebinarRequest {
    CreateWebinarRequest {
        parent: format!("tenants/{tenant}"),
        webinar: None,
        request_id: String::new(),
    }
}

#[tokio::test]
async fn tenant_a_cannot_touch_tenant_b() {
    let h = Harness::start().await;
    let channel = h.tenant_a().await;
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let mut registrations = RegistrationServiceClient::new(channel.clone());
    let mut metrics = MetricsServiceClient::new(channel.clone());
    let mut config = ProviderConfigServiceClient::new(channel);
    let denied =
        |status: tonic::Status| assert_reason(&status, Code::PermissionDenied, "TENANT_MISMATCH");

    assert_bad_field(
        &webinars
            .create_webinar(probe("tenant-a"))
            .await
            .expect_err("probe"),
        "webinar",
    );
    denied(
        webinars
            .create_webinar(probe("tenant-b"))
            .await
            .expect_err("create"),
    );
    denied(
        webinars
            .get_webinar(GetWebinarRequest {
                name: B_WEBINAR.into(),
            })
            .await
            .expect_err("get"),
    );
    denied(
        webinars
            .list_webinars(ListWebinarsRequest {
                parent: "tenants/tenant-b".into(),
                ..Default::default()
            })
            .await
            .expect_err("list"),
    );
    denied(
        webinars
            .unlink_webinar(UnlinkWebinarRequest {
                name: B_WEBINAR.into(),
            })
            .await
            .expect_err("unlink"),
    );
    denied(
        registrations
            .get_registration(GetRegistrationRequest {
                name: B_REGISTRATION.into(),
            })
            .await
            .expect_err("get registration"),
    );
    denied(
        registrations
            .list_registrations(ListRegistrationsRequest {
                parent: B_WEBINAR.into(),
                ..Default::default()
            })
            .await
            .expect_err("list registrations"),
    );
    denied(
        registrations
            .cancel_registration(CancelRegistrationRequest {
                name: B_REGISTRATION.into(),
            })
            .await
            .expect_err("cancel"),
    );
    denied(
        registrations
            .forget_person(ForgetPersonRequest {
                parent: "tenants/tenant-b".into(),
                email: "a@b.co".into(),
                ..Default::default()
            })
            .await
            .expect_err("forget"),
    );
    denied(
        metrics
            .list_changes(ListChangesRequest {
                parent: "tenants/tenant-b".into(),
                ..Default::default()
            })
            .await
            .expect_err("changes"),
    );
    denied(
        metrics
            .watch_changes(WatchChangesRequest {
                parent: "tenants/tenant-b".into(),
                ..Default::default()
            })
            .await
            .expect_err("watch"),
    );
    denied(
        config
            .get_on24_credentials(GetOn24CredentialsRequest {
                name: "tenants/tenant-b/on24Credentials".into(),
            })
            .await
            .expect_err("credentials"),
    );
    // Authorization answers before validation: a stranger learns nothing about the fields.
    denied(
        config
            .put_on24_credentials(PutOn24CredentialsRequest {
                on24_credentials: Some(On24Credentials {
                    name: "tenants/tenant-b/on24Credentials".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect_err("put"),
    );
    // And the other way round.
    let mut b = WebinarServiceClient::new(h.tenant_b().await);
    assert_bad_field(
        &b.create_webinar(probe("tenant-b"))
            .await
            .expect_err("probe"),
        "webinar",
    );
    denied(
        b.create_webinar(probe("tenant-a"))
            .await
            .expect_err("b on a"),
    );
    h.stop().await;
}

#[tokio::test]
async fn certificate_identities_map_to_principals() {
    let h = Harness::start().await;
    // CN fallback: no URI SAN, so the principal is `cn:legacy-crm` (allowed tenant-b only).
    let legacy =
        h.ca.client_cert(&ClientIdentity {
            common_name: "legacy-crm".into(),
            uri: None,
            expired: false,
        })
        .expect("cert");
    let mut c = WebinarServiceClient::new(h.mtls(&legacy).await);
    assert_bad_field(
        &c.create_webinar(probe("tenant-b"))
            .await
            .expect_err("allowed"),
        "webinar",
    );
    assert_reason(
        &c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("denied"),
        Code::PermissionDenied,
        "TENANT_MISMATCH",
    );
    // A valid certificate whose identity is not in the policy may do nothing.
    let stranger =
        h.ca.client_cert_for("x", "spiffe://webinar.local/crm/unknown")
            .expect("cert");
    let mut c = WebinarServiceClient::new(h.mtls(&stranger).await);
    assert_eq!(
        c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("denied")
            .code(),
        Code::PermissionDenied
    );
    // No certificate and no token.
    let mut c = WebinarServiceClient::new(h.anonymous().await);
    assert_eq!(
        c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("anonymous")
            .code(),
        Code::Unauthenticated
    );
    // A certificate from another CA with tenant A's identity never gets in.
    let other = CertificateAuthority::new("rogue CA").expect("CA");
    let forged = other
        .client_cert_for("crm-a", crate::api::harness::URI_A)
        .expect("cert");
    let endpoint = tonic::transport::Channel::from_shared(format!("https://{}", h.grpc))
        .expect("uri")
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&h.ca.cert_pem))
                .domain_name("localhost")
                .identity(tonic::transport::Identity::from_pem(
                    &forged.cert_pem,
                    &forged.key_pem,
                )),
        )
        .expect("tls");
    if let Ok(channel) = endpoint.connect().await {
        let status = WebinarServiceClient::new(channel)
            .create_webinar(probe("tenant-a"))
            .await
            .expect_err("forged certificate refused");
        assert_ne!(
            status.code(),
            Code::InvalidArgument,
            "forged certificate was let in"
        );
        assert_ne!(
            status.code(),
            Code::PermissionDenied,
            "forged certificate reached authorization"
        );
    }
    h.stop().await;
}

/// The identity rules both services share, over real mTLS: a CN that spells a SPIFFE id is
/// not that id, two URI SANs are refused, a `jwt:` URI SAN is not the token principal, and
/// `crm*` stops at a path segment.
#[tokio::test]
async fn strict_certificate_identities() {
    let h = Harness::start().await;
    let unauthenticated = |status: tonic::Status, what: &str| {
        assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}")
    };
    let posing =
        h.ca.client_cert_with_uris(super::harness::URI_A, &[])
            .expect("cert");
    let mut c = WebinarServiceClient::new(h.mtls(&posing).await);
    unauthenticated(
        c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("CN-only certificate"),
        "spiffe-looking CN",
    );
    let two =
        h.ca.client_cert_with_uris("x", &[super::harness::URI_A, super::harness::URI_B])
            .expect("cert");
    let mut c = WebinarServiceClient::new(h.mtls(&two).await);
    unauthenticated(
        c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("two URI SANs"),
        "two URI SANs",
    );
    // `jwt:crm-a` may act for tenant-a; a certificate saying so is not that principal.
    let jwt =
        h.ca.client_cert_with_uris("x", &["jwt:crm-a"])
            .expect("cert");
    let mut c = WebinarServiceClient::new(h.mtls(&jwt).await);
    let status = c
        .create_webinar(probe("tenant-a"))
        .await
        .expect_err("jwt: URI SAN");
    assert_ne!(status.code(), Code::InvalidArgument, "let in as jwt:crm-a");
    unauthenticated(status, "jwt: URI SAN");
    // `spiffe://webinar.local/crm*` (tenant-c): crm and below, never crm-evil.
    for (uri, allowed) in [
        ("spiffe://webinar.local/crm", true),
        ("spiffe://webinar.local/crm/partner", true),
        ("spiffe://webinar.local/crm-evil", false),
    ] {
        let cert = h.ca.client_cert_for("x", uri).expect("cert");
        let mut c = WebinarServiceClient::new(h.mtls(&cert).await);
        let status = c.create_webinar(probe("tenant-c")).await.expect_err(uri);
        if allowed {
            assert_bad_field(&status, "webinar");
        } else {
            assert_reason(&status, Code::PermissionDenied, "TENANT_MISMATCH");
        }
    }
    h.stop().await;
}

#[tokio::test]
async fn bearer_tokens_are_verified() {
    let h = Harness::start().await;
    let channel = h.anonymous().await;
    let client = |token: &str| WebinarServiceClient::new(with_token(channel.clone(), token));

    let good = h.token(Harness::claims("crm-a"));
    assert_bad_field(
        &client(&good)
            .create_webinar(probe("tenant-a"))
            .await
            .expect_err("in"),
        "webinar",
    );
    assert_reason(
        &client(&good)
            .create_webinar(probe("tenant-b"))
            .await
            .expect_err("other tenant"),
        Code::PermissionDenied,
        "TENANT_MISMATCH",
    );

    let mut claims = Harness::claims("crm-a");
    claims["iss"] = "https://evil.test".into();
    let wrong_issuer = h.token(claims);
    let mut claims = Harness::claims("crm-a");
    claims["aud"] = "someone-else".into();
    let wrong_audience = h.token(claims);
    let mut claims = Harness::claims("crm-a");
    claims["exp"] = (now() - 120).into();
    let expired = h.token(claims);
    let mut claims = Harness::claims("crm-a");
    claims.as_object_mut().expect("object").remove("sub");
    let no_subject = h.token(claims);
    // Same kid, different key: the signature does not verify.
    let other = CertificateAuthority::new("other").expect("CA");
    let other_key = other.client_cert_for("k", "spiffe://k").expect("key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let bad_signature = jsonwebtoken::encode(
        &header,
        &Harness::claims("crm-a"),
        &jsonwebtoken::EncodingKey::from_ec_pem(other_key.key_pem.as_bytes()).expect("key"),
    )
    .expect("sign");
    // A symmetric token must never be accepted, whatever its secret.
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Harness::claims("crm-a"),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .expect("sign");

    for (name, token) in [
        ("wrong issuer", wrong_issuer),
        ("wrong audience", wrong_audience),
        ("expired", expired),
        ("no subject", no_subject),
        ("bad signature", bad_signature),
        ("hmac", hmac),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let status = client(&token)
            .create_webinar(probe("tenant-a"))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn readiness_follows_the_key_service() {
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let mut h = Harness::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.health))
        .expect("uri")
        .connect()
        .await
        .expect("health port");
    let health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = || {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .expect("check")
                .into_inner()
                .status
        }
    };
    testkit::eventually(
        "ready with database and key service",
        std::time::Duration::from_secs(10),
        || async { status().await == ServingStatus::Serving as i32 },
    )
    .await;
    // The key service goes away: the next probe (every 5 s) reports NOT_SERVING.
    drop(h.keyservice.take());
    testkit::eventually(
        "unready without the key service",
        std::time::Duration::from_secs(15),
        || async { status().await == ServingStatus::NotServing as i32 },
    )
    .await;
    h.stop().await;
}

/// Serves `body` as JSON to every HTTP request on a loopback port (a JWKS endpoint).
async fn serve_json(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn jwks_can_come_from_a_url() {
    // The JWKS of a key that is not the harness's: only tokens signed by it are accepted.
    let idp = CertificateAuthority::new("idp").expect("CA");
    let key_pem = idp.client_cert_for("k", "spiffe://k").expect("key").key_pem;
    let signing = jsonwebtoken::EncodingKey::from_ec_pem(key_pem.as_bytes()).expect("key");
    let mut jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&signing, jsonwebtoken::Algorithm::ES256)
            .expect("jwk");
    jwk.common.key_id = Some("url-key".into());
    let url = serve_json(serde_json::json!({ "keys": [jwk] }).to_string()).await;
    let ca = CertificateAuthority::new("api test CA").expect("CA");
    let h = Harness::launch(ca, move |c| {
        c.jwt.jwks_file = std::path::PathBuf::new();
        c.jwt.jwks_url = url;
    })
    .await;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("url-key".into());
    let token = jsonwebtoken::encode(&header, &Harness::claims("crm-a"), &signing).expect("sign");
    let channel = h.anonymous().await;
    let mut c = WebinarServiceClient::new(with_token(channel.clone(), &token));
    assert_bad_field(
        &c.create_webinar(probe("tenant-a")).await.expect_err("in"),
        "webinar",
    );
    // The harness's own file key is not in this JWKS.
    let other = h.token(Harness::claims("crm-a"));
    let mut c = WebinarServiceClient::new(with_token(channel, &other));
    assert_eq!(
        c.create_webinar(probe("tenant-a"))
            .await
            .expect_err("unknown key")
            .code(),
        Code::Unauthenticated
    );
    h.stop().await;
}

#[tokio::test]
async fn a_watch_stream_ends_when_its_bearer_token_expires() {
    let h = Harness::start().await;
    let lifetime = 3;
    let mut claims = Harness::claims("crm-a");
    claims["exp"] = serde_json::json!(now() + lifetime);
    let token = h.token(claims);
    let mut metrics = MetricsServiceClient::new(with_token(h.anonymous().await, &token));
    let opened = std::time::Instant::now();
    let mut stream = metrics
        .watch_changes(WatchChangesRequest {
            parent: "tenants/tenant-a".into(),
            ..Default::default()
        })
        .await
        .expect("the token is valid when the watch opens")
        .into_inner();
    // Heartbeats come every 30 s, so nothing but the expiry ends the stream this early.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(lifetime + 10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the stream ended within 10 s of the token's expiry")
    .expect("the stream ended with a status, not a clean close");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(
        opened.elapsed() >= std::time::Duration::from_secs(lifetime - 1),
        "ended before the token expired: {:?}",
        opened.elapsed()
    );
    h.stop().await;
}
