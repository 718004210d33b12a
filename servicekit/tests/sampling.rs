//! Sampling is decided once per gRPC call, in the server layer, by the sampler the standard
//! variables describe (here `parentbased_always_off`: only calls whose caller sampled them):
//! a kept call is exported and continues the caller's trace; a dropped call exports nothing,
//! yet what it sends on (`traceparent`) and the lines it logs carry its trace, "not sampled".
//!
//! The sampler is read once per process, so the calls run in a child process (this test
//! binary re-run on `child_calls_under_a_sampler`).

mod support;

use std::{convert::Infallible, time::Duration};

use servicekit::telemetry::GrpcServerTraceLayer;
use testkit::eventually;
use tower::{Layer, ServiceExt};

const SAMPLED_TRACE: &str = "11111111111111111111111111111111";
const UNSAMPLED_TRACE: &str = "22222222222222222222222222222222";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_decides_once_and_dropped_calls_still_propagate() {
    let (collector, received) = support::start_collector().await;
    let output = support::run_child(
        "child_calls_under_a_sampler",
        &format!("http://{collector}"),
        &[("OTEL_TRACES_SAMPLER", "parentbased_always_off")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    let sent = |call: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{call}=")))
            .unwrap_or_else(|| panic!("no {call} in:\n{stdout}"))
            .trim()
            .to_string()
    };

    // Root call, dropped by the sampler: a fresh trace, sent on as not sampled.
    let root = sent("ROOT");
    let parts: Vec<&str> = root.split('-').collect();
    assert_eq!(parts.len(), 4, "a traceparent: {root}");
    assert_ne!(parts[1], "0".repeat(32), "a valid trace id");
    assert_eq!(parts[3], "00", "not sampled");
    // Caller sampled it: continued and sampled.
    let sampled = sent("SAMPLED");
    assert!(sampled.starts_with(&format!("00-{SAMPLED_TRACE}-")));
    assert!(sampled.ends_with("-01"), "sampled: {sampled}");
    // Caller did not: the caller's trace, still not sampled.
    assert_eq!(
        sent("UNSAMPLED"),
        format!("00-{UNSAMPLED_TRACE}-{CALLER_SPAN}-00")
    );

    // The dropped call's log line names its trace.
    let logged = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["marker"] == "root")
        .unwrap_or_else(|| panic!("no log line in:\n{stderr}"));
    assert_eq!(logged["trace_id"], parts[1]);

    let spans = eventually("a span exported", Duration::from_secs(5), || {
        let spans = received.spans();
        async move { (!spans.is_empty()).then_some(spans) }
    })
    .await;
    let traces: Vec<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(
        traces,
        vec![SAMPLED_TRACE.to_string()],
        "only the sampled call exported"
    );
    assert_eq!(hex(&spans[0].parent_span_id), CALLER_SPAN);
}

/// The calls; only does something in the child process the test above starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by the_layer_decides_once_and_dropped_calls_still_propagate"]
async fn child_calls_under_a_sampler() {
    let Some(guard) = support::child_telemetry("sampling-test") else {
        return;
    };
    let guard = guard.expect("telemetry init");
    // The handler answers with the traceparent it would send on.
    let service =
        GrpcServerTraceLayer::new().layer(tower::service_fn(|_request: http::Request<()>| async {
            tracing::warn!(marker = "root", "handling the call");
            let traceparent = servicekit::telemetry::current_traceparent().unwrap_or_default();
            Ok::<_, Infallible>(http::Response::new(traceparent))
        }));
    for (call, traceparent) in [
        ("ROOT", None),
        (
            "SAMPLED",
            Some(format!("00-{SAMPLED_TRACE}-{CALLER_SPAN}-01")),
        ),
        (
            "UNSAMPLED",
            Some(format!("00-{UNSAMPLED_TRACE}-{CALLER_SPAN}-00")),
        ),
    ] {
        let mut request = http::Request::builder().uri("/test.v1.Echo/Say");
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let response = service
            .clone()
            .oneshot(request.body(()).expect("request"))
            .await
            .expect("call");
        println!("{call}={}", response.into_body());
    }
    tokio::task::spawn_blocking(move || guard.flush())
        .await
        .expect("flush");
}

/// Root calls under `traceidratio` 0.5: the layer's decision is the only one (the provider's
/// sampler does not decide a second time on the span it then builds, which would keep about a
/// quarter), every call it kept is exported under the trace the call saw, and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_calls_are_sampled_once_at_the_configured_ratio() {
    let (collector, received) = support::start_collector().await;
    let output = support::run_child(
        "child_root_calls",
        &format!("http://{collector}"),
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Vec<(String, bool)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("CALL="))
        .map(|traceparent| {
            let parts: Vec<&str> = traceparent.trim().split('-').collect();
            (parts[1].to_string(), parts[3] == "01")
        })
        .collect();
    assert_eq!(seen.len(), ROOT_CALLS, "every call answered:\n{stdout}");
    let mut kept: Vec<String> = seen
        .iter()
        .filter(|(_, sampled)| *sampled)
        .map(|(trace, _)| trace.clone())
        .collect();
    kept.sort();
    // 400 calls at 0.5: 200 expected, standard deviation 10; sampling twice would keep ~100.
    assert!(
        (150..=250).contains(&kept.len()),
        "{} of {ROOT_CALLS} root calls sampled",
        kept.len()
    );

    let exported = eventually(
        "every sampled call exported",
        Duration::from_secs(5),
        || {
            let spans = received.spans();
            let enough = spans.len() >= kept.len();
            async move { enough.then_some(spans) }
        },
    )
    .await;
    let mut exported: Vec<String> = exported.iter().map(|s| hex(&s.trace_id)).collect();
    exported.sort();
    assert_eq!(
        exported, kept,
        "exported exactly the calls that saw a sampled trace"
    );
}

const ROOT_CALLS: usize = 400;

/// The calls of the test above; only does something in the child process it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by root_calls_are_sampled_once_at_the_configured_ratio"]
async fn child_root_calls() {
    let Some(guard) = support::child_telemetry("sampling-test") else {
        return;
    };
    let guard = guard.expect("telemetry init");
    let service =
        GrpcServerTraceLayer::new().layer(tower::service_fn(|_request: http::Request<()>| async {
            let traceparent = servicekit::telemetry::current_traceparent().unwrap_or_default();
            Ok::<_, Infallible>(http::Response::new(traceparent))
        }));
    for _ in 0..ROOT_CALLS {
        let request = http::Request::builder()
            .uri("/test.v1.Echo/Say")
            .body(())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("call");
        println!("CALL={}", response.into_body());
    }
    tokio::task::spawn_blocking(move || guard.flush())
        .await
        .expect("flush");
}
