//! Telemetry end to end. An in-process OTLP receiver (the collector's trace and metrics gRPC
//! services from `opentelemetry-proto`) takes what a full run exports: the service's own
//! `run` over TLS, the real key service over mTLS and the ON24 simulator over HTTP.
//!
//! The global tracer and meter providers are process-wide, so the instrumented run happens
//! in a child process (this test binary re-run on `child_end_to_end`), configured exactly
//! as in production by `OTEL_EXPORTER_OTLP_ENDPOINT`. That also gives us every log line the
//! run wrote, for the secret scan and the log lines' trace ids, and keeps the other tests of
//! this binary out of it. Every test runs on PostgreSQL and on SQLite (the integration
//! service's database; `TELEMETRY_E2E_DB` tells the child which). The run ends by forgetting
//! its two people: the child then scans every table for their email and names, and the
//! parent scans the logs and spans of the whole run, forget included.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
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
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost_types::Timestamp;
use proto::webinar::v1::{
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use xtask::pki::CertificateAuthority;

use crate::api::harness::Harness;
use crate::engine::harness::{CLIENT_ID, Db, KeyService, TOKEN_KEY, TOKEN_SECRET};

const CHILD: &str = "TELEMETRY_E2E_CHILD";
const CHILD_DB: &str = "TELEMETRY_E2E_DB";
const EMAIL: &str = "telemetry.person@example.com";
const FIRST_NAME: &str = "Zebulon";
const LAST_NAME: &str = "Quackenbush";
const EMAIL_UNSAMPLED: &str = "telemetry.unsampled@example.com";
/// The trace id of a CRM call whose caller did not sample it.
const UNSAMPLED_TRACE: &str = "5eed5eed5eed5eed5eed5eed5eed5eed";

/// What the receiver got.
#[derive(Debug, Default, Clone)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

impl Received {
    fn spans(&self) -> Vec<Span> {
        let traces = self.traces.lock().unwrap_or_else(|e| e.into_inner());
        traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    fn metrics(&self) -> Vec<Metric> {
        let metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| s.metrics.clone())
            .collect()
    }

    /// Everything exported, as text, for the secret scan.
    fn dump(&self) -> String {
        format!(
            "{:?}\n{:?}",
            self.traces.lock().unwrap_or_else(|e| e.into_inner()),
            self.metrics.lock().unwrap_or_else(|e| e.into_inner())
        )
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut traces = self.traces.lock().unwrap_or_else(|e| e.into_inner());
        traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut metrics = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
        metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn start_receiver() -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let received = Received::default();
    let router = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(received.clone()))
        .add_service(MetricsServiceServer::new(received.clone()));
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    (address, received)
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| match v {
            any_value::Value::StringValue(s) => s.clone(),
            any_value::Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

/// The attribute sets of every data point of the metric `name`.
fn points(metrics: &[Metric], name: &str) -> Vec<Vec<KeyValue>> {
    metrics
        .iter()
        .filter(|m| m.name == name)
        .flat_map(|m| match &m.data {
            Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.attributes.clone()).collect(),
            Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.attributes.clone()).collect(),
            Some(Data::Histogram(h)) => {
                h.data_points.iter().map(|p| p.attributes.clone()).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// Runs `child_end_to_end` on `db` in a child process exporting to `endpoint`; returns its
/// output.
async fn run_child(db: Db, endpoint: String) -> (bool, String) {
    let exe = std::env::current_exe().expect("test binary");
    let output = tokio::process::Command::new(exe)
        .args([
            "telemetry::child_end_to_end",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env(CHILD_DB, format!("{db:?}"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_SERVICE_NAME", "webinar-e2e")
        .env(
            "RUST_LOG",
            "info,integrationservice=debug,on24_client=debug,keyservice=debug",
        )
        .kill_on_drop(true)
        .output()
        .await
        .expect("run child");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

crate::both_backends!(
    one_trace_joins_the_crm_call_the_key_service_and_the_on24_delivery,
    one_trace_end_to_end
);

async fn one_trace_end_to_end(db: Db) {
    let (address, received) = start_receiver().await;
    let (ok, output) = run_child(db, format!("http://{address}")).await;
    assert!(ok, "the end-to-end run failed:\n{output}");
    let crm = output
        .lines()
        .find_map(|l| l.strip_prefix("CRM_SPAN="))
        .expect("the child printed the CRM span")
        .trim()
        .to_string();
    let (trace_id, crm_span_id) = crm.split_once('/').expect("trace/span");

    let spans = received.spans();
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    let find = |name: &str| {
        in_trace
            .iter()
            .find(|s| s.name == name)
            .copied()
            .unwrap_or_else(|| {
                let names: Vec<_> = in_trace.iter().map(|s| s.name.as_str()).collect();
                panic!("no span {name} in the CRM trace; it has {names:?}")
            })
    };
    let server = find("webinar.v1.RegistrationService/CreateRegistration");
    assert_eq!(
        hex(&server.parent_span_id),
        crm_span_id,
        "server span is the CRM call's child"
    );
    assert_eq!(
        attr(&server.attributes, "rpc.system").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        attr(&server.attributes, "rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    let job = find("outbox deliver_registration");
    assert_eq!(
        job.parent_span_id, server.span_id,
        "the delivery continues the request"
    );
    // The unsampled CRM call's delivery kept the caller's decision: no span of its trace and
    // no delivery span outside the sampled CRM trace (a delivery that lost the request's
    // context would have started a trace of its own and been sampled again).
    assert!(
        spans.iter().all(|s| hex(&s.trace_id) != UNSAMPLED_TRACE),
        "a span of the unsampled CRM call was exported"
    );
    let deliveries: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "outbox deliver_registration")
        .map(|s| hex(&s.trace_id))
        .collect();
    assert!(
        deliveries.iter().all(|t| t == trace_id),
        "every exported delivery belongs to the sampled CRM call's trace: {deliveries:?}"
    );
    assert_eq!(
        attr(&job.attributes, "tenant.id").as_deref(),
        Some("tenant-a")
    );
    assert!(attr(&job.attributes, "outbox.job_id").is_some());
    assert!(attr(&job.attributes, "webinar.id").is_some_and(|w| !w.is_empty()));
    assert_eq!(attr(&job.attributes, "outcome").as_deref(), Some("done"));
    // The delivery opens the credentials through the key service, under its own span (the
    // registration itself may unwrap the tenant's keys too, under the server span).
    let _ = find("keyservice.v1.KeyService/UnwrapKey");
    let unwraps: Vec<_> = in_trace
        .iter()
        .filter(|s| s.name == "keyservice.v1.KeyService/UnwrapKey")
        .map(|s| hex(&s.parent_span_id))
        .collect();
    assert!(
        unwraps.contains(&hex(&job.span_id)),
        "key service call under the delivery: {unwraps:?}"
    );
    let on24 = in_trace
        .iter()
        .find(|s| attr(&s.attributes, "operation").as_deref() == Some("create_registrant"))
        .unwrap_or_else(|| panic!("no ON24 call in the trace"));
    assert_eq!(
        on24.parent_span_id, job.span_id,
        "ON24 call under the delivery"
    );
    assert_eq!(on24.kind, 3, "SPAN_KIND_CLIENT");
    assert_eq!(
        attr(&on24.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attr(&on24.attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(&on24.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );

    let metrics = received.metrics();
    let has = |name: &str, key: &str, value: &str| {
        points(&metrics, name)
            .iter()
            .any(|p| attr(p, key).as_deref() == Some(value))
    };
    assert!(has(
        "rpc.server.duration",
        "rpc.method",
        "CreateRegistration"
    ));
    assert!(has("rpc.server.duration", "rpc.method", "UnwrapKey"));
    assert!(has("on24.responses", "on24.class", "ok"));
    assert!(has(
        "outbox.delivery.latency",
        "outbox.kind",
        "deliver_registration"
    ));
    assert!(has("dek_cache.lookups", "result", "miss"));
    assert!(has(
        "keyservice.operations",
        "keyservice.operation",
        "unwrap"
    ));
    assert!(has("keyservice.operations", "key.id", "on24-credentials"));
    assert!(has("outbox.depth", "outbox.state", "READY"));
    assert!(has("db.client.connection.count", "state", "idle"));
    assert!(has("keyservice.audit.records", "outcome", "written"));

    // Nothing secret, no email and no name in anything exported or logged.
    let everything = format!("{}\n{output}", received.dump());
    for secret in [
        TOKEN_KEY,
        TOKEN_SECRET,
        EMAIL,
        EMAIL_UNSAMPLED,
        FIRST_NAME,
        LAST_NAME,
        "PRIVATE KEY",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret:?} leaked into telemetry or logs"
        );
    }
    assert!(
        output.contains("\"level\":\"INFO\""),
        "JSON logs were written"
    );

    // The line the ON24 call logged names the call's span in the CRM's trace.
    let on24_line = output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| {
            l["fields"]["message"] == "ON24 call succeeded"
                && l["fields"]["operation"] == "create_registrant"
        })
        .unwrap_or_else(|| panic!("no ON24 log line in:\n{output}"));
    assert_eq!(
        on24_line["trace_id"], trace_id,
        "the line is in the CRM trace"
    );
    assert_eq!(
        on24_line["span_id"],
        hex(&on24.span_id),
        "the line names the ON24 call's span"
    );
}

crate::both_backends!(
    the_flow_succeeds_with_the_collector_down,
    collector_down_end_to_end
);

async fn collector_down_end_to_end(db: Db) {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let (ok, output) = run_child(db, format!("http://{closed}")).await;
    assert!(ok, "the run failed with the collector down:\n{output}");
}

crate::both_backends!(
    store_work_runs_in_the_callers_opentelemetry_context,
    store_context_body
);

/// `Store::run` carries the caller's OpenTelemetry context onto the blocking pool. A gRPC call
/// runs under such a context and no `tracing` span (its server span, or the non-recording
/// context of a call the sampler dropped), and what the closure enqueues must record that
/// trace and its sampling decision; a closure that saw no context would start a new trace.
async fn store_context_body(db: Db) {
    let (_pg, _sqlite, url) = match db {
        Db::Postgres => {
            let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
            let url = pg.url.clone();
            (Some(pg), None, url)
        }
        Db::Sqlite => {
            let sqlite = xtask::testdb::TestSqlite::new().expect("test sqlite");
            let url = sqlite.url.clone();
            (None, Some(sqlite), url)
        }
    };
    let store = integrationservice::testing::Store::connect(&url, 2).expect("store");
    let caller = SpanContext::new(
        TraceId::from_hex(UNSAMPLED_TRACE).expect("trace id"),
        SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let context = opentelemetry::Context::new().with_remote_span_context(caller.clone());
    let seen = store
        .run(|_conn| {
            Ok::<_, integrationservice::testing::StoreError>(
                opentelemetry::Context::current()
                    .span()
                    .span_context()
                    .clone(),
            )
        })
        .with_context(context)
        .await
        .expect("store run");
    assert_eq!(
        seen, caller,
        "the closure runs in the caller's trace, not sampled"
    );
}

/// The instrumented run; only does something in the child process the tests above start.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run in a child process by the telemetry tests"]
async fn child_end_to_end() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let telemetry = servicekit::telemetry::init(
        "integrationservice",
        servicekit::telemetry::LogTarget::Stdout,
    )
    .expect("telemetry");
    assert!(telemetry.exporting());
    let keys = KeyService::start().await;
    let sim = on24sim::Simulator::start(on24sim::SimConfig::with_account(
        CLIENT_ID,
        TOKEN_KEY,
        TOKEN_SECRET,
    ))
    .await
    .expect("simulator");
    // The integration service's database: the one the parent test asked for.
    let (_pg, _sqlite, database_url) = match std::env::var(CHILD_DB).as_deref() {
        Ok("Postgres") => {
            let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
            let url = pg.url.clone();
            (Some(pg), None, url)
        }
        _ => {
            let sqlite = xtask::testdb::TestSqlite::new().expect("test sqlite");
            let url = sqlite.url.clone();
            (None, Some(sqlite), url)
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = keys.client_config.clone();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        path
    };
    let (ca_file, cert_file, key_file) = (
        write("ks-ca.crt", &ks.ca_pem),
        write("is-ks.crt", &ks.cert_pem),
        write("is-ks.key", &ks.key_pem),
    );
    let store_url = database_url.clone();
    let h = Harness::launch(
        CertificateAuthority::new("telemetry CA").expect("CA"),
        move |c| {
            c.database.url = database_url;
            c.keyservice.endpoint = ks.endpoint;
            c.keyservice.server_name = "localhost".into();
            c.keyservice.ca_file = ca_file;
            c.keyservice.cert_file = cert_file;
            c.keyservice.key_file = key_file;
            // No cached DEK: the delivery unwraps, so the key service shows in its trace.
            c.dek_cache.max_age_seconds = 0;
            c.on24.allow_loopback = true;
            c.workers.enabled = true;
            c.workers.poll_interval_ms = 50;
            c.workers.backoff_base_ms = 20;
            c.workers.backoff_max_ms = 200;
        },
    )
    .await;
    let channel = h.tenant_a().await;
    ProviderConfigServiceClient::new(channel.clone())
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(On24Credentials {
                name: "tenants/tenant-a/on24Credentials".into(),
                client_id: CLIENT_ID.to_string(),
                access_token_key: TOKEN_KEY.into(),
                access_token_secret: TOKEN_SECRET.into(),
                base_url: sim.base_url.clone(),
                ..Default::default()
            }),
            live_check: false,
            validate_only: false,
        })
        .await
        .expect("credentials");
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let webinar = webinars
        .create_webinar(CreateWebinarRequest {
            parent: "tenants/tenant-a".into(),
            webinar: Some(Webinar {
                crm_reference_id: "event-telemetry".into(),
                title: "Telemetry".into(),
                start_time: Some(Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 86_400,
                    nanos: 0,
                }),
                duration_minutes: 60,
                time_zone: "UTC".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("webinar")
        .into_inner()
        .webinar
        .expect("webinar");
    wait("webinar ACTIVE", || {
        let mut c = webinars.clone();
        let name = webinar.name.clone();
        async move {
            let w = c.get_webinar(GetWebinarRequest { name }).await.ok()?;
            (w.into_inner().webinar?.status == WebinarStatus::Active as i32).then_some(())
        }
    })
    .await;

    // The CRM's call, in a span of its own whose context travels as `traceparent`.
    let mut regs = RegistrationServiceClient::with_interceptor(
        channel.clone(),
        servicekit::telemetry::inject_grpc_trace_context,
    );
    let crm = tracing::info_span!("crm.create_registration");
    let crm_context = crm.context().span().span_context().clone();
    let created = regs
        .create_registration(CreateRegistrationRequest {
            parent: webinar.name.clone(),
            registration: Some(Registration {
                crm_reference_id: "contact-telemetry".into(),
                email: EMAIL.into(),
                first_name: FIRST_NAME.into(),
                last_name: LAST_NAME.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .instrument(crm)
        .await
        .expect("registration")
        .into_inner()
        .registration
        .expect("registration");
    wait("registration delivered", || {
        let mut c = regs.clone();
        let name = created.name.clone();
        async move {
            let r = c
                .get_registration(GetRegistrationRequest { name })
                .await
                .ok()?;
            (r.into_inner().registration?.status == RegistrationStatus::Delivered as i32)
                .then_some(())
        }
    })
    .await;
    println!(
        "CRM_SPAN={}/{}",
        crm_context.trace_id(),
        crm_context.span_id()
    );

    // A CRM call its caller did not sample (`traceparent` flag 00): its delivery, run later
    // from the outbox, must keep that decision and export nothing.
    let unsampled = format!("00-{UNSAMPLED_TRACE}-00f067aa0ba902b7-00");
    let mut unsampled_regs = RegistrationServiceClient::with_interceptor(
        channel.clone(),
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("traceparent", unsampled.parse().expect("metadata value"));
            Ok(request)
        },
    );
    let second = unsampled_regs
        .create_registration(CreateRegistrationRequest {
            parent: webinar.name.clone(),
            registration: Some(Registration {
                crm_reference_id: "contact-telemetry-unsampled".into(),
                email: EMAIL_UNSAMPLED.into(),
                first_name: FIRST_NAME.into(),
                last_name: LAST_NAME.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("unsampled registration")
        .into_inner()
        .registration
        .expect("registration");
    wait("unsampled registration delivered", || {
        let mut c = regs.clone();
        let name = second.name.clone();
        async move {
            let r = c
                .get_registration(GetRegistrationRequest { name })
                .await
                .ok()?;
            (r.into_inner().registration?.status == RegistrationStatus::Delivered as i32)
                .then_some(())
        }
    })
    .await;

    // Both people are forgotten: once ON24 confirmed, no row of any table holds their email
    // or name (the parent scans this run's logs and spans for them too), and the access
    // audit holds no address at all.
    for email in [EMAIL, EMAIL_UNSAMPLED] {
        let request = regs
            .forget_person(ForgetPersonRequest {
                parent: "tenants/tenant-a".into(),
                email: email.into(),
                forget_at_on24_if_unknown: false,
            })
            .await
            .expect("forget")
            .into_inner()
            .erasure_request
            .expect("erasure request");
        wait("the erasure DONE", || {
            let mut c = regs.clone();
            let name = request.name.clone();
            async move {
                let r = c
                    .get_erasure_request(GetErasureRequestRequest { name })
                    .await
                    .ok()?;
                (r.into_inner().erasure_request?.state == ErasureState::Done as i32).then_some(())
            }
        })
        .await;
    }
    let store = integrationservice::testing::Store::connect(&store_url, 2).expect("store");
    let rows = crate::api::erasure::every_row(&store).await;
    assert!(rows.iter().any(|(table, _)| table == "erasure_requests"));
    for (table, row) in &rows {
        for personal in [EMAIL, EMAIL_UNSAMPLED, FIRST_NAME, LAST_NAME] {
            assert!(!row.contains(personal), "{personal} left in {table}: {row}");
        }
    }
    let audit = std::fs::read_to_string(&h.audit_log).expect("audit log");
    assert!(audit.contains("\"method\":\"ForgetPerson\""), "{audit}");
    assert!(!audit.contains('@'), "{audit}");
    h.stop().await;
    tokio::task::spawn_blocking(move || telemetry.flush())
        .await
        .expect("flush");
}

async fn wait<F, Fut>(what: &str, probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    testkit::eventually(what, Duration::from_secs(30), probe).await
}
