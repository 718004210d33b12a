//! The engine and its workers against the real key service, the ON24 simulator and both
//! database backends: delivery, faults (also under load), pausing, polling, replicas, rewrap
//! and metrics sync.

mod backfill;
mod client_bound;
mod create;
mod dek_cache;
mod encryption;
mod faults;
mod faults_under_load;
mod forget;
pub mod harness;
mod interactions;
mod interactions_digest;
mod lifecycle;
pub(crate) mod linked_webinars;
mod long_tail;
mod metrics_sync;
mod minimisation;
mod offboarding;
mod on24_origin;
mod pause;
mod poller;
mod recorder;
mod refusals;
mod replicas;
mod retention;
mod rewrap;
mod update_during_delivery;
