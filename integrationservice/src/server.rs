//! Assembles and runs the service: TLS gRPC for the CRM (authenticated by the interceptor),
//! gRPC reflection, and a plaintext health port. One cancellation token stops everything:
//! health turns NOT_SERVING first, then the servers drain in-flight calls.

use std::{sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{service::interceptor::InterceptedService, transport::Server};

use proto::webinar::v1::{
    metrics_service_server::MetricsServiceServer,
    provider_config_service_server::ProviderConfigServiceServer,
    registration_service_server::RegistrationServiceServer,
    webinar_service_server::WebinarServiceServer,
};

use crate::{
    api::{
        ApiState, metrics::MetricsApi, page_token::PageTokens, provider_config::ProviderConfigApi,
        registrations::RegistrationApi, webinars::WebinarApi,
    },
    auth::{Authenticator, Authorizer, JwtVerifier, TenantPolicy, tls::server_tls},
    config::{Config, ListenConfig},
};

/// Largest request accepted (a batch of 1,000 registrations with long notes fits).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Already-bound sockets, so tests can bind `127.0.0.1:0`.
#[derive(Debug)]
pub struct Listeners {
    /// TLS gRPC.
    pub grpc: TcpListener,
    /// Plaintext health.
    pub health: TcpListener,
}

impl Listeners {
    /// Binds the configured addresses.
    pub async fn bind(config: &ListenConfig) -> std::io::Result<Self> {
        Ok(Self {
            grpc: TcpListener::bind(config.grpc).await?,
            health: TcpListener::bind(config.health).await?,
        })
    }
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Bad configuration or unreadable files; the message names the key.
    #[error("{0}")]
    Setup(String),
    /// The gRPC transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

fn setup(e: impl std::fmt::Display) -> ServerError {
    ServerError::Setup(e.to_string())
}

/// Runs the service until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    config.validate().map_err(setup)?;
    let jwt = if config.jwt.enabled() {
        let verifier = JwtVerifier::from_config(&config.jwt).await.map_err(setup)?;
        if !config.jwt.jwks_url.is_empty() {
            verifier.spawn_refresh(
                config.jwt.jwks_url.clone(),
                Duration::from_secs(config.jwt.jwks_refresh_seconds.max(10)),
                shutdown.clone(),
            );
        }
        Some(verifier)
    } else {
        None
    };
    let policy =
        TenantPolicy::load(&config.auth.policy_file, config.auth.allow_wildcard).map_err(setup)?;
    let tokens = if config.api.page_token_key_file.as_os_str().is_empty() {
        tracing::warn!(
            "api.page_token_key_file is not set: page tokens are valid in this process only"
        );
        PageTokens::random()
    } else {
        PageTokens::from_file(&config.api.page_token_key_file).map_err(setup)?
    };
    let state = Arc::new(ApiState {
        authz: Authorizer::new(policy),
        tokens,
        allow_http: config.on24.allow_http,
    });
    let authn = Authenticator::new(jwt, !config.tls.client_ca_file.as_os_str().is_empty());

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::webinar::v1::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(setup)?;

    let grpc = Server::builder()
        .tls_config(server_tls(&config.tls).map_err(setup)?)?
        .timeout(Duration::from_secs(60))
        .concurrency_limit_per_connection(256)
        .add_service(InterceptedService::new(
            ProviderConfigServiceServer::new(ProviderConfigApi::new(state.clone())),
            authn.clone(),
        ))
        .add_service(InterceptedService::new(
            WebinarServiceServer::new(WebinarApi::new(state.clone())),
            authn.clone(),
        ))
        .add_service(InterceptedService::new(
            RegistrationServiceServer::new(RegistrationApi::new(state.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            authn.clone(),
        ))
        .add_service(InterceptedService::new(
            MetricsServiceServer::new(MetricsApi::new(state.clone())),
            authn,
        ))
        .add_service(reflection)
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(listeners.grpc),
            shutdown.clone().cancelled_owned(),
        );

    // Readiness: serving once everything above is built. (The database and key-service
    // probes join here when the store and key client land.)
    health
        .set_serving::<ProviderConfigServiceServer<ProviderConfigApi>>()
        .await;
    health
        .set_serving::<WebinarServiceServer<WebinarApi>>()
        .await;
    health
        .set_serving::<RegistrationServiceServer<RegistrationApi>>()
        .await;
    health
        .set_serving::<MetricsServiceServer<MetricsApi>>()
        .await;

    let health_stop = shutdown.clone();
    let health_reporter = health.clone();
    let health_server = Server::builder()
        .add_service(health_service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.health), async move {
            health_stop.cancelled().await;
            // Tell probes first; the gRPC server drains meanwhile.
            health_reporter
                .set_not_serving::<RegistrationServiceServer<RegistrationApi>>()
                .await;
        });
    tracing::info!("integrationservice serving");
    tokio::try_join!(grpc, health_server)?;
    Ok(())
}
