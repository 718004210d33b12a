//! Change notifications on PostgreSQL: a replica that changes a key sends `NOTIFY` on
//! [`CHANNEL`]; every replica keeps one extra connection that `LISTEN`s and wakes its refresh
//! at once, so replicas usually agree within about [`POLL`] instead of a full refresh
//! interval. The periodic refresh stays as the fallback (lost connection, SQLite).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use diesel::{Connection, RunQueryDsl, pg::PgConnection};

use super::{Backend, DbConn, StoreError};

/// The notification channel.
pub const CHANNEL: &str = "keyservice_keys";
/// How often the listener checks its socket for notifications.
pub const POLL: Duration = Duration::from_millis(100);

/// Tells other replicas that keys changed. A no-op on SQLite (one replica).
pub fn announce(conn: &mut DbConn) -> Result<(), StoreError> {
    if let DbConn::Pg(pg) = conn {
        diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(pg)?;
    }
    Ok(())
}

/// Stops the listener thread when dropped.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that calls `on_change` whenever another connection notifies
/// [`CHANNEL`] (and after each reconnect, since notifications may have been missed).
/// `None` on SQLite.
pub fn listen(backend: &Backend, on_change: impl Fn() + Send + 'static) -> Option<Listener> {
    let Backend::Postgres(url) = backend else {
        return None;
    };
    let url = url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("keyservice-listen".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match PgConnection::establish(&url).and_then(|mut conn| {
                    diesel::sql_query(format!("LISTEN {CHANNEL}"))
                        .execute(&mut conn)
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                    Ok(conn)
                }) {
                    Ok(mut conn) => {
                        on_change();
                        if let Err(e) = poll(&mut conn, &stopped, &on_change) {
                            tracing::warn!(error = %e, "change listener lost its connection; reconnecting");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "change listener cannot connect; retrying"),
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the change listener; relying on periodic refresh");
    }
    Some(Listener { stop })
}

fn poll(
    conn: &mut PgConnection,
    stop: &AtomicBool,
    on_change: &impl Fn(),
) -> Result<(), diesel::result::Error> {
    while !stop.load(Ordering::Relaxed) {
        let mut changed = false;
        for notification in conn.notifications_iter() {
            notification?;
            changed = true;
        }
        if changed {
            on_change();
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}
