//! An in-process OTLP collector (the collector's trace and metrics gRPC services from
//! `opentelemetry-proto`) and a tiny traced gRPC server, shared by the telemetry tests.
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use opentelemetry_proto::tonic::collector::{
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, any_value},
    metrics::v1::metric,
    trace::v1::Span,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Everything the collector received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    pub metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

impl Received {
    pub fn spans(&self) -> Vec<Span> {
        let traces = self.traces.lock().unwrap_or_else(|e| e.into_inner());
        traces
            .iter()
            .flat_map(|request| &request.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| scope.spans.clone())
            .collect()
    }

    pub fn metric_names(&self) -> Vec<String> {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        metrics
            .iter()
            .flat_map(|request| &request.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| scope.metrics.iter().map(|m| m.name.clone()))
            .collect()
    }

    /// The data points of the histogram `name` in the latest export that has it: each
    /// point's attributes (as strings) and count.
    pub fn histogram_points(&self, name: &str) -> Vec<(Vec<(String, String)>, u64)> {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        let latest = metrics
            .iter()
            .rev()
            .flat_map(|request| &request.resource_metrics)
            .flat_map(|resource| &resource.scope_metrics)
            .flat_map(|scope| &scope.metrics)
            .find(|metric| metric.name == name);
        let Some(metric::Data::Histogram(histogram)) = latest.and_then(|m| m.data.as_ref()) else {
            return Vec::new();
        };
        histogram
            .data_points
            .iter()
            .map(|point| {
                let attributes = point
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), value_string(kv.value.as_ref())))
                    .collect();
                (attributes, point.count)
            })
            .collect()
    }
}

/// An attribute value as a string.
fn value_string(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.traces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Set in a child process a test starts: the base URL of the parent's collector.
const CHILD_COLLECTOR: &str = "SERVICEKIT_TEST_CHILD_COLLECTOR";

/// Runs the ignored test `child` of this test binary in a child process (telemetry settings are
/// read once per process), exporting to `collector` (a base URL), with `RUST_LOG=warn`, none of
/// the caller's OTLP and sampler variables, and `env` on top.
pub async fn run_child(child: &str, collector: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([child, "--exact", "--ignored", "--nocapture"])
        .env(CHILD_COLLECTOR, collector)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    for name in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().await.expect("run child")
}

/// In the child process [`run_child`] starts: telemetry exporting to the parent's collector,
/// logs on stderr. `None` in an ordinary test run, where the child test does nothing.
pub fn child_telemetry(
    service_name: &str,
) -> Option<Result<servicekit::telemetry::TelemetryGuard, servicekit::telemetry::TelemetryError>> {
    let endpoint = std::env::var(CHILD_COLLECTOR).ok()?;
    Some(servicekit::telemetry::init_with(
        servicekit::telemetry::TelemetryConfig {
            service_name: service_name.into(),
            logs: servicekit::telemetry::LogTarget::Stderr,
            otlp: Some(Some(endpoint)),
        },
    ))
}

/// Starts the collector on a loopback port.
pub async fn start_collector() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind collector");
    let address = listener.local_addr().expect("collector address");
    let received = Received::default();
    let router = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(received.clone()))
        .add_service(MetricsServiceServer::new(received.clone()));
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    (address, received)
}

/// Starts a gRPC health server behind [`servicekit::telemetry::GrpcServerTraceLayer`].
pub async fn start_traced_health_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind server");
    let address = listener.local_addr().expect("server address");
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let router = tonic::transport::Server::builder()
        .layer(servicekit::telemetry::GrpcServerTraceLayer::new())
        .add_service(health);
    tokio::spawn(async move {
        let _reporter = reporter;
        router
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    });
    address
}

/// A string attribute of a span, if present.
pub fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| value_string(kv.value.as_ref()))
}
