//! Telemetry setup: JSON logs with trace and span ids, and, when an OTLP endpoint is
//! configured through the standard `OTEL_*` environment variables, traces and metrics
//! exported over OTLP/gRPC.
//!
//! Export is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces/metrics specific
//! variant) is set, and exporters are batched on their own threads, so a collector that is
//! down or slow never blocks or fails a request: spans and points are dropped instead.

mod grpc;
mod http;
mod logs;
mod propagation;
mod sampling;

use std::sync::OnceLock;

pub use grpc::{
    GrpcServerTraceLayer, GrpcServerTraceService, TraceInterceptor, inject_grpc_trace_context,
};
pub use http::{http_client_span, inject_span_context, record_http_outcome};
pub use propagation::{
    HeaderExtractor, HeaderInjector, context_from_traceparent, current_traceparent,
    inject_http_headers,
};

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{
    Resource,
    metrics::SdkMeterProvider,
    propagation::TraceContextPropagator,
    trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider},
};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// The tracer server spans are built with, once traces are exported.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The process's tracer when it exports traces (after [`init`] with an endpoint).
pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    TRACER.get()
}

/// Where log lines go. The key service keeps stdout for its audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines on standard error.
    Stderr,
}

/// Flushes and stops the exporters when dropped (at the end of `main`).
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    /// True when traces and metrics are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// Exports everything recorded so far. Blocks: call it off the async runtime's workers
    /// (e.g. in `spawn_blocking`).
    pub fn flush(&self) {
        if let Some(provider) = &self.tracer_provider {
            let _ = provider.force_flush();
        }
        if let Some(provider) = &self.meter_provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            let _ = provider.shutdown();
        }
        if let Some(provider) = self.meter_provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Errors setting telemetry up. Only configuration mistakes end here; a collector that
/// cannot be reached is not an error.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the `OTEL_*` settings.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("telemetry was already initialised")]
    AlreadyInitialised,
}

/// What [`init_with`] sets up.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` unless `OTEL_SERVICE_NAME` is set.
    pub service_name: String,
    /// Where JSON log lines go.
    pub logs: LogTarget,
    /// Export traces and metrics over OTLP/gRPC. `Some(None)` uses the endpoint from the
    /// `OTEL_EXPORTER_OTLP_*` variables; `Some(Some(url))` overrides it.
    pub otlp: Option<Option<String>>,
}

impl TelemetryConfig {
    /// The configuration the standard `OTEL_*` environment variables describe.
    pub fn from_env(service_name: &str, logs: LogTarget) -> Self {
        Self {
            service_name: service_name.to_string(),
            logs,
            otlp: otlp_configured().then_some(None),
        }
    }
}

/// True when the standard OTLP endpoint variables ask for export.
pub fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// Sets up logging (filtered by `RUST_LOG`, default `info`) and, when configured, OTLP
/// export of traces and metrics for the process. `service_name` is used unless
/// `OTEL_SERVICE_NAME` says otherwise. Must be called inside a Tokio runtime.
pub fn init(service_name: &str, logs: LogTarget) -> Result<TelemetryGuard, TelemetryError> {
    init_with(TelemetryConfig::from_env(service_name, logs))
}

/// [`init`] with explicit settings (tests point it at an in-process collector).
pub fn init_with(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let TelemetryConfig {
        service_name,
        logs,
        otlp,
    } = config;
    global::set_text_map_propagator(TraceContextPropagator::new());
    // The OTLP/HTTP client's TLS (and the gRPC exporter's, for https endpoints) uses the
    // process's rustls provider; the services install ring at start, and so does this for any
    // other caller (a no-op when a provider is already installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut guard = TelemetryGuard::default();
    // Each layer has its own filter: `RUST_LOG` chooses what is logged, and traces keep the
    // info-level spans (every RPC, job and ON24 call) even when logs are quieter.
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    let tracing = otlp.is_some();
    if let Some(endpoint) = otlp {
        let resource = resource(&service_name);
        let (tracer_provider, meter_provider) = otlp_providers(resource, endpoint)?;
        // The scope is this instrumentation, with a static name and version: every span's
        // data carries a clone of it, which then copies no strings.
        let tracer = tracer_provider.tracer_with_scope(
            opentelemetry::InstrumentationScope::builder("servicekit")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let _ = TRACER.set(tracer.clone());
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());
        guard.tracer_provider = Some(tracer_provider);
        guard.meter_provider = Some(meter_provider);
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                // Only the attributes we name: source location, thread, target and busy/idle
                // times would be 8 more attributes to build, send and store on every span.
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_tracked_inactivity(false)
                // Entering a `tracing` span need not attach its OpenTelemetry context:
                // propagation and the log layer ask the `tracing` span first, and fall back to
                // the attached context only outside traced `tracing` spans (the gRPC layer
                // attaches each call's). That saves a context clone and attach on every poll
                // of every traced future.
                .with_context_activation(false)
                .with_filter(LevelFilter::INFO)
                .boxed(),
        );
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    layers.push(
        logs::JsonLogLayer::new(logs, tracing)
            .with_filter(logs::LogFilter::new(filter, tracing))
            .boxed(),
    );
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialised)?;
    Ok(guard)
}

