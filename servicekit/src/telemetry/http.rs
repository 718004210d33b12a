//! Outgoing HTTP calls: a `CLIENT` span named and attributed per OpenTelemetry's HTTP
//! semantic conventions, and the W3C trace context of that span in the request headers, so
//! the callee (ON24, or anything in between that traces) continues our trace.

use opentelemetry::global;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::propagation::HeaderInjector;

/// A `CLIENT` span for one HTTP request to `server_address`. `operation` names what we asked
/// for (e.g. `create_registrant`), never a URL with identifiers in it. Record
/// `http.response.status_code`, `error.type` and `on24.error_class` on it once known.
pub fn http_client_span(method: &str, server_address: &str, operation: &str) -> Span {
    tracing::info_span!(
        "http.client",
        otel.name = %method,
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = %method,
        server.address = %server_address,
        operation = %operation,
        http.response.status_code = Empty,
        error.type = Empty,
        on24.error_class = Empty,
    )
}

/// Adds `span`'s trace context (`traceparent`, `tracestate`) to outgoing HTTP headers.
pub fn inject_span_context(span: &Span, headers: &mut http::HeaderMap) {
    let context = span.context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// Records the outcome of an HTTP call on its span: the status when there was an answer, and
/// the error class (ours, e.g. `quota`, `auth`, `transport`) when it failed.
pub fn record_http_outcome(span: &Span, status: Option<u16>, error_class: Option<&str>) {
    if let Some(status) = status {
        span.record("http.response.status_code", i64::from(status));
    }
    if let Some(class) = error_class {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", class);
        span.record("on24.error_class", class);
    }
}
