//! One audit record and how it becomes a chained line of text.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AuditEvent;

/// `prev` of the first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The result of an operation as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by the policy or the rate limit.
    Denied(tonic::Code),
    /// Failed (validation, not found, cannot unwrap, internal…).
    Error(tonic::Code),
}

impl Outcome {
    fn parts(self) -> (&'static str, tonic::Code) {
        match self {
            Self::Ok => ("ok", tonic::Code::Ok),
            Self::Denied(code) => ("denied", code),
            Self::Error(code) => ("error", code),
        }
    }
}

/// The serialized shape; field order is the on-disk order, so it must not change.
#[derive(Debug, Serialize)]
pub(super) struct Record<'a> {
    seq: u64,
    time: &'a str,
    identity: &'a str,
    operation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_version: Option<u32>,
    outcome: &'static str,
    code: String,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aad_hmac: Option<&'a str>,
    prev: &'a str,
}

impl<'a> Record<'a> {
    pub(super) fn new(
        event: &AuditEvent<'a>,
        seq: u64,
        time: &'a str,
        aad_hmac: Option<&'a str>,
        prev: &'a str,
    ) -> Self {
        let (outcome, code) = event.outcome.parts();
        Self {
            seq,
            time,
            identity: event.identity,
            operation: event.operation.name(),
            key_id: event.key_id,
            key_version: event.key_version,
            outcome,
            code: format!("{code:?}"),
            request_id: event.request_id,
            trace_id: event.trace_id,
            aad_hmac,
            prev,
        }
    }

    /// The line to write (without newline) and its hash.
    pub(super) fn to_line(&self) -> (String, String) {
        // Serializing a struct of strings and integers cannot fail.
        let body = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        let hash = hash_body(&body);
        (with_hash(&body, &hash), hash)
    }
}

/// SHA-256 of the record text without its hash member, hex encoded.
pub(super) fn hash_body(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Appends the `hash` member to a serialized object `{…}`.
fn with_hash(body: &str, hash: &str) -> String {
    let open = body.strip_suffix('}').unwrap_or(body);
    format!("{open},\"hash\":\"{hash}\"}}")
}

/// Splits a line into (body without hash, claimed hash); `None` if it has no trailing hash.
pub(super) fn split_line(line: &str) -> Option<(String, &str)> {
    const MARK: &str = ",\"hash\":\"";
    let rest = line.strip_suffix("\"}")?;
    let at = rest.rfind(MARK)?;
    let hash = &rest[at + MARK.len()..];
    (hash.len() == 64).then(|| (format!("{}}}", &rest[..at]), hash))
}
