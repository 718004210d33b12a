//! gRPC tracing: a server layer that continues the caller's W3C trace (or starts one),
//! names the span after the RPC with OpenTelemetry's RPC attributes and records the
//! per-RPC duration metric; and a client interceptor that sends the current trace on.

use std::{
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use opentelemetry::{
    KeyValue, global,
    metrics::Histogram,
    trace::{TraceContextExt, TraceId},
};
use tracing::{Instrument, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::propagation::{HeaderExtractor, HeaderInjector};

/// Tower layer for a tonic server: one `SERVER` span and one duration point per RPC.
#[derive(Debug, Clone)]
pub struct GrpcServerTraceLayer {
    duration: Histogram<f64>,
}

impl GrpcServerTraceLayer {
    /// Builds the layer; instruments come from the global meter provider, so build it after
    /// [`super::init`].
    pub fn new() -> Self {
        let duration = global::meter("webinar")
            .f64_histogram("rpc.server.duration")
            .with_unit("ms")
            .with_description("Duration of inbound gRPC calls")
            .build();
        Self { duration }
    }
}

impl Default for GrpcServerTraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for GrpcServerTraceLayer {
    type Service = GrpcServerTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerTraceService {
            inner,
            duration: self.duration.clone(),
        }
    }
}

/// The service [`GrpcServerTraceLayer`] wraps around a tonic router.
#[derive(Debug, Clone)]
pub struct GrpcServerTraceService<S> {
    inner: S,
    duration: Histogram<f64>,
}

/// `/package.Service/Method` split into its service and method; unknown shapes keep the path.
fn rpc_names(path: &str) -> (String, String) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((service, method)) => (service.to_string(), method.to_string()),
        None => (trimmed.to_string(), String::new()),
    }
}

/// The gRPC status code of a response whose status is in its headers (errors and
/// trailers-only responses); a status sent later in trailers is a success for our purposes
/// because tonic sends errors of unary calls as trailers-only responses.
fn status_code<B>(response: &http::Response<B>) -> i64 {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcServerTraceService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let (service, method) = rpc_names(request.uri().path());
        let parent = global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            trace_id = Empty,
        );
        let _ = span.set_parent(parent);
        let trace_id = span.context().span().span_context().trace_id();
        if trace_id != TraceId::INVALID {
            span.record("trace_id", tracing::field::display(trace_id));
        }
        let started = Instant::now();
        let duration = self.duration.clone();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let result = future.await;
                let code = match &result {
                    Ok(response) => status_code(response),
                    Err(_) => 2, // UNKNOWN: the transport failed before a status existed
                };
                let span = tracing::Span::current();
                span.record("rpc.grpc.status_code", code);
                if code != 0 {
                    span.record("otel.status_code", "ERROR");
                }
                duration.record(
                    started.elapsed().as_secs_f64() * 1000.0,
                    &[
                        KeyValue::new("rpc.system", "grpc"),
                        KeyValue::new("rpc.service", service),
                        KeyValue::new("rpc.method", method),
                        KeyValue::new("rpc.grpc.status_code", code),
                    ],
                );
                result
            }
            .instrument(span),
        )
    }
}

/// The type of [`inject_grpc_trace_context`], for naming a client's type:
/// `FooClient<InterceptedService<Channel, TraceInterceptor>>`.
pub type TraceInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;

/// A tonic client interceptor that sends the current span's trace context as
/// `traceparent`/`tracestate` metadata.
pub fn inject_grpc_trace_context(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    let mut headers = http::HeaderMap::new();
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut headers))
    });
    for (name, value) in &headers {
        let key = tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes());
        let value = value
            .to_str()
            .ok()
            .and_then(|v| tonic::metadata::MetadataValue::try_from(v).ok());
        if let (Ok(key), Some(value)) = (key, value) {
            request.metadata_mut().insert(key, value);
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::rpc_names;

    #[test]
    fn splits_grpc_paths_into_service_and_method() {
        assert_eq!(
            rpc_names("/keyservice.v1.KeyService/UnwrapKey"),
            (
                "keyservice.v1.KeyService".to_string(),
                "UnwrapKey".to_string()
            )
        );
        assert_eq!(rpc_names("/odd"), ("odd".to_string(), String::new()));
    }
}
