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

    /// Verifies `token` and returns its subject. The error is safe to show the caller.
    pub(crate) fn verify(&self, token: &str) -> Result<String, &'static str> {
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
                Ok(data) if !data.claims.sub.is_empty() => return Ok(data.claims.sub),
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

/// Reads a JWKS over HTTPS (or plain HTTP to a loopback address, for tests and sidecars).
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
        .build()
        .map_err(|e| JwksError::Read(e.to_string()))?;
    let response = client
        .get(parsed)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| JwksError::Read(e.to_string()))?;
    response
        .text()
        .await
        .map_err(|e| JwksError::Read(e.to_string()))
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
