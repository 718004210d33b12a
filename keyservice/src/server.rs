//! Starts the key service on already-bound listeners: the mTLS gRPC port (KeyService,
//! KeyAdminService, reflection, health) and the plaintext health port; runs automatic rotation in the
//! background; on shutdown marks health NOT_SERVING, stops accepting, drains, and returns.

use std::{sync::Arc, time::Duration};

use proto::keyservice::v1::{
    FILE_DESCRIPTOR_SET, key_admin_service_server::KeyAdminServiceServer,
    key_service_server::KeyServiceServer,
};
use servicekit::identity::CommonNames;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Server};
use tonic_health::ServingStatus;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::{
    api::{Edge, KeyAdminApi, KeyServiceApi},
    audit::{AuditEvent, AuditKeys, AuditLog, Outcome},
    authz::{Operation, Policy},
    config::Config,
    domain::{DomainSettings, KeyManager},
    hardening::RateLimit,
    store::Store,
    tls::{TlsPaths, server_config, tls_incoming},
};

/// How long in-flight requests may take to finish after shutdown is requested.
const DRAIN_GRACE: Duration = Duration::from_secs(20);

/// Why the service could not start or stopped with an error. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A configuration-derived resource could not be loaded (policy, TLS, audit, keys).
    #[error("{0}")]
    Setup(String),
    /// The domain layer failed to open (database or root key).
    #[error("key manager: {0}")]
    Domain(#[from] crate::domain::Error),
    /// A gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

fn setup<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ServeError {
    move |e| ServeError::Setup(format!("{what}: {e}"))
}

/// The two bound sockets the service serves on.
#[derive(Debug)]
pub struct Listeners {
    /// mTLS gRPC.
    pub main: TcpListener,
    /// Plaintext `grpc.health.v1`.
    pub health: TcpListener,
}

impl Listeners {
    /// Binds the addresses of `[listen]`.
    pub async fn bind(config: &Config) -> std::io::Result<Self> {
        Ok(Self {
            main: TcpListener::bind(config.listen.main).await?,
            health: TcpListener::bind(config.listen.health).await?,
        })
    }
}

/// Opens the store (running migrations) and the root key, then the key manager. Used by
/// `serve` and `init`.
pub async fn open_manager(
    config: &Config,
    settings: DomainSettings,
) -> Result<KeyManager, ServeError> {
    let (store, root) = open_store_and_root(config).await?;
    Ok(KeyManager::open(store, root, settings).await?)
}

/// Opens the store (running migrations) and the root key.
async fn open_store_and_root(
    config: &Config,
) -> Result<(Store, Arc<dyn crate::rootkey::RootKey>), ServeError> {
    let url = config.database.url.clone();
    let pool = config.database.pool_size;
    let source = config.root_key.source.clone();
    let allow_group_read = config.root_key.allow_group_read;
    // Both may block (file I/O, PKCS#11 login, migrations).
    tokio::task::spawn_blocking(move || {
        let store = Store::open(&url, pool).map_err(setup("database"))?;
        let root = crate::rootkey::open_with(&source, allow_group_read)
            .map_err(setup("root_key.source"))?;
        Ok::<_, ServeError>((store, root))
    })
    .await
    .map_err(setup("startup task"))?
}

/// Runs the service until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    config.validate().map_err(setup("configuration"))?;
    let common_names = CommonNames::accept_if(config.tls.allow_common_name);
    let policy =
        Arc::new(Policy::load(&config.policy.file, common_names).map_err(setup("policy.file"))?);
    let tls = server_config(&TlsPaths {
        cert: &config.tls.cert,
        key: &config.tls.key,
        client_ca: &config.tls.client_ca,
    })
    .map_err(setup("tls"))?;
    let (store, root) = open_store_and_root(&config).await?;
    let keys = AuditKeys::load(
        &config.audit.key,
        &config.audit.hmac_key,
        Some(root.as_ref()),
    )
    .map_err(setup("audit.key"))?;
    let sink = config.audit_sink().map_err(setup("audit"))?;
    let audit = Arc::new(
        AuditLog::open(
            &sink,
            &keys,
            &config.audit_instance(),
            config.audit_checkpoints(),
        )
        .map_err(setup("audit.sink"))?,
    );
    drop(keys);
    let settings = DomainSettings {
        // Rotation runs here, so that it is audited; see `rotation_task`.
        maintenance_interval: None,
        max_batch_items: config.limits.max_batch_items,
        min_deletion_waiting_period: Duration::from_secs(config.rotation.min_deletion_waiting_secs),
        ..DomainSettings::default()
    };
    let manager = KeyManager::open(store, root, settings).await?;
    let rate = RateLimit::new(config.limits.rate_per_second, config.limits.rate_burst);
    let edge = Edge::new(
        manager.clone(),
        policy,
        audit.clone(),
        rate.clone(),
        config.limits.max_batch_items,
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<KeyServiceServer<KeyServiceApi>>()
        .await;
    health
        .set_serving::<KeyAdminServiceServer<KeyAdminApi>>()
        .await;
    health.set_service_status("", ServingStatus::Serving).await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(setup("reflection"))?;

    let max_bytes = config.limits.max_request_bytes;
    // The accept loop stops on its own token, cancelled only once health says NOT_SERVING:
    // were it to follow `shutdown` directly it could close the listener first (and end the
    // incoming stream, after which tonic no longer polls the shutdown future at all).
    let stop_accepting = CancellationToken::new();
    // However `run` returns, the accept loop ends with it.
    let _stop_accepting_on_return = stop_accepting.clone().drop_guard();
    let main = Server::builder()
        .layer(servicekit::telemetry::GrpcServerTraceLayer::new())
        // Inside the trace layer, so a call that runs out of time is traced with its code.
        .layer(servicekit::deadline::DeadlineLayer::new(
            config.request_timeout(),
        ))
        .layer(GlobalConcurrencyLimitLayer::new(
            config.limits.max_concurrent_requests,
        ))
        .add_service(KeyServiceServer::new(edge.key_service()).max_decoding_message_size(max_bytes))
        .add_service(
            KeyAdminServiceServer::new(edge.admin_service()).max_decoding_message_size(max_bytes),
        )
        .add_service(reflection)
        // Health is also on the mTLS port so callers can check readiness over their channel
        // (and the benchmark has a no-op RPC on the same connection as unwrap).
        .add_service(health_service.clone())
        .serve_with_incoming_shutdown(
            tls_incoming(listeners.main, tls, stop_accepting.clone()),
            not_serving_then_stop(health.clone(), shutdown.clone(), stop_accepting.clone()),
        );
    // The health port outlives the main port by the drain, so probes see NOT_SERVING.
    let health_stop = CancellationToken::new();
    let health_server = Server::builder()
        .add_service(health_service)
        .serve_with_incoming_shutdown(
            TcpListenerStream::new(listeners.health),
            health_stop.clone().cancelled_owned(),
        );
    let health_task = tokio::spawn(health_server);
    let rotation = tokio::spawn(rotation_task(
        manager,
        audit.clone(),
        rate,
        Duration::from_secs(config.rotation.check_interval_secs),
        shutdown.clone(),
    ));
    tracing::info!("keyservice serving");
    let mut main = std::pin::pin!(main);
    let result = tokio::select! {
        result = &mut main => result,
        () = async { shutdown.cancelled().await; tokio::time::sleep(DRAIN_GRACE).await } => {
            tracing::warn!("drain grace period over; closing remaining connections");
            Ok(())
        }
    };
    health_stop.cancel();
    rotation.abort();
    let _ = health_task.await;
    // Sign the head of everything written, so a log cut short after a clean stop is detected.
    if let Err(error) = audit.checkpoint() {
        tracing::error!(%error, "final audit checkpoint not written");
    }
    result.map_err(ServeError::from)
}

/// Resolves when shutdown is requested, after health says NOT_SERVING, so probes see the
/// change while the main port drains; only then does it stop the accept loop
/// (`stop_accepting`), so no probe sees SERVING from a port that refuses connections.
async fn not_serving_then_stop(
    health: tonic_health::server::HealthReporter,
    shutdown: CancellationToken,
    stop_accepting: CancellationToken,
) {
    shutdown.cancelled().await;
    tracing::info!("shutting down: health NOT_SERVING, draining");
    health
        .set_not_serving::<KeyServiceServer<KeyServiceApi>>()
        .await;
    health
        .set_not_serving::<KeyAdminServiceServer<KeyAdminApi>>()
        .await;
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    stop_accepting.cancel();
}

/// Rotates keys whose policy says they are due and purges keys past their deletion date,
/// every `every`; each automatic rotation is audited under the service's own name.
async fn rotation_task(
    manager: KeyManager,
    audit: Arc<AuditLog>,
    rate: RateLimit,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        rate.shrink();
        match manager.rotate_due_keys().await {
            Ok(rotated) => {
                for version in rotated {
                    let request_id = uuid::Uuid::now_v7().to_string();
                    let recorded = audit
                        .record(&AuditEvent {
                            identity: "keyservice",
                            operation: Operation::AutoRotate,
                            key_id: Some(&version.key_id),
                            key_version: Some(version.version),
                            outcome: Outcome::Ok,
                            request_id: &request_id,
                            trace_id: None,
                            associated_data: None,
                        })
                        .await;
                    if let Err(error) = recorded {
                        tracing::error!(%error, key = %version.key_id, "automatic rotation not audited");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "automatic rotation check failed");
                let request_id = uuid::Uuid::now_v7().to_string();
                let _ = audit
                    .record(&AuditEvent {
                        identity: "keyservice",
                        operation: Operation::AutoRotate,
                        key_id: None,
                        key_version: None,
                        outcome: Outcome::Error(Code::Internal),
                        request_id: &request_id,
                        trace_id: None,
                        associated_data: None,
                    })
                    .await;
            }
        }
        if let Err(error) = manager.purge_deleted_keys().await {
            tracing::warn!(%error, "purging deleted keys failed");
        }
    }
}
