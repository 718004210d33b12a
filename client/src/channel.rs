//! Channel setup: from a few fields (endpoint, CA, client certificate and key, or a bearer
//! token) or from `stack.json` and an identity name, to a lazily connected tonic channel with
//! TLS (rustls + ring), a per-call deadline and the bearer token attached to every call.

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

use crate::{ClientError, RetryPolicy, StackFile};

/// How to reach one service. Build it by hand or from a `stack.json`.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `https://host:port` (or `http://` for a plaintext test server).
    pub endpoint: String,
    /// PEM file of the CA to trust; `None` uses the platform roots.
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mTLS (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// A JWT sent as `authorization: Bearer …` on every call.
    pub bearer_token: Option<SecretString>,
    /// Name to verify in the server certificate; `None` means the endpoint's host.
    pub server_name: Option<String>,
    /// Deadline of each unary call.
    pub timeout: Duration,
    /// Deadline of connection establishment.
    pub connect_timeout: Duration,
    /// Retries of idempotent calls on UNAVAILABLE.
    pub retry: RetryPolicy,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("endpoint", &self.endpoint)
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("server_name", &self.server_name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Options for `endpoint` with defaults: 30 s deadline, 5 s connect, default retries.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            ca_cert: None,
            client_cert: None,
            client_key: None,
            bearer_token: None,
            server_name: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }

    /// The integration service of a local stack, as identity `identity` (e.g. `crm-demo`).
    pub fn integration_from_stack(stack: &StackFile, identity: &str) -> Result<Self, ClientError> {
        Self::from_stack(stack, &stack.integrationservice, identity)
    }

    /// The key service of a local stack, as identity `identity` (e.g. `admin`).
    pub fn keyservice_from_stack(stack: &StackFile, identity: &str) -> Result<Self, ClientError> {
        Self::from_stack(stack, &stack.keyservice, identity)
    }

    fn from_stack(
        stack: &StackFile,
        service: &crate::stack::ServiceEndpoints,
        identity: &str,
    ) -> Result<Self, ClientError> {
        let id = stack.identity(identity)?;
        let mut options = Self::new(service.endpoint.clone());
        options.ca_cert = Some(stack.ca_cert.clone());
        options.client_cert = Some(id.cert.clone());
        options.client_key = Some(id.key.clone());
        options.server_name = Some(service.server_name.clone());
        Ok(options)
    }

    /// Builds the channel. Nothing is dialled yet: the first call connects, so a service that
    /// is still starting shows up as UNAVAILABLE there and is retried.
    pub fn connect(&self) -> Result<Connection, ClientError> {
        install_crypto_provider();
        let mut endpoint = Endpoint::from_shared(self.endpoint.clone()).map_err(|e| {
            ClientError::Config(format!(
                "endpoint `{}` is not a valid URI: {e}",
                self.endpoint
            ))
        })?;
        endpoint = endpoint
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if self.endpoint.starts_with("https://") {
            endpoint = endpoint
                .tls_config(self.tls_config()?)
                .map_err(|e| ClientError::Config(format!("TLS configuration: {e}")))?;
        } else if self.client_cert.is_some() || self.bearer_token.is_some() {
            // Never send credentials in clear text.
            return Err(ClientError::Config(format!(
                "endpoint `{}` is not https://; refusing to send a client certificate or token over plaintext",
                self.endpoint
            )));
        }
        Ok(Connection {
            channel: endpoint.connect_lazy(),
            auth: Auth {
                token: self.bearer_token.clone().map(Arc::new),
            },
            timeout: self.timeout,
            retry: self.retry.clone(),
        })
    }

    fn tls_config(&self) -> Result<ClientTlsConfig, ClientError> {
        let mut tls = ClientTlsConfig::new();
        match &self.ca_cert {
            Some(path) => tls = tls.ca_certificate(Certificate::from_pem(read(path, "CA")?)),
            None => tls = tls.with_enabled_roots(),
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "client certificate")?,
                    read(key, "client key")?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(ClientError::Config(
                    "give both a client certificate and its key, or neither".into(),
                ));
            }
        }
        if let Some(name) = &self.server_name {
            tls = tls.domain_name(name.clone());
        }
        Ok(tls)
    }
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|e| ClientError::Config(format!("cannot read the {what} {}: {e}", path.display())))
}

/// Installs rustls' ring provider once per process (the workspace's only provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Adds the bearer token, marked sensitive so it is never logged by tonic or hyper.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Arc<SecretString>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("bearer", &self.token.is_some())
            .finish()
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.token {
            let mut value = MetadataValue::try_from(format!("Bearer {}", token.expose_secret()))
                .map_err(|_| Status::invalid_argument("bearer token has invalid characters"))?;
            value.set_sensitive(true);
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// The channel every typed client is built on.
pub type AuthChannel = InterceptedService<Channel, Auth>;

/// A connected (lazily) channel plus the call policy: deadline and retries.
#[derive(Debug, Clone)]
pub struct Connection {
    channel: Channel,
    auth: Auth,
    /// Deadline of each unary call.
    pub timeout: Duration,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
}

impl Connection {
    /// The channel with authentication, for the generated stubs.
    pub fn service(&self) -> AuthChannel {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    /// Wraps a message in a request carrying the deadline (sent as `grpc-timeout`).
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}
