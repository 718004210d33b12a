//! Several replicas on one PostgreSQL database: the per-tenant concurrency limit holds for all
//! of them together (measured at the simulator), and a job enqueued through one replica is
//! delivered by another at once (LISTEN/NOTIFY), not at its next poll.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::RegistrationStatus;
use integrationservice::testing::schema::outbox_jobs::dsl as j;
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{CLIENT_ID, Db, Stack, eventually, fast_workers, person};

/// Lease owners (`worker_id:claim`) of the jobs running now, reduced to their worker ids.
async fn running_workers(stack: &Stack) -> BTreeSet<String> {
    stack
        .engine
        .store()
        .run(|conn| {
            j::outbox_jobs
                .filter(j::state.eq("RUNNING"))
                .select(j::lease_owner)
                .load::<Option<String>>(conn)
                .map_err(integrationservice::testing::StoreError::from)
        })
        .await
        .expect("owners")
        .into_iter()
        .flatten()
        .filter_map(|o| o.split(':').next().map(str::to_owned))
        .collect()
}

async fn tenant_limit_holds_across_replicas(db: Db) {
    let mut workers = fast_workers();
    workers.concurrency = 8;
    workers.per_tenant_concurrency = 2;
    workers.worker_id = "replica-a".into();
    // PostgreSQL: two replicas, B with one worker and A with eight, beside an API-only
    // engine. A starts only once B is delivering, so both take part whichever replica wins the
    // freed slots afterwards (left to a race, A could keep both slots and B never deliver), and
    // a limit counted per replica would let A take two beside B's one (three at ON24 at once).
    // SQLite has one process per database: A alone.
    let postgres = matches!(db, Db::Postgres);
    let stack = Stack::start_opt(
        db,
        (!postgres).then(|| workers.clone()),
        Duration::from_secs(5),
    )
    .await;
    let b = postgres.then(|| {
        stack.replica(Some(integrationservice::testing::WorkerConfig {
            worker_id: "replica-b".into(),
            concurrency: 1,
            ..workers.clone()
        }))
    });
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-limit").await;

    // Every ON24 call takes 150 ms, so deliveries overlap and a limit that leaks shows.
    let control = stack.sim.control();
    control
        .set_faults(&FaultConfig {
            latency_ms: 150,
            ..FaultConfig::default()
        })
        .await
        .expect("faults");
    control.reset_inflight().await.expect("reset");
    b.as_ref()
        .map_or(&stack.engine, |b| &b.engine)
        .registrations()
        .register_batch(&tenant, &webinar, (0..30).map(person).collect())
        .await
        .expect("batch");
    let mut seen = if postgres {
        eventually("replica B delivering", Duration::from_secs(10), || async {
            let owners = running_workers(&stack).await;
            owners.contains("replica-b").then_some(owners)
        })
        .await
    } else {
        BTreeSet::new()
    };
    let _a = postgres.then(|| stack.replica(Some(workers.clone())));
    // Lease owners are sampled on their own, every few milliseconds: a replica that delivered
    // only one 150 ms call could slip between the slower completion checks.
    let finished = AtomicBool::new(false);
    let sample_owners = async {
        while !finished.load(Ordering::Relaxed) {
            seen.extend(running_workers(&stack).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen
    };
    let wait_for_delivery = async {
        eventually("30 of 30 delivered", Duration::from_secs(60), || async {
            let done = stack
                .list_all(&tenant, &webinar)
                .await
                .iter()
                .filter(|r| r.status == RegistrationStatus::Delivered)
                .count();
            if done == 30 {
                Ok(())
            } else {
                Err(format!("only {done} of 30 delivered"))
            }
        })
        .await;
        finished.store(true, Ordering::Relaxed);
    };
    let (seen, ()) = tokio::join!(sample_owners, wait_for_delivery);
    let inflight = control.inflight(CLIENT_ID).await.expect("inflight");
    assert_eq!(
        inflight.max, 2,
        "the tenant never had more than its 2 calls at ON24 at once, and reached them"
    );
    if postgres {
        assert_eq!(
            seen,
            BTreeSet::from(["replica-a".to_owned(), "replica-b".to_owned()]),
            "both replicas delivered"
        );
    }
}

async fn other_replica_wakes_at_once(db: Db) {
    // Replica A takes the API calls and runs no workers; replica B polls only every minute,
    // so only a notification can explain B delivering within seconds.
    let stack = Stack::start_opt(db, None, Duration::from_secs(5)).await;
    let mut workers = fast_workers();
    workers.poll_interval = Duration::from_secs(60);
    workers.metrics_poll_interval = Duration::from_secs(60);
    let b = stack.replica(Some(workers));
    tokio::time::timeout(
        Duration::from_secs(10),
        b.workers.as_ref().expect("workers").listening(),
    )
    .await
    .expect("B listens");
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // B goes idle on its long poll once it has delivered a first webinar (its start-up claims
    // are then done), so what it does next only a notification can have started.
    let first = stack
        .engine
        .webinars()
        .create(
            &tenant,
            crate::engine::harness::webinar_input("ev-first"),
            None,
        )
        .await
        .expect("create");
    eventually(
        "B created the first webinar",
        Duration::from_secs(5),
        || async {
            stack
                .engine
                .webinars()
                .get(&tenant, &first.id)
                .await
                .ok()?
                .on24_event_id
        },
    )
    .await;

    // Within seconds, far below B's 60 s poll: only the notification can explain it.
    let w = stack
        .engine
        .webinars()
        .create(
            &tenant,
            crate::engine::harness::webinar_input("ev-wake"),
            None,
        )
        .await
        .expect("create");
    eventually("B created the webinar", Duration::from_secs(5), || async {
        stack
            .engine
            .webinars()
            .get(&tenant, &w.id)
            .await
            .ok()?
            .on24_event_id
    })
    .await;
    stack
        .engine
        .registrations()
        .register(&tenant, &w.id, person(1))
        .await
        .expect("register");
    stack
        .wait_all(
            &tenant,
            &w.id,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(5),
        )
        .await;
}

both_backends!(
    per_tenant_limit_holds_across_replicas,
    tenant_limit_holds_across_replicas
);

mod notify_wakes_other_replicas {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        other_replica_wakes_at_once(Db::Postgres).await;
    }
}
