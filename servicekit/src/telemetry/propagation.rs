//! W3C trace context (`traceparent`, `tracestate`) in and out of HTTP headers and gRPC
//! metadata, through the globally installed propagator.

use opentelemetry::{
    Context, global,
    propagation::{Extractor, Injector},
    trace::TraceContextExt,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads propagation fields from HTTP headers (gRPC metadata are HTTP/2 headers).
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Writes propagation fields into HTTP headers; values that are not valid header values
/// are skipped rather than failing the call.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The OpenTelemetry context of the current `tracing` span, or, outside any traced span, the
/// attached one: a gRPC call runs under its server span's context (or, if the sampler dropped
/// it, a non-recording one) without a `tracing` span (see `grpc`), and what it sends on must
/// continue it (or still say "not sampled").
pub(crate) fn current_context() -> Context {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        context
    } else {
        Context::current()
    }
}

/// Adds the current span's trace context to outgoing HTTP headers (e.g. a call to ON24).
pub fn inject_http_headers(headers: &mut http::HeaderMap) {
    let context = current_context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

/// The current span's `traceparent` value, to store beside work done later (an outbox job),
/// or `None` when there is no sampled trace.
pub fn current_traceparent() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    inject_http_headers(&mut headers);
    headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The context a stored `traceparent` describes, to parent work done later on it.
pub fn context_from_traceparent(traceparent: &str) -> Context {
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(traceparent) {
        headers.insert("traceparent", value);
    }
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(&headers)))
}
