//! Envelope encryption of tenant secrets. Each secret gets its own data key (DEK) from the key
//! service's `GenerateDataKey`; the secret is sealed with AES-256-GCM under that DEK, with the
//! tenant and record identity as additional authenticated data (the same bytes are bound to the
//! wrapped DEK in the key service). We store wrapped DEK + nonce + ciphertext; plaintext exists
//! only in `Zeroizing` buffers for one use. `cache` keeps recently unwrapped DEKs briefly so a
//! burst of deliveries does not cost a key-service round trip each. Moving stored wrapped DEKs
//! to a new primary key version is a worker job (`workers::rewrap`).
//!
//! A tenant's own secrets (its email-hash key, its personal-data key) are data keys wrapped
//! under a key-encryption key of the tenant's own in the key service ([`tenant_kek_id`]), so
//! destroying that one key (tenant purge) makes them, and all they protect, unreadable in
//! every copy of the database.

pub(crate) mod cache;
pub(crate) mod fields;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

use crate::keyclient::{KeyClient, KeyError};
use cache::DekCache;
pub(crate) use cache::SharedDek;

/// A sealed secret as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// DEK wrapped by the key service.
    pub wrapped_dek: Vec<u8>,
    /// Key version that wrapped the DEK.
    pub key_version: u32,
    /// AES-GCM nonce (96 bits).
    pub nonce: Vec<u8>,
    /// AES-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("key_version", &self.key_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Envelope failures. They say what failed, never with which bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key service failed or refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The sealed secret does not open with this identity (tampered or moved).
    #[error("the stored secret cannot be decrypted")]
    Decrypt,
    /// Encryption failed (not expected).
    #[error("the secret cannot be encrypted")]
    Encrypt,
}

/// The additional authenticated data of a tenant's provider credentials: the purpose, the
/// tenant and the record version, length-prefixed so no two identities share bytes.
pub fn credentials_aad(tenant: &str, secret_version: i64) -> Vec<u8> {
    format!(
        "webinar.integrationservice/v1/provider-credentials/{}:{tenant}/{secret_version}",
        tenant.len()
    )
    .into_bytes()
}

/// The additional authenticated data of a tenant's key for `purpose` (`email_hash`), built
/// like [`credentials_aad`] so no two identities share bytes.
pub fn tenant_key_aad(tenant: &str, purpose: &str) -> Vec<u8> {
    format!(
        "webinar.integrationservice/v1/tenant-key/{}:{tenant}/{purpose}",
        tenant.len()
    )
    .into_bytes()
}

/// Prefix of every tenant's own key in the key service; the key service's policy grants the
/// integration service these keys (and only these) for creation and scheduled deletion.
pub const TENANT_KEK_PREFIX: &str = "tenant-";

/// The id of a tenant's own key-encryption key in the key service (`keys/{id}`): `tenant-`
/// and the first 56 hex digits (224 bits) of SHA-256 of the tenant id's UTF-8 bytes. Tenant
/// ids may hold characters a key id may not and may be longer; this is 63 characters of
/// `[a-z0-9-]` starting with a letter for every tenant, the same on every replica, and an
/// operator recomputes it with `printf %s "$TENANT" | sha256sum | cut -c1-56`.
pub fn tenant_kek_id(tenant: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(tenant.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TENANT_KEK_PREFIX}{}", &hex[..56])
}

/// How often, and how far apart, a data key is asked for under a tenant KEK that another
/// caller has just made (about 3 s in all).
const NEW_KEK_TRIES: u32 = 30;
const NEW_KEK_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// A data key made for use as a secret itself (a tenant's hash key), as stored: wrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WrappedKey {
    /// The key, wrapped by the key service.
    pub(crate) wrapped: Vec<u8>,
    /// Key version that wrapped it.
    pub(crate) key_version: u32,
    /// The key service key that wrapped it (its id, without `keys/`).
    pub(crate) kek: String,
}

/// Seals and opens secrets through the key service.
#[derive(Clone, Debug)]
pub struct Envelope {
    keys: KeyClient,
    cache: DekCache,
}

impl Envelope {
    /// An envelope over the key service with a DEK cache.
    pub fn new(keys: KeyClient, cache: DekCache) -> Self {
        Self { keys, cache }
    }

    /// The key service client (for the rewrap job).
    pub fn keys(&self) -> &KeyClient {
        &self.keys
    }

