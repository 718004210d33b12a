//! What the client reports about each call: the outcome on its `http.client` span (status,
//! error class), the class on the caller's span (a delivery job's, for "why is this late"),
//! and the `on24.responses` counter by operation and class. Labels are operation names and
//! classes only, never a URL (it can hold an email) or a body.

use std::sync::OnceLock;

use opentelemetry::{KeyValue, global, metrics::Counter};
use tracing::Span;

use crate::error::On24Error;

fn responses() -> &'static Counter<u64> {
    static RESPONSES: OnceLock<Counter<u64>> = OnceLock::new();
    RESPONSES.get_or_init(|| {
        global::meter("on24-client")
            .u64_counter("on24.responses")
            .with_description("ON24 API answers by operation and class (ok or error class)")
            .build()
    })
}

/// Records an ON24 answer (or the failure to get one) on its client span and the counter.
pub(crate) fn answered<T>(
    span: &Span,
    operation: &'static str,
    result: &Result<(u16, T), On24Error>,
) {
    let (status, class) = match result {
        Ok((status, _)) if (200..300).contains(status) => (Some(*status), None),
        Ok((status, _)) => (
            Some(*status),
            Some(On24Error::from_status(operation, *status, None).class()),
        ),
        Err(e) => (None, Some(e.class())),
    };
    servicekit::telemetry::record_http_outcome(span, status, class);
    if let Some(class) = class {
        Span::current().record("on24.error_class", class);
    }
    responses().add(
        1,
        &[
            KeyValue::new("on24.operation", operation),
            KeyValue::new("on24.class", class.unwrap_or("ok")),
        ],
    );
}
