//! Single registrations to one webinar written together: while one write for a webinar is
//! under way, the calls that arrive for the same webinar wait and are then written as one
//! batch (one transaction, one statement on PostgreSQL) by the next write. A call alone is
//! written at once, so nothing waits when there is nothing to share; under load a durable
//! commit is shared by many calls instead of each paying for its own.
//!
//! Each call still gets its own outcome, exactly as if it had been written alone: the batch
//! path answers item by item (idempotent repeats, suppressed people, request ids of another
//! email), and when the batch as a whole fails (the webinar is gone, the key service is
//! down, the database answered an error), each call is written again on its own, so its
//! error is its own and one call's failure is never another's.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::MAX_BATCH;
use super::register::Item;
use crate::domain::{Engine, Error, RegisterOutcome};
use crate::ids::{TenantId, WebinarId};

type Answer = oneshot::Sender<Result<RegisterOutcome, Error>>;

/// The calls waiting, per webinar.
type Queues = Arc<Mutex<HashMap<(TenantId, WebinarId), Vec<Waiting>>>>;

/// The calls waiting per webinar. A webinar is in the map exactly while a writer task runs
/// for it; the writer leaves the map when it finds its queue empty.
#[derive(Debug, Default, Clone)]
pub(crate) struct Coalescer {
    waiting: Queues,
}

struct Waiting {
    item: Item,
    answer: Answer,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The item holds personal data.
        f.write_str("Waiting")
    }
}

impl Coalescer {
    /// Registers one person, together with the other calls for the same webinar that are
    /// waiting when the next write starts.
    pub(super) async fn register(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        webinar: &WebinarId,
        item: Item,
    ) -> Result<RegisterOutcome, Error> {
        let (answer, answered) = oneshot::channel();
        let key = (tenant.clone(), *webinar);
        let start_writer = {
            let mut waiting = lock(&self.waiting);
            match waiting.entry(key.clone()) {
                Entry::Occupied(mut queue) => {
                    queue.get_mut().push(Waiting { item, answer });
                    false
                }
                Entry::Vacant(slot) => {
                    slot.insert(vec![Waiting { item, answer }]);
                    true
                }
            }
        };
        if start_writer {
            // A task of its own, so that a caller who goes away (a cancelled call) does not
            // stop the write of the others' people.
            let (waiting, engine) = (Arc::clone(&self.waiting), engine.clone());
            tokio::spawn(write_until_empty(waiting, engine, key));
        }
        answered.await.map_err(|_| Error::Internal)?
    }
}

/// The queues, also after a panic while they were held (each queue stays consistent: it is
/// only pushed to or drained).
fn lock(
    queues: &Queues,
) -> std::sync::MutexGuard<'_, HashMap<(TenantId, WebinarId), Vec<Waiting>>> {
    queues
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes the webinar's waiting calls, up to a batch at a time, until none is left.
async fn write_until_empty(waiting: Queues, engine: Engine, key: (TenantId, WebinarId)) {
    loop {
        let batch: Vec<Waiting> = {
            let mut map = lock(&waiting);
            let Some(queue) = map.get_mut(&key) else {
                return;
            };
            if queue.is_empty() {
                map.remove(&key);
                return;
            }
            let n = queue.len().min(MAX_BATCH);
            queue.drain(..n).collect()
        };
        write(&engine, &key.0, &key.1, batch).await;
    }
}

/// Writes one batch and answers each call in it.
async fn write(engine: &Engine, tenant: &TenantId, webinar: &WebinarId, batch: Vec<Waiting>) {
    let registrations = engine.registrations();
    let items: Vec<Item> = batch.iter().map(|w| w.item.clone()).collect();
    match registrations.register_items(tenant, webinar, items).await {
        Ok(outcomes) if outcomes.len() == batch.len() => {
            for (w, outcome) in batch.into_iter().zip(outcomes) {
                let _ = w.answer.send(Ok(outcome));
            }
        }
        Ok(_) => {
            for w in batch {
                let _ = w.answer.send(Err(Error::Internal));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(w) = batch.into_iter().next() {
                let _ = w.answer.send(Err(e));
            }
        }
        Err(_) => {
            for w in batch {
                let alone = registrations
                    .register_items(tenant, webinar, vec![w.item])
                    .await
                    .and_then(|mut out| out.pop().ok_or(Error::Internal));
                let _ = w.answer.send(alone);
            }
        }
    }
}
