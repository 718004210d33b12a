//! The life of a tenant through the public API only, with everything real: the service's own
//! `run` over TLS, the key service over mTLS, the ON24 simulator over HTTP, and SQLite or
//! PostgreSQL. Credentials, webinar, batch registration with a bad row, pagination, delivery,
//! viewing and metrics, the change feed (list and watch), cancel, forget, and credential
//! deletion disabling the tenant.

use std::time::Duration;

use prost_types::Timestamp;
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tokio_stream::StreamExt;
use tonic::Code;
use xtask::pki::CertificateAuthority;

use crate::api::harness::{Harness, assert_bad_field, assert_reason};
use crate::api_both_backends;

const ACCOUNT: testkit::sim::Account = testkit::sim::Account {
    client_id: 44551,
    token_key: "api-token-key-0001",
    token_secret: "api-token-secret-0001",
};
const CLIENT_ID: i64 = ACCOUNT.client_id;
const TOKEN_KEY: &str = ACCOUNT.token_key;
const TOKEN_SECRET: &str = ACCOUNT.token_secret;

/// Waits up to 30 s for `f` to yield a value.
pub(crate) async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    testkit::eventually(what, Duration::from_secs(30), f).await
}

pub(crate) fn person(i: usize) -> Registration {
    Registration {
        crm_reference_id: format!("contact-{i}"),
        email: format!("person{i}@example.com"),
        first_name: format!("First{i}"),
        last_name: "Tester".into(),
        company: "Acme".into(),
        job_function: "Engineering".into(),
        ..Default::default()
    }
}

