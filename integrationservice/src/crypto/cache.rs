//! A bounded, short-lived cache of unwrapped data keys. Entries are keyed by a SHA-256 of the
//! wrapped DEK and its associated data (so a hit proves the same binding the key service would
//! check), expire after a maximum age, and hold the DEK in `Zeroizing`, which wipes it when the
//! cache evicts the entry and the last user drops it.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A cached DEK, shared with its current users and wiped when the last one drops it.
pub(crate) type SharedDek = Arc<Zeroizing<Vec<u8>>>;

/// Shared cache of DEKs. Cheap to clone.
#[derive(Clone)]
pub struct DekCache {
    inner: Option<moka::sync::Cache<[u8; 32], SharedDek>>,
}

impl std::fmt::Debug for DekCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DekCache")
            .field("entries", &self.inner.as_ref().map(|c| c.entry_count()))
            .finish()
    }
}

impl DekCache {
    /// At most `max_entries` keys, each for at most `max_age`. Zero entries disables caching.
    pub fn new(max_entries: u64, max_age: Duration) -> Self {
        let inner = (max_entries > 0 && !max_age.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(max_age)
                .build()
        });
        Self { inner }
    }

    /// No caching: every open unwraps at the key service.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    fn key(wrapped: &[u8], aad: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((wrapped.len() as u64).to_be_bytes());
        h.update(wrapped);
        h.update(aad);
        h.finalize().into()
    }

    /// The cached DEK for this wrapped key and binding.
    pub fn get(&self, wrapped: &[u8], aad: &[u8]) -> Option<Arc<Zeroizing<Vec<u8>>>> {
        // A disabled cache counts as a miss: the caller goes to the key service either way.
        let found = self
            .inner
            .as_ref()
            .and_then(|cache| cache.get(&Self::key(wrapped, aad)));
        crate::telemetry::dek_cache_lookup(found.is_some());
        found
    }

    /// Caches a DEK and hands it back for the current use.
    pub fn insert(
        &self,
        wrapped: &[u8],
        aad: &[u8],
        dek: Zeroizing<Vec<u8>>,
    ) -> Arc<Zeroizing<Vec<u8>>> {
        let dek = Arc::new(dek);
        if let Some(cache) = &self.inner {
            cache.insert(Self::key(wrapped, aad), dek.clone());
        }
        dek
    }

    /// Number of cached keys (after pending maintenance).
    pub fn len(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| {
            c.run_pending_tasks();
            c.entry_count()
        })
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_bound_to_aad() {
        let cache = DekCache::new(2, Duration::from_secs(60));
        for i in 0..10u8 {
            cache.insert(&[i], b"a", Zeroizing::new(vec![i; 32]));
        }
        assert!(cache.len() <= 2);
        cache.insert(b"w", b"tenant-a", Zeroizing::new(vec![7; 32]));
        assert!(cache.get(b"w", b"tenant-b").is_none());
    }

    #[test]
    fn entries_expire() {
        let cache = DekCache::new(10, Duration::from_millis(20));
        cache.insert(b"w", b"a", Zeroizing::new(vec![1; 32]));
        assert!(cache.get(b"w", b"a").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(b"w", b"a").is_none());
    }
}
