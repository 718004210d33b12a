//! The simulator's shared state: accounts, the world, quota, faults and the journal, behind one
//! `Arc` that the ON24 routes and the control routes both hold.

use std::sync::{Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::auth::Accounts;
use crate::config::SimConfig;
use crate::faults::Faults;
use crate::inflight::InFlight;
use crate::journal::Journal;
use crate::quota::Quota;
use crate::state::Store;

/// Everything a request may touch.
#[derive(Debug)]
pub struct Sim {
    /// The ON24 accounts and their tokens.
    pub accounts: RwLock<Accounts>,
    /// The world: events, registrants and viewing.
    pub store: Mutex<Store>,
    /// Per-client call budgets.
    pub quota: Mutex<Quota>,
    /// The faults injected into ON24 calls.
    pub faults: Faults,
    /// The calls received, for tests.
    pub journal: Journal,
    /// Calls in flight per client id.
    pub inflight: InFlight,
    /// Cancelled on shutdown; hung calls wait on it so nothing outlives the simulator.
    pub shutdown: CancellationToken,
}

impl Sim {
    /// A simulator world from `cfg`, stopping its background work on `shutdown`.
    pub fn new(cfg: &SimConfig, shutdown: CancellationToken) -> Self {
        Self {
            accounts: RwLock::new(Accounts::new(&cfg.accounts)),
            store: Mutex::new(Store::default()),
            quota: Mutex::new(Quota::new(cfg.quota)),
            faults: Faults::new(cfg.faults.clone()),
            journal: Journal::new(cfg.journal_capacity),
            inflight: InFlight::default(),
            shutdown,
        }
    }

    /// The world, locked.
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        crate::faults::lock(&self.store)
    }

    /// The accounts, for reading.
    pub fn accounts(&self) -> std::sync::RwLockReadGuard<'_, Accounts> {
        self.accounts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The accounts, for changing.
    pub fn accounts_mut(&self) -> std::sync::RwLockWriteGuard<'_, Accounts> {
        self.accounts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
