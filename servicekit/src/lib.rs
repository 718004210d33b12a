//! Plumbing the key service and the integration service share, so it is written once:
//! caller identities and policy patterns, the keyed audit chain, OpenTelemetry traces and
//! metrics over OTLP, structured logs, W3C trace-context propagation over gRPC metadata and
//! HTTP headers, process hardening (no core dumps, locked memory, secrets erased from the environment), the
//! TLS accept loop (`tls`), the server side of gRPC deadlines (`deadline`) and the database
//! pool (`db`).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod audit;
pub mod db;
pub mod deadline;
pub mod hardening;
pub mod identity;
pub mod telemetry;
pub mod tls;
