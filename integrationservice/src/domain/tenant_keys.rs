//! A tenant's own secrets by purpose (`tenant_keys`): data keys the key service generates
//! under the tenant's own KEK (`crypto::tenant_kek_id`), stored only wrapped and bound to the
//! tenant and purpose, unwrapped through the short-lived, bounded, zeroizing DEK cache. Keys
//! made before per-tenant KEKs stay under the credentials key and keep working (the wrapped
//! form names its key).

use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Error, TenantId};
use crate::crypto::fields::{FieldCipher, PERSONAL_DATA};
use crate::crypto::{SharedDek, tenant_key_aad};
use crate::store::models::TenantKeyRow;
use crate::store::{now_ms, tenant_keys};

/// The purpose of the key suppression hashes and keyed email hashes are made with.
pub(crate) const EMAIL_HASH: &str = "email_hash";

/// The tenant's key for `purpose`: the stored one, unwrapped (or from the cache); when it has
/// none, a new one if `create`, else None.
pub(crate) async fn tenant_key(
    engine: &Engine,
    tenant: &TenantId,
    purpose: &'static str,
    create: bool,
) -> Result<Option<SharedDek>, Error> {
    let aad = tenant_key_aad(tenant.as_str(), purpose);
    let t = tenant.clone();
    let stored = engine
        .store
        .run(move |conn| tenant_keys::get(conn, &t, purpose).map_err(Error::from))
        .await?;
    if let Some(row) = stored {
        return Ok(Some(
            engine.envelope.open_key(&row.wrapped_key, &aad).await?,
        ));
    }
    if !create {
        return Ok(None);
    }
    let (wrapped, key) = engine.envelope.new_key(tenant.as_str(), &aad).await?;
    let row = TenantKeyRow {
        tenant: tenant.to_string(),
        purpose: purpose.into(),
        wrapped_key: wrapped.wrapped.clone(),
        kek_version: i32::try_from(wrapped.key_version).unwrap_or(i32::MAX),
        created_at: now_ms(),
        kek: wrapped.kek,
    };
    let t = tenant.clone();
    let kept = engine
        .store
        .run(move |conn| {
            tenant_keys::insert_if_absent(conn, &row)?;
            tenant_keys::get(conn, &t, purpose).map_err(Error::from)
        })
        .await?
        .ok_or(Error::Internal)?;
    if kept.wrapped_key == wrapped.wrapped {
        return Ok(Some(key));
    }
    // Another replica stored the tenant's first key at the same moment: use that one.
    Ok(Some(
        engine.envelope.open_key(&kept.wrapped_key, &aad).await?,
    ))
}

/// How many tenants' ciphers are kept, and for how long: the hot paths (every registration
/// write, every sync chunk) then cost no database read or key-service call for the key.
const CIPHERS: u64 = 10_000;
const CIPHER_AGE: Duration = Duration::from_secs(60);

/// Tenants' personal-data ciphers, bounded and short-lived (the key inside is wiped when the
/// entry is evicted and its last user drops it). Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct FieldCiphers {
    /// None: encryption off (benchmark only).
    cache: Option<moka::sync::Cache<String, Arc<FieldCipher>>>,
}

impl Default for FieldCiphers {
    fn default() -> Self {
        Self {
            cache: Some(
                moka::sync::Cache::builder()
                    .max_capacity(CIPHERS)
                    .time_to_live(CIPHER_AGE)
                    .build(),
            ),
        }
    }
}

impl FieldCiphers {
    /// Encryption off: every tenant's cipher is [`FieldCipher::plain`].
    pub(crate) fn off() -> Self {
        Self { cache: None }
    }

    /// Forgets a tenant's cipher (its keys were purged).
    pub(crate) fn forget(&self, tenant: &TenantId) {
        if let Some(cache) = &self.cache {
            cache.invalidate(tenant.as_str());
        }
    }
}

/// The tenant's personal-data cipher, which also hashes emails under the tenant's email-hash
/// key. A `write` makes the tenant's keys (and KEK) on its first use; a read of a tenant
/// without a key gets a cipher that reads only unsealed values (it cannot have sealed ones),
/// so reads never create keys. Only a cipher holding both keys is cached: one cached while
/// the email-hash key did not exist yet would, after another replica's first write made it,
/// miss that write's hashed rows for the cache's lifetime.
pub(crate) async fn field_cipher(
    engine: &Engine,
    tenant: &TenantId,
    write: bool,
) -> Result<Arc<FieldCipher>, Error> {
    let Some(cache) = &engine.field_ciphers.cache else {
        return Ok(Arc::new(FieldCipher::plain(tenant.as_str())));
    };
    if let Some(cipher) = cache.get(tenant.as_str()) {
        return Ok(cipher);
    }
    let Some(key) = tenant_key(engine, tenant, PERSONAL_DATA, write).await? else {
        return Ok(Arc::new(FieldCipher::plain(tenant.as_str())));
    };
    let cipher = FieldCipher::new(tenant.as_str(), key.as_slice());
    match tenant_key(engine, tenant, EMAIL_HASH, write).await? {
        Some(email_key) => {
            let cipher = Arc::new(cipher.with_email_key(email_key.as_slice()));
            cache.insert(tenant.to_string(), cipher.clone());
            Ok(cipher)
        }
        None => Ok(Arc::new(cipher)),
    }
}
