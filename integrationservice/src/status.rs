//! gRPC statuses with a `google.rpc.ErrorInfo` detail in this service's error domain, shared
//! by the authentication layer (`auth`) and the API (`api`), which both answer with them.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `google.rpc.ErrorInfo.domain` of every error this API sends.
pub(crate) const ERROR_DOMAIN: &str = "webinar.local";

/// A status with an `ErrorInfo` detail (`reason` as in `webinar.v1.ErrorReason`, without
/// its prefix).
pub(crate) fn error_info_status(
    code: Code,
    message: &str,
    reason: &str,
    metadata: &[(&str, &str)],
) -> Status {
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}
