//! Assembles and runs the service: the engine (store, key-service envelope, ON24 provider,
//! workers), TLS gRPC for the CRM (authenticated by the interceptor, reflection included), and a
//! plaintext health port whose readiness follows the database and the key service. One
//! cancellation token stops everything: health turns NOT_SERVING first, then the servers drain
//! in-flight calls and the workers finish their current jobs.

use std::{sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{service::interceptor::InterceptedService, transport::Server};

use proto::webinar::v1::{
    metrics_service_server::MetricsServiceServer,
    person_data_service_server::PersonDataServiceServer,
    provider_config_service_server::ProviderConfigServiceServer,
    registration_service_server::RegistrationServiceServer,
    tenant_service_server::TenantServiceServer, webinar_service_server::WebinarServiceServer,
};

use tonic_health::{ServingStatus, server::HealthReporter};
use zeroize::Zeroizing;

use crate::{
    api::{
        ApiState, limits::RequestLimits, metrics::MetricsApi, page_token::PageTokens,
        person_data::PersonDataApi, provider_config::ProviderConfigApi,
        registrations::RegistrationApi, tenants::TenantApi, webinars::WebinarApi,
    },
    auth::{Authenticator, Authorizer, CommonNames, JwtVerifier, TenantPolicy, tls::server_tls},
    config::{Config, ListenConfig, TlsVersion},
};
use crate::{
    crypto::{Envelope, cache::DekCache},
    domain::Engine,
    keyclient::{KeyClient, KeyClientConfig},
    provider::on24::On24Provider,
    store::Store,
    workers::{Backoff, MetricsSchedule, WorkerConfig, Workers},
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

/// Applies the database migrations of `config.database` (the `migrate` command).
pub async fn migrate(config: &Config) -> Result<(), ServerError> {
    let store = crate::store::Store::connect(&config.database.url, config.database.max_connections)
        .map_err(|e| ServerError::Setup(format!("`database.url`: {e}")))?;
    store
        .migrate()
        .await
        .map_err(|e| ServerError::Setup(format!("applying migrations: {e}")))
}

/// Runs the service until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    run_observed(config, listeners, shutdown, |_| {}).await
}

/// Like [`run`], handing the assembled engine to `on_engine` before serving (tests observe
/// its signals).
pub async fn run_observed(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
    on_engine: impl FnOnce(&Engine),
) -> Result<(), ServerError> {
    config.validate().map_err(setup)?;
    let jwt = if config.jwt.enabled() {
        let verifier = JwtVerifier::from_config(&config.jwt)
            .await
            .map_err(|e| ServerError::Setup(format!("`jwt.jwks_file`/`jwt.jwks_url`: {e}")))?;
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
    let policy = TenantPolicy::load(&config.auth)
        .map_err(|e| ServerError::Setup(format!("`auth.policy_file`: {e}")))?;
    let tokens = if config.api.page_token_key_file.as_os_str().is_empty() {
        tracing::warn!(
            "api.page_token_key_file is not set: page tokens are valid in this process only"
        );
        PageTokens::random()
    } else {
        PageTokens::from_file(&config.api.page_token_key_file).map_err(setup)?
    };
    // Before anything is served: a sink or key that cannot be used stops the start.
    let audit = crate::audit::AccessAudit::open(&config.audit).map_err(setup)?;
    let engine = assemble(&config).await?;
    on_engine(&engine);
    // Without workers the replica still listens, for its change watchers.
    let workers = if config.workers.enabled {
        Workers::start(engine.clone(), worker_config(&config), shutdown.clone())
    } else {
        Workers::listen_for_changes(&engine, shutdown.clone())
    };
    let state = Arc::new(ApiState {
        authz: Authorizer::new(policy),
        tokens,
        limits: RequestLimits::new(&config.limits),
        egress: config.on24.egress(),
        engine: engine.clone(),
        audit,
        shutdown: shutdown.clone(),
    });
    // Quiet tenants' and callers' buckets are dropped now and then.
    {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(60)) => state.limits.shrink(),
                }
            }
        });
    }
    let authn = Authenticator::new(jwt, !config.tls.client_ca_file.as_os_str().is_empty())
        .common_names(CommonNames::accept_if(config.auth.allow_common_name));

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::webinar::v1::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(setup)?;

    let tls = server_tls(&config.tls).map_err(setup)?;
    if config.tls.min_version == TlsVersion::V1_2 {
        tracing::warn!("tls.min_version is 1.2: the CRM port also accepts TLS 1.2 clients");
    }
    let grpc = Server::builder()
        .concurrency_limit_per_connection(256)
        .layer(servicekit::telemetry::GrpcServerTraceLayer::new())
        // Inside the trace layer, so a call that runs out of time is traced with its code.
        .layer(servicekit::deadline::DeadlineLayer::new(
            Duration::from_millis(config.limits.request_timeout_ms),
        ))
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
            authn.clone(),
        ))
        .add_service(InterceptedService::new(
            PersonDataServiceServer::new(PersonDataApi::new(state.clone())),
            authn.clone(),
        ))
        .add_service(InterceptedService::new(
            TenantServiceServer::new(TenantApi::new(state.clone())),
            authn.clone(),
        ))
        // Reflection describes the API to authenticated callers only: an anonymous peer
        // learns nothing about the service it reached.
        .add_service(InterceptedService::new(reflection, authn))
        .serve_with_incoming_shutdown(
            // The accept loop sets TCP_NODELAY: answers go out as several small writes, and
            // with Nagle's algorithm on each waits for the peer's delayed ACK (40 ms on Linux).
            servicekit::tls::tls_incoming(listeners.grpc, tls, shutdown.clone()),
            shutdown.clone().cancelled_owned(),
        );

    crate::workers::gauges::spawn_store_gauges(
        engine.store().clone(),
        Duration::from_secs(10),
        shutdown.clone(),
    );
    tokio::spawn(readiness(
        health.clone(),
        engine.store().clone(),
        config.keyservice.endpoint.clone(),
        shutdown.clone(),
    ));

    let health_stop = shutdown.clone();
    let health_reporter = health.clone();
    let health_server = Server::builder()
        .add_service(health_service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.health), async move {
            health_stop.cancelled().await;
            // Tell probes first; the gRPC server drains meanwhile.
            health_reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
        });
    tracing::info!("integrationservice serving");
    let served = tokio::try_join!(grpc, health_server);
    workers.join().await;
    served?;
    Ok(())
}

