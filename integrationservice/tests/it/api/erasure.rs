//! Erasure through the public API with everything real (the service's own `run` over TLS, the
//! key service over mTLS, the ON24 simulator over HTTP, SQLite or PostgreSQL): `ForgetPerson`
//! works with the credentials deleted (local erasure at once, the ON24 part PAUSED until they
//! return), leaves the registrations empty and unlinked and the metrics gone, treats ON24's
//! "not found" as done, queues nothing for an unknown email unless asked, and reaches ON24
//! only after a delivery that was running when the person was forgotten. Each call is an
//! erasure request (Get, List) that ends DONE, LOCAL_DONE or FAILED; a refused one leaves the
//! address in no row of any table, and retried with the address (`RetryErasureRequest`) once
//! ON24 accepts again, ends DONE.

use prost_types::Timestamp;
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tonic::transport::Channel;

use integrationservice::testing::{Store, StoreError};

use super::harness::assert_bad_field;
use crate::api::lifecycle::{FullStack, eventually};
use crate::api_both_backends;

pub(super) const TENANT: &str = "tenants/tenant-a";
const TENANT_ID: &str = "tenant-a";

/// Tenant A's clients, with the steps the erasure and suppression tests share.
pub(super) struct Clients {
    pub(super) creds: ProviderConfigServiceClient<Channel>,
    pub(super) webinars: WebinarServiceClient<Channel>,
    pub(super) regs: RegistrationServiceClient<Channel>,
    pub(super) metrics: MetricsServiceClient<Channel>,
}

impl Clients {
    pub(super) async fn new(stack: &FullStack) -> Self {
        let channel = stack.h.tenant_a().await;
        Self {
            creds: ProviderConfigServiceClient::new(channel.clone()),
            webinars: WebinarServiceClient::new(channel.clone()),
            regs: RegistrationServiceClient::new(channel.clone()),
            metrics: MetricsServiceClient::new(channel),
        }
    }

    pub(super) async fn put_credentials(&mut self, stack: &FullStack) {
        self.creds
            .put_on24_credentials(PutOn24CredentialsRequest {
                on24_credentials: Some(stack.credentials()),
                live_check: true,
                validate_only: false,
            })
            .await
            .expect("put credentials");
    }

