//! The key service's own metrics: operations by key, operation and outcome. Process-wide
//! setup (exporters, JSON logs, the gRPC server span and duration metric) is
//! `servicekit::telemetry`; this adds what only the key service knows.
//!
//! Only key ids of keys that answered go into attributes: a refused or failed request's key id
//! is whatever the caller sent, and would let callers create unbounded series.

use std::{
    collections::HashMap,
    sync::{OnceLock, RwLock},
};

use opentelemetry::{KeyValue, StringValue, global, metrics::Counter};

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

/// The `key.id` attribute value of a key that answered, built once per key: every unwrap
/// names a key, and an `Arc` clone is cheaper than a new string per call. Bounded by the keys
/// that exist, since only answered keys get here.
fn key_value(key: &str) -> StringValue {
    static KEYS: OnceLock<RwLock<HashMap<Box<str>, StringValue>>> = OnceLock::new();
    let keys = KEYS.get_or_init(RwLock::default);
    if let Some(value) = keys.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return value.clone();
    }
    let value = StringValue::from(std::sync::Arc::<str>::from(key));
    keys.write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.into())
        .or_insert(value)
        .clone()
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
            KeyValue::new("key.id", key_value(key)),
            KeyValue::new("outcome", outcome),
        ],
    );
}
