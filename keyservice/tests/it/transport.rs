//! The transport rules: only TLS 1.3 clients with a certificate from the configured CA that
//! is currently valid get to call anything; health answers on its own plaintext port; the
//! mTLS port serves reflection.

use std::sync::Arc;

use proto::keyservice::v1::{GetKeyRequest, key_admin_service_client::KeyAdminServiceClient};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tonic::transport::Endpoint;
use xtask::pki::{CertificateAuthority, IssuedCertificate};

use crate::support::{ADMIN, KEY, TestDb, TestService, create_key, expired_cert};

/// Connects and makes one admin call; true when the call succeeded.
async fn admin_call_succeeds(service: &TestService, client: Option<&IssuedCertificate>) -> bool {
    // With TLS 1.3 the client finishes its handshake before the server has checked the
    // client certificate, so the refusal shows either at connect or at the first call.
    let Ok(channel) = service.channel_with(client).await else {
        return false;
    };
    KeyAdminServiceClient::new(channel)
        .get_key(GetKeyRequest { name: KEY.into() })
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_valid_client_certificates_from_our_ca_get_in() {
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;
    create_key(&service).await;

    let good = service.cert_for(ADMIN);
    assert!(
        admin_call_succeeds(&service, Some(&good)).await,
        "control: a valid cert works"
    );
    assert!(
        !admin_call_succeeds(&service, None).await,
        "no client certificate"
    );
    let other_ca = CertificateAuthority::new("someone else's CA").expect("ca");
    let foreign = other_ca.client_cert_for("admin", ADMIN).expect("cert");
    assert!(
        !admin_call_succeeds(&service, Some(&foreign)).await,
        "cert from another CA"
    );
    let expired = expired_cert(&service.ca, ADMIN);
    assert!(
        !admin_call_succeeds(&service, Some(&expired)).await,
        "expired cert"
    );
    service.stop().await;
}

fn rustls_client(
    service: &TestService,
    client: &IssuedCertificate,
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut service.ca.cert_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let chain: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut client.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("cert pem");
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut client.key_pem.as_bytes())
        .expect("key pem")
        .expect("a key");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .expect("client auth");
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

async fn handshake(service: &TestService, config: rustls::ClientConfig) -> std::io::Result<()> {
    let tcp = TcpStream::connect(service.addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await?;
    // Under TLS 1.3 a refused client certificate arrives as an alert after the handshake.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
    let mut buf = [0u8; 9];
    tls.read_exact(&mut buf).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_clients_are_refused() {
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;
    let client = service.cert_for(ADMIN);
    handshake(
        &service,
        rustls_client(&service, &client, &rustls::version::TLS13),
    )
    .await
    .expect("control: the same client over TLS 1.3 is served");
    let refused = handshake(
        &service,
        rustls_client(&service, &client, &rustls::version::TLS12),
    )
    .await;
    assert!(refused.is_err(), "a TLS 1.2-only client must be refused");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_port_serves_and_reflection_lists_services() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;

    let plain = Endpoint::from_shared(format!("http://{}", service.health_addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("plaintext health port");
    let mut health = HealthClient::new(plain);
    for name in [
        "",
        "keyservice.v1.KeyService",
        "keyservice.v1.KeyAdminService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{name:?}");
    }

    let mut reflection = ServerReflectionClient::new(service.channel(ADMIN).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("stream")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"keyservice.v1.KeyService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"keyservice.v1.KeyAdminService".to_owned()),
        "{names:?}"
    );

    service.stop().await;
}

/// Graceful shutdown tells probes first: by the time the mTLS port stops accepting
/// connections, the plaintext health port already answers NOT_SERVING (for the server and
/// each service), and it keeps answering while in-flight calls drain. A load balancer that
/// polls health therefore never sees SERVING from a replica that refuses connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_not_serving_before_the_listener_closes() {
    use std::time::Duration;
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    const SERVICES: [&str; 3] = [
        "",
        "keyservice.v1.KeyService",
        "keyservice.v1.KeyAdminService",
    ];
    let db = TestDb::sqlite();
    let service = TestService::start(&db, |_| {}).await;
    let plain = Endpoint::from_shared(format!("http://{}", service.health_addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("plaintext health port");
    let mut probe = HealthClient::new(plain);
    // A call in flight on the mTLS port (an open Watch stream) keeps the server draining, as
    // a slow unwrap would, so the health port must stay up after the listener has closed.
    let mut in_flight = HealthClient::new(service.channel(ADMIN).await)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch on the mTLS port")
        .into_inner();
    let first = in_flight.message().await.expect("watch stream");
    assert_eq!(first.map(|m| m.status), Some(ServingStatus::Serving as i32));
    for name in SERVICES {
        let serving = health_of(&mut probe, name).await;
        assert_eq!(
            serving,
            Ok(ServingStatus::Serving as i32),
            "{name:?} before shutdown"
        );
    }

    service.shutdown.cancel();
    // Wait for the mTLS listener to close (a new TCP connection is refused)...
    testkit::eventually_every(
        "the mTLS listener to refuse connections after shutdown was requested",
        Duration::from_secs(10),
        Duration::from_millis(2),
        || async { TcpStream::connect(service.addr).await.is_err() },
    )
    .await;
    // ...and by then the health port must already have flipped.
    for name in SERVICES {
        let answer = health_of(&mut probe, name).await;
        assert_eq!(
            answer,
            Ok(ServingStatus::NotServing as i32),
            "{name:?} once the mTLS listener is closed"
        );
    }
    // The call in flight was told as well, over its own connection.
    let update = tokio::time::timeout(Duration::from_secs(5), in_flight.message())
        .await
        .expect("the watcher hears of the shutdown")
        .expect("watch stream still open");
    assert_eq!(
        update.map(|m| m.status),
        Some(ServingStatus::NotServing as i32)
    );
    drop(in_flight);
    service.stop().await;
}

/// The status a health server reports for `service`, or the code of the failed call.
async fn health_of(
    client: &mut tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Result<i32, tonic::Code> {
    client
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|s| s.code())
}