    /// Creates a webinar that starts `in_minutes` from now (negative: in the past) and waits
    /// until it exists at ON24.
    pub(super) async fn active_webinar(&mut self, reference: &str, in_minutes: i64) -> Webinar {
        let created = self
            .webinars
            .create_webinar(CreateWebinarRequest {
                parent: TENANT.into(),
                webinar: Some(Webinar {
                    crm_reference_id: reference.into(),
                    title: format!("Webinar {reference}"),
                    start_time: Some(Timestamp {
                        seconds: chrono::Utc::now().timestamp() + in_minutes * 60,
                        nanos: 0,
                    }),
                    duration_minutes: 60,
                    time_zone: "UTC".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create webinar")
            .into_inner()
            .webinar
            .expect("webinar");
        eventually("webinar ACTIVE", || {
            let mut c = self.webinars.clone();
            let name = created.name.clone();
            async move {
                let w = c
                    .get_webinar(GetWebinarRequest { name })
                    .await
                    .ok()?
                    .into_inner()
                    .webinar?;
                (w.status == WebinarStatus::Active as i32).then_some(w)
            }
        })
        .await
    }

    pub(super) async fn register(&mut self, webinar: &str, email: &str) -> Registration {
        self.regs
            .create_registration(CreateRegistrationRequest {
                parent: webinar.into(),
                registration: Some(Registration {
                    email: email.into(),
                    first_name: "Erin".into(),
                    last_name: "Example".into(),
                    company: "Acme".into(),
                    job_title: "Engineer".into(),
                    crm_reference_id: "contact-1".into(),
                    city: "Lyon".into(),
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await
            .expect("register")
            .into_inner()
            .registration
            .expect("registration")
    }

    pub(super) async fn get(&mut self, name: &str) -> Registration {
        self.regs
            .get_registration(GetRegistrationRequest { name: name.into() })
            .await
            .expect("get")
            .into_inner()
            .registration
            .expect("registration")
    }

    pub(super) async fn delivered(&mut self, name: &str) -> Registration {
        eventually("registration DELIVERED", || {
            let mut c = self.regs.clone();
            let name = name.to_owned();
            async move {
                let r = c
                    .get_registration(GetRegistrationRequest { name })
                    .await
                    .ok()?
                    .into_inner()
                    .registration?;
                (r.status == RegistrationStatus::Delivered as i32).then_some(r)
            }
        })
        .await
    }

    pub(super) async fn forget(
        &mut self,
        email: &str,
        at_on24_if_unknown: bool,
    ) -> ForgetPersonResponse {
        self.regs
            .forget_person(ForgetPersonRequest {
                parent: TENANT.into(),
                email: email.into(),
                forget_at_on24_if_unknown: at_on24_if_unknown,
            })
            .await
            .expect("forget")
            .into_inner()
    }

    pub(super) async fn attendee_emails(&mut self, webinar: &str) -> Vec<String> {
        self.metrics
            .list_attendee_metrics(ListAttendeeMetricsRequest {
                parent: webinar.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("attendees")
            .into_inner()
            .attendee_metrics
            .into_iter()
            .map(|a| a.email)
            .collect()
    }
}

/// The tenant's `forget` jobs as (state, payload).
async fn forget_jobs(store: &Store) -> Vec<(String, Option<String>)> {
    store
        .run(|conn| {
            use diesel::prelude::*;
            use integrationservice::testing::schema::outbox_jobs::dsl as j;
            j::outbox_jobs
                .filter(j::tenant.eq(TENANT_ID))
                .filter(j::kind.eq("forget"))
                .select((j::state, j::payload))
                .load::<(String, Option<String>)>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("forget jobs")
}

/// The simulator's answers to `POST .../forget`, in order, as (seq, status).
async fn on24_forgets(sim: &on24sim::SimHandle) -> Vec<(u64, u16)> {
    sim.control()
        .journal()
        .await
        .expect("journal")
        .into_iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/forget"))
        .map(|e| (e.seq, e.status))
        .collect()
}

/// Every row of every table of the service's database as text (binary columns as hex), with
/// its table's name.
pub(crate) async fn every_row(store: &Store) -> Vec<(String, String)> {
    store
        .run(|conn| {
            use diesel::prelude::*;
            use diesel::sql_types::Text;
            use integrationservice::testing::DbConnection;
            #[derive(QueryableByName)]
            struct Name {
                #[diesel(sql_type = Text)]
                name: String,
            }
            #[derive(QueryableByName)]
            struct Row {
                #[diesel(sql_type = Text)]
                row: String,
            }
            let mut out = Vec::new();
            match conn {
                DbConnection::Pg(pg) => {
                    let tables: Vec<Name> = diesel::sql_query(
                        "SELECT table_name::text AS name FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    )
                    .load(pg)?;
                    for t in tables {
                        let rows: Vec<Row> = diesel::sql_query(format!(
                            "SELECT CAST(t AS text) AS row FROM \"{}\" t",
                            t.name
                        ))
                        .load(pg)?;
                        out.extend(rows.into_iter().map(|r| (t.name.clone(), r.row)));
                    }
                }
                DbConnection::Sqlite(lite) => {
                    let tables: Vec<Name> =
                        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
                            .load(lite)?;
                    for t in tables {
                        let columns: Vec<Name> = diesel::sql_query(format!(
                            "SELECT name FROM pragma_table_info('{}')",
                            t.name
                        ))
                        .load(lite)?;
                        let row = columns
                            .iter()
                            .map(|c| {
                                format!(
                                    "COALESCE(CASE WHEN typeof(\"{0}\") = 'blob' THEN hex(\"{0}\") \
                                     ELSE CAST(\"{0}\" AS TEXT) END, '')",
                                    c.name
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" || '|' || ");
                        let rows: Vec<Row> =
                            diesel::sql_query(format!("SELECT {row} AS row FROM \"{}\"", t.name))
                                .load(lite)?;
                        out.extend(rows.into_iter().map(|r| (t.name.clone(), r.row)));
                    }
                }
            }
            Ok::<_, StoreError>(out)
        })
        .await
        .expect("every row")
}

async fn erasure_request(c: &mut Clients, name: &str) -> ErasureRequest {
    c.regs
        .get_erasure_request(GetErasureRequestRequest { name: name.into() })
        .await
        .expect("get erasure request")
        .into_inner()
        .erasure_request
        .expect("erasure request")
}

pub(super) async fn erasure_state(
    c: &mut Clients,
    name: &str,
    state: ErasureState,
) -> ErasureRequest {
    eventually("the erasure request's state", || {
        let mut regs = c.regs.clone();
        let name = name.to_owned();
        async move {
            let r = regs
                .get_erasure_request(GetErasureRequestRequest { name })
                .await
                .ok()?
                .into_inner()
                .erasure_request?;
            (r.state == state as i32).then_some(r)
        }
    })
    .await
}

fn assert_empty(r: &Registration) {
    assert_eq!(r.status, RegistrationStatus::Forgotten as i32, "{r:?}");
    assert!(
        r.email.is_empty()
            && r.first_name.is_empty()
            && r.last_name.is_empty()
            && r.company.is_empty()
            && r.job_title.is_empty()
            && r.crm_reference_id.is_empty()
            && r.city.is_empty(),
        "personal fields left: {r:?}"
    );
    assert_eq!(r.on24_event_user_id, 0, "ON24 link left: {r:?}");
    assert!(r.deliver_time.is_none(), "delivery time left: {r:?}");
}

async fn forget_without_credentials(database_url: String) {
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let store = Store::connect(&database_url, 2).expect("store");
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    // Ended an hour ago: ON24 reports attendance for it.
    let a = c.active_webinar("erasure-a", -120).await;
    let b = c.active_webinar("erasure-b", 24 * 60).await;
    let gone = "Gone.Person@Example.com";
    let in_a = c.register(&a.name, gone).await;
    let in_b = c.register(&b.name, gone).await;
    let kept = c.register(&a.name, "kept@example.com").await;
    for r in [&in_a, &in_b, &kept] {
        c.delivered(&r.name).await;
    }
    for email in ["gone.person@example.com", "kept@example.com"] {
        stack
            .sim
            .control()
            .add_viewing(
                a.on24_event_id,
                &on24sim::ViewingRequest {
                    email: email.into(),
                    live_minutes: Some(20.0),
                    ..Default::default()
                },
            )
            .await
            .expect("viewing");
    }
    c.metrics
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: a.name.clone(),
        })
        .await
        .expect("sync");
    let mut before = c.attendee_emails(&a.name).await;
    before.sort();
    assert_eq!(before, ["gone.person@example.com", "kept@example.com"]);

    // The tenant ends its ON24 contract, then receives the erasure request.
    c.creds
        .delete_on24_credentials(DeleteOn24CredentialsRequest {
            name: format!("{TENANT}/on24Credentials"),
        })
        .await
        .expect("delete credentials");
    let done = c.forget(gone, false).await;
    assert_eq!(done.forgotten_registration_count, 2);
    assert!(done.on24_erasure_queued);
    let request = done.erasure_request.expect("erasure request");
    assert!(
        request
            .name
            .starts_with("tenants/tenant-a/erasureRequests/")
    );
    assert_eq!(request.state, ErasureState::ProviderPending as i32);
    assert_eq!(
        (
            request.forgotten_registration_count,
            request.deleted_attendee_metrics_count
        ),
        (2, 1)
    );
    assert!(request.complete_time.is_none());
    assert_eq!(erasure_request(&mut c, &request.name).await, request);
    // Erased here at once: empty, unlinked tombstones, and no metrics.
    assert_empty(&c.get(&in_a.name).await);
    assert_empty(&c.get(&in_b.name).await);
    assert_eq!(c.get(&kept.name).await.email, "kept@example.com");
    assert_eq!(c.attendee_emails(&a.name).await, ["kept@example.com"]);
    // The ON24 part waits for credentials.
    let jobs = forget_jobs(&store).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].0, "PAUSED");
    assert!(on24_forgets(&stack.sim).await.is_empty());

    // Credentials back: ON24 forgets the person (it held them: 200) and the job is gone.
    c.put_credentials(&stack).await;
    let answers = eventually("the forget at ON24", || async {
        let answers = on24_forgets(&stack.sim).await;
        (!answers.is_empty()).then_some(answers)
    })
    .await;
    assert_eq!(answers.iter().map(|a| a.1).collect::<Vec<_>>(), [200]);
    eventually("the forget job to end", || async {
        forget_jobs(&store).await.is_empty().then_some(())
    })
    .await;
    let ended = erasure_state(&mut c, &request.name, ErasureState::Done).await;
    assert!(ended.complete_time.is_some() && ended.failure_reason.is_empty());

    // Forgetting again matches nothing here and queues nothing.
    let again = c.forget(gone, false).await;
    assert_eq!(again.forgotten_registration_count, 0);
    assert!(!again.on24_erasure_queued);
    let unknown = c.forget("never.here@example.com", false).await;
    assert!(!unknown.on24_erasure_queued);
    let local = unknown.erasure_request.expect("erasure request");
    assert_eq!(local.state, ErasureState::LocalDone as i32);
    assert!(local.complete_time.is_some());
    assert!(forget_jobs(&store).await.is_empty());
    // Asked to forget at ON24 anyway: ON24 has no such person (404), which counts as done.
    let anyway = c.forget("never.here@example.com", true).await;
    assert_eq!(anyway.forgotten_registration_count, 0);
    assert!(anyway.on24_erasure_queued);
    eventually("ON24's not found", || async {
        let answers = on24_forgets(&stack.sim).await;
        (answers.len() == 2).then_some(())
    })
    .await;
    assert_eq!(on24_forgets(&stack.sim).await[1].1, 404);
    eventually("the 404 forget job to end as done", || async {
        forget_jobs(&store).await.is_empty().then_some(())
    })
    .await;
    let anyway = anyway.erasure_request.expect("erasure request");
    erasure_state(&mut c, &anyway.name, ErasureState::Done).await;
    // Every request of the tenant, oldest first, one per page.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .regs
            .list_erasure_requests(ListErasureRequestsRequest {
                parent: TENANT.into(),
                page_size: 1,
                page_token: token,
            })
            .await
            .expect("list erasure requests")
            .into_inner();
        names.extend(page.erasure_requests.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0], request.name);
    assert_eq!(names[3], anyway.name);
    // The change feed tells the CRM when a request is made and when it ends, with its state.
    let feed = c
        .metrics
        .list_changes(ListChangesRequest {
            parent: TENANT.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("changes")
        .into_inner()
        .changes;
    let of_request: Vec<_> = feed
        .iter()
        .filter(|ch| ch.r#type == ChangeType::ErasureRequest as i32 && ch.resource == request.name)
        .collect();
    assert_eq!(of_request.len(), 2, "made and ended: {of_request:?}");
    let Some(change::Snapshot::ErasureRequest(snapshot)) = &of_request[1].snapshot else {
        panic!("no snapshot: {:?}", of_request[1]);
    };
    assert_eq!(snapshot.state, ErasureState::Done as i32);

    // The tombstones do not hold the address: once the person consents again (their
    // suppression lifted), registering them is a new registration, delivered again.
    let lifted = c
        .regs
        .unsuppress_person(UnsuppressPersonRequest {
            parent: TENANT.into(),
            email: gone.into(),
        })
        .await
        .expect("unsuppress")
        .into_inner();
    assert!(lifted.lifted);
    let back = c.register(&a.name, gone).await;
    assert_ne!(back.name, in_a.name);
    c.delivered(&back.name).await;
    assert_empty(&c.get(&in_a.name).await);
    stack.stop().await;
}

api_both_backends!(forget_works_without_credentials, forget_without_credentials);

async fn forget_after_running_delivery(database_url: String) {
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let store = Store::connect(&database_url, 2).expect("store");
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    let w = c.active_webinar("erasure-order", 24 * 60).await;
    // ON24 holds every registrant call for two seconds: the delivery is still running when
    // the person is forgotten.
    stack
        .sim
        .control()
        .set_faults(&on24sim::FaultConfig {
            latency_ms: 2000,
            only_method: Some("POST".into()),
            only_path_suffix: Some("/registrant".into()),
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("faults");
    let client_id = stack
        .credentials()
        .client_id
        .parse::<i64>()
        .expect("client id");
    let r = c.register(&w.name, "late@example.com").await;
    eventually("the delivery in flight at ON24", || async {
        let n = stack.sim.control().inflight(client_id).await.ok()?;
        (n.current > 0).then_some(())
    })
    .await;
    let done = c.forget("late@example.com", false).await;
    assert_eq!(done.forgotten_registration_count, 1);
    // Both calls answered at ON24 and the forget job ended, in whatever order they came.
    let journal = eventually("the delivery and the forget to end", || async {
        let journal = stack.sim.control().journal().await.ok()?;
        let delivered = journal
            .iter()
            .any(|e| e.method == "POST" && e.path.ends_with("/registrant"));
        let answered = !on24_forgets(&stack.sim).await.is_empty();
        (delivered && answered && forget_jobs(&store).await.is_empty()).then_some(journal)
    })
    .await;
    let last_registrant = journal
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/registrant"))
        .map(|e| e.seq)
        .max()
        .expect("the delivery reached ON24");
    let forgets = on24_forgets(&stack.sim).await;
    assert_eq!(forgets.len(), 1, "{forgets:?}");
    // After the last registrant call, and it found the registrant (200, not 404): nobody
    // live is left at ON24.
    assert!(forgets[0].0 > last_registrant, "{journal:?}");
    assert_eq!(forgets[0].1, 200);
    // The delivery's result was discarded: the tombstone stays empty and unlinked.
    assert_empty(&c.get(&r.name).await);
    stack.sim.control().clear_faults().await.expect("faults");
    stack.stop().await;
}

api_both_backends!(
    forget_waits_for_the_running_delivery,
    forget_after_running_delivery
);

async fn refused_erasure(database_url: String) {
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let store = Store::connect(&database_url, 2).expect("store");
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    let w = c.active_webinar("erasure-refused", 24 * 60).await;
    let r = c.register(&w.name, "refused@example.com").await;
    c.delivered(&r.name).await;
    // ON24 refuses every forget for good (400).
    stack
        .sim
        .control()
        .set_faults(&on24sim::FaultConfig {
            error_rate: 1.0,
            error_status: 400,
            only_path_suffix: Some("/forget".into()),
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("faults");
    let done = c.forget("refused@example.com", false).await;
    let request = done.erasure_request.expect("erasure request");
    let failed = erasure_state(&mut c, &request.name, ErasureState::Failed).await;
    assert!(!failed.failure_reason.is_empty() && failed.complete_time.is_some());
    assert!(!failed.failure_reason.contains('@'), "{failed:?}");
    // The failed job stays for inspection, without the address.
    let jobs = forget_jobs(&store).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].0, "FAILED");
    // No address anywhere: every row of every table.
    let rows = every_row(&store).await;
    assert!(rows.iter().any(|(t, _)| t == "erasure_requests"));
    let leaks: Vec<_> = rows.iter().filter(|(_, row)| row.contains('@')).collect();
    assert!(leaks.is_empty(), "{leaks:?}");

    // Retrying needs the address again, and only the one the request erased (checked
    // through its keyed hash); only a FAILED request can be retried.
    let wrong = c
        .regs
        .retry_erasure_request(RetryErasureRequestRequest {
            name: request.name.clone(),
            email: "someone.else@example.com".into(),
        })
        .await
        .expect_err("another address");
    assert_bad_field(&wrong, "email");
    let ended = c.forget("never.registered@example.com", false).await;
    let local = ended.erasure_request.expect("erasure request");
    let not_failed = c
        .regs
        .retry_erasure_request(RetryErasureRequestRequest {
            name: local.name.clone(),
            email: "never.registered@example.com".into(),
        })
        .await
        .expect_err("LOCAL_DONE");
    assert_eq!(not_failed.code(), tonic::Code::FailedPrecondition);
    // ON24's refusal is sorted out: the retry reaches ON24 and the request ends DONE.
    stack.sim.control().clear_faults().await.expect("faults");
    let retried = c
        .regs
        .retry_erasure_request(RetryErasureRequestRequest {
            name: request.name.clone(),
            email: "Refused@Example.com".into(),
        })
        .await
        .expect("retry")
        .into_inner()
        .erasure_request
        .expect("erasure request");
    assert_eq!(retried.state, ErasureState::ProviderPending as i32);
    assert!(retried.failure_reason.is_empty() && retried.complete_time.is_none());
    let done = erasure_state(&mut c, &request.name, ErasureState::Done).await;
    assert!(done.complete_time.is_some());
    let answers = on24_forgets(&stack.sim).await;
    assert_eq!(answers.last().map(|a| a.1), Some(200), "{answers:?}");
    // A second retry finds it DONE.
    let again = c
        .regs
        .retry_erasure_request(RetryErasureRequestRequest {
            name: request.name.clone(),
            email: "refused@example.com".into(),
        })
        .await
        .expect_err("DONE");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    // The retry's job is gone with the address; still no `@` anywhere.
    let rows = every_row(&store).await;
    let leaks: Vec<_> = rows.iter().filter(|(_, row)| row.contains('@')).collect();
    assert!(leaks.is_empty(), "{leaks:?}");
    stack.stop().await;
}

api_both_backends!(refused_erasure_fails_without_the_address, refused_erasure);
