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
    pub accounts: RwLock<Accounts>,
    pub store: Mutex<Store>,
    pub quota: Mutex<Quota>,
    pub faults: Faults,
    pub journal: Journal,
    /// Calls in flight per client id.
    pub inflight: InFlight,
    /// Cancelled on shutdown; hung calls wait on it so nothing outlives the simulator.
    pub shutdown: CancellationToken,
}

impl Sim {
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

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        crate::faults::lock(&self.store)
    }

    pub fn accounts(&self) -> std::sync::RwLockReadGuard<'_, Accounts> {
        self.accounts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn accounts_mut(&self) -> std::sync::RwLockWriteGuard<'_, Accounts> {
        self.accounts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
