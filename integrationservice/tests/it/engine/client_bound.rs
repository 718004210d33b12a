//! The ON24 provider's HTTP clients stay bounded however many distinct base URLs tenants name:
//! one client (connection pool) per origin, never one per URL string. Live checks against the
//! simulator with a distinct path each leave one client.
//!
//! `ON24_CLIENT_BOUND_CALLS` raises the number of checks (default 2,000; the figure
//! is 50,000).

use std::time::Duration;

use integrationservice::testing::{On24Provider, ProviderCredentials, WebinarProvider};
use secrecy::SecretString;

use crate::engine::harness::{CLIENT_ID, TOKEN_KEY, TOKEN_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_checks_with_distinct_paths_keep_one_client_per_origin() {
    let calls: usize = std::env::var("ON24_CLIENT_BOUND_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let config = on24sim::SimConfig::with_account(CLIENT_ID, TOKEN_KEY, TOKEN_SECRET);
    // The journal keeps its last `journal_capacity` entries: bounded, so it does not hide or
    // fake growth in the memory check below.
    let journal_capacity = config.journal_capacity;
    let sim = on24sim::Simulator::start(config).await.expect("simulator");
    let provider = On24Provider::with_request_timeout(Duration::from_secs(5)).with_egress(
        on24_client::EgressPolicy::new(on24_client::DEFAULT_ON24_HOSTS, true),
    );
    let credentials = |base_url: String| ProviderCredentials {
        client_id: CLIENT_ID as u64,
        region: "NA".into(),
        base_url: Some(base_url),
        token_key: SecretString::from(TOKEN_KEY),
        token_secret: SecretString::from(TOKEN_SECRET),
    };
    provider
        .check_credentials(&credentials(sim.base_url.clone()))
        .await
        .expect("control: the simulator's own root checks out");
    let root = sim.base_url.trim_end_matches('/');
    // Resident memory once the first tenth of the checks has warmed the allocator and the one
    // pool, against the end: a client (or anything else) kept per URL would grow it linearly.
    let warm = calls / 10;
    let mut rss_warm = 0;
    for i in 0..calls {
        if i == warm {
            rss_warm = resident_kib();
        }
        // Every path is a different base URL string; most answer 404, which does not matter.
        let _ = provider
            .check_credentials(&credentials(format!("{root}/tenant-{i}")))
            .await;
        assert!(
            provider.client_count() <= 1,
            "{} clients after {} distinct base URLs",
            provider.client_count(),
            i + 1
        );
    }
    let rss_end = resident_kib();
    assert!(
        rss_end <= rss_warm + RSS_SLACK_KIB,
        "resident memory grew from {rss_warm} KiB to {rss_end} KiB over {} distinct base URLs",
        calls - warm
    );
    let journal = sim.control().journal().await.expect("journal");
    assert!(
        journal.len() > calls.min(journal_capacity) / 2,
        "the checks reached the simulator ({} calls)",
        journal.len()
    );
}

/// Growth allowed between the warm point and the end: allocator noise and the simulator's
/// bounded journal (in this process too), far below what a client per
/// URL costs (a connection pool and a TLS configuration each, tens of KiB).
const RSS_SLACK_KIB: u64 = 16 * 1024;

/// This process's resident set (`VmRSS`), in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}
