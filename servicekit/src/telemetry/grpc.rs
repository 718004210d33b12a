//! gRPC tracing: a server layer that continues the caller's W3C trace (or starts one),
//! names the span after the RPC with OpenTelemetry's RPC attributes and records the
//! per-RPC duration metric; and a client interceptor that sends the current trace on.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock, RwLock},
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use opentelemetry::{
    KeyValue,
    context::FutureExt as _,
    global,
    metrics::{BoundHistogram, Histogram},
    trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _},
};
use tracing::Instrument;

use super::{
    propagation::{HeaderExtractor, HeaderInjector, current_context},
    sampling::{self, Decision},
};

/// Distinct RPC paths remembered; others are reported as `_OTHER`, so a client calling made-up
/// paths can neither grow the cache nor create metric series without bound.
const MAX_RPCS: usize = 256;

/// What a path contributes to every call of it, built once per path: the span name and the
/// attributes the span and the duration metric share (cloning them copies pointers).
#[derive(Debug)]
struct Rpc {
    /// `package.Service/Method`, the span name. Leaked once per distinct path: at most
    /// [`MAX_RPCS`] + 1 names live for the process, and a span takes the name without copying.
    name: &'static str,
    /// `rpc.system`, `rpc.service`, `rpc.method`: the span's and the metric's attributes but
    /// the status.
    attributes: [KeyValue; 3],
    /// The duration histogram bound to this method and each gRPC status code (0 to 16), bound
    /// on first use: recording through a bound handle skips hashing four attributes and
    /// looking them up on every call (about half of what metrics cost per call).
    durations: [OnceLock<BoundHistogram<f64>>; STATUS_CODES],
}

/// gRPC status codes run from 0 (OK) to 16 (UNAUTHENTICATED).
const STATUS_CODES: usize = 17;

impl Rpc {
    fn new(service: &str, method: &str) -> Self {
        let name: &'static str = Box::leak(format!("{service}/{method}").into_boxed_str());
        // The attribute values are slices of the leaked name: `'static` strings, so cloning an
        // attribute (for every span and every unbound metric point) copies a pointer instead
        // of touching a reference count that every core's calls share.
        let (service, method) = name.split_at(service.len());
        let method = &method[1..];
        Self {
            name: if method.is_empty() { service } else { name },
            attributes: [
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", service),
                KeyValue::new("rpc.method", method),
            ],
            durations: [const { OnceLock::new() }; STATUS_CODES],
        }
    }

    /// One `rpc.server.duration` point for a call of this method that ended with `code`.
    fn record_duration(&self, histogram: &Histogram<f64>, started: Instant, code: i64) {
        let milliseconds = started.elapsed().as_secs_f64() * 1000.0;
        match usize::try_from(code)
            .ok()
            .and_then(|i| self.durations.get(i))
        {
            Some(bound) => bound
                .get_or_init(|| histogram.bind(&self.metric_attributes(code)))
                .record(milliseconds),
            None => histogram.record(milliseconds, &self.metric_attributes(code)),
        }
    }

    /// The duration metric's attributes for a call that ended with `code`.
    fn metric_attributes(&self, code: i64) -> [KeyValue; 4] {
        let [system, service, method] = &self.attributes;
        [
            system.clone(),
            service.clone(),
            method.clone(),
            KeyValue::new("rpc.grpc.status_code", code),
        ]
    }

    fn from_path(path: &str) -> Self {
        let (service, method) = rpc_names(path);
        Self::new(service, method)
    }
}

/// Path -> [`Rpc`], shared by every connection of a server.
#[derive(Debug, Default)]
struct Rpcs {
    known: RwLock<HashMap<Box<str>, Arc<Rpc>>>,
    other: OnceLock<Arc<Rpc>>,
}

impl Rpcs {
    fn get(&self, path: &str) -> Arc<Rpc> {
        if let Some(rpc) = self
            .known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return rpc.clone();
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if let Some(rpc) = known.get(path) {
            return rpc.clone();
        }
        if known.len() >= MAX_RPCS {
            return self
                .other
                .get_or_init(|| Arc::new(Rpc::new("_OTHER", "_OTHER")))
                .clone();
        }
        let rpc = Arc::new(Rpc::from_path(path));
        known.insert(path.into(), rpc.clone());
        rpc
    }
}