/// The span batch processor's settings: the standard `OTEL_BSP_*` variables when set, else
/// a queue of 8192 spans exported in batches of up to 2048 every second. Compared with the
/// SDK's defaults (2048, 512, 5 s) a busy server makes a quarter of the export requests, and a
/// burst of a few thousand calls a second fits in the queue instead of being dropped.
fn batch_config() -> opentelemetry_sdk::trace::BatchConfig {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let mut config = BatchConfigBuilder::default();
    if !set("OTEL_BSP_MAX_QUEUE_SIZE") {
        config = config.with_max_queue_size(8192);
    }
    if !set("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
        config = config.with_max_export_batch_size(2048);
    }
    if !set("OTEL_BSP_SCHEDULE_DELAY") {
        config = config.with_scheduled_delay(std::time::Duration::from_secs(1));
    }
    config.build()
}

fn resource(service_name: &str) -> Resource {
    // The builder reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; ours is the fallback.
    let from_env = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty());
    let builder = Resource::builder();
    if from_env {
        builder.build()
    } else {
        builder.with_service_name(service_name.to_string()).build()
    }
}

/// The OTLP transport, from `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL` or
/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// `grpc` (the default here, port 4317).
    Grpc,
    /// `http/protobuf` (port 4318): each batch is encoded once, without the copy the gRPC
    /// exporter makes of every batch so it could retry it (cheaper on busy servers).
    HttpProtobuf,
}

impl Transport {
    /// The transport for `signal` (`TRACES` or `METRICS`). `http/json` is not offered: refused
    /// like any other value, so a typo cannot silently send to the wrong port.
    fn from_env(signal: &str) -> Result<Self, TelemetryError> {
        let variable = |name: String| {
            std::env::var(&name)
                .ok()
                .map(|value| value.trim().to_ascii_lowercase())
                .filter(|value| !value.is_empty())
                .map(|value| (name, value))
        };
        let Some((name, value)) = variable(format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"))
            .or_else(|| variable("OTEL_EXPORTER_OTLP_PROTOCOL".to_string()))
        else {
            return Ok(Self::Grpc);
        };
        match value.as_str() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            _ => Err(TelemetryError::Exporter(format!(
                "{name} must be grpc or http/protobuf, not {value:?}"
            ))),
        }
    }
}

/// Builds the OTLP exporter `$exporter` (`SpanExporter` or `MetricExporter`) for the signal
/// `$signal` (`"TRACES"` or `"METRICS"`, for the protocol variable) on the transport the
/// environment names. An explicit `$endpoint` is the base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// would be: over HTTP the signal's `$path` is appended. A macro because the two exporters'
/// builders are different types with the same methods.
macro_rules! otlp_exporter {
    ($exporter:ident, $signal:literal, $path:literal, $endpoint:expr) => {{
        use opentelemetry_otlp::{Protocol, WithExportConfig, $exporter};
        let endpoint: Option<&str> = $endpoint;
        let built = match Transport::from_env($signal)? {
            Transport::Grpc => {
                let builder = $exporter::builder().with_tonic();
                match endpoint {
                    Some(endpoint) => builder.with_endpoint(endpoint).build(),
                    None => builder.build(),
                }
            }
            Transport::HttpProtobuf => {
                let builder = $exporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary);
                match endpoint {
                    Some(endpoint) => builder
                        .with_endpoint(format!("{}{}", endpoint.trim_end_matches('/'), $path))
                        .build(),
                    None => builder.build(),
                }
            }
        };
        built.map_err(|e| TelemetryError::Exporter(e.to_string()))
    }};
}

fn otlp_providers(
    resource: Resource,
    endpoint: Option<String>,
) -> Result<(SdkTracerProvider, SdkMeterProvider), TelemetryError> {
    let spans = otlp_exporter!(SpanExporter, "TRACES", "/v1/traces", endpoint.as_deref())?;
    let metrics = otlp_exporter!(
        MetricExporter,
        "METRICS",
        "/v1/metrics",
        endpoint.as_deref()
    )?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_sampler(sampling::from_env())
        .with_span_processor(
            BatchSpanProcessor::builder(spans)
                .with_batch_config(batch_config())
                .build(),
        )
        .with_resource(resource.clone())
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(metrics)
        .with_resource(resource)
        .build();
    Ok((tracer_provider, meter_provider))
}
