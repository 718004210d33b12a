//! The CRM port's transport: TLS 1.3 only unless `tls.min_version` allows 1.2, and server
//! reflection only for authenticated callers.

use std::sync::Arc;

use integrationservice::config::TlsVersion;
use tonic::Code;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};
use xtask::pki::CertificateAuthority;

use super::harness::Harness;

/// Completes a TLS handshake with the service as a client speaking only `version` (no client
/// certificate: the port accepts anonymous TLS and refuses such calls later).
async fn handshake(
    h: &Harness,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut h.ca.cert_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let addr = h.grpc;
    tokio::task::spawn_blocking(move || {
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
        let mut tcp = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .await
    .expect("handshake task")
}

#[tokio::test]
async fn tls_1_2_clients_are_refused_by_default() {
    let h = Harness::start().await;
    // The server task may still be starting: wait until a TLS 1.3 client gets through.
    testkit::eventually(
        "a TLS 1.3 handshake (control)",
        std::time::Duration::from_secs(5),
        || async { handshake(&h, &rustls::version::TLS13).await.ok() },
    )
    .await;
    let refused = handshake(&h, &rustls::version::TLS12).await;
    assert!(refused.is_err(), "a TLS 1.2-only client was served");
    h.stop().await;
}

#[tokio::test]
async fn tls_1_2_is_accepted_when_configured() {
    let ca = CertificateAuthority::new("api test CA").expect("CA");
    let h = Harness::launch(ca, |c| c.tls.min_version = TlsVersion::V1_2).await;
    testkit::eventually(
        "a TLS 1.2 handshake",
        std::time::Duration::from_secs(5),
        || async { handshake(&h, &rustls::version::TLS12).await.ok() },
    )
    .await;
    h.stop().await;
}

/// Asks server reflection for the list of services.
async fn list_services(channel: tonic::transport::Channel) -> Result<Vec<String>, tonic::Status> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let answer = answers
        .message()
        .await?
        .and_then(|a| a.message_response)
        .ok_or_else(|| tonic::Status::internal("no answer"))?;
    match answer {
        MessageResponse::ListServicesResponse(list) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(tonic::Status::internal(format!("unexpected {other:?}"))),
    }
}

#[tokio::test]
async fn reflection_needs_an_authenticated_caller() {
    let h = Harness::start().await;
    let anonymous = list_services(h.anonymous().await)
        .await
        .expect_err("an anonymous caller listed the services");
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    let services = list_services(h.tenant_a().await)
        .await
        .expect("an authenticated caller lists the services");
    assert!(
        services.iter().any(|s| s == "webinar.v1.WebinarService"),
        "{services:?}"
    );
    h.stop().await;
}
