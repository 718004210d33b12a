//! The mTLS gRPC client to the key service: generate, unwrap and rewrap data keys under the
//! credentials key or a tenant's own key (`keys/tenant-…`), and the two admin calls the
//! service's policy grants it on tenant keys only: create one on the tenant's first use and
//! schedule its deletion when the tenant is purged. The channel is lazy (the service starts while the key service is still
//! coming up) and every call has a deadline. Plaintext data keys come back in `Zeroizing`
//! buffers; the protobuf copy is wiped as soon as it is moved out.

use std::time::Duration;

use proto::keyservice::v1::{
    BatchRewrapKeysRequest, CreateKeyRequest, GenerateDataKeyRequest, Key, KeyPurpose,
    RewrapKeyRequest, ScheduleKeyDeletionRequest, UnwrapKeyRequest, WrapKeyRequest,
    batch_rewrap_keys_result, key_admin_service_client::KeyAdminServiceClient,
    key_service_client::KeyServiceClient,
};
use servicekit::telemetry::{TraceInterceptor, inject_grpc_trace_context};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use zeroize::{Zeroize, Zeroizing};

/// How to reach the key service.
#[derive(Clone)]
pub struct KeyClientConfig {
    /// `https://host:port` of the key service's mTLS port.
    pub endpoint: String,
    /// Name the key service's certificate must carry (defaults to the endpoint's host).
    pub domain_name: Option<String>,
    /// PEM of the CA that signed the key service's certificate.
    pub ca_pem: String,
    /// PEM of our client certificate (identity `spiffe://webinar.local/integrationservice`).
    pub cert_pem: String,
    /// PEM of our client key.
    pub key_pem: Zeroizing<String>,
    /// Key to wrap credentials under, `keys/{key}`.
    pub key_name: String,
    /// Deadline of each call.
    pub timeout: Duration,
}

impl std::fmt::Debug for KeyClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyClientConfig")
            .field("endpoint", &self.endpoint)
            .field("domain_name", &self.domain_name)
            .field("key_name", &self.key_name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Key service failures. Never carries key material or associated data.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Could not configure the channel.
    #[error("key service client configuration: {0}")]
    Config(String),
    /// The key service could not be reached or is overloaded: retry later.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The key service refused (cannot unwrap, permission denied, ...).
    #[error("key service refused: {0}")]
    Refused(String),
    /// No such key (or not yet in the key service's snapshot: a key made a moment ago).
    #[error("key not found: {0}")]
    NotFound(String),
    /// The key is scheduled for deletion or destroyed (FAILED_PRECONDITION): nothing can be
    /// wrapped under it any more, and retrying does not help (a purged tenant's KEK).
    #[error("key unusable: {0}")]
    Unusable(String),
}

