//! Plumbing the key service and the integration service share, so it is written once:
//! OpenTelemetry traces and metrics over OTLP, structured logs, and W3C trace-context
//! propagation over gRPC metadata and HTTP headers.
#![forbid(unsafe_code)]

pub mod telemetry;