fn read(key: &str, path: &std::path::Path) -> Result<String, ServerError> {
    std::fs::read_to_string(path)
        .map_err(|e| ServerError::Setup(format!("`{key}` ({}): {e}", path.display())))
}

/// Opens the store (migrating if configured), the key-service envelope and the ON24 provider.
pub async fn assemble(config: &Config) -> Result<Engine, ServerError> {
    let store =
        Store::connect(&config.database.url, config.database.max_connections).map_err(setup)?;
    if config.database.migrate_on_start {
        store.migrate().await.map_err(setup)?;
    }
    let ks = &config.keyservice;
    let keys = KeyClient::connect_lazy(&KeyClientConfig {
        endpoint: ks.endpoint.clone(),
        domain_name: (!ks.server_name.is_empty()).then(|| ks.server_name.clone()),
        ca_pem: read("keyservice.ca_file", &ks.ca_file)?,
        cert_pem: read("keyservice.cert_file", &ks.cert_file)?,
        key_pem: Zeroizing::new(read("keyservice.key_file", &ks.key_file)?),
        key_name: format!("keys/{}", ks.key_id),
        timeout: Duration::from_millis(ks.timeout_ms),
    })
    .map_err(setup)?;
    let cache = DekCache::new(
        config.dek_cache.max_entries,
        Duration::from_secs(config.dek_cache.max_age_seconds),
    );
    let provider =
        On24Provider::with_request_timeout(Duration::from_millis(config.on24.request_timeout_ms))
            .with_egress(config.on24.egress());
    let engine = Engine::new(store, Envelope::new(keys, cache), Arc::new(provider))
        .with_retention(config.retention.defaults())
        .with_key_generation_limit(
            config.limits.credential_puts_per_minute,
            config.limits.credential_put_burst,
        );
    if config.database.benchmark_plaintext_personal_data {
        tracing::warn!(
            "database.benchmark_plaintext_personal_data is on: personal data is stored in \
             clear; this is for benchmarks only"
        );
        return Ok(engine.without_field_encryption_for_benchmark());
    }
    Ok(engine)
}

/// The workers' settings from the configuration.
pub fn worker_config(config: &Config) -> WorkerConfig {
    let w = &config.workers;
    let m = &config.metrics_poll;
    let secs = Duration::from_secs;
    // Live attendance twice (first and last freshness point), then on-demand viewing every
    // `archive_interval` until `archive_window` after the end.
    let mut after_end = Vec::new();
    if m.enabled {
        after_end.push(secs(m.live_first_delay_seconds));
        after_end.push(secs(
            m.live_last_delay_seconds.max(m.live_first_delay_seconds),
        ));
        let mut at = m.live_last_delay_seconds + m.archive_interval_seconds.max(60);
        while at <= m.archive_window_seconds {
            after_end.push(secs(at));
            at += m.archive_interval_seconds.max(60);
        }
    }
    WorkerConfig {
        concurrency: w.concurrency,
        per_tenant_concurrency: w.per_tenant_concurrency,
        lease: secs(w.lease_seconds),
        poll_interval: Duration::from_millis(w.poll_interval_ms.max(10)),
        backoff: Backoff {
            base: Duration::from_millis(w.backoff_base_ms),
            max: Duration::from_millis(w.backoff_max_ms),
        },
        metrics: MetricsSchedule {
            after_end,
            long_tail: if m.enabled {
                secs(u64::from(m.long_tail_days) * 86_400)
            } else {
                Duration::ZERO
            },
            long_tail_max_gap: secs(u64::from(m.long_tail_max_interval_days.max(1)) * 86_400),
        },
        metrics_poll_interval: secs(m.tick_seconds.max(1)),
        purge_interval: (config.retention.interval_seconds > 0)
            .then(|| secs(config.retention.interval_seconds)),
        ..WorkerConfig::default()
    }
}

/// Keeps the overall health status (`""`) at SERVING only while the database answers and the
/// key service accepts connections.
async fn readiness(
    health: HealthReporter,
    store: Store,
    keyservice: String,
    shutdown: CancellationToken,
) {
    let authority = keyservice
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_owned()));
    loop {
        let db = store.ping().await;
        let keys = match &authority {
            Some(addr) => matches!(
                tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::net::TcpStream::connect(addr.as_str())
                )
                .await,
                Ok(Ok(_))
            ),
            None => false,
        };
        let status = if db && keys {
            ServingStatus::Serving
        } else {
            tracing::warn!(database = db, keyservice = keys, "not ready");
            ServingStatus::NotServing
        };
        if shutdown.is_cancelled() {
            return;
        }
        health.set_service_status("", status).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