impl From<tonic::Status> for KeyError {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code::*;
        match s.code() {
            Unavailable | DeadlineExceeded | ResourceExhausted | Aborted | Cancelled | Unknown => {
                Self::Unavailable(format!("{:?}: {}", s.code(), s.message()))
            }
            FailedPrecondition => Self::Unusable(s.message().to_owned()),
            NotFound => Self::NotFound(s.message().to_owned()),
            _ => Self::Refused(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

/// A data key as generated: plaintext for one use, wrapped form to store.
pub struct DataKey {
    /// The 32-byte DEK.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The wrapped DEK (key service format v1).
    pub wrapped: Vec<u8>,
    /// Key version that wrapped it.
    pub version: u32,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The key service client. Cheap to clone (one HTTP/2 channel).
#[derive(Clone, Debug)]
pub struct KeyClient {
    inner: KeyServiceClient<InterceptedService<Channel, TraceInterceptor>>,
    admin: KeyAdminServiceClient<InterceptedService<Channel, TraceInterceptor>>,
    key_name: String,
    timeout: Duration,
}

impl KeyClient {
    /// Builds the mTLS channel (connects on first use).
    pub fn connect_lazy(config: &KeyClientConfig) -> Result<Self, KeyError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&config.ca_pem))
            .identity(Identity::from_pem(
                &config.cert_pem,
                config.key_pem.as_bytes(),
            ));
        if let Some(name) = &config.domain_name {
            tls = tls.domain_name(name.clone());
        }
        let channel = Channel::from_shared(config.endpoint.clone())
            .map_err(|e| KeyError::Config(e.to_string()))?
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .tls_config(tls)
            .map_err(|e| KeyError::Config(e.to_string()))?
            .connect_lazy();
        Ok(Self {
            // Every call carries the current trace to the key service (`traceparent`).
            inner: KeyServiceClient::with_interceptor(channel.clone(), inject_grpc_trace_context),
            admin: KeyAdminServiceClient::with_interceptor(channel, inject_grpc_trace_context),
            key_name: config.key_name.clone(),
            timeout: config.timeout,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// A fresh DEK bound to `aad`, wrapped under the credentials key.
    pub async fn generate(&self, aad: &[u8]) -> Result<DataKey, KeyError> {
        self.generate_under(&self.key_name, aad).await
    }

    /// A fresh DEK bound to `aad`, wrapped under `key_name` (`keys/{key}`).
    pub async fn generate_under(&self, key_name: &str, aad: &[u8]) -> Result<DataKey, KeyError> {
        let request = self.request(GenerateDataKeyRequest {
            name: key_name.to_owned(),
            associated_data: aad.to_vec(),
        });
        let mut response = self
            .inner
            .clone()
            .generate_data_key(request)
            .await?
            .into_inner();
        let plaintext = Zeroizing::new(std::mem::take(&mut response.plaintext));
        response.plaintext.zeroize();
        check_len(&plaintext)?;
        let version = parse_version(&response.key_version)?;
        Ok(DataKey {
            plaintext,
            wrapped: response.wrapped_key,
            version,
        })
    }

    /// Creates the encryption key `keys/{key_id}`; true when made now, false when it existed.
    pub async fn create_key(&self, key_id: &str) -> Result<bool, KeyError> {
        let request = self.request(CreateKeyRequest {
            key_id: key_id.to_owned(),
            key: Some(Key {
                purpose: KeyPurpose::EncryptDecrypt as i32,
                ..Key::default()
            }),
        });
        match self.admin.clone().create_key(request).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(false),
            Err(status) => Err(status.into()),
        }
    }

    /// Schedules the deletion of `keys/{key_id}` after `waiting` (None: the key service's
    /// default). True when scheduled now; false when there is no such key or its deletion
    /// was scheduled already (a repeated purge).
    pub async fn schedule_key_deletion(
        &self,
        key_id: &str,
        waiting: Option<Duration>,
    ) -> Result<bool, KeyError> {
        let request = self.request(ScheduleKeyDeletionRequest {
            name: format!("keys/{key_id}"),
            waiting_period: waiting.map(|d| prost_types::Duration {
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
            }),
        });
        match self.admin.clone().schedule_key_deletion(request).await {
            Ok(_) => Ok(true),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::FailedPrecondition
                ) =>
            {
                Ok(false)
            }
            Err(status) => Err(status.into()),
        }
    }

    /// The DEK inside `wrapped`, if `aad` matches.
    pub async fn unwrap_key(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let request = self.request(UnwrapKeyRequest {
            wrapped_key: wrapped.to_vec(),
            associated_data: aad.to_vec(),
        });
        let mut response = self.inner.clone().unwrap_key(request).await?.into_inner();
        let plaintext = Zeroizing::new(std::mem::take(&mut response.plaintext));
        check_len(&plaintext)?;
        Ok(plaintext)
    }

    /// `plaintext` wrapped under `key_name` (`keys/{key}`) and bound to `aad`: a key made
    /// elsewhere moving under another key (a tenant's key made under the credentials key
    /// moving to the tenant's own KEK).
    pub async fn wrap_under(
        &self,
        key_name: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<(Vec<u8>, u32), KeyError> {
        let request = self.request(WrapKeyRequest {
            name: key_name.to_owned(),
            plaintext: plaintext.to_vec(),
            associated_data: aad.to_vec(),
        });
        let response = self.inner.clone().wrap_key(request).await?.into_inner();
        let version = parse_version(&response.key_version)?;
        Ok((response.wrapped_key, version))
    }

    /// The same DEK wrapped under the key's current primary version (plaintext never leaves
    /// the key service).
    pub async fn rewrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<(Vec<u8>, u32), KeyError> {
        let request = self.request(RewrapKeyRequest {
            wrapped_key: wrapped.to_vec(),
            associated_data: aad.to_vec(),
        });
        let response = self.inner.clone().rewrap_key(request).await?.into_inner();
        let version = parse_version(&response.key_version)?;
        Ok((response.wrapped_key, version))
    }
    /// The key's current primary version, as the key service reports it when wrapping: a data
    /// key is generated for a fixed probe context and dropped (the integration service may not
    /// call the admin `GetKey`).
    pub async fn primary_version(&self) -> Result<u32, KeyError> {
        Ok(self.generate(PRIMARY_PROBE_AAD).await?.version)
    }

    /// `rewrap` for up to 100 keys in one call; one result per item, in order.
    pub async fn batch_rewrap(
        &self,
        items: &[(&[u8], Vec<u8>)],
    ) -> Result<Vec<Result<(Vec<u8>, u32), KeyError>>, KeyError> {
        let request = self.request(BatchRewrapKeysRequest {
            requests: items
                .iter()
                .map(|(wrapped, aad)| RewrapKeyRequest {
                    wrapped_key: wrapped.to_vec(),
                    associated_data: aad.clone(),
                })
                .collect(),
        });
        let response = self
            .inner
            .clone()
            .batch_rewrap_keys(request)
            .await?
            .into_inner();
        if response.results.len() != items.len() {
            return Err(KeyError::Refused(
                "the key service answered a batch with the wrong number of results".into(),
            ));
        }
        Ok(response
            .results
            .into_iter()
            .map(|r| match r.result {
                Some(batch_rewrap_keys_result::Result::Response(r)) => {
                    Ok((r.wrapped_key, parse_version(&r.key_version)?))
                }
                Some(batch_rewrap_keys_result::Result::Error(e)) => Err(KeyError::Refused(
                    format!("{:?}: {}", tonic::Code::from_i32(e.code), e.message),
                )),
                None => Err(KeyError::Refused("empty batch result".into())),
            })
            .collect())
    }
}

/// Associated data of the data key generated only to learn the primary version; no stored
/// credential is ever bound to it.
const PRIMARY_PROBE_AAD: &[u8] = b"integrationservice/primary-version-probe";

fn check_len(plaintext: &[u8]) -> Result<(), KeyError> {
    if plaintext.len() == 32 {
        Ok(())
    } else {
        Err(KeyError::Refused(
            "the key service returned a data key of the wrong size".into(),
        ))
    }
}

/// `keys/{key}/versions/{n}` (or a bare number) to `n`.
pub(crate) fn parse_version(name: &str) -> Result<u32, KeyError> {
    name.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| KeyError::Refused(format!("unexpected key version name {name:?}")))
}

/// Key version recorded in a wrapped key's header (format v1), without calling the service.
pub fn wrapped_version(wrapped: &[u8]) -> Option<u32> {
    if wrapped.first() != Some(&1) {
        return None;
    }
    let l = usize::from(*wrapped.get(1)?);
    let bytes: [u8; 4] = wrapped.get(2 + l..6 + l)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions() {
        assert_eq!(
            parse_version("keys/on24-credentials/versions/7").ok(),
            Some(7)
        );
        assert!(parse_version("keys/x/versions/").is_err());
        let mut w = vec![1, 3, b'a', b'b', b'c', 0, 0, 0, 2];
        w.extend([0; 28]);
        assert_eq!(wrapped_version(&w), Some(2));
        assert_eq!(wrapped_version(&[2, 0]), None);
    }
}