    /// Seals `plaintext` under a fresh DEK bound to `aad`.
    pub async fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let dek = self.keys.generate(aad).await?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&dek.plaintext));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        self.cache.insert(&dek.wrapped, aad, dek.plaintext);
        Ok(Sealed {
            wrapped_dek: dek.wrapped,
            key_version: dek.version,
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// A new data key bound to `aad`, to be used as a secret itself (a tenant's hash key):
    /// the caller stores it wrapped and opens it with [`Envelope::open_key`]; the plaintext is
    /// cached like every unwrapped DEK and wiped when the last user drops it.
    /// It is wrapped under the tenant's own KEK ([`tenant_kek_id`]), which the key service
    /// makes now if the tenant has none yet; scheduling that KEK's deletion (tenant purge)
    /// leaves every copy of the wrapped key, backups included, unopenable.
    pub(crate) async fn new_key(
        &self,
        tenant: &str,
        aad: &[u8],
    ) -> Result<(WrappedKey, SharedDek), CryptoError> {
        let (dek, kek) = self
            .under_tenant_kek(tenant, |name| async move {
                self.keys.generate_under(&name, aad).await
            })
            .await?;
        let key = self.cache.insert(&dek.wrapped, aad, dek.plaintext);
        Ok((
            WrappedKey {
                wrapped: dek.wrapped,
                key_version: dek.version,
                kek,
            },
            key,
        ))
    }

    /// The key inside `wrapped` (bound to `aad`, wrapped under any key) wrapped again under
    /// the tenant's own KEK, made now if the tenant has none: the same key, so everything it
    /// protects or hashed stays valid, but from now on shredded with the tenant's KEK.
    pub(crate) async fn move_to_tenant_kek(
        &self,
        tenant: &str,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<WrappedKey, CryptoError> {
        let plaintext = self.keys.unwrap_key(wrapped, aad).await?;
        let plaintext = &plaintext;
        let ((wrapped, key_version), kek) = self
            .under_tenant_kek(tenant, |name| async move {
                self.keys.wrap_under(&name, plaintext, aad).await
            })
            .await?;
        Ok(WrappedKey {
            wrapped,
            key_version,
            kek,
        })
    }

    /// Runs `op` on the tenant's own KEK (`keys/tenant-…`), making the KEK first when the key
    /// service has none (the tenant's first key); returns what `op` gave and the KEK's id.
    /// The common case, a KEK that exists, costs `op` alone: no creation call, so the key
    /// service's audit shows no refused creation either.
    async fn under_tenant_kek<T, F, Fut>(
        &self,
        tenant: &str,
        op: F,
    ) -> Result<(T, String), CryptoError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, KeyError>>,
    {
        let kek = tenant_kek_id(tenant);
        let name = format!("keys/{kek}");
        let mut tries = 0;
        loop {
            match op(name.clone()).await {
                Ok(done) => return Ok((done, kek)),
                // Idempotent: a concurrent first use may make it at the same time.
                Err(KeyError::NotFound(_)) if tries == 0 => {
                    self.keys.create_key(&kek).await?;
                }
                // Made a moment ago (by us or a concurrent first use): the key service
                // serves it once its snapshot holds it, within its refresh interval (2 s by
                // default).
                Err(KeyError::NotFound(_) | KeyError::Refused(_)) if tries < NEW_KEK_TRIES => {
                    tokio::time::sleep(NEW_KEK_RETRY).await;
                }
                Err(e) => return Err(e.into()),
            }
            tries += 1;
        }
    }

    /// A stored wrapped key, from the cache or unwrapped by the key service.
    pub(crate) async fn open_key(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<SharedDek, CryptoError> {
        if let Some(dek) = self.cache.get(wrapped, aad) {
            return Ok(dek);
        }
        let dek = self.keys.unwrap_key(wrapped, aad).await?;
        Ok(self.cache.insert(wrapped, aad, dek))
    }

    /// Opens a sealed secret; the plaintext is wiped when the returned buffer drops.
    pub async fn open(
        &self,
        aad: &[u8],
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.nonce.len() != 12 {
            return Err(CryptoError::Decrypt);
        }
        let dek = self.open_key(&sealed.wrapped_dek, aad).await?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(dek.as_slice()));
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(Zeroizing::new(plaintext))
    }
}
