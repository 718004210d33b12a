//! Plumbing the key service and the integration service share, so it is written once:
//! caller identities and policy patterns, the keyed audit chain, OpenTelemetry traces and
//! metrics over OTLP, structured logs, and W3C trace-context propagation over gRPC metadata
//! and HTTP headers.
#![forbid(unsafe_code)]

pub mod audit;
pub mod identity;
pub mod telemetry;
