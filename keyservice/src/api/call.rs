//! The per-request steps every handler shares: who is calling (certificate identity), the
//! per-identity rate limit, the request and trace ids, authorization, and the audit record
//! that must be written before the answer leaves.

use std::sync::{Arc, Mutex};

use tonic::{Code, Request, Status};

use super::{Edge, error::audit_unavailable};
use crate::{
    audit::{AuditEvent, DeferredRecord, Outcome},
    authz::Operation,
    tls::{Identity, identity_from_request},
};

/// The context of one request.
#[derive(Debug, Clone)]
pub struct Call {
    /// The caller, from its verified client certificate.
    pub identity: Identity,
    /// `x-request-id` if the caller sent a sane one, else a fresh UUID.
    pub request_id: String,
    /// The trace id of a valid W3C `traceparent`, if any.
    pub trace_id: Option<String>,
    /// Set for the items of a batch: their audit records wait here and are written together
    /// by [`Edge::write_deferred`] before the batch is answered.
    deferred: Option<Arc<Mutex<Vec<DeferredRecord>>>>,
}

impl Call {
    /// The same call with its audit records held for one write at the end (batch items).
    pub(super) fn deferring(&self) -> Self {
        Self {
            deferred: Some(Arc::default()),
            ..self.clone()
        }
    }
}

/// What one audit record is about (the caller and outcome come separately).
#[derive(Debug, Clone, Copy)]
pub(super) struct Subject<'a> {
    pub operation: Operation,
    pub key_id: Option<&'a str>,
    pub key_version: Option<u32>,
    pub associated_data: Option<&'a [u8]>,
}

impl<'a> Subject<'a> {
    pub(super) fn new(operation: Operation, key_id: Option<&'a str>) -> Self {
        Self {
            operation,
            key_id,
            key_version: None,
            associated_data: None,
        }
    }

    pub(super) fn version(mut self, version: Option<u32>) -> Self {
        self.key_version = version;
        self
    }

    pub(super) fn aad(mut self, aad: &'a [u8]) -> Self {
        self.associated_data = Some(aad);
        self
    }
}

impl Edge {
    /// Identifies the caller and charges `cost` requests to its rate limit.
    pub(super) async fn begin<T>(
        &self,
        operation: Operation,
        request: &Request<T>,
        cost: u32,
    ) -> Result<Call, Status> {
        let metadata = request.metadata();
        let request_id = metadata
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned)
            .unwrap_or_else(new_request_id);
        let trace_id = metadata
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(trace_id_of);
        let identity = match identity_from_request(request, self.policy.common_names()) {
            Ok(identity) => identity,
            Err(refused) => {
                // The listener only yields client-authenticated connections, so this means a
                // certificate that names nobody acceptable (no or several URI SANs, a bad CN).
                let call = Call {
                    identity: Identity::internal("unidentified"),
                    request_id,
                    trace_id,
                    deferred: None,
                };
                let status = Status::unauthenticated(refused.to_string());
                return self
                    .finish(&call, Subject::new(operation, None), Err(status))
                    .await;
            }
        };
        let call = Call {
            identity,
            request_id,
            trace_id,
            deferred: None,
        };
        if !self.rate.check(call.identity.as_str(), cost) {
            self.record(
                &call,
                Subject::new(operation, None),
                Outcome::Denied(Code::ResourceExhausted),
            )
            .await?;
            return Err(Status::resource_exhausted(
                "rate limit exceeded for this identity",
            ));
        }
        Ok(call)
    }

    /// Deny by default: refuses (and audits the refusal) unless the policy allows it.
    pub(super) async fn authorize(&self, call: &Call, subject: Subject<'_>) -> Result<(), Status> {
        let key = subject.key_id.unwrap_or("*");
        if self.policy.allows(&call.identity, subject.operation, key) {
            return Ok(());
        }
        self.record(call, subject, Outcome::Denied(Code::PermissionDenied))
            .await?;
        Err(Status::permission_denied(format!(
            "{} may not {} on this key",
            call.identity, subject.operation
        )))
    }

    /// Audits the result and returns it — or UNAVAILABLE when the record cannot be written.
    pub(super) async fn finish<T>(
        &self,
        call: &Call,
        subject: Subject<'_>,
        result: Result<T, Status>,
    ) -> Result<T, Status> {
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(status) => outcome_of(status.code()),
        };
        self.record(call, subject, outcome).await?;
        result
    }

    /// Writes one record; a failure becomes the UNAVAILABLE the caller must return.
    pub(super) async fn record(
        &self,
        call: &Call,
        subject: Subject<'_>,
        outcome: Outcome,
    ) -> Result<(), Status> {
        crate::telemetry::operation(subject.operation, subject.key_id, outcome);
        let event = AuditEvent {
            identity: call.identity.as_str(),
            operation: subject.operation,
            key_id: subject.key_id,
            key_version: subject.key_version,
            outcome,
            request_id: &call.request_id,
            trace_id: call.trace_id.as_deref(),
            associated_data: subject.associated_data,
        };
        if let Some(deferred) = &call.deferred {
            let record = self.audit.defer(&event);
            deferred
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(record);
            return Ok(());
        }
        self.audit.record(&event).await.map_err(refuse_unaudited)
    }

    /// Writes the records a deferring call held, as one group; until this returns Ok the
    /// call's results must not leave (fail closed: an error refuses the whole batch).
    pub(super) async fn write_deferred(&self, call: &Call) -> Result<(), Status> {
        let Some(deferred) = &call.deferred else {
            return Ok(());
        };
        let records = std::mem::take(
            &mut *deferred
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.audit
            .record_batch(
                call.identity.as_str(),
                &call.request_id,
                call.trace_id.as_deref(),
                &records,
            )
            .await
            .map_err(refuse_unaudited)
    }
}

/// An audit write failed: the operation is refused.
fn refuse_unaudited(error: crate::audit::AuditError) -> Status {
    tracing::error!(%error, "audit write failed; refusing the operation");
    audit_unavailable()
}

/// A fresh request id: a UUIDv7 (time-ordered) whose random bits come from the thread-local
/// CSPRNG. `Uuid::now_v7` asks the kernel (`getrandom(2)`) for them on every call, which cost
/// more than a tenth of an unwrap's server time.
pub(crate) fn new_request_id() -> String {
    use rand::RngCore;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Refusals are "denied"; everything else that failed is "error".
pub(super) fn outcome_of(code: Code) -> Outcome {
    match code {
        Code::Ok => Outcome::Ok,
        Code::PermissionDenied | Code::Unauthenticated => Outcome::Denied(code),
        _ => Outcome::Error(code),
    }
}

/// The trace id of `00-<32 hex>-<16 hex>-<2 hex>`, unless it is malformed or all zeros.
fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    ok.then(|| trace.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::trace_id_of;

    #[test]
    fn request_ids_are_distinct_time_ordered_uuids() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(
                parsed.hyphenated().to_string(),
                *id,
                "canonical lower-case form"
            );
        }
    }

    #[test]
    fn traceparent_is_validated() {
        assert_eq!(
            trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of("00-xyz-00f067aa0ba902b7-01"), None);
        assert_eq!(trace_id_of("garbage"), None);
    }
}
