//! The integration service's integration tests: one binary, one folder per area.

mod api;
mod canary;
mod crash_safety;
mod engine;
mod store;
mod telemetry;
