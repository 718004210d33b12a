//! The key service's own metrics: operations by key, operation and outcome. Process-wide
//! setup (exporters, JSON logs, the gRPC server span and duration metric) is
//! `servicekit::telemetry`; this adds what only the key service knows.
//!
//! Only key ids of keys that answered go into attributes: a refused or failed request's key id
//! is whatever the caller sent, and would let callers create unbounded series.

use std::sync::OnceLock;

use opentelemetry::{KeyValue, global, metrics::Counter};

use crate::audit::Outcome;
use crate::authz::Operation;

fn operations() -> &'static Counter<u64> {
    static OPERATIONS: OnceLock<Counter<u64>> = OnceLock::new();
    OPERATIONS.get_or_init(|| {
        global::meter("keyservice")
            .u64_counter("keyservice.operations")
            .with_description("Key operations by operation, key and outcome (ok, denied, error)")
            .build()
    })
}

/// Counts one audited operation.
pub fn operation(operation: Operation, key_id: Option<&str>, outcome: Outcome) {
    let (outcome, key) = match outcome {
        Outcome::Ok => ("ok", key_id.unwrap_or("*")),
        Outcome::Denied(_) => ("denied", "other"),
        Outcome::Error(_) => ("error", "other"),
    };
    operations().add(
        1,
        &[
            KeyValue::new("keyservice.operation", operation.name()),
            KeyValue::new("key.id", key.to_owned()),
            KeyValue::new("outcome", outcome),
        ],
    );
}