fn new_webinar_for_dup() -> CreateWebinarRequest {
    CreateWebinarRequest {
        parent: String::new(),
        webinar: Some(Webinar {
            crm_reference_id: "event-42".into(),
            title: "Another".into(),
            start_time: Some(Timestamp {
                seconds: chrono::Utc::now().timestamp() + 86_400,
                nanos: 0,
            }),
            duration_minutes: 30,
            time_zone: "UTC".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// Everything behind the API, real: the key service over mTLS, the ON24 simulator over HTTP,
/// and the service on `database_url` with fast workers.
pub(crate) struct FullStack {
    pub h: Harness,
    pub sim: on24sim::SimHandle,
    keys: testkit::KeyService,
}

impl FullStack {
    /// Starts the stack; `configure` may change the service's configuration further.
    pub(crate) async fn start(
        database_url: String,
        configure: impl FnOnce(&mut integrationservice::config::Config),
    ) -> Self {
        let ca = CertificateAuthority::new("api stack CA").expect("CA");
        let keys = testkit::KeyService::for_credentials(&ca).await;
        let ks_endpoint = keys.endpoint.clone();
        let sim = testkit::sim::start(ACCOUNT).await;
        let h = Harness::launch(ca, move |c| {
            c.keyservice.endpoint = ks_endpoint;
            c.keyservice.server_name = "localhost".into();
            c.database.url = database_url;
            c.on24.allow_loopback = true;
            c.on24.request_timeout_ms = 5000;
            c.workers.enabled = true;
            c.workers.poll_interval_ms = 50;
            c.workers.backoff_base_ms = 20;
            c.workers.backoff_max_ms = 200;
            configure(c);
        })
        .await;
        Self { h, sim, keys }
    }

    /// The simulator's account as tenant A's credentials.
    pub(crate) fn credentials(&self) -> On24Credentials {
        On24Credentials {
            name: "tenants/tenant-a/on24Credentials".into(),
            client_id: CLIENT_ID.to_string(),
            access_token_key: TOKEN_KEY.into(),
            access_token_secret: TOKEN_SECRET.into(),
            base_url: self.sim.base_url.clone(),
            ..Default::default()
        }
    }

    /// Stops the service (checking it exits cleanly) and the key service.
    pub(crate) async fn stop(self) {
        self.h.stop().await;
        self.keys.stop().await;
    }
}

async fn life_of_a_tenant(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let (h, sim) = (&stack.h, &stack.sim);
    let channel = h.tenant_a().await;
    let mut creds = ProviderConfigServiceClient::new(channel.clone());
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let mut regs = RegistrationServiceClient::new(channel.clone());
    let mut metrics = MetricsServiceClient::new(channel.clone());

    // Before credentials, the integration is disabled.
    let new_webinar = CreateWebinarRequest {
        parent: "tenants/tenant-a".into(),
        webinar: Some(Webinar {
            crm_reference_id: "event-42".into(),
            title: "Quarterly launch".into(),
            start_time: Some(Timestamp {
                seconds: chrono::Utc::now().timestamp() + 86_400,
                nanos: 0,
            }),
            duration_minutes: 60,
            time_zone: "Europe/Paris".into(),
            ..Default::default()
        }),
        request_id: "0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a".into(),
    };
    assert_reason(
        &webinars
            .create_webinar(new_webinar.clone())
            .await
            .expect_err("disabled"),
        Code::FailedPrecondition,
        "INTEGRATION_DISABLED",
    );

    // Wrong secret with a live check: refused, nothing stored.
    let mut on24 = On24Credentials {
        access_token_secret: "wrong-secret-000".into(),
        ..stack.credentials()
    };
    let refused = creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(on24.clone()),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect_err("wrong secret");
    assert_reason(&refused, Code::FailedPrecondition, "ON24_NOT_AUTHENTICATED");
    assert!(!refused.message().contains("wrong-secret-000"));
    assert_eq!(
        creds
            .get_on24_credentials(GetOn24CredentialsRequest {
                name: on24.name.clone()
            })
            .await
            .expect_err("not stored")
            .code(),
        Code::NotFound
    );
    on24.access_token_secret = TOKEN_SECRET.into();
    // validate_only with a live check: answered as it would be stored, and nothing is stored.
    let preview = creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(on24.clone()),
            live_check: true,
            validate_only: true,
        })
        .await
        .expect("validate only")
        .into_inner()
        .on24_credentials
        .expect("preview");
    assert_eq!(preview.status, CredentialStatus::Healthy as i32);
    assert_eq!(
        creds
            .get_on24_credentials(GetOn24CredentialsRequest {
                name: on24.name.clone()
            })
            .await
            .expect_err("validate_only stores nothing")
            .code(),
        Code::NotFound
    );
    let stored = creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(on24.clone()),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect("put")
        .into_inner()
        .on24_credentials
        .expect("credentials");
    assert_eq!(stored.status, CredentialStatus::Healthy as i32);
    assert_eq!(stored.access_token_key_last_four, "0001");
    assert!(stored.access_token_key.is_empty() && stored.access_token_secret.is_empty());

    // Webinar: created, idempotent by request id, then ACTIVE at ON24 with URLs.
    let w = webinars
        .create_webinar(new_webinar.clone())
        .await
        .expect("create")
        .into_inner()
        .webinar
        .expect("w");
    let again = webinars
        .create_webinar(new_webinar)
        .await
        .expect("retry")
        .into_inner()
        .webinar
        .expect("w");
    assert_eq!(w.name, again.name, "request_id makes create idempotent");
    let mut duplicate = new_webinar_for_dup();
    duplicate.parent = "tenants/tenant-a".into();
    assert_eq!(
        webinars
            .create_webinar(duplicate)
            .await
            .expect_err("same CRM reference, no request id")
            .code(),
        Code::AlreadyExists
    );
    assert_eq!(
        webinars
            .get_webinar(GetWebinarRequest {
                name: "tenants/tenant-a/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5f".into()
            })
            .await
            .expect_err("unknown webinar")
            .code(),
        Code::NotFound
    );
    let active = eventually("webinar ACTIVE", || {
        let mut c = webinars.clone();
        let name = w.name.clone();
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
    .await;
    assert!(active.on24_event_id > 0);
    assert!(!active.audience_url.is_empty(), "audience URL kept");

    // Batch: 25 good rows and one bad, a result per item.
    let mut items: Vec<CreateRegistrationRequest> = (0..25)
        .map(|i| CreateRegistrationRequest {
            parent: String::new(),
            registration: Some(person(i)),
            request_id: String::new(),
        })
        .collect();
    items.push(CreateRegistrationRequest {
        parent: String::new(),
        registration: Some(Registration {
            email: "broken".into(),
            ..person(99)
        }),
        request_id: String::new(),
    });
    let results = regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: w.name.clone(),
            requests: items,
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(results.len(), 26);
    assert!(results[..25].iter().all(|r| r.created));
    match &results[25].result {
        Some(batch_create_registration_result::Result::Error(e)) => {
            assert_eq!(e.code, Code::InvalidArgument as i32);
            // Paths inside the item: `index` names the item.
            assert!(
                e.field_violations
                    .iter()
                    .any(|v| v.field == "registration.email"),
                "{e:?}"
            );
        }
        other => panic!("bad row accepted: {other:?}"),
    }
    // Registering the same email again returns the existing registration.
    let repeat = regs
        .create_registration(CreateRegistrationRequest {
            parent: w.name.clone(),
            registration: Some(person(3)),
            request_id: String::new(),
        })
        .await
        .expect("repeat")
        .into_inner();
    assert!(!repeat.created);

    // Every registration is delivered; pages of 10 walk them all.
    eventually("all DELIVERED", || {
        let mut c = regs.clone();
        let parent = w.name.clone();
        async move {
            let page = c
                .list_registrations(ListRegistrationsRequest {
                    parent,
                    page_size: 1000,
                    filter: "status = DELIVERED".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (page.registrations.len() == 25).then_some(())
        }
    })
    .await;
    let mut seen = 0;
    let mut token = String::new();
    loop {
        let page = regs
            .list_registrations(ListRegistrationsRequest {
                parent: w.name.clone(),
                page_size: 10,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        seen += page.registrations.len();
        assert!(page.registrations.iter().all(|r| r.on24_event_user_id > 0));
        if page.next_page_token.is_empty() {
            break;
        }
        // A token is bound to its request: another filter refuses it.
        let err = regs
            .list_registrations(ListRegistrationsRequest {
                parent: w.name.clone(),
                page_size: 10,
                page_token: page.next_page_token.clone(),
                filter: "status = FAILED".into(),
            })
            .await
            .expect_err("token of another filter");
        assert_bad_field(&err, "page_token");
        token = page.next_page_token;
    }
    assert_eq!(seen, 25);

    // Viewing at ON24, then a sync on demand; metrics come back joined to registrations.
    sim.control()
        .add_viewing(
            active.on24_event_id,
            &on24sim::ViewingRequest {
                email: "person1@example.com".into(),
                live_minutes: Some(30.0),
                questions: 1,
                interactions: on24sim::Interactions {
                    questions: vec![on24sim::InteractionItem {
                        text: "Is there a recording?".into(),
                        answer: Some("Yes.".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("viewing");
    metrics
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: w.name.clone(),
        })
        .await
        .expect("sync");
    let attendees = metrics
        .list_attendee_metrics(ListAttendeeMetricsRequest {
            parent: w.name.clone(),
            ..Default::default()
        })
        .await
        .expect("attendees")
        .into_inner()
        .attendee_metrics;
    let one = attendees
        .iter()
        .find(|a| a.email == "person1@example.com")
        .expect("attendee");
    assert_eq!(one.live_minutes, 30);
    assert_eq!(one.questions_asked, 2);
    assert!(
        one.registration.starts_with(&w.name),
        "joined to the registration"
    );
    assert_eq!(one.crm_reference_id, "contact-1");
    // The question itself, with its answer, through ListAttendeeInteractions; another tenant
    // cannot read it.
    let asked = metrics
        .list_attendee_interactions(ListAttendeeInteractionsRequest {
            parent: one.registration.clone(),
            ..Default::default()
        })
        .await
        .expect("interactions")
        .into_inner()
        .attendee_interactions;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].kind, InteractionKind::Question as i32);
    assert_eq!(
        (asked[0].prompt.as_str(), asked[0].response.as_str()),
        ("Is there a recording?", "Yes.")
    );
    assert!(asked[0].occur_time.is_some() && asked[0].response_time.is_some());
    let foreign = MetricsServiceClient::new(h.tenant_b().await)
        .list_attendee_interactions(ListAttendeeInteractionsRequest {
            parent: one.registration.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another tenant's attendee");
    assert_eq!(foreign.code(), Code::PermissionDenied, "{foreign:?}");
    assert_bad_field(
        &metrics
            .list_attendee_interactions(ListAttendeeInteractionsRequest {
                parent: w.name.clone(),
                ..Default::default()
            })
            .await
            .expect_err("a webinar is not a registration"),
        "parent",
    );
    let totals = metrics
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: format!("{}/metrics", w.name),
        })
        .await
        .expect("totals")
        .into_inner()
        .webinar_metrics
        .expect("metrics");
    assert_eq!(totals.delivered_count, 25);
    assert!(totals.total_live_minutes >= 30);

    // Change feed: everything so far, then nothing after the returned cursor.
    let feed = metrics
        .list_changes(ListChangesRequest {
            parent: "tenants/tenant-a".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("changes")
        .into_inner();
    assert!(
        feed.changes
            .iter()
            .any(|c| c.r#type == ChangeType::AttendeeMetrics as i32)
    );
    let empty = metrics
        .list_changes(ListChangesRequest {
            parent: "tenants/tenant-a".into(),
            after_cursor: feed.next_cursor.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("after cursor")
        .into_inner();
    assert!(empty.changes.is_empty());
    // Tenant B cannot replay tenant A's cursor against its own feed either.
    let mut b_metrics = MetricsServiceClient::new(h.tenant_b().await);
    assert_bad_field(
        &b_metrics
            .list_changes(ListChangesRequest {
                parent: "tenants/tenant-b".into(),
                after_cursor: feed.next_cursor.clone(),
                ..Default::default()
            })
            .await
            .expect_err("foreign cursor"),
        "after_cursor",
    );

    // Watch from the cursor, cancel a registration: the stream shows it.
    let mut stream = metrics
        .watch_changes(WatchChangesRequest {
            parent: "tenants/tenant-a".into(),
            after_cursor: feed.next_cursor,
            webinar: w.name.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let victim = repeat.registration.expect("registration");
    regs.cancel_registration(CancelRegistrationRequest {
        name: victim.name.clone(),
    })
    .await
    .expect("cancel");
    let change = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let msg = stream.next().await.expect("open").expect("message");
            if let Some(c) = msg.changes.into_iter().find(|c| c.resource == victim.name) {
                return c;
            }
        }
    })
    .await
    .expect("change streamed");
    assert_eq!(change.r#type, ChangeType::Registration as i32);
    // Resuming after that change's cursor never repeats it.
    drop(stream);
    let after = metrics
        .list_changes(ListChangesRequest {
            parent: "tenants/tenant-a".into(),
            after_cursor: change.cursor.clone(),
            page_size: 1000,
            webinar: w.name.clone(),
        })
        .await
        .expect("resume")
        .into_inner();
    assert!(after.changes.iter().all(|c| c.cursor != change.cursor));

    // Forget a person: erased locally.
    let forgotten = regs
        .forget_person(ForgetPersonRequest {
            parent: "tenants/tenant-a".into(),
            email: "Person2@Example.com".into(),
            ..Default::default()
        })
        .await
        .expect("forget")
        .into_inner();
    assert_eq!(forgotten.forgotten_registration_count, 1);

    // Tenant B sees none of it.
    let mut b_webinars = WebinarServiceClient::new(h.tenant_b().await);
    assert_eq!(
        b_webinars
            .get_webinar(GetWebinarRequest {
                name: w.name.clone()
            })
            .await
            .expect_err("foreign")
            .code(),
        Code::PermissionDenied
    );
    let b_list = b_webinars
        .list_webinars(ListWebinarsRequest {
            parent: "tenants/tenant-b".into(),
            ..Default::default()
        })
        .await
        .expect("own list")
        .into_inner();
    assert!(b_list.webinars.is_empty());

    // Deleting the credentials disables the tenant's webinar writes.
    creds
        .delete_on24_credentials(DeleteOn24CredentialsRequest {
            name: on24.name.clone(),
        })
        .await
        .expect("delete");
    let err = regs
        .create_registration(CreateRegistrationRequest {
            parent: w.name.clone(),
            registration: Some(person(50)),
            request_id: String::new(),
        })
        .await
        .expect_err("disabled");
    assert_reason(&err, Code::FailedPrecondition, "INTEGRATION_DISABLED");

    stack.stop().await;
}

api_both_backends!(life_of_a_tenant_runs, life_of_a_tenant);
