//! The workspace's test kit, shared by every crate's tests and benches: a throwaway database
//! per test ([`db`]), a development PKI ([`pki`]), the key service and the ON24 simulator
//! started in one call ([`keyservice`], [`sim`]), [`eventually`] instead of hand-written sleep
//! loops, and [`skip`] for a test whose system dependency is missing.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod db;
pub mod keyservice;
pub mod sim;
pub mod skip;
mod wait;

pub use db::{Backend, TestDb};
pub use keyservice::KeyService;
pub use skip::skip;
pub use wait::{
    Condition, eventually, eventually_every, eventually_sync, wait_for, wait_for_every,
    wait_for_sync,
};
pub use xtask::pki;
