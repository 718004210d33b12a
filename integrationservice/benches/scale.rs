//! Data-volume benchmark (not a test, opt-in): read latency of the real `integrationservice`
//! binary (child process, mTLS, as the service bench starts it) against a PostgreSQL database
//! of 10,000 registrations, then against the same database grown to
//! `BENCH_SCALE_REGISTRATIONS` (5,000,000) registrations over 1,000 tenants and 10,000
//! webinars, in the same run. For each read it prints p50/p99 at both sizes and their ratio:
//! `ListRegistrations` (a page of 100: the first page, and a deep page reached through
//! `page_token`), `GetRegistration`, `ListChanges` (a page of 100 from the oldest entry, and
//! from a deep cursor) and `WatchChanges` (from a `CreateRegistration`'s answer to the change
//! arriving on an open watch).
//!
//! What is measured is always the same data: tenant `demo`'s webinar of 5,000 registrations,
//! created through the API (`BatchCreateRegistrations`, so sealed at rest as in production) and
//! delivered to the ON24 simulator. Everything else is filler that only makes the database
//! big: rows written straight into the migration-made schema by multi-row `INSERT … SELECT`
//! (server-side, the fastest way to write millions of rows), shaped like sealed rows (an email
//! hash, an `enc1:` email and an `enc2:` record of about a sealed row's size, which nothing
//! opens: no filler row is read by a measured call, and the sealing worker leaves sealed values
//! alone), with realistic statuses (80 % DELIVERED, 8 % PENDING, 4 % RETRYING, 3 % FAILED, 5 %
//! CANCELLED), creation times spread over the year before each webinar's start, and one
//! change-feed entry per registration dated within the feed's 30-day window (the worst case: a
//! year of volume inside one window). Each fill ends with `ANALYZE`. The fill time and the database size are printed.
//!
//! `DATABASE_URL=postgres://… cargo bench -p integrationservice --bench scale`
//! (`BENCH_SCALE_REGISTRATIONS` the grown size, `BENCH_SCALE_SAMPLES` the calls per figure, 500;
//! the database is a new one on that server, dropped at the end).

#[path = "../tests/it/engine/harness.rs"]
#[allow(dead_code, unused_imports)]
mod engine_harness;

#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    registration_service_client::RegistrationServiceClient, *,
};
use tonic::transport::Channel;

use common::{
    Fixture, Workers, env_usize, list_all, loadavg, put_credentials, registration, webinar,
};

/// The baseline database's registrations.
const BASELINE: usize = 10_000;
/// Registrations of the measured webinar (tenant `demo`), part of every size.
const MEASURED: usize = 5_000;
/// Tenants and webinars per tenant of the full-size database.
const TENANTS: usize = 1_000;
const WEBINARS_PER_TENANT: usize = 10;
/// Filler tenants of the baseline database (the rest are added when it grows).
const BASELINE_TENANTS: usize = 10;
/// A page of `ListRegistrations` and `ListChanges`.
const PAGE: i32 = 100;
/// The deep page: the 41st of the measured webinar's 50 pages of 100.
const DEEP_PAGES: usize = 40;
const DAY_MS: i64 = 86_400_000;

/// Runs one statement on the benchmark's own connection.
fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("fill statement failed: {e}"));
}