/// Tower layer for a tonic server: one `SERVER` span and one duration point per RPC.
///
/// Per call it decides sampling first (see `sampling`): a sampled call gets one OpenTelemetry
/// span, built with the SDK directly (not through a `tracing` span), with the RPC attributes;
/// a dropped one gets no span and runs under a non-recording context. Either way the call runs
/// under its OpenTelemetry context, attached on every poll, and records one histogram point
/// through a handle bound once per method and status code. With traces off it only opens a
/// `tracing` span named `grpc.server` (for the log lines' `span.name`).
#[derive(Debug, Clone)]
pub struct GrpcServerTraceLayer {
    duration: Histogram<f64>,
    rpcs: Arc<Rpcs>,
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
        Self {
            duration,
            rpcs: Arc::default(),
        }
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
            rpcs: self.rpcs.clone(),
        }
    }
}

/// The service [`GrpcServerTraceLayer`] wraps around a tonic router.
#[derive(Debug, Clone)]
pub struct GrpcServerTraceService<S> {
    inner: S,
    duration: Histogram<f64>,
    rpcs: Arc<Rpcs>,
}

/// `/package.Service/Method` split into its service and method; unknown shapes keep the path.
fn rpc_names(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.split_once('/').unwrap_or((trimmed, ""))
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
        let rpc = self.rpcs.get(request.uri().path());
        let started = Instant::now();
        let duration = self.duration.clone();
        let Some(tracer) = super::tracer() else {
            // Traces off: a `tracing` span only, for the log lines' `span.name`.
            let span = tracing::info_span!("grpc.server");
            let future = {
                let _entered = span.enter();
                self.inner.call(request)
            };
            return Box::pin(
                async move {
                    let result = future.await;
                    rpc.record_duration(&duration, started, call_code(&result));
                    result
                }
                .instrument(span),
            );
        };
        // Only a caller that sent `traceparent` has a context to continue; skipping the
        // propagator otherwise saves a lock and an empty context per call.
        let caller = if request.headers().contains_key("traceparent") {
            global::get_text_map_propagator(|propagator| {
                propagator.extract(&HeaderExtractor(request.headers()))
            })
        } else {
            opentelemetry::Context::new()
        };
        let context = match sampling::decide(caller, rpc.name) {
            // The server span, built directly with the OpenTelemetry API: no `tracing` span
            // (registry slot, field visits, enter/exit in every layer on every poll, the
            // layer's builder), only the SDK span the exporter needs.
            Decision::Sample(parent) => {
                let mut builder = SpanBuilder::from_name(rpc.name).with_kind(SpanKind::Server);
                // Room for the status code added at the end, so that push does not reallocate.
                let mut attributes = Vec::with_capacity(rpc.attributes.len() + 1);
                attributes.extend(rpc.attributes.iter().cloned());
                builder.attributes = Some(attributes);
                let span = sampling::presampled(|| tracer.build_with_context(builder, &parent));
                parent.with_span(span)
            }
            // No span: the call runs under the non-recording context, which is what its inner
            // spans and outgoing calls see as their parent.
            Decision::Drop(context) => context,
        };
        // The call runs under its context (attached on every poll): inner `tracing` spans take
        // it as their parent, outgoing calls send it on, log lines carry its ids.
        let future = {
            let _attached = context.clone().attach();
            self.inner.call(request)
        };
        let finish = context.clone();
        Box::pin(
            async move {
                let result = future.await;
                let code = call_code(&result);
                let span = finish.span();
                if span.is_recording() {
                    span.set_attribute(KeyValue::new("rpc.grpc.status_code", code));
                    if code != 0 {
                        span.set_status(Status::error(""));
                    }
                    span.end();
                }
                rpc.record_duration(&duration, started, code);
                result
            }
            .with_context(context),
        )
    }
}

/// The gRPC status code of a finished call.
fn call_code<B, E>(result: &Result<http::Response<B>, E>) -> i64 {
    match result {
        Ok(response) => status_code(response),
        Err(_) => 2, // UNKNOWN: the transport failed before a status existed
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
    let context = current_context();
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
            ("keyservice.v1.KeyService", "UnwrapKey")
        );
        assert_eq!(rpc_names("/odd"), ("odd", ""));
    }

    #[test]
    fn remembers_a_bounded_number_of_paths() {
        let rpcs = super::Rpcs::default();
        let first = rpcs.get("/a.B/C");
        assert!(
            std::sync::Arc::ptr_eq(&first, &rpcs.get("/a.B/C")),
            "built once"
        );
        assert_eq!(first.name, "a.B/C");
        for i in 0..super::MAX_RPCS {
            rpcs.get(&format!("/x.Y/M{i}"));
        }
        assert_eq!(rpcs.get("/made.Up/Path").name, "_OTHER/_OTHER");
        assert_eq!(
            rpcs.get("/a.B/C").name,
            "a.B/C",
            "known paths keep their names"
        );
    }
}
