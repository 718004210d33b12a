//! A collector that is down costs nothing visible: calls succeed and flushing gives up
//! within a bound instead of blocking the service.

mod support;

use std::time::{Duration, Instant};

use servicekit::telemetry::{self, LogTarget, TelemetryConfig, inject_grpc_trace_context};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_succeed_when_the_collector_is_down() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let guard = telemetry::init_with(TelemetryConfig {
        service_name: "telemetry-down".into(),
        logs: LogTarget::Stderr,
        otlp: Some(Some(format!("http://{closed}"))),
    })
    .expect("telemetry init does not need the collector");

    let server = support::start_traced_health_server().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{server}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::with_interceptor(channel, inject_grpc_trace_context);
    let started = Instant::now();
    for _ in 0..20 {
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            client.check(HealthCheckRequest::default()),
        )
        .await
        .expect("a call never waits for the collector")
        .expect("health check");
        assert_eq!(reply.into_inner().status, 1, "SERVING");
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    let flushed = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || guard.flush()),
    )
    .await;
    assert!(flushed.is_ok(), "flushing to a dead collector gives up");
}
