//! Plumbing the key service and the integration service share, so it is written once:
//! OpenTelemetry traces and metrics over OTLP, structured logs, W3C trace-context
//! propagation over gRPC metadata and HTTP headers, and the database pool (`db`).
#![forbid(unsafe_code)]

pub mod db;
pub mod telemetry;
