//! A log line written inside a traced gRPC call carries that call's trace id and span id, the
//! ids of the server span exported to the collector, even when `RUST_LOG` is quieter than
//! the span; a line written outside any span carries none.
//!
//! The subscriber is process-wide and logs go to stderr, so the traced part runs in a child
//! process (this test binary re-run on `child_logs_inside_a_traced_call`) whose stderr the
//! test reads.

mod support;

use std::{convert::Infallible, time::Duration};

use servicekit::telemetry::GrpcServerTraceLayer;
use testkit::eventually;
use tower::{Layer, ServiceExt};

/// The caller's trace, sent as `traceparent`.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_carry_the_trace_and_span_ids_of_the_call() {
    let (collector, received) = support::start_collector().await;
    // `RUST_LOG=warn`, quieter than the `info` server span: the line must still find it.
    let output = support::run_child(
        "child_logs_inside_a_traced_call",
        &format!("http://{collector}"),
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let line = |marker: &str| {
        lines
            .iter()
            .find(|l| l["fields"]["marker"] == marker)
            .unwrap_or_else(|| panic!("no log line {marker:?} in:\n{stderr}"))
            .clone()
    };
    let inside = line("inside");
    let outside = line("outside");
    assert_eq!(inside["level"], "WARN");
    assert_eq!(inside["span"]["name"], "grpc.server");
    assert_eq!(inside["trace_id"], TRACE_ID, "the caller's trace");
    let span_id = inside["span_id"].as_str().expect("span_id on the line");
    assert_eq!(span_id.len(), 16);
    assert_ne!(span_id, CALLER_SPAN_ID, "the server span's own id");
    assert!(
        outside.get("trace_id").is_none() && outside.get("span_id").is_none(),
        "no ids outside a span: {outside}"
    );

    let exported = eventually("the server span exported", Duration::from_secs(5), || {
        let span = received
            .spans()
            .into_iter()
            .find(|s| s.name == "test.v1.Echo/Say");
        async move { span }
    })
    .await;
    assert_eq!(hex(&exported.trace_id), TRACE_ID);
    assert_eq!(
        hex(&exported.span_id),
        span_id,
        "the line names the exported span"
    );
    assert_eq!(hex(&exported.parent_span_id), CALLER_SPAN_ID);
    // Only the attributes we set: no source location, thread or busy/idle times.
    let keys: Vec<&str> = exported
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    for unwanted in [
        "code.file.path",
        "thread.id",
        "busy_ns",
        "target",
        "trace_id",
    ] {
        assert!(!keys.contains(&unwanted), "{unwanted} exported: {keys:?}");
    }
}

/// The traced call; only does something in the child process the test above starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by log_lines_carry_the_trace_and_span_ids_of_the_call"]
async fn child_logs_inside_a_traced_call() {
    let Some(guard) = support::child_telemetry("log-ids-test") else {
        return;
    };
    let guard = guard.expect("telemetry init");
    let service =
        GrpcServerTraceLayer::new().layer(tower::service_fn(|_request: http::Request<()>| async {
            tracing::warn!(marker = "inside", "handling the call");
            Ok::<_, Infallible>(http::Response::new(()))
        }));
    let request = http::Request::builder()
        .uri("/test.v1.Echo/Say")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .body(())
        .expect("request");
    service.oneshot(request).await.expect("call");
    tracing::warn!(marker = "outside", "not in a call");
    tokio::task::spawn_blocking(move || guard.flush())
        .await
        .expect("flush");
}
