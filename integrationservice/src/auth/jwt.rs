//! Bearer-token (JWT) verification against a JWKS (file or URL), a fixed issuer and audience.
//!
//! Only asymmetric keys are accepted (RSA, EC, Ed25519): a JWKS is public, so a symmetric
//! (`oct`) key in it would let anyone mint tokens. `exp`, `iss`, `aud` and `sub` are required;
//! `nbf` is checked when present. The principal is `jwt:<sub>` so a token can never claim the
//! identity of a certificate holder.

use std::{
    str::FromStr,
    sync::{Arc, RwLock},
    time::Duration,
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet},
};
use serde::Deserialize;

use crate::config::JwtConfig;

/// Why a JWKS could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    /// The file or URL could not be read.
    #[error("cannot read the JWKS: {0}")]
    Read(String),
    /// The document is not a JWKS or has no usable key.
    #[error("unusable JWKS: {0}")]
    Invalid(String),
}

/// One verification key taken from the JWKS.
struct VerifyKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Verifies bearer tokens. Cheap to clone; the key set can be swapped by a refresh task.
#[derive(Clone)]
pub(crate) struct JwtVerifier {
    issuer: String,
    audience: String,
    leeway: u64,
    keys: Arc<RwLock<Arc<Vec<VerifyKey>>>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Required by the validation, so always present in a verified token.
    exp: u64,
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedToken {
    /// The `sub` claim.
    pub subject: String,
    /// The `exp` claim: when the token stops being valid.
    pub expires_at: std::time::SystemTime,
}

impl JwtVerifier {
    /// Builds a verifier from a JWKS document.
    pub(crate) fn new(config: &JwtConfig, jwks_json: &str) -> Result<Self, JwksError> {
        let keys = parse_jwks(jwks_json)?;
        Ok(Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_seconds,
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        })
    }

    /// Loads the JWKS named by the configuration (file, or URL fetched once now).
    pub(crate) async fn from_config(config: &JwtConfig) -> Result<Self, JwksError> {
        let json = if config.jwks_url.is_empty() {
            std::fs::read_to_string(&config.jwks_file)
                .map_err(|e| JwksError::Read(format!("{}: {e}", config.jwks_file.display())))?
        } else {
            fetch(&config.jwks_url).await?
        };
        Self::new(config, &json)
    }

    /// Replaces the key set (after a refresh of the JWKS URL).
    pub(crate) fn replace_keys(&self, jwks_json: &str) -> Result<(), JwksError> {
        let keys = Arc::new(parse_jwks(jwks_json)?);
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc inside is intact.
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(())
    }

    /// Fetches `url` every `period` and swaps the keys; a failed fetch keeps the old keys.
    pub(crate) fn spawn_refresh(
        &self,
        url: String,
        period: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(period) => {}
                }
                match fetch(&url).await.and_then(|json| this.replace_keys(&json)) {
                    Ok(()) => tracing::debug!("JWKS refreshed"),
                    Err(error) => {
                        tracing::warn!(%error, "JWKS refresh failed; keeping the old keys")
                    }
                }
            }
        });
    }

    /// Verifies `token` and returns its subject and expiry. The error is safe to show the
    /// caller.
    pub(crate) fn verify(&self, token: &str) -> Result<VerifiedToken, &'static str> {
        let header = decode_header(token).map_err(|_| "malformed bearer token")?;
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        let candidates = keys.iter().filter(|k| {
            k.alg == header.alg
                && match (&header.kid, &k.kid) {
                    (Some(wanted), Some(have)) => wanted == have,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        });
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let mut outcome = Err("bearer token signed by an unknown key");
        for key in candidates {
            match decode::<Claims>(token, &key.key, &validation) {
                Ok(data) if !data.claims.sub.is_empty() => {
                    return Ok(VerifiedToken {
                        subject: data.claims.sub,
                        expires_at: std::time::UNIX_EPOCH + Duration::from_secs(data.claims.exp),
                    });
                }
                Ok(_) => return Err("bearer token has an empty subject"),
                Err(e) => outcome = Err(describe(e.kind())),
            }
        }
        outcome
    }
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "bearer token expired",
        K::ImmatureSignature => "bearer token not yet valid",
        K::InvalidIssuer => "bearer token has the wrong issuer",
        K::InvalidAudience => "bearer token has the wrong audience",
        K::InvalidSignature => "bearer token signature is invalid",
        K::MissingRequiredClaim(_) => "bearer token lacks a required claim",
        _ => "bearer token is invalid",
    }
}