/// Adds filler tenants `tenants` (10 webinars each) holding `registrations` registrations in
/// all, each with one change-feed entry, then `ANALYZE`s. Statements of 100 webinars each.
fn fill(conn: &mut PgConnection, tenants: std::ops::Range<usize>, registrations: usize) {
    let webinars = tenants.start * WEBINARS_PER_TENANT..tenants.end * WEBINARS_PER_TENANT;
    let count = webinars.len().max(1);
    let (per, extra) = (registrations / count, registrations % count);
    let now = chrono::Utc::now().timestamp_millis();
    let step = 100;
    let mut done = webinars.start;
    let mut reported = 0;
    while done < webinars.end {
        let (a, b) = (done, (done + step).min(webinars.end));
        // Webinars start from 330 days ago to 30 days ahead; filler ids are UUIDs made from
        // the row's numbers, so a rerun writes the same rows.
        exec(
            conn,
            &format!(
                "INSERT INTO webinars (tenant, id, crm_reference_id, on24_event_id, linked, title, \
                     start_at, duration_minutes, time_zone, language, event_type, status, deleted, \
                     created_at, updated_at) \
                 SELECT 'fill-' || lpad((w / {WEBINARS_PER_TENANT})::text, 4, '0'), \
                     md5('w' || w)::uuid::text, 'crm-' || w, 100000000 + w, false, \
                     'Webinar ' || w, {now} + {DAY_MS}::bigint * (30 - (w * 7919) % 360), 60, \
                     'UTC', 'en', 'Webcast', 'ACTIVE', false, {now} - 400 * {DAY_MS}::bigint, \
                     {now} - 400 * {DAY_MS}::bigint \
                 FROM generate_series({a}, {b} - 1) AS w"
            ),
        );
        // The first `extra` webinars (counted from the range's start) take one more, so the
        // total is exact. Registrations were made up to 60 days before the start.
        exec(
            conn,
            &format!(
                "WITH ws AS (SELECT w, 'fill-' || lpad((w / {WEBINARS_PER_TENANT})::text, 4, '0') AS tenant, \
                     md5('w' || w)::uuid::text AS wid, \
                     {now} + {DAY_MS}::bigint * (30 - (w * 7919) % 360) AS start_at, \
                     {per} + CASE WHEN w - {start} < {extra} THEN 1 ELSE 0 END AS n \
                     FROM generate_series({a}, {b} - 1) AS w), \
                 rs AS (SELECT ws.*, j, (j * 37 + w * 11) % 100 AS h, \
                     ws.start_at - ((j::bigint * 7919 + w * 13) % (60 * 86400)) * 1000 - 3600000 AS made \
                     FROM ws, generate_series(0, ws.n - 1) AS j), \
                 ins AS (INSERT INTO registrations (tenant, id, webinar_id, email, email_hash, \
                     first_name, last_name, company, job_title, extra, status, eventuserid, \
                     attempts, last_error, delivered_at, created_at, updated_at, origin, \
                     attendance) \
                     SELECT tenant, md5('r' || w || '-' || j)::uuid::text, wid, \
                         'enc1:' || md5('e' || w || '-' || j) || md5('E' || w || '-' || j), \
                         md5('h' || w || '-' || j) || md5('H' || w || '-' || j), \
                         '', '', NULL, NULL, \
                         'enc2:' || md5('f' || w || '-' || j) || md5('l' || w || '-' || j) \
                             || md5('c' || w || '-' || j), \
                         CASE WHEN h < 80 THEN 'DELIVERED' WHEN h < 88 THEN 'PENDING' \
                              WHEN h < 92 THEN 'RETRYING' WHEN h < 95 THEN 'FAILED' \
                              ELSE 'CANCELLED' END, \
                         CASE WHEN h < 80 OR h >= 95 THEN 500000000 + w * 10000 + j END, \
                         CASE WHEN h < 80 THEN 1 WHEN h < 88 THEN 0 ELSE 3 END, \
                         CASE WHEN h >= 88 AND h < 95 THEN 'ON24 answered 503' END, \
                         CASE WHEN h < 80 THEN made + 2000 END, made, made + 2000, 'CRM', \
                         CASE WHEN start_at > {now} THEN 'UNKNOWN' \
                              WHEN h < 40 THEN 'ATTENDED_LIVE' WHEN h < 50 THEN 'ATTENDED_ON_DEMAND' \
                              WHEN h < 55 THEN 'ATTENDED_BOTH' ELSE 'NO_SHOW' END \
                     FROM rs \
                     RETURNING tenant, webinar_id, id) \
                 INSERT INTO changes (tenant, kind, webinar_id, registration_id, created_at) \
                 SELECT tenant, 'REGISTRATION', webinar_id, id, \
                     {now} - abs(hashtext(id)::bigint) % (25 * {DAY_MS}::bigint) FROM ins",
                start = webinars.start,
            ),
        );
        done = b;
        let pct = (done - webinars.start) * 10 / webinars.len().max(1);
        if pct > reported {
            reported = pct;
            println!("  fill {}0 %", pct);
        }
    }
    exec(conn, "ANALYZE");
}

/// The database's size and the two big tables', in MiB.
fn sizes(conn: &mut PgConnection) -> String {
    #[derive(diesel::QueryableByName)]
    struct Sizes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        db: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        registrations: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        changes: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
    }
    let s: Sizes = diesel::sql_query(
        "SELECT pg_database_size(current_database()) AS db, \
             pg_total_relation_size('registrations') AS registrations, \
             pg_total_relation_size('changes') AS changes, \
             (SELECT COUNT(*) FROM registrations) AS rows",
    )
    .get_result(conn)
    .expect("sizes");
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    format!(
        "{} registrations; database {:.0} MiB (registrations with indexes {:.0} MiB, changes {:.0} MiB)",
        s.rows,
        mib(s.db),
        mib(s.registrations),
        mib(s.changes)
    )
}

