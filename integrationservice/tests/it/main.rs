//! The integration service's integration tests: one binary, one module per area.

mod on24_client;
mod on24_contract;
mod engine_harness;
mod engine_lifecycle;
mod engine_pause;
mod engine_forget;
mod engine_faults;
mod engine_rewrap;
mod api_auth;
mod api_harness;
mod api_validation;
mod api_lifecycle;
