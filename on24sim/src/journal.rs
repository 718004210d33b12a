//! The request journal: what reached "ON24" (method, path, query, form fields, status, time), with
//! secrets masked, so tests can assert on the calls a client really made.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::faults::lock;

/// What replaces a masked value.
pub const MASK: &str = "***";

/// One call as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Increases by one per call since start (not reset by `clear`).
    pub seq: u64,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// HTTP method.
    pub method: String,
    /// The path as sent, including the `/v2` or `/wcc/api/v2` prefix.
    pub path: String,
    /// Query parameters in order, secret-looking ones masked.
    pub query: Vec<(String, String)>,
    /// Form fields (urlencoded or multipart) in order, secret-looking ones masked.
    pub form: Vec<(String, String)>,
    /// The `accessTokenKey` header, reduced to its first four characters.
    pub token_key: Option<String>,
    /// Whether an `accessTokenSecret` header was present (its value is never recorded).
    pub token_secret_present: bool,
    /// HTTP status sent, or 0 when the call was hung or reset.
    pub status: u16,
    /// The injected fault, if any: "error", "hang", "reset" or "lost" (carried out, answer lost).
    pub fault: Option<String>,
}

/// Bounded list of entries, oldest dropped first.
#[derive(Debug)]
pub struct Journal {
    entries: Mutex<(u64, VecDeque<JournalEntry>)>,
    capacity: usize,
}

impl Journal {
    /// A journal keeping the last `capacity` calls.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new((0, VecDeque::new())),
            capacity: capacity.max(1),
        }
    }

    /// Records a call (its sequence number assigned here).
    pub fn push(&self, mut e: JournalEntry) {
        let mut g = lock(&self.entries);
        g.0 += 1;
        e.seq = g.0;
        if g.1.len() >= self.capacity {
            g.1.pop_front();
        }
        g.1.push_back(e);
    }

    /// Every recorded call, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        lock(&self.entries).1.iter().cloned().collect()
    }

    /// Forgets the recorded calls (sequence numbers go on).
    pub fn clear(&self) {
        lock(&self.entries).1.clear();
    }
}

/// Form fields recorded by the form extractor for the journal entry of the current request.
#[derive(Debug, Clone, Default)]
pub struct FormSlot(pub Arc<Mutex<Vec<(String, String)>>>);

impl FormSlot {
    /// Keeps the current request's form fields, secret-looking values masked.
    pub fn record(&self, fields: &[(String, String)]) {
        *lock(&self.0) = mask_pairs(fields);
    }

    /// The recorded form fields, leaving the slot empty.
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// True for names that carry credentials: ON24's token headers sent as fields, passwords, keys.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "api_key",
        "authorization",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The pairs with the values of secret-looking names masked.
pub fn mask_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if is_secret_name(k) {
                    MASK.to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Keeps the first four characters of a token key so entries can be told apart without
/// recording the key.
pub fn mask_key(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    format!("{head}{MASK}")
}
