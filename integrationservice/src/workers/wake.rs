//! Cross-replica wake-ups on PostgreSQL, the listening side: a trigger (migration `outbox_claims_notify`) sends
//! `NOTIFY outbox_jobs` when a transaction that enqueued or released jobs commits, and every
//! replica keeps one connection that LISTENs and wakes its delivery loop. Registration writes
//! are the exception: their one-statement insert switches the trigger off for its transaction
//! (a notifying commit holds a database-wide lock through its WAL flush, so every registration
//! would commit one at a time) and the service sends one coalesced NOTIFY right after the
//! commit instead (`store::notify::ReplicaWake`, at most one every few milliseconds).
//! So a job enqueued through one replica is picked up by an idle one at once rather than at its
//! next poll; the poll stays as the fallback (for retries coming due, and while the listener
//! reconnects).
//! The same connection LISTENs on `tenant_changes`, whose payload names the tenant whose
//! change feed grew on another replica: the listener wakes that tenant's watchers and no
//! other, so watchers never poll the database. After each (re)connection it wakes every
//! watcher once, for changes committed while it was not listening; a lost notification
//! (sent without waiting for its WAL flush) is found at the watch's next heartbeat re-read.
//! Every replica runs the listener, with or without workers, for its watchers.
//! SQLite has one process per database: the in-process signal is enough there.
//!
//! libpq delivers notifications as they arrive on the connection, but diesel exposes only a
//! non-blocking read of them, so the listener thread looks every `CHECK_EVERY` (a read of a
//! local socket buffer, no query) and checks the connection with a query every `PING_EVERY`.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::{Signals, TenantId};
use crate::store::notify::Listener;

/// How often pending notifications are read: the worst added latency of a wake-up.
const CHECK_EVERY: Duration = Duration::from_millis(20);
/// How often the connection is proven alive (a dead peer may not show on a plain read).
const PING_EVERY: Duration = Duration::from_secs(15);
/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// How long one connection attempt may take (libpq `connect_timeout`, in whole seconds), unless
/// the URL says otherwise: a server that accepts but never answers must not hold the listener
/// (and a shutdown waiting for it) forever.
const CONNECT_TIMEOUT_SECONDS: u32 = 5;

/// Listens on `url` until `shutdown`, calling `signals.jobs_added()` on every jobs
/// notification and `signals.changes_arrived(tenant)` on every change notification (and
/// both for everything once after each (re)connection, for what was committed while not
/// listening).
/// `listening` is true while a connection is subscribed. Blocking: run it on its own thread.
pub(crate) fn listen(
    url: &str,
    signals: &Signals,
    listening: &watch::Sender<bool>,
    shutdown: &CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match subscribe(url) {
            Ok(mut conn) => {
                backoff = Duration::from_millis(200);
                listening.send_replace(true);
                signals.jobs_added();
                signals.changes_maybe_missed();
                let lost = follow(&mut conn, signals, shutdown);
                listening.send_replace(false);
                if let Err(e) = lost {
                    tracing::warn!(error = %e, "outbox listener lost its connection; reconnecting");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "outbox listener could not subscribe");
                sleep_unless_cancelled(backoff, shutdown);
                backoff = (backoff * 2).min(RECONNECT_MAX);
            }
        }
    }
}

fn subscribe(url: &str) -> Result<Listener, String> {
    Listener::subscribe(&with_connect_timeout(url, CONNECT_TIMEOUT_SECONDS))
}

/// Wakes the workers and the named tenants' watchers for each batch of notifications until
/// shutdown (Ok) or a broken connection (Err).
fn follow(
    listener: &mut Listener,
    signals: &Signals,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let mut pinged = Instant::now();
    while !shutdown.is_cancelled() {
        let heard = listener.drain()?;
        if heard.jobs {
            signals.jobs_added();
        }
        for tenant in &heard.tenants {
            match TenantId::parse(tenant) {
                Ok(tenant) => signals.changes_arrived(&tenant),
                Err(_) => tracing::warn!("ignored a change notification without a tenant id"),
            }
        }
        if pinged.elapsed() >= PING_EVERY {
            listener.ping()?;
            pinged = Instant::now();
        }
        std::thread::sleep(CHECK_EVERY);
    }
    Ok(())
}

fn sleep_unless_cancelled(d: Duration, shutdown: &CancellationToken) {
    let until = Instant::now() + d;
    while !shutdown.is_cancelled() && Instant::now() < until {
        std::thread::sleep(CHECK_EVERY.max(Duration::from_millis(50)));
    }
}

/// `url` with libpq's `connect_timeout` set to `seconds`, unless it already sets one. Works for
/// both forms libpq accepts: a URI (`postgres://…`, the parameter goes in the query string) and
/// `key=value` pairs.
fn with_connect_timeout(url: &str, seconds: u32) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    if url.contains("://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}connect_timeout={seconds}")
    } else {
        format!("{url} connect_timeout={seconds}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_is_added_to_both_url_forms_unless_set() {
        assert_eq!(
            with_connect_timeout("postgres://u@127.0.0.1:5432/db", 5),
            "postgres://u@127.0.0.1:5432/db?connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?sslmode=disable", 5),
            "postgres://u@h/db?sslmode=disable&connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("host=h dbname=db", 5),
            "host=h dbname=db connect_timeout=5"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=2", 5),
            "postgres://h/db?connect_timeout=2"
        );
    }

    /// A server that accepts the connection and never answers: the attempt gives up after the
    /// default timeout instead of holding the listener thread.
    #[test]
    fn a_silent_server_does_not_hold_the_listener() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("address").port();
        let held = std::thread::spawn(move || silent.accept().map(|(socket, _)| socket));
        let started = Instant::now();
        let result = subscribe(&format!("postgres://nobody@127.0.0.1:{port}/nothing"));
        assert!(result.is_err(), "no connection to a silent server");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up after the timeout, took {:?}",
            started.elapsed()
        );
        drop(held.join());
    }
}
