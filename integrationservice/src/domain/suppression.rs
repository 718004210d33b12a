//! The suppression list: people a tenant forgot (`ForgetPerson`) and must not take back
//! until they consent again (`UnsuppressPerson`). Registering them (alone, in a batch, by an
//! import) is refused with [`Error::PersonSuppressed`], and a metrics sync stores none of
//! their figures.
//!
//! The list never holds an email: each entry is the HMAC-SHA-256 of the normalised address
//! (trimmed, lower-cased) under a key of the tenant's own. That key is a data key from the
//! key service's `GenerateDataKey` under the tenant's own KEK, made on the tenant's first
//! write or forget (the same key hashes the `email_hash` columns that find people in the
//! registrations and attendee tables, `crypto::fields`), stored only wrapped (`tenant_keys`, purpose `email_hash`, bound to the tenant and
//! purpose) and unwrapped
//! through the same short-lived cache as credential data keys. The same address hashes
//! differently in two tenants, and a copy of the database alone cannot test an address
//! against the list.

use std::collections::HashSet;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::tenant_keys::{EMAIL_HASH, tenant_key};
use super::{Email, Engine, Error, TenantId};
use crate::crypto::SharedDek;
use crate::store::{DbConnection, suppressions, tenant_keys};

/// A tenant's key for email hashes. `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct EmailHasher {
    key: SharedDek,
}

impl std::fmt::Debug for EmailHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailHasher").finish_non_exhaustive()
    }
}

impl EmailHasher {
    /// The keyed hash of an address (hex): HMAC-SHA-256 of it trimmed and lower-cased.
    pub(crate) fn hash(&self, email: &str) -> Result<String, Error> {
        let mac =
            Hmac::<Sha256>::new_from_slice(self.key.as_slice()).map_err(|_| Error::Internal)?;
        Ok(crate::crypto::fields::hash_email(&mac, email))
    }
}

/// The tenant's email-hash key (see `tenant_keys`); when it has none, a new one if `create`
/// (a forget), else None (no key: nobody is suppressed).
pub(crate) async fn email_hasher(
    engine: &Engine,
    tenant: &TenantId,
    create: bool,
) -> Result<Option<EmailHasher>, Error> {
    Ok(tenant_key(engine, tenant, EMAIL_HASH, create)
        .await?
        .map(|key| EmailHasher { key }))
}

/// The keyed hashes of `emails` in order, or None when the tenant has no hash key yet (it
/// never forgot anyone). Computed before a write's transaction: the key may need the key
/// service.
pub(crate) async fn hashes(
    engine: &Engine,
    tenant: &TenantId,
    emails: &[&str],
) -> Result<Option<Vec<String>>, Error> {
    let Some(hasher) = email_hasher(engine, tenant, false).await? else {
        return Ok(None);
    };
    emails
        .iter()
        .map(|e| hasher.hash(e))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Inside a write's transaction, after the tenant's erasure lock: which of the people whose
/// `hashes` were computed are suppressed, as a flag per person in order (`count` of them).
/// None when the hashes were computed without a key and the tenant has one now (its first
/// forget made it meanwhile): the caller hashes again and retries.
pub(crate) fn suppressed_now(
    conn: &mut DbConnection,
    tenant: &TenantId,
    hashes: Option<&[String]>,
    count: usize,
) -> Result<Option<Vec<bool>>, Error> {
    let Some(hashes) = hashes else {
        return Ok(tenant_keys::get(conn, tenant, EMAIL_HASH)?
            .is_none()
            .then(|| vec![false; count]));
    };
    let found: HashSet<String> = suppressions::present(conn, tenant, hashes)?
        .into_iter()
        .collect();
    Ok(Some(hashes.iter().map(|h| found.contains(h)).collect()))
}

/// Inside a chunk's transaction, after the tenant's erasure lock: whether hashes made before
/// it are still the right ones to check. False when none were made (the tenant had no hash
/// key) and the tenant has a key now (its first forget made it meanwhile): the caller makes
/// the hasher, hashes the chunk and tries it again, so that forget's suppression is honoured.
pub(crate) fn hashes_current(
    conn: &mut DbConnection,
    tenant: &TenantId,
    hashed: bool,
) -> Result<bool, Error> {
    if hashed {
        return Ok(true);
    }
    Ok(tenant_keys::get(conn, tenant, EMAIL_HASH)?.is_none())
}

/// The suppression list's service.
#[derive(Debug)]
pub struct Suppressions<'a> {
    pub(crate) engine: &'a Engine,
}

impl Suppressions<'_> {
    /// Lifts a person's suppression (they consented again); true when one was lifted.
    pub async fn lift(&self, tenant: &TenantId, email: &Email) -> Result<bool, Error> {
        let Some(hasher) = email_hasher(self.engine, tenant, false).await? else {
            return Ok(false);
        };
        let (t, hash) = (tenant.clone(), hasher.hash(email.as_str())?);
        self.engine
            .store
            .run(move |conn| suppressions::remove(conn, &t, &hash).map_err(Error::from))
            .await
    }
}