/// The largest JWKS accepted: a key set is a few kilobytes; anything bigger is not one.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Reads a JWKS over HTTPS (or plain HTTP to a loopback address, for tests and sidecars).
/// Redirects are not followed (the configured URL is the one trusted to name the keys) and
/// the body is read up to [`MAX_JWKS_BYTES`].
async fn fetch(url: &str) -> Result<String, JwksError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| JwksError::Read(e.to_string()))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err(JwksError::Read(
            "jwt.jwks_url must be https (http only on loopback)".into(),
        ));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| JwksError::Read(e.without_url().to_string()))?;
    let mut response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| JwksError::Read(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(JwksError::Read(if status.is_redirection() {
            format!(
                "answered HTTP {} (redirects are not followed)",
                status.as_u16()
            )
        } else {
            format!("answered HTTP {}", status.as_u16())
        }));
    }
    let too_big = || JwksError::Read(format!("larger than {MAX_JWKS_BYTES} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| JwksError::Read(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| JwksError::Invalid("not UTF-8".into()))
}

fn parse_jwks(json: &str) -> Result<Vec<VerifyKey>, JwksError> {
    let set: JwkSet = serde_json::from_str(json).map_err(|e| JwksError::Invalid(e.to_string()))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let Some(alg) = algorithm_of(jwk) else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| JwksError::Invalid(e.to_string()))?;
        keys.push(VerifyKey {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    if keys.is_empty() {
        return Err(JwksError::Invalid("no asymmetric signing key".into()));
    }
    Ok(keys)
}

/// The algorithm a key is for: its `alg`, else the usual one for its type. `oct` keys and
/// HMAC algorithms are refused.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
    let alg = match (&jwk.algorithm, declared) {
        (AlgorithmParameters::OctetKey(_), _) => return None,
        (_, Some(alg)) => alg,
        (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
    };
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
        alg => Some(alg),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An HTTP server on a loopback port answering every request with `head` (status line and
    /// headers) and `body`, then closing; with `declare_length` the body's length is sent,
    /// else the body ends with the connection. Returns its URL and a count of requests.
    async fn serve(
        head: String,
        body: Vec<u8>,
        declare_length: bool,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (head, body) = (head.clone(), body.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let length = if declare_length {
                        format!("content-length: {}\r\n", body.len())
                    } else {
                        String::new()
                    };
                    let head = format!("{head}\r\n{length}connection: close\r\n\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        (url, hits)
    }

    fn json_head() -> String {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json".into()
    }

    #[tokio::test]
    async fn jwks_redirects_are_not_followed() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (target, hits) = serve(json_head(), br#"{"keys":[]}"#.to_vec(), true).await;
        let (redirect, _) = serve(
            format!("HTTP/1.1 302 Found\r\nlocation: {target}"),
            Vec::new(),
            true,
        )
        .await;
        let refused = fetch(&redirect).await.expect_err("a redirect is refused");
        assert!(
            refused.to_string().contains("redirects are not followed"),
            "{refused}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
        // Control: the target itself is read.
        assert_eq!(fetch(&target).await.ok().as_deref(), Some(r#"{"keys":[]}"#));
    }

    #[tokio::test]
    async fn jwks_bodies_over_the_cap_are_refused() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Valid JSON padded with blanks, so only the size can be the reason.
        let padded = |len: usize| {
            let mut body = br#"{"keys":[]}"#.to_vec();
            body.resize(len, b' ');
            body
        };
        for declare_length in [true, false] {
            let (at_cap, _) = serve(json_head(), padded(MAX_JWKS_BYTES), declare_length).await;
            assert!(
                fetch(&at_cap).await.is_ok(),
                "control: a body of exactly the cap is read (declared length: {declare_length})"
            );
            let (over, _) = serve(json_head(), padded(MAX_JWKS_BYTES + 1), declare_length).await;
            let refused = fetch(&over).await.expect_err("over the cap");
            assert!(
                refused.to_string().contains("larger than"),
                "declared length {declare_length}: {refused}"
            );
        }
    }
}
