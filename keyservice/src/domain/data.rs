//! Data-key operations: generate, wrap, unwrap, rewrap and their batch forms. They read
//! only the in-memory snapshot; the database is touched only when a version reaches its
//! wrap limit and must be rotated.

use std::sync::Arc;

use rand::RngCore;
use zeroize::Zeroizing;

use super::{
    Error, GenerateItem, GeneratedDataKey, KeyManager, KeyVersionRef, Result, UnwrapItem,
    WrappedDataKey,
};
use crate::{
    crypto::{self, Kek, WrappedKey},
    store::models::{KEY_DELETE_SCHEDULED, KEY_ENABLED},
};

/// How often a wrap retries after finding the primary at its wrap limit and rotating. Under
/// heavy concurrency with a tiny limit, other wraps may fill each new version first.
const WRAP_ATTEMPTS: usize = 10;

/// Length of generated data keys (AES-256).
pub(super) const DATA_KEY_LEN: usize = 32;

impl KeyManager {
    fn check_aad(&self, aad: &[u8]) -> Result<()> {
        if aad.len() > self.inner.settings.max_associated_data_len {
            return Err(Error::invalid(
                "associated_data",
                format!(
                    "at most {} bytes",
                    self.inner.settings.max_associated_data_len
                ),
            ));
        }
        Ok(())
    }

    fn check_batch<T>(&self, items: &[T]) -> Result<()> {
        let max = self.inner.settings.max_batch_items;
        if items.is_empty() || items.len() > max {
            return Err(Error::invalid("requests", format!("1 to {max} items")));
        }
        Ok(())
    }

    /// Picks the primary KEK of `key_id` for one more wrap, counting it. Rotates first when
    /// the primary has reached its wrap limit.
    async fn primary_for_wrap(&self, key_id: &str) -> Result<(Arc<Kek>, u32)> {
        for _ in 0..WRAP_ATTEMPTS {
            let limit_reached_at = {
                let snapshot = self.snapshot();
                let key = snapshot
                    .keys
                    .get(key_id)
                    .ok_or_else(|| Error::NotFound(format!("keys/{key_id}")))?;
                match key.row.state {
                    KEY_ENABLED => {}
                    KEY_DELETE_SCHEDULED => {
                        return Err(Error::FailedPrecondition(format!(
                            "keys/{key_id} is scheduled for deletion"
                        )));
                    }
                    _ => {
                        return Err(Error::FailedPrecondition(format!(
                            "keys/{key_id} is destroyed"
                        )));
                    }
                }
                let (n, version) = key.primary().ok_or_else(|| {
                    Error::Internal(format!("keys/{key_id} has no primary version"))
                })?;
                let kek = version.kek.clone().ok_or_else(|| {
                    Error::Internal(format!("primary KEK of keys/{key_id} is not unsealed"))
                })?;
                let limit = self.wrap_limit(key.row.max_wraps_per_version);
                if version.try_count_wrap(limit) {
                    return Ok((kek, n));
                }
                n
            };
            tracing::info!(
                key = key_id,
                version = limit_reached_at,
                "wrap limit reached; rotating"
            );
            self.rotate_if_primary(key_id, limit_reached_at).await?;
            self.announce_change().await?;
        }
        Err(Error::ResourceExhausted(format!(
            "keys/{key_id}: primary version reached its wrap limit and rotation did not take effect"
        )))
    }

    pub(crate) fn wrap_limit(&self, stored: i64) -> u64 {
        match u64::try_from(stored) {
            Ok(0) | Err(_) => self.inner.settings.default_max_wraps_per_version,
            Ok(n) => n,
        }
    }

