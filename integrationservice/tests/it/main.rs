//! The integration service's integration tests: one binary, one module per area.

mod on24_client;
mod on24_contract;
mod api_auth;
mod api_harness;
mod api_validation;
