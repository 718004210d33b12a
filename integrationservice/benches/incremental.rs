//! Incremental sync benchmark (not a test): a 100,000-registrant event at the ON24 simulator
//! (every registrant an attendee) of which 1 % changed since the last pull, read and written
//! once by a full sync and once by a long-tail (date-filtered) sync, in the same run. Prints
//! the rows each read from ON24, compared with the stored rows and wrote, their times and the
//! ratios. The attendee side of a sync is what is measured (the provider's streamed report
//! and the chunked compare-and-write, as `domain::metrics::pull_and_store` runs them); the
//! window is the one a long-tail pull asks for, without ON24's 12-hour lag (which moves the
//! window, not its size).
//!
//! `cargo bench -p integrationservice --bench incremental` (PostgreSQL; `BENCH_DB=sqlite` for
//! SQLite, `BENCH_REGISTRANTS` to change the size).

#[path = "../tests/it/engine/harness.rs"]
#[allow(dead_code)]
mod engine_harness;

use std::time::{Duration, Instant};

use chrono::Utc;
use integrationservice::domain::metrics::{SYNC_CHUNK, store_chunk};
use integrationservice::domain::{TenantId, WebinarId};
use integrationservice::testing::{
    ActivityWindow, AttendeeReport, FieldCipher, On24Provider, ProviderCredentials,
    WebinarProvider, now_ms,
};
use on24sim::{SeedAttendees, ViewingRequest};
use secrecy::SecretString;

use engine_harness::{CLIENT_ID, Db, Stack, TOKEN_KEY, TOKEN_SECRET, fast_workers};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one sync did.
struct Pass {
    read: usize,
    written: usize,
    secs: f64,
}

/// Reads the event's attendee report (all, or those active in `window`) and stores it chunk
/// by chunk, each chunk compared with its stored rows and written in its own transaction.
async fn sync(
    stack: &Stack,
    creds: &ProviderCredentials,
    tenant: &TenantId,
    webinar: WebinarId,
    event: i64,
    window: Option<ActivityWindow>,
) -> Pass {
    let provider = On24Provider::with_request_timeout(Duration::from_secs(300)).with_egress(
        on24_client::EgressPolicy::new(on24_client::DEFAULT_ON24_HOSTS, true),
    );
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<AttendeeReport>>(50);
    let pull = provider.attendee_chunks(creds, event, window, SYNC_CHUNK, tx);
    let store = async {
        let (mut read, mut written) = (0, 0);
        while let Some(chunk) = rx.recv().await {
            read += chunk.len();
            let t = tenant.clone();
            // Rows read and written are the figure here, not the cost of sealing them: the
            // service bench's (e) compares encryption on and off.
            let fields = FieldCipher::plain(t.as_str());
            written += stack
                .engine
                .store()
                .transaction(move |conn| store_chunk(conn, &fields, &t, &webinar, &chunk, now_ms()))
                .await
                .expect("chunk stored");
        }
        (read, written)
    };
    let (pulled, (read, written)) = tokio::join!(pull, store);
    pulled.expect("attendee report");
    Pass {
        read,
        written,
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Books an on-demand viewing starting at `start` to `count` registrants from number `first`.
async fn change(stack: &Stack, event: i64, first: u64, count: u32, start: chrono::DateTime<Utc>) {
    stack
        .sim
        .control()
        .seed_attendees(
            event,
            &SeedAttendees {
                count,
                first,
                viewing: ViewingRequest {
                    archive_minutes: Some(1.0),
                    archive_start: Some(start.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()),
                    ..ViewingRequest::default()
                },
                ..SeedAttendees::default()
            },
        )
        .await
        .expect("viewings booked");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let db = match std::env::var("BENCH_DB").as_deref() {
        Ok("sqlite") => Db::Sqlite,
        _ => Db::Postgres,
    };
    let registrants = env_usize("BENCH_REGISTRANTS", 100_000);
    let changed = u32::try_from(registrants / 100).unwrap_or(u32::MAX).max(1);
    let mut workers = fast_workers();
    // No scheduled pulls beside the measured ones.
    workers.metrics_poll_interval = Duration::from_secs(3600);
    let stack = Stack::start_with(db, workers, Duration::from_secs(300)).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "bench-incremental").await;
    let creds = ProviderCredentials {
        client_id: CLIENT_ID as u64,
        region: "NA".into(),
        base_url: Some(stack.sim.base_url.clone()),
        token_key: SecretString::from(TOKEN_KEY.to_owned()),
        token_secret: SecretString::from(TOKEN_SECRET.to_owned()),
    };
    println!("incremental sync benchmark on {db:?}");

    // Every registrant watched live; the first full sync stores them all.
    stack
        .sim
        .control()
        .seed_attendees(
            event,
            &SeedAttendees {
                count: u32::try_from(registrants).expect("registrants"),
                ..SeedAttendees::default()
            },
        )
        .await
        .expect("registrants seeded");
    let first = sync(&stack, &creds, &tenant, webinar, event, None).await;
    println!(
        "first full sync, {registrants} registrants: read {}, wrote {} in {:.2} s",
        first.read, first.written, first.secs
    );

    // 1 % watch the recording (activity ending before the full sync starts); a full sync
    // reads everyone to find them.
    change(
        &stack,
        event,
        0,
        changed,
        Utc::now() - chrono::Duration::minutes(10),
    )
    .await;
    let full = sync(&stack, &creds, &tenant, webinar, event, None).await;
    let last_pull = now_ms();

    // Another 1 % watch after that pull; the long-tail sync asks only for who was active since.
    let at = Utc::now();
    change(&stack, event, u64::from(changed), changed, at).await;
    let window = ActivityWindow {
        from_ms: last_pull / 1000 * 1000 + 1000,
        until_ms: (at + chrono::Duration::minutes(5)).timestamp_millis() / 1000 * 1000,
    };
    let incremental = sync(&stack, &creds, &tenant, webinar, event, Some(window)).await;
    println!(
        "full sync, {registrants} registrants, 1 % changed: read {} from ON24, compared {}, wrote {} in {:.2} s",
        full.read, full.read, full.written, full.secs
    );
    println!(
        "incremental sync, {registrants} registrants, 1 % changed: read {} from ON24, compared {}, wrote {} in {:.2} s; rows read {:.4} of the full sync's, time {:.3} of it",
        incremental.read,
        incremental.read,
        incremental.written,
        incremental.secs,
        incremental.read as f64 / full.read.max(1) as f64,
        incremental.secs / full.secs.max(f64::EPSILON),
    );
}
