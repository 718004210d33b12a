//! Cross-replica wake-ups on PostgreSQL: a trigger (migration `outbox_claims_notify`) sends
//! `NOTIFY outbox_jobs` when a transaction that enqueued or released jobs commits, and every
//! replica keeps one connection that LISTENs and wakes its delivery loop. Registration writes
//! are the exception: their one-statement insert switches the trigger off for its transaction
//! (a notifying commit holds a database-wide lock through its WAL flush, so every registration
//! would commit one at a time) and the service sends one coalesced NOTIFY right after the
//! commit instead (`domain::registrations::ReplicaWake`, at most one every few milliseconds). So a job enqueued
//! through one replica is picked up by an idle one at once rather than at its next poll; the
//! poll stays as the fallback (for retries coming due, and while the listener reconnects).
//! SQLite has one process per database: the in-process signal is enough there.
//!
//! libpq delivers notifications as they arrive on the connection, but diesel exposes only a
//! non-blocking read of them, so the listener thread looks every `CHECK_EVERY` (a read of a
//! local socket buffer, no query) and checks the connection with a query every `PING_EVERY`.

use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::Signals;

/// The channel the trigger notifies.
pub const CHANNEL: &str = "outbox_jobs";

/// How often pending notifications are read: the worst added latency of a wake-up.
const CHECK_EVERY: Duration = Duration::from_millis(20);
/// How often the connection is proven alive (a dead peer may not show on a plain read).
const PING_EVERY: Duration = Duration::from_secs(15);
/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// Listens on `url` until `shutdown`, calling `signals.jobs_added()` on every notification
/// (and once after each (re)connection, for what was enqueued while not listening).
/// `listening` is true while a connection is subscribed. Blocking: run it on its own thread.
pub fn listen(
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

fn subscribe(url: &str) -> Result<PgConnection, String> {
    let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Wakes the workers for each batch of notifications until shutdown (Ok) or a broken
/// connection (Err).
fn follow(
    conn: &mut PgConnection,
    signals: &Signals,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let mut pinged = Instant::now();
    while !shutdown.is_cancelled() {
        let mut woke = false;
        for n in conn.notifications_iter() {
            n.map_err(|e| e.to_string())?;
            woke = true;
        }
        if woke {
            signals.jobs_added();
        }
        if pinged.elapsed() >= PING_EVERY {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(|e| e.to_string())?;
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
