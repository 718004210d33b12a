//! Engine benchmark (not a test): prints figures for batch registration (durable, beside a raw
//! multi-row insert of the same rows), delivery to the ON24 simulator with 50 ms latency, and a
//! 100,000-attendee metrics write, on PostgreSQL (and SQLite with `BENCH_DB=sqlite`).
//!
//! `cargo bench -p integrationservice --bench engine`

#[path = "../tests/it/engine/harness.rs"]
#[allow(dead_code)]
mod engine_harness;

use std::time::{Duration, Instant};

use integrationservice::domain::RegistrationStatus;
use integrationservice::domain::metrics::store_reports;
use integrationservice::testing::models::RegistrationRow;
use integrationservice::testing::{AttendeeActivity, AttendeeReport};
use integrationservice::testing::{FieldCipher, StoreError, registrations};
use on24sim::FaultConfig;

use engine_harness::{Db, Stack, fast_workers, person};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let db = match std::env::var("BENCH_DB").as_deref() {
        Ok("sqlite") => Db::Sqlite,
        _ => Db::Postgres,
    };
    let batches = env_usize("BENCH_BATCHES", 20);
    let deliveries = env_usize("BENCH_DELIVERIES", 2000);
    let attendees = env_usize("BENCH_ATTENDEES", 100_000);
    let mut workers = fast_workers();
    // Registration throughput is measured without delivery running beside it.
    workers.poll_interval = Duration::from_secs(3600);
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // Registration throughput is measured on a tenant whose work is held (credentials refused
    // by ON24), so deliveries do not run beside it; the writes are the same (jobs PAUSED).
    let held = &engine_harness::tenant_id("held");
    engine
        .providers()
        .put(held, stack.credentials("not-the-right-secret"))
        .await
        .expect("put");
    let webinar = engine
        .webinars()
        .create(held, engine_harness::webinar_input("bench"), None)
        .await
        .expect("webinar")
        .id;
    println!("engine benchmark on {db:?}");

    // Baseline: the same rows through one raw multi-row insert per 1,000, no rules.
    let rows: Vec<RegistrationRow> = (0..batches * 1000)
        .map(|n| RegistrationRow {
            tenant: "baseline".into(),
            id: uuid::Uuid::now_v7().to_string(),
            webinar_id: webinar.to_string(),
            email: Some(format!("raw{n}@example.com")),
            first_name: "F".into(),
            last_name: "L".into(),
            company: None,
            job_title: None,
            crm_reference_id: None,
            extra: "{}".into(),
            status: "PENDING".into(),
            eventuserid: None,
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
            request_id: None,
            delivered_at: None,
            created_at: 0,
            updated_at: 0,
            origin: "CRM".into(),
            attendance: "UNKNOWN".into(),
            email_hash: None,
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(1000) {
        let chunk = chunk.to_vec();
        // The raw baseline writes the columns as they are (no encryption).
        let plain = FieldCipher::plain(chunk[0].tenant.as_str());
        engine
            .store()
            .transaction(move |conn| {
                registrations::insert(conn, &plain, &chunk).map_err(StoreError::from)
            })
            .await
            .expect("raw insert");
    }
    let raw = rows.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "raw insert baseline:           {raw:>10.0} rows/s ({} rows)",
        rows.len()
    );

    let started = Instant::now();
    for b in 0..batches {
        let items = (b * 1000..(b + 1) * 1000).map(person).collect();
        engine
            .registrations()
            .register_batch(held, &webinar, items)
            .await
            .expect("batch");
    }
    let rate = (batches * 1000) as f64 / started.elapsed().as_secs_f64();
    println!(
        "batch registration:            {rate:>10.0} registrations/s (1,000 per call; {:.0}% of raw)",
        100.0 * rate / raw
    );

    // Delivery with 50 ms ON24 latency.
    let (target, _) = stack.active_webinar(&tenant, "bench-deliver").await;
    let latency = FaultConfig {
        latency_ms: 50,
        ..FaultConfig::default()
    };
    stack
        .sim
        .control()
        .set_faults(&latency)
        .await
        .expect("latency");
    let mut delivery = fast_workers();
    delivery.poll_interval = Duration::from_millis(100);
    let second = integrationservice::testing::Workers::start(
        engine.clone(),
        delivery,
        tokio_util::sync::CancellationToken::new(),
    );
    let started = Instant::now();
    for b in 0..deliveries.div_ceil(1000) {
        let items = (b * 1000..((b + 1) * 1000).min(deliveries))
            .map(person)
            .collect();
        engine
            .registrations()
            .register_batch(&tenant, &target, items)
            .await
            .expect("batch");
    }
    stack
        .wait_all(
            &tenant,
            &target,
            deliveries,
            RegistrationStatus::Delivered,
            Duration::from_secs(600),
        )
        .await;
    let rate = deliveries as f64 / started.elapsed().as_secs_f64();
    println!("delivery (50 ms ON24 latency): {rate:>10.0} registrations/s ({deliveries})");
    drop(second);
    stack.sim.control().clear_faults().await.expect("faults");

    // Writing a 100,000-attendee metrics pull (the store side of a sync), first and changed.
    let reports: Vec<AttendeeReport> = (0..attendees)
        .map(|n| AttendeeReport {
            email: format!("person{n}@example.com"),
            activity: AttendeeActivity {
                live_minutes: (n % 60) as i64,
                archive_minutes: (n % 7) as i64,
                engagement_score: (n % 10) as f64,
                ..AttendeeActivity::default()
            },
            ..AttendeeReport::default()
        })
        .collect();
    for pass in ["first", "all changed"] {
        let mut reports = reports.clone();
        if pass != "first" {
            reports
                .iter_mut()
                .for_each(|r| r.activity.questions_asked += 1);
        }
        let (t, w) = (tenant.clone(), webinar);
        let started = Instant::now();
        let changed = engine
            .store()
            .transaction(move |conn| {
                let plain = FieldCipher::plain(t.as_str());
                store_reports(conn, &plain, &t, &w, &reports)
            })
            .await
            .expect("store");
        println!(
            "metrics write, {pass:<12} {attendees} attendees in {:.2} s ({changed} changed)",
            started.elapsed().as_secs_f64()
        );
    }
}
