//! Per-tenant wake-ups for change-feed watchers. A change wakes only the watchers of the
//! tenant whose feed grew: each tenant with an open watch has one channel, made by its first
//! watcher and dropped with its last, so the map is bounded by the open watches (capped per
//! tenant in `api::limits`) and a tenant's changes cost nothing to watchers of other tenants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::ids::TenantId;

/// What a tenant's watchers were told: `changes` counts the wake-ups for changes of that
/// tenant (observable in tests), `resyncs` those for possibly missed ones (see
/// [`ChangeWatchers::wake_all`]).
#[derive(Clone, Copy, Debug, Default)]
struct Wakes {
    changes: u64,
    resyncs: u64,
}

/// The channels of the tenants that have watchers in this process.
#[derive(Debug, Default)]
pub(crate) struct ChangeWatchers {
    tenants: Mutex<HashMap<TenantId, watch::Sender<Wakes>>>,
}

impl ChangeWatchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, watch::Sender<Wakes>>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes `tenant`'s watchers (nothing when it has none).
    pub(crate) fn wake(&self, tenant: &TenantId) {
        if let Some(tx) = self.lock().get(tenant) {
            tx.send_modify(|w| w.changes = w.changes.wrapping_add(1));
        }
    }

    /// Wakes every watcher, for changes that may have been committed while this process
    /// could not hear of them (another replica's, while the listener was reconnecting).
    pub(crate) fn wake_all(&self) {
        for tx in self.lock().values() {
            tx.send_modify(|w| w.resyncs = w.resyncs.wrapping_add(1));
        }
    }

    /// How many change wake-ups `tenant`'s watchers got since the first of those open now
    /// subscribed (0 without watchers).
    pub(crate) fn wakes(&self, tenant: &TenantId) -> u64 {
        self.lock().get(tenant).map_or(0, |tx| tx.borrow().changes)
    }

    /// Tenants with a channel now.
    pub(crate) fn tenants(&self) -> usize {
        self.lock().len()
    }

    /// A subscription to `tenant`'s wake-ups.
    pub(crate) fn subscribe(self: &Arc<Self>, tenant: &TenantId) -> ChangeSubscription {
        let rx = self
            .lock()
            .entry(tenant.clone())
            .or_insert_with(|| watch::channel(Wakes::default()).0)
            .subscribe();
        ChangeSubscription {
            rx,
            tenant: tenant.clone(),
            watchers: self.clone(),
        }
    }
}

/// One watcher's view of its tenant's wake-ups; the tenant's channel goes with the last one.
#[derive(Debug)]
pub struct ChangeSubscription {
    rx: watch::Receiver<Wakes>,
    tenant: TenantId,
    watchers: Arc<ChangeWatchers>,
}

impl ChangeSubscription {
    /// Marks every wake-up so far as seen (call before reading the feed).
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Resolves at the next wake-up not yet seen.
    pub async fn changed(&mut self) {
        // The sender lives in the map for as long as this receiver does.
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for ChangeSubscription {
    fn drop(&mut self) {
        let mut tenants = self.watchers.lock();
        // Subscribing takes the same lock, so no watcher can join between the count and
        // the removal; this receiver still counts itself.
        if tenants
            .get(&self.tenant)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            tenants.remove(&self.tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).expect("tenant")
    }

    #[tokio::test]
    async fn a_change_wakes_only_its_tenant_and_the_last_watcher_clears_the_channel() {
        let watchers = Arc::new(ChangeWatchers::default());
        let (a, b) = (tenant("a"), tenant("b"));
        let mut wa = watchers.subscribe(&a);
        let mut wb = watchers.subscribe(&b);
        let wa2 = watchers.subscribe(&a);
        wa.mark_seen();
        wb.mark_seen();
        watchers.wake(&a);
        tokio::time::timeout(std::time::Duration::from_secs(5), wa.changed())
            .await
            .expect("A's watcher woken");
        assert!(!wb.rx.has_changed().expect("open"), "B's watcher not woken");
        assert_eq!((watchers.wakes(&a), watchers.wakes(&b)), (1, 0));
        watchers.wake_all();
        assert!(wb.rx.has_changed().expect("open"), "a resync wakes B too");
        assert_eq!(watchers.wakes(&b), 0, "a resync is not a change of B");
        drop(wa);
        assert_eq!(watchers.tenants(), 2, "A still has a watcher");
        drop(wa2);
        drop(wb);
        assert_eq!(watchers.tenants(), 0);
        watchers.wake(&a);
        assert_eq!(
            watchers.tenants(),
            0,
            "waking a tenant without watchers adds nothing"
        );
    }
}
