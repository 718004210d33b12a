//! A tenant's own secrets by purpose (`tenant_keys`): data keys the key service generates
//! under the tenant's own KEK (`crypto::tenant_kek_id`), stored only wrapped and bound to the
//! tenant and purpose, unwrapped through the short-lived, bounded, zeroizing DEK cache. Keys
//! made before per-tenant KEKs stay under the credentials key and keep working (the wrapped
//! form names its key).

use super::{Engine, Error, TenantId};
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
