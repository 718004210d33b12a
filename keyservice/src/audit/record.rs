//! One audit record and how it becomes a chained line of text.

use std::io::Write as _;

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

/// The record's fields in on-disk order. [`Record::write_line`] writes exactly what
/// `serde_json::to_string` of this struct gives (a test holds the two together), without
/// serde's per-field machinery and temporary strings: the audit record is on the path of every
/// operation.
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
    code: &'static str,
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
            code: code_name(code),
            request_id: event.request_id,
            trace_id: event.trace_id,
            aad_hmac,
            prev,
        }
    }

    /// Appends the line, its `hash` member and a newline to `out`; returns the hash (hex).
    pub(super) fn write_line(&self, out: &mut Vec<u8>) -> [u8; 64] {
        let start = out.len();
        out.extend_from_slice(b"{\"seq\":");
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}", self.seq);
        member(out, "time", self.time);
        member(out, "identity", self.identity);
        member(out, "operation", self.operation);
        if let Some(key_id) = self.key_id {
            member(out, "key_id", key_id);
        }
        if let Some(version) = self.key_version {
            out.extend_from_slice(b",\"key_version\":");
            let _ = write!(out, "{version}");
        }
        member(out, "outcome", self.outcome);
        member(out, "code", self.code);
        member(out, "request_id", self.request_id);
        if let Some(trace_id) = self.trace_id {
            member(out, "trace_id", trace_id);
        }
        if let Some(aad_hmac) = self.aad_hmac {
            member(out, "aad_hmac", aad_hmac);
        }
        member(out, "prev", self.prev);
        out.push(b'}');
        let hash = hex32(&Sha256::digest(&out[start..]).into());
        // The hash member goes inside the object: replace the closing brace.
        out.pop();
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(&hash);
        out.extend_from_slice(b"\"}\n");
        hash
    }
}

/// Writes `,"name":"value"` with the value escaped as serde_json escapes it.
fn member(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    // Hex, ids and names need no escaping; anything else (a CN with a quote, say) goes
    // through serde_json so the line stays valid JSON.
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Lower-case hex of a SHA-256 output.
pub(super) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// The name of a gRPC code as it appears in records (its `Debug` form), without formatting.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// SHA-256 of the record text without its hash member, hex encoded.
pub(super) fn hash_body(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Splits a line into (body without hash, claimed hash); `None` if it has no trailing hash.
pub(super) fn split_line(line: &str) -> Option<(String, &str)> {
    const MARK: &str = ",\"hash\":\"";
    let rest = line.strip_suffix("\"}")?;
    let at = rest.rfind(MARK)?;
    let hash = &rest[at + MARK.len()..];
    (hash.len() == 64).then(|| (format!("{}}}", &rest[..at]), hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{audit::Outcome, authz::Operation};

    /// The hand-written line is byte for byte what serde_json makes of the same record, so
    /// logs written before and after stay one format (and `audit verify` reads both).
    #[test]
    fn write_line_matches_serde_json_and_hashes_its_body() {
        let code_names = [
            tonic::Code::Ok,
            tonic::Code::Cancelled,
            tonic::Code::Unknown,
            tonic::Code::InvalidArgument,
            tonic::Code::DeadlineExceeded,
            tonic::Code::NotFound,
            tonic::Code::AlreadyExists,
            tonic::Code::PermissionDenied,
            tonic::Code::ResourceExhausted,
            tonic::Code::FailedPrecondition,
            tonic::Code::Aborted,
            tonic::Code::OutOfRange,
            tonic::Code::Unimplemented,
            tonic::Code::Internal,
            tonic::Code::Unavailable,
            tonic::Code::DataLoss,
            tonic::Code::Unauthenticated,
        ];
        for code in code_names {
            assert_eq!(code_name(code), format!("{code:?}"));
        }
        let events = [
            AuditEvent {
                identity: "spiffe://webinar.local/integrationservice",
                operation: Operation::Unwrap,
                key_id: Some("on24-credentials"),
                key_version: Some(3),
                outcome: Outcome::Ok,
                request_id: "0192b1c4-0d6e-7cc1-9e38-5c4f0e2b7a11",
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
                associated_data: None,
            },
            AuditEvent {
                // A certificate CN may hold anything; it must come out escaped.
                identity: "cn \"quoted\" \\ back\tslash\u{1}é",
                operation: Operation::ListKeys,
                key_id: None,
                key_version: None,
                outcome: Outcome::Denied(tonic::Code::PermissionDenied),
                request_id: "req\n1",
                trace_id: None,
                associated_data: None,
            },
        ];
        for (seq, event) in [0u64, u64::MAX].into_iter().zip(events.iter()) {
            for aad_hmac in [None, Some("ab".repeat(32))] {
                let record = Record::new(
                    event,
                    seq,
                    "2026-11-25T21:37:12.625175Z",
                    aad_hmac.as_deref(),
                    GENESIS,
                );
                let mut out = b"earlier line\n".to_vec();
                let hash = record.write_line(&mut out);
                let line = std::str::from_utf8(&out[13..]).expect("utf-8");
                let line = line.strip_suffix('\n').expect("ends with a newline");
                let (body, claimed) = split_line(line).expect("has a hash member");
                let serde_body = serde_json::to_string(&record).expect("serde_json");
                assert_eq!(body, serde_body);
                assert_eq!(claimed.as_bytes(), hash.as_slice());
                assert_eq!(hash_body(&body), claimed);
                let parsed: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
                assert_eq!(parsed["identity"], event.identity);
            }
        }
    }
}
