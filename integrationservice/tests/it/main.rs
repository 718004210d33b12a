//! The integration service's integration tests: one binary, one module per area.

mod api_auth;
mod api_harness;
mod api_lifecycle;
mod api_promises;
mod api_validation;
mod crash_safety;
mod engine_create;
mod engine_faults;
mod engine_forget;
mod engine_harness;
mod engine_lifecycle;
mod engine_pause;
mod engine_poller;
mod engine_recorder;
mod engine_refusals;
mod engine_replicas;
mod engine_rewrap;
mod metrics_sync;
mod on24_fidelity;
mod registration_writes;
mod store_feed;
mod store_indexes;
mod telemetry;
