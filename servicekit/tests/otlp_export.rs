//! A traced gRPC call is exported to an OTLP collector: the server span continues the
//! caller's trace (same trace id, parent = the caller's span), carries OpenTelemetry's RPC
//! attributes, and the per-RPC duration metric arrives with its attributes.

mod support;

use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use servicekit::telemetry::{self, LogTarget, TelemetryConfig, inject_grpc_trace_context};
use testkit::eventually;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_join_the_callers_trace_and_metrics_arrive() {
    let (collector, received) = support::start_collector().await;
    let guard = telemetry::init_with(TelemetryConfig {
        service_name: "telemetry-test".into(),
        logs: LogTarget::Stderr,
        otlp: Some(Some(format!("http://{collector}"))),
    })
    .expect("telemetry init");
    assert!(guard.exporting());

    let server = support::start_traced_health_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::with_interceptor(channel, inject_grpc_trace_context);

    let caller = tracing::info_span!("crm.request");
    let caller_context = caller.context();
    let caller_span = caller_context.span().span_context().clone();
    assert!(caller_span.is_valid(), "the caller span is recorded");
    client
        .check(HealthCheckRequest::default())
        .instrument(caller)
        .await
        .expect("health check");
    // A call that fails (no such service): its duration point carries its status code.
    let unknown = client
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    tokio::task::spawn_blocking(move || {
        guard.flush();
        guard
    })
    .await
    .expect("flush");

    let server_span = eventually("the server span exported", Duration::from_secs(5), || {
        let span = received
            .spans()
            .into_iter()
            .find(|span| span.name == "grpc.health.v1.Health/Check");
        async move { span }
    })
    .await;
    assert_eq!(
        server_span.trace_id,
        caller_span.trace_id().to_bytes().to_vec(),
        "same trace as the caller"
    );
    assert_eq!(
        server_span.parent_span_id,
        caller_span.span_id().to_bytes().to_vec(),
        "parent is the caller's span"
    );
    assert_eq!(server_span.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(
        support::attribute(&server_span, "rpc.system").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        support::attribute(&server_span, "rpc.service").as_deref(),
        Some("grpc.health.v1.Health")
    );
    assert_eq!(
        support::attribute(&server_span, "rpc.method").as_deref(),
        Some("Check")
    );
    assert_eq!(
        support::attribute(&server_span, "rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    assert!(
        received
            .metric_names()
            .iter()
            .any(|name| name == "rpc.server.duration"),
        "duration metric exported, got {:?}",
        received.metric_names()
    );
    // One point per method and status code, each with the four RPC attributes.
    let mut points = received.histogram_points("rpc.server.duration");
    points
        .iter_mut()
        .for_each(|(attributes, _)| attributes.sort());
    points.sort();
    let point = |code: &str| {
        (
            vec![
                ("rpc.grpc.status_code".to_string(), code.to_string()),
                ("rpc.method".to_string(), "Check".to_string()),
                (
                    "rpc.service".to_string(),
                    "grpc.health.v1.Health".to_string(),
                ),
                ("rpc.system".to_string(), "grpc".to_string()),
            ],
            1,
        )
    };
    assert_eq!(points, vec![point("0"), point("5")]);
}
