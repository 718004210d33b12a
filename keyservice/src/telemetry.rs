//! The key service's own metrics: operations by key, operation and outcome, and audit records
//! written or failed. Process-wide setup (exporters, JSON logs, the gRPC server span and
//! duration metric) is `servicekit::telemetry`; this adds what only the key service knows.
//!
//! Only key ids of keys that answered go into attributes: a refused or failed request's key id
//! is whatever the caller sent, and would let callers create unbounded series.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock, RwLock},
};

use opentelemetry::{
    KeyValue, StringValue, global,
    metrics::{BoundCounter, Counter},
};

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

/// Slots per key: every [`Operation`] (indexed by its discriminant) times the three outcomes.
const SLOTS: usize = Operation::COUNT * OUTCOMES.len();
const OUTCOMES: [&str; 3] = ["ok", "denied", "error"];

/// One key's `key.id` attribute value and its counter handles, bound to each operation and
/// outcome on first use. Every unwrap names a key: a bound handle records without building,
/// hashing and looking up three attributes per call.
struct KeyCounters {
    key: StringValue,
    bound: [OnceLock<BoundCounter<u64>>; SLOTS],
}

impl KeyCounters {
    fn add(&self, operation: Operation, outcome: usize) {
        let attributes = || {
            [
                KeyValue::new("keyservice.operation", operation.name()),
                KeyValue::new("key.id", self.key.clone()),
                KeyValue::new("outcome", OUTCOMES[outcome]),
            ]
        };
        match self
            .bound
            .get(operation as usize * OUTCOMES.len() + outcome)
        {
            Some(slot) => slot.get_or_init(|| operations().bind(&attributes())).add(1),
            None => operations().add(1, &attributes()),
        }
    }
}

/// Runs `f` on the counters of `key`, created once per key (under the map's read lock, so
/// the hot path updates no shared reference count). Bounded by the keys that exist, since
/// only answered keys get here (and the fixed `*` and `other`).
fn with_key_counters(key: &str, f: impl FnOnce(&KeyCounters)) {
    static KEYS: OnceLock<RwLock<HashMap<Box<str>, KeyCounters>>> = OnceLock::new();
    let keys = KEYS.get_or_init(RwLock::default);
    if let Some(counters) = keys.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return f(counters);
    }
    f(keys
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.into())
        .or_insert_with(|| KeyCounters {
            key: StringValue::from(Arc::<str>::from(key)),
            bound: [const { OnceLock::new() }; SLOTS],
        }));
}

/// Counts one audited operation.
pub fn operation(operation: Operation, key_id: Option<&str>, outcome: Outcome) {
    let (outcome, key) = match outcome {
        Outcome::Ok => (0, key_id.unwrap_or("*")),
        Outcome::Denied(_) => (1, "other"),
        Outcome::Error(_) => (2, "other"),
    };
    with_key_counters(key, |counters| counters.add(operation, outcome));
}

/// The audit log's health: records written, and records that could not be written (each one
/// an operation refused, fail closed). Bound once: every operation records one.
fn audit_records() -> &'static [BoundCounter<u64>; 2] {
    static RECORDS: OnceLock<[BoundCounter<u64>; 2]> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let counter = global::meter("keyservice")
            .u64_counter("keyservice.audit.records")
            .with_description("Audit records by outcome (written, failed)")
            .build();
        ["written", "failed"].map(|outcome| counter.bind(&[KeyValue::new("outcome", outcome)]))
    })
}

/// Counts one audit record, written or not.
pub fn audit_recorded(written: bool) {
    audit_records()[usize::from(!written)].add(1);
}