    async fn wrap_unchecked(
        &self,
        key_id: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<WrappedDataKey> {
        let (kek, version) = self.primary_for_wrap(key_id).await?;
        Ok(WrappedDataKey {
            wrapped_key: crypto::wrap(&kek, key_id, version, plaintext, aad),
            version: KeyVersionRef {
                key_id: key_id.to_owned(),
                version,
            },
        })
    }

    /// Creates a random 32-byte data key and wraps it under the primary version of `key_id`.
    pub async fn generate_data_key(&self, key_id: &str, aad: &[u8]) -> Result<GeneratedDataKey> {
        self.check_aad(aad)?;
        let mut plaintext = Zeroizing::new(vec![0u8; DATA_KEY_LEN]);
        rand::rng().fill_bytes(&mut plaintext);
        let wrapped = self.wrap_unchecked(key_id, &plaintext, aad).await?;
        Ok(GeneratedDataKey {
            plaintext,
            wrapped_key: wrapped.wrapped_key,
            version: wrapped.version,
        })
    }

    /// Wraps a caller's data key (1 to `max_plaintext_len` bytes) under the primary version.
    pub async fn wrap(&self, key_id: &str, plaintext: &[u8], aad: &[u8]) -> Result<WrappedDataKey> {
        let max = self.inner.settings.max_plaintext_len;
        if plaintext.is_empty() || plaintext.len() > max {
            return Err(Error::invalid("plaintext", format!("1 to {max} bytes")));
        }
        self.check_aad(aad)?;
        self.wrap_unchecked(key_id, plaintext, aad).await
    }

    /// Unwraps. Every failure is [`Error::CannotUnwrap`], except oversized associated data
    /// (a public limit, so no oracle).
    pub async fn unwrap(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, KeyVersionRef)> {
        self.check_aad(aad)?;
        // A rewrap does not count: it moves the data key off the version.
        self.unwrap_now(wrapped, aad, true)
    }

    /// Unwraps under the snapshot's read lock, which is only ever held briefly, rather than
    /// taking the snapshot and the KEK out of it: each of those is a reference count that all
    /// cores would otherwise update on every call.
    fn unwrap_now(
        &self,
        wrapped: &[u8],
        aad: &[u8],
        note_use: bool,
    ) -> Result<(Zeroizing<Vec<u8>>, KeyVersionRef)> {
        let parsed = WrappedKey::parse(wrapped)?;
        let plaintext = self.with_snapshot(|snapshot| {
            let (version, kek) = snapshot
                .keys
                .get(parsed.key_id())
                .and_then(|key| key.unwrap_kek(parsed.version()))
                .ok_or(Error::CannotUnwrap)?;
            let plaintext = crypto::unwrap(kek, &parsed, aad)?;
            if note_use {
                version.note_unwrap(super::rows::now_micros());
            }
            Ok::<_, Error>(plaintext)
        })?;
        Ok((
            plaintext,
            KeyVersionRef {
                key_id: parsed.key_id().to_owned(),
                version: parsed.version(),
            },
        ))
    }

    /// Re-wraps under the current primary version of the same key, with the same associated
    /// data. The plaintext never leaves this function.
    pub async fn rewrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<WrappedDataKey> {
        self.check_aad(aad)?;
        let (plaintext, from) = self.unwrap_now(wrapped, aad, false)?;
        self.wrap_unchecked(&from.key_id, &plaintext, aad).await
    }

    /// [`KeyManager::generate_data_key`] for each item; one result per item, in order.
    pub async fn batch_generate_data_keys(
        &self,
        items: &[GenerateItem],
    ) -> Result<Vec<Result<GeneratedDataKey>>> {
        self.check_batch(items)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(
                self.generate_data_key(&item.key_id, &item.associated_data)
                    .await,
            );
        }
        Ok(out)
    }

    /// [`KeyManager::unwrap`] for each item; one result per item, in order.
    pub async fn batch_unwrap(
        &self,
        items: &[UnwrapItem],
    ) -> Result<Vec<Result<(Zeroizing<Vec<u8>>, KeyVersionRef)>>> {
        self.check_batch(items)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.unwrap(&item.wrapped_key, &item.associated_data).await);
        }
        Ok(out)
    }

    /// [`KeyManager::rewrap`] for each item; one result per item, in order.
    pub async fn batch_rewrap(&self, items: &[UnwrapItem]) -> Result<Vec<Result<WrappedDataKey>>> {
        self.check_batch(items)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.rewrap(&item.wrapped_key, &item.associated_data).await);
        }
        Ok(out)
    }

    /// Wrap count of a version as this replica sees it (stored plus not yet flushed).
    pub fn local_wrap_count(&self, version: &KeyVersionRef) -> Option<u64> {
        let snapshot = self.snapshot();
        let key = snapshot.keys.get(&version.key_id)?;
        let v = key.versions.get(&version.version)?;
        Some(v.wraps())
    }
}