/// p50 and p99 of `samples`, in ms.
#[derive(Clone, Copy)]
struct Figure {
    p50: f64,
    p99: f64,
}

fn figure(mut samples: Vec<Duration>) -> Figure {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    Figure {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Times `n` calls of `call` (after a few unmeasured ones, so connections and caches are warm).
async fn time<F, Fut>(n: usize, mut call: F) -> Figure
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..20 {
        call(i).await;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        call(i).await;
        samples.push(started.elapsed());
    }
    figure(samples)
}

/// What is read at each size.
struct Targets {
    list_webinar: String,
    watch_webinar: String,
    names: Vec<String>,
}

/// The measured operations, in print order.
const OPS: [&str; 6] = [
    "ListRegistrations first page of 100",
    "ListRegistrations deep page of 100 (41st, via page_token)",
    "GetRegistration",
    "ListChanges page of 100 from the oldest",
    "ListChanges page of 100 from a deep cursor",
    "WatchChanges CreateRegistration answered to change received",
];

async fn measure(channel: &Channel, t: &Targets, samples: usize, round: &str) -> Vec<Figure> {
    let regs = RegistrationServiceClient::new(channel.clone());
    let feed = MetricsServiceClient::new(channel.clone());
    let list = |token: String| {
        let mut regs = regs.clone();
        let parent = t.list_webinar.clone();
        async move {
            regs.list_registrations(ListRegistrationsRequest {
                parent,
                page_size: PAGE,
                page_token: token,
                filter: String::new(),
            })
            .await
            .expect("list")
            .into_inner()
        }
    };
    let mut deep = String::new();
    for _ in 0..DEEP_PAGES {
        deep = list(deep).await.next_page_token;
    }
    let changes = |cursor: String| {
        let mut feed = feed.clone();
        async move {
            feed.list_changes(ListChangesRequest {
                parent: "tenants/demo".into(),
                after_cursor: cursor,
                page_size: PAGE,
                webinar: String::new(),
            })
            .await
            .expect("list changes")
            .into_inner()
        }
    };
    let mut deep_cursor = String::new();
    for _ in 0..DEEP_PAGES {
        deep_cursor = changes(deep_cursor).await.next_cursor;
    }
    let mut figures = vec![
        time(samples, |_| {
            let f = list(String::new());
            async move {
                assert_eq!(f.await.registrations.len(), PAGE as usize);
            }
        })
        .await,
        time(samples, |_| {
            let f = list(deep.clone());
            async move {
                assert_eq!(f.await.registrations.len(), PAGE as usize);
            }
        })
        .await,
        time(samples, |i| {
            let mut regs = regs.clone();
            // A stride through the webinar, so reads are not of one hot row.
            let name = t.names[(i * 7919) % t.names.len()].clone();
            async move {
                regs.get_registration(GetRegistrationRequest { name })
                    .await
                    .expect("get");
            }
        })
        .await,
        time(samples, |_| {
            let f = changes(String::new());
            async move {
                assert_eq!(f.await.changes.len(), PAGE as usize);
            }
        })
        .await,
        time(samples, |_| {
            let f = changes(deep_cursor.clone());
            async move {
                assert_eq!(f.await.changes.len(), PAGE as usize);
            }
        })
        .await,
    ];
    // The watch opens at the end of the feed; each sample is one new registration's change.
    let mut end = deep_cursor;
    loop {
        let page = changes(end.clone()).await;
        end = page.next_cursor;
        if page.changes.is_empty() {
            break;
        }
    }
    let mut stream = feed
        .clone()
        .watch_changes(WatchChangesRequest {
            parent: "tenants/demo".into(),
            after_cursor: end,
            webinar: t.watch_webinar.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let watch_samples = (samples / 2).max(10);
    let mut watch = Vec::with_capacity(watch_samples);
    for i in 0..watch_samples + 10 {
        let created = regs
            .clone()
            .create_registration(CreateRegistrationRequest {
                parent: t.watch_webinar.clone(),
                registration: Some(Registration {
                    email: format!("watch-{round}-{i}@example.com"),
                    first_name: format!("Watch{i}"),
                    last_name: "Bench".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create")
            .into_inner();
        let name = created.registration.expect("registration").name;
        let answered = Instant::now();
        // Changes of earlier registrations (their deliveries) arrive too; wait for this one.
        'found: loop {
            let message = tokio::time::timeout(Duration::from_secs(60), stream.message())
                .await
                .expect("the change within a minute")
                .expect("watch stream")
                .expect("watch open");
            if message.changes.iter().any(|c| c.resource == name) {
                break 'found;
            }
        }
        if i >= 10 {
            watch.push(answered.elapsed());
        }
    }
    figures.push(figure(watch));
    figures
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if std::env::var("DATABASE_URL").map_or(true, |u| u.is_empty()) {
        eprintln!(
            "the scale benchmark needs DATABASE_URL: a PostgreSQL server where it may CREATE \
             DATABASE (it writes millions of rows into a database of its own), e.g. \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        std::process::exit(2);
    }
    let total = env_usize("BENCH_SCALE_REGISTRATIONS", 5_000_000).max(BASELINE);
    let samples = env_usize("BENCH_SCALE_SAMPLES", 500).max(10);
    println!(
        "scale benchmark (child process, PostgreSQL, TLS): {BASELINE} then {total} registrations; \
         nproc {}, load at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );

    // Delivery workers on (the measured registrations are delivered, as in production); one
    // caller drives the measured tenant.
    let Fixture {
        keys: _keys,
        sim,
        pg,
        service,
    } = Fixture::start(&["demo".to_owned()], 16).await;
    let running = service.start(Workers::ONE_TENANT);
    let channel = service.channel(&running).await;
    put_credentials(&channel, "demo", &sim.base_url).await;

    // The measured webinar: created, filled and delivered through the API.
    let started = Instant::now();
    let (list_webinar, _) = webinar(&channel, "scale-list").await;
    let (watch_webinar, _) = webinar(&channel, "scale-watch").await;
    let regs = RegistrationServiceClient::new(channel.clone());
    for batch in 0..MEASURED / 1000 {
        let requests = (batch * 1000..(batch + 1) * 1000)
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(registration("measured", i)),
                request_id: String::new(),
            })
            .collect();
        regs.clone()
            .batch_create_registrations(BatchCreateRegistrationsRequest {
                parent: list_webinar.clone(),
                requests,
            })
            .await
            .expect("batch");
    }
    testkit::eventually(
        "the measured registrations delivered",
        Duration::from_secs(600),
        || {
            let regs = regs.clone();
            let w = list_webinar.clone();
            async move {
                (list_all(&regs, std::slice::from_ref(&w), "status = DELIVERED")
                    .await
                    .len()
                    >= MEASURED)
                    .then_some(())
            }
        },
    )
    .await;
    let names: Vec<String> = list_all(&regs, std::slice::from_ref(&list_webinar), "")
        .await
        .into_iter()
        .map(|r| r.name)
        .collect();
    println!(
        "measured webinar: {} registrations created and delivered in {:.1} s",
        names.len(),
        started.elapsed().as_secs_f64()
    );
    let targets = Targets {
        list_webinar,
        watch_webinar,
        names,
    };

    let mut conn = PgConnection::establish(&pg.url).expect("connect to the bench database");
    let started = Instant::now();
    fill(&mut conn, 0..BASELINE_TENANTS, BASELINE - MEASURED);
    println!(
        "baseline fill: {:.1} s; {}",
        started.elapsed().as_secs_f64(),
        sizes(&mut conn)
    );
    let baseline = measure(&channel, &targets, samples, "base").await;
    for (op, f) in OPS.iter().zip(&baseline) {
        println!(
            "  at {BASELINE}: {op} p50 {:.2} ms p99 {:.2} ms",
            f.p50, f.p99
        );
    }

    let started = Instant::now();
    fill(
        &mut conn,
        BASELINE_TENANTS..TENANTS,
        total.saturating_sub(BASELINE),
    );
    println!(
        "grown fill: {:.1} s ({} tenants, {} webinars); {}",
        started.elapsed().as_secs_f64(),
        TENANTS + 1,
        TENANTS * WEBINARS_PER_TENANT + 2,
        sizes(&mut conn)
    );
    let grown = measure(&channel, &targets, samples, "grown").await;
    for ((op, b), g) in OPS.iter().zip(&baseline).zip(&grown) {
        println!(
            "scale {total} vs {BASELINE} registrations: {op} p50 {:.2} ms p99 {:.2} ms \
             (ratio p50 {:.2}, p99 {:.2}; at {BASELINE}: p50 {:.2} ms p99 {:.2} ms)",
            g.p50,
            g.p99,
            g.p50 / b.p50.max(1e-9),
            g.p99 / b.p99.max(1e-9),
            b.p50,
            b.p99
        );
    }
    println!("load at end {}", loadavg());
    drop(channel);
    drop(running);
}
