//! The ON24 REST client: one reqwest connection pool, credentials as sensitive headers,
//! per-call timeouts, and answers turned into typed values or classified errors.
//!
//! TLS: reqwest is built with `rustls-no-provider`; the client installs rustls' ring
//! provider as the process default (a no-op when a binary already did, as every binary
//! in this workspace does) and lets reqwest verify servers with the platform roots.
//! Redirects are refused: ON24 does not redirect API calls, and following one would
//! send the access token headers to whatever host the redirect names.

use std::time::Instant;

use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::config::{On24ClientConfig, On24Credentials};
use super::error::{On24Error, extract_message};
use super::request::{Operation, RequestSpec};

/// The largest response body accepted. Attendee analytics pages are big, but a body
/// beyond this is a fault, and reading it unbounded would let a peer exhaust memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const HDR_KEY: HeaderName = HeaderName::from_static("accesstokenkey");
const HDR_SECRET: HeaderName = HeaderName::from_static("accesstokensecret");

/// A client for one ON24 credential. Cheap to clone; clones share the connection pool,
/// and `with_credentials` gives another tenant's client on the same pool.
#[derive(Clone)]
pub struct On24Client {
    http: reqwest::Client,
    config: On24ClientConfig,
    credentials: On24Credentials,
}

impl std::fmt::Debug for On24Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("On24Client")
            .field("base_url", &self.config.base_url.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl On24Client {
    pub fn new(config: On24ClientConfig, credentials: On24Credentials) -> Result<Self, On24Error> {
        credentials.validate()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!(
                "webinar-integrationservice/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &config.extra_root_certs_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                On24Error::Config(format!("extra root certificates: {}", e.without_url()))
            })?;
            if roots.is_empty() {
                return Err(On24Error::Config(
                    "extra root certificates: no PEM certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(roots);
        }
        let http = builder
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(config.base_url.is_https())
            .build()
            .map_err(|e| {
                On24Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self {
            http,
            config,
            credentials,
        })
    }

    /// The same pool and settings, another credential.
    pub fn with_credentials(&self, credentials: On24Credentials) -> Result<Self, On24Error> {
        credentials.validate()?;
        Ok(Self {
            credentials,
            ..self.clone()
        })
    }

    /// The same pool and credential with another total per-call timeout (e.g. longer for
    /// big analytics pages, shorter for an interactive credential check).
    pub fn with_request_timeout(&self, timeout: std::time::Duration) -> Self {
        let mut client = self.clone();
        client.config.request_timeout = timeout;
        client
    }

    pub fn client_id(&self) -> u64 {
        self.credentials.client_id
    }

    pub fn config(&self) -> &On24ClientConfig {
        &self.config
    }

    /// The request `op` would send, without sending it (for contract tests and tracing).
    pub fn build_request(&self, op: &Operation) -> Result<reqwest::Request, On24Error> {
        let spec = self.spec(op)?;
        self.to_request(&spec)
    }

    fn spec(&self, op: &Operation) -> Result<RequestSpec, On24Error> {
        op.spec(self.credentials.client_id)
            .map_err(|detail| On24Error::Invalid {
                operation: op.name(),
                detail,
            })
    }

    fn to_request(&self, spec: &RequestSpec) -> Result<reqwest::Request, On24Error> {
        let mut url = reqwest::Url::parse(self.config.base_url.as_str())
            .map_err(|e| On24Error::Config(format!("invalid base URL: {e}")))?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| On24Error::Config("base URL cannot have a path".into()))?;
            path.pop_if_empty().push("client");
            // `push` percent-encodes, so an email in the path cannot add segments.
            path.extend(&spec.segments);
        }
        if !spec.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&spec.query);
        }
        let mut key = HeaderValue::from_str(self.credentials.access_token_key.expose_secret())
            .map_err(|_| {
                On24Error::Config("access token key is not a valid header value".into())
            })?;
        let mut secret = HeaderValue::from_str(
            self.credentials.access_token_secret.expose_secret(),
        )
        .map_err(|_| On24Error::Config("access token secret is not a valid header value".into()))?;
        // Sensitive values are left out of reqwest/hyper debug output and HPACK indexing.
        key.set_sensitive(true);
        secret.set_sensitive(true);
        let mut builder = self
            .http
            .request(spec.method.clone(), url)
            .header(HDR_KEY, key)
            .header(HDR_SECRET, secret)
            .timeout(self.config.request_timeout);
        if let Some(form) = &spec.form {
            builder = builder.form(form);
        }
        builder
            .build()
            .map_err(|e| On24Error::Config(format!("cannot build request: {}", e.without_url())))
    }

    /// Sends `op` and returns the raw 2xx body, or the classified error.
    pub(crate) async fn send(&self, op: &Operation) -> Result<Vec<u8>, On24Error> {
        let spec = self.spec(op)?;
        let operation = spec.operation;
        let mut request = self.to_request(&spec)?;
        // A CLIENT span per call, its trace context in `traceparent` for ON24 and proxies.
        let span = servicekit::telemetry::http_client_span(
            request.method().as_str(),
            request.url().host_str().unwrap_or_default(),
            operation,
        );
        servicekit::telemetry::inject_span_context(&span, request.headers_mut());
        let started = Instant::now();
        let limit = self.config.request_timeout;
        // Our own clock bounds the whole exchange, body included, whatever the peer does.
        let exchange = async {
            let response = self
                .http
                .execute(request)
                .await
                .map_err(|e| On24Error::from_transport(operation, &e))?;
            let status = response.status().as_u16();
            let body = read_body(response, operation).await?;
            Ok::<_, On24Error>((status, body))
        };
        let result = match tokio::time::timeout(limit, exchange.instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => Err(On24Error::timeout(operation, limit)),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let _entered = span.enter();
        crate::telemetry::on24_answered(&span, operation, &result);
        match result {
            Ok((status, body)) if (200..300).contains(&status) => {
                tracing::debug!(operation, status, elapsed_ms, "ON24 call succeeded");
                Ok(body)
            }
            Ok((status, body)) => {
                let err = On24Error::from_status(operation, status, extract_message(&body));
                tracing::warn!(operation, status, elapsed_ms, class = err.class(), error = %err, "ON24 call refused");
                Err(err)
            }
            Err(err) => {
                tracing::warn!(operation, elapsed_ms, class = err.class(), error = %err, "ON24 call failed");
                Err(err)
            }
        }
    }

    /// Sends `op` and decodes the JSON answer into `T`.
    pub async fn call<T: DeserializeOwned>(&self, op: &Operation) -> Result<T, On24Error> {
        let body = self.send(op).await?;
        decode(op.name(), &body)
    }
}

/// Decodes a JSON body; an empty 2xx body reads as `{}`. The error keeps serde's
/// category and position only: its message can quote the offending (personal) value.
pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
) -> Result<T, On24Error> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| On24Error::Decode {
        operation,
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

async fn read_body(
    mut response: reqwest::Response,
    operation: &'static str,
) -> Result<Vec<u8>, On24Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| On24Error::from_transport(operation, &e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(On24Error::Decode {
                operation,
                detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Used by `pagination`: the configured page size, bounded to something ON24 accepts.
pub(crate) fn page_size(client: &On24Client) -> u32 {
    client.config.page_size.clamp(1, 1000)
}

/// Used by `pagination` to bound the walk when ON24 keeps answering full pages.
pub(crate) const MAX_PAGES: u32 = 100_000;
