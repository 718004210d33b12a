//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` exports over OTLP/HTTP: spans and metrics arrive
//! as protobuf `POST`s on `/v1/traces` and `/v1/metrics` of the configured base URL. A protocol
//! the services do not speak is refused at start, naming the variable.
//!
//! The exporters read the protocol once per process, so each case runs in a child process
//! (this test binary re-run on `child_exports`).

mod support;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::ExportMetricsServiceRequest, trace::v1::ExportTraceServiceRequest,
};
use prost::Message as _;
use servicekit::telemetry::GrpcServerTraceLayer;
use tower::{Layer, ServiceExt};

/// What the HTTP collector received: (path, content type, body) per request.
type Posts = Arc<Mutex<Vec<(String, String, Bytes)>>>;

async fn start_http_collector() -> (SocketAddr, Posts) {
    let posts = Posts::default();
    let record = |path: &'static str| {
        move |State(posts): State<Posts>, headers: HeaderMap, body: Bytes| async move {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            posts.lock().unwrap_or_else(|e| e.into_inner()).push((
                path.to_string(),
                content_type,
                body,
            ));
            // An empty protobuf message is the (empty) export response.
            ([("content-type", "application/x-protobuf")], Bytes::new())
        }
    };
    let app = Router::new()
        .route("/v1/traces", post(record("/v1/traces")))
        .route("/v1/metrics", post(record("/v1/metrics")))
        .route("/probe", post(record("/probe")))
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind collector");
    let address = listener.local_addr().expect("collector address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, posts)
}

async fn run_child(protocol: &str, collector: SocketAddr) -> std::process::Output {
    support::run_child(
        "child_exports",
        &format!("http://{collector}"),
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_exports_spans_and_metrics_over_http() {
    let (collector, posts) = start_http_collector().await;
    let output = run_child("http/protobuf", collector).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    assert!(stdout.contains("SHUTDOWN_OK"), "clean shutdown:\n{stdout}");
    let posts = posts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        posts
            .iter()
            .all(|(_, content_type, _)| content_type == "application/x-protobuf"),
        "protobuf bodies"
    );
    let spans: Vec<String> = posts
        .iter()
        .filter(|(path, _, _)| path == "/v1/traces")
        .flat_map(|(_, _, body)| {
            ExportTraceServiceRequest::decode(body.clone())
                .expect("an OTLP trace export")
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|span| span.name)
        .collect();
    assert_eq!(spans, vec!["test.v1.Echo/Say".to_string()]);
    let metrics: Vec<String> = posts
        .iter()
        .filter(|(path, _, _)| path == "/v1/metrics")
        .flat_map(|(_, _, body)| {
            ExportMetricsServiceRequest::decode(body.clone())
                .expect("an OTLP metrics export")
                .resource_metrics
        })
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .map(|metric| metric.name)
        .collect();
    assert!(
        metrics.iter().any(|name| name == "rpc.server.duration"),
        "duration metric over HTTP, got {metrics:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_protocol_is_refused_at_start() {
    let (collector, posts) = start_http_collector().await;
    let output = run_child("http/json", collector).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("INIT_ERROR=")
            && stdout.contains("OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf"),
        "refused, naming the variable:\n{stdout}"
    );
    // The child has exited, so any connection it opened is already queued at the collector;
    // a probe sent now is accepted after it. Once the probe is recorded, the child's posts
    // would be too: there must be none but the probe.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!("http://{collector}/probe"))
        .send()
        .await
        .expect("probe the collector");
    let recorded = testkit::eventually(
        "the collector to record the probe",
        Duration::from_secs(10),
        || async {
            let posts = posts.lock().unwrap_or_else(|e| e.into_inner());
            posts.iter().any(|(path, _, _)| path == "/probe").then(|| {
                posts
                    .iter()
                    .map(|(path, _, _)| path.clone())
                    .collect::<Vec<_>>()
            })
        },
    )
    .await;
    assert_eq!(
        recorded,
        vec!["/probe".to_string()],
        "nothing but the probe was posted"
    );
}

/// One traced call, then a flush; only does something in the child process the tests start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by the tests above"]
async fn child_exports() {
    let Some(init) = support::child_telemetry("otlp-http-test") else {
        return;
    };
    let guard = match init {
        Ok(guard) => guard,
        Err(error) => {
            println!("INIT_ERROR={error}");
            return;
        }
    };
    let service =
        GrpcServerTraceLayer::new().layer(tower::service_fn(|_request: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        }));
    let request = http::Request::builder()
        .uri("/test.v1.Echo/Say")
        .body(())
        .expect("request");
    service.oneshot(request).await.expect("call");
    let guard = tokio::task::spawn_blocking(move || {
        guard.flush();
        guard
    })
    .await
    .expect("flush");
    // Dropped on a runtime thread, as at the end of an async `main`: shutting the exporters
    // down there must not panic (the HTTP client blocks, so it lives on exporter threads).
    drop(guard);
    println!("SHUTDOWN_OK");
}
