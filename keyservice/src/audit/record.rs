//! One key-service audit record: its members on the shared chain.

use serde::Serialize;
use servicekit::audit::{AuditRecord, member, number_member};

use super::AuditEvent;

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

/// The record's members in on-disk order. [`AuditRecord::write_members`] writes exactly what
/// `serde_json::to_string` of this struct gives (a test holds the two together), without
/// serde's per-field machinery and temporary strings: the audit record is on the path of every
/// operation.
#[derive(Debug, Serialize)]
pub(super) struct Record<'a> {
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
}

impl<'a> Record<'a> {
    pub(super) fn new(event: &AuditEvent<'a>, aad_hmac: Option<&'a str>) -> Self {
        let (outcome, code) = event.outcome.parts();
        Self {
            identity: event.identity,
            operation: event.operation.name(),
            key_id: event.key_id,
            key_version: event.key_version,
            outcome,
            code: code_name(code),
            request_id: event.request_id,
            trace_id: event.trace_id,
            aad_hmac,
        }
    }
}

impl AuditRecord for Record<'_> {
    fn write_members(&self, out: &mut Vec<u8>) {
        member(out, "identity", self.identity);
        member(out, "operation", self.operation);
        if let Some(key_id) = self.key_id {
            member(out, "key_id", key_id);
        }
        if let Some(version) = self.key_version {
            number_member(out, "key_version", u64::from(version));
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
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{audit::Outcome, authz::Operation};

    /// The hand-written members are byte for byte what serde_json makes of the same record.
    #[test]
    fn members_match_serde_json() {
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
        for event in &events {
            for aad_hmac in [None, Some("ab".repeat(32))] {
                let record = Record::new(event, aad_hmac.as_deref());
                let mut out = b"{\"seq\":1".to_vec();
                record.write_members(&mut out);
                out.push(b'}');
                let line = std::str::from_utf8(&out).expect("utf-8");
                let members = format!("{{{}", &line[9..]);
                let serde_body = serde_json::to_string(&record).expect("serde_json");
                assert_eq!(members, serde_body);
                let parsed: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
                assert_eq!(parsed["identity"], event.identity);
            }
        }
    }
}
