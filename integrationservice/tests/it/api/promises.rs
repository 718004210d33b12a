//! What the `webinar.v1` protos promise, checked through the public API with everything real
//! (the service's own `run` over TLS, the key service over mTLS, the ON24 simulator over HTTP,
//! SQLite or PostgreSQL): batch item errors name fields inside the item, `language_code` and
//! `crm_reference_id` are updatable (the language reaches ON24), live and on-demand activity
//! times and the webinar aggregates are filled from ON24's report, attendee metrics page in
//! the database by keyset, an unlinked webinar refuses writes with `WEBINAR_UNLINKED` but
//! keeps its data readable, and deleting credentials counts the deliveries it paused.

use prost_types::{FieldMask, Timestamp};
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tonic::{Code, transport::Channel};

use crate::api::harness::{assert_bad_field, assert_reason};
use crate::api::lifecycle::{FullStack, eventually};
use crate::api_both_backends;

const TENANT: &str = "tenants/tenant-a";

struct Clients {
    creds: ProviderConfigServiceClient<Channel>,
    webinars: WebinarServiceClient<Channel>,
    regs: RegistrationServiceClient<Channel>,
    metrics: MetricsServiceClient<Channel>,
}

fn attendee(i: usize) -> Registration {
    Registration {
        email: format!("viewer{i}@example.com"),
        first_name: format!("Viewer{i}"),
        last_name: "Tester".into(),
        crm_reference_id: format!("contact-{i}"),
        ..Default::default()
    }
}

fn item(r: Registration) -> CreateRegistrationRequest {
    CreateRegistrationRequest {
        registration: Some(r),
        ..Default::default()
    }
}

/// A webinar that ended `ago_minutes` ago (or starts later when negative), 60 minutes long.
fn webinar(reference: &str, ago_minutes: i64) -> Webinar {
    Webinar {
        crm_reference_id: reference.into(),
        title: format!("Webinar {reference}"),
        start_time: Some(Timestamp {
            seconds: chrono::Utc::now().timestamp() - (ago_minutes + 60) * 60,
            nanos: 0,
        }),
        duration_minutes: 60,
        time_zone: "Europe/Paris".into(),
        ..Default::default()
    }
}

impl Clients {
    /// Creates a webinar and waits until it exists at ON24.
    async fn active_webinar(&mut self, w: Webinar) -> Webinar {
        let created = self
            .webinars
            .create_webinar(CreateWebinarRequest {
                parent: TENANT.into(),
                webinar: Some(w),
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

    /// Registers `people` in one batch and waits until ON24 has all of them.
    async fn delivered(&mut self, webinar: &str, people: Vec<Registration>) {
        let emails: Vec<String> = people.iter().map(|p| p.email.clone()).collect();
        let results = self
            .regs
            .batch_create_registrations(BatchCreateRegistrationsRequest {
                parent: webinar.into(),
                requests: people.into_iter().map(item).collect(),
            })
            .await
            .expect("batch")
            .into_inner()
            .results;
        assert!(results.iter().all(|r| r.created), "{results:?}");
        eventually("registrations DELIVERED", || {
            let mut c = self.regs.clone();
            let parent = webinar.to_owned();
            let emails = emails.clone();
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
                let delivered = |e: &String| page.registrations.iter().any(|r| &r.email == e);
                emails.iter().all(delivered).then_some(())
            }
        })
        .await;
    }

    /// Every attendee of the webinar, `page_size` at a time; returns the pages.
    async fn attendee_pages(&mut self, webinar: &str, page_size: i32) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .metrics
                .list_attendee_metrics(ListAttendeeMetricsRequest {
                    parent: webinar.into(),
                    page_size,
                    page_token: token,
                })
                .await
                .expect("attendee page")
                .into_inner();
            pages.push(page.attendee_metrics.into_iter().map(|a| a.email).collect());
            if page.next_page_token.is_empty() {
                return pages;
            }
            token = page.next_page_token;
        }
    }
}

async fn batch_items_name_fields_inside_the_item(c: &mut Clients, webinar: &str) {
    let results = c
        .regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: webinar.into(),
            requests: vec![
                item(attendee(900)),
                item(Registration {
                    email: "not-an-email".into(),
                    ..attendee(901)
                }),
                CreateRegistrationRequest {
                    request_id: "not-a-uuid".into(),
                    ..item(Registration {
                        first_name: String::new(),
                        ..attendee(902)
                    })
                },
            ],
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(results.len(), 3);
    assert!(results[0].created);
    let fields = |i: usize| -> Vec<String> {
        match &results[i].result {
            Some(batch_create_registration_result::Result::Error(e)) => {
                assert_eq!(e.code, Code::InvalidArgument as i32, "{e:?}");
                assert_eq!(results[i].index, i as i32);
                e.field_violations.iter().map(|v| v.field.clone()).collect()
            }
            other => panic!("item {i} accepted: {other:?}"),
        }
    };
    assert_eq!(fields(1), ["registration.email"]);
    let third = fields(2);
    assert!(
        third.contains(&"registration.first_name".to_owned()),
        "{third:?}"
    );
    assert!(third.contains(&"request_id".to_owned()), "{third:?}");
    // A violation of the whole call stays rooted at the request.
    let too_many = c
        .regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: webinar.into(),
            requests: (0..1001).map(|i| item(attendee(i))).collect(),
        })
        .await
        .expect_err("1,001 items");
    assert_bad_field(&too_many, "requests");
}

async fn language_and_reference_are_updatable(
    c: &mut Clients,
    sim: &on24sim::SimHandle,
    w: &Webinar,
) -> Webinar {
    let other = c.active_webinar(webinar("promises-other", 120)).await;
    let update = |reference: &str| UpdateWebinarRequest {
        webinar: Some(Webinar {
            name: w.name.clone(),
            crm_reference_id: reference.into(),
            language_code: "de".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["language_code".into(), "crm_reference_id".into()],
        }),
    };
    let taken = c
        .webinars
        .update_webinar(update(&other.crm_reference_id))
        .await
        .expect_err("reference of another webinar");
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert_bad_field(
        &c.webinars
            .update_webinar(update("has spaces"))
            .await
            .expect_err("bad reference"),
        "webinar.crm_reference_id",
    );
    sim.control().clear_journal().await.expect("journal");
    let updated = c
        .webinars
        .update_webinar(update("promises-renamed"))
        .await
        .expect("update")
        .into_inner()
        .webinar
        .expect("webinar");
    assert_eq!(updated.language_code, "de");
    assert_eq!(updated.crm_reference_id, "promises-renamed");
    let read = c
        .webinars
        .get_webinar(GetWebinarRequest {
            name: w.name.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .webinar
        .expect("webinar");
    assert_eq!(
        (read.language_code.as_str(), read.crm_reference_id.as_str()),
        ("de", "promises-renamed")
    );
    // The language reaches ON24 in the event update (`languageCd` of `UpdateEventForm`).
    let path = format!("/event/{}", w.on24_event_id);
    eventually("the language sent to ON24", || {
        let control = sim.control();
        let path = path.clone();
        async move {
            control.journal().await.ok()?.into_iter().find(|e| {
                e.method == "PUT"
                    && e.path.ends_with(&path)
                    && e.form.iter().any(|(k, v)| k == "languageCd" && v == "de")
            })
        }
    })
    .await;
    // The old reference is free again.
    c.webinars
        .update_webinar(UpdateWebinarRequest {
            webinar: Some(Webinar {
                name: other.name.clone(),
                crm_reference_id: w.crm_reference_id.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["crm_reference_id".into()],
            }),
        })
        .await
        .expect("reuse the released reference");
    read
}

/// Viewing for five attendees (two live, all on demand), then checks the metrics from ON24's
/// report and pages through them.
async fn metrics_come_from_the_report(c: &mut Clients, sim: &on24sim::SimHandle, w: &Webinar) {
    c.delivered(&w.name, (0..5).map(attendee).collect()).await;
    for i in 0..5 {
        sim.control()
            .add_viewing(
                w.on24_event_id,
                &on24sim::ViewingRequest {
                    email: format!("viewer{i}@example.com"),
                    live_minutes: match i {
                        0 => Some(30.0),
                        1 => Some(60.0),
                        _ => None,
                    },
                    archive_minutes: Some(10.0),
                    surveys: 1,
                    ..Default::default()
                },
            )
            .await
            .expect("viewing");
    }
    c.metrics
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: w.name.clone(),
        })
        .await
        .expect("sync");
    let all = c
        .metrics
        .list_attendee_metrics(ListAttendeeMetricsRequest {
            parent: w.name.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("attendees")
        .into_inner()
        .attendee_metrics;
    assert_eq!(all.len(), 5);
    let v0 = all
        .iter()
        .find(|a| a.email == "viewer0@example.com")
        .expect("viewer0");
    assert_eq!((v0.live_minutes, v0.archive_minutes), (30, 10));
    assert_eq!(v0.surveys_answered, 1);
    assert_eq!(v0.crm_reference_id, "contact-0");
    assert!((v0.live_attendance_percent - 50.0).abs() < 0.01);
    let secs = |t: &Option<Timestamp>| t.as_ref().map(|t| t.seconds);
    let (Some(live_first), Some(live_last), Some(archive_first), Some(archive_last)) = (
        secs(&v0.first_live_activity_time),
        secs(&v0.last_live_activity_time),
        secs(&v0.first_archive_activity_time),
        secs(&v0.last_archive_activity_time),
    ) else {
        panic!("activity times missing: {v0:?}");
    };
    assert!(live_first <= live_last && live_last < archive_first && archive_first <= archive_last);
    let v4 = all
        .iter()
        .find(|a| a.email == "viewer4@example.com")
        .expect("viewer4");
    assert!(
        v4.first_live_activity_time.is_none() && v4.first_archive_activity_time.is_some(),
        "on-demand only: {v4:?}"
    );
    let totals = c
        .metrics
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: format!("{}/metrics", w.name),
        })
        .await
        .expect("totals")
        .into_inner()
        .webinar_metrics
        .expect("metrics");
    assert_eq!(totals.surveys_answered, 5);
    assert_eq!(totals.live_attendee_count, 2);
    // (50 % + 100 %) / 2 live attendees.
    assert!(
        (totals.average_live_attendance_percent - 75.0).abs() < 0.01,
        "{totals:?}"
    );
    let end = w.start_time.as_ref().expect("start").seconds + 3600;
    let next = totals.next_sync_time.as_ref().expect("next sync").seconds;
    assert!(
        next > end && next <= end + 2 * 86_400,
        "next sync {next} after the end {end}"
    );

    // Pages of two in a stable order (the emails' keyed hashes: emails are sealed at rest),
    // each attendee once; tokens are bound to the webinar.
    let pages = c.attendee_pages(&w.name, 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let flat: Vec<String> = pages.concat();
    let mut sorted = flat.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), flat.len(), "no attendee twice");
    assert_eq!(
        c.attendee_pages(&w.name, 2).await.concat(),
        flat,
        "the same order again"
    );
    let first = c
        .metrics
        .list_attendee_metrics(ListAttendeeMetricsRequest {
            parent: w.name.clone(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    let mut other_webinar = w.name.clone();
    other_webinar.replace_range(other_webinar.len() - 4.., "0000");
    assert_bad_field(
        &c.metrics
            .list_attendee_metrics(ListAttendeeMetricsRequest {
                parent: other_webinar,
                page_size: 2,
                page_token: first.next_page_token.clone(),
            })
            .await
            .expect_err("token of another webinar"),
        "page_token",
    );
    // Keyset paging: forgetting an attendee already read does not make the next page skip one
    // (an offset would now point one row too far).
    c.regs
        .forget_person(ForgetPersonRequest {
            parent: TENANT.into(),
            email: first.attendee_metrics[0].email.clone(),
            ..Default::default()
        })
        .await
        .expect("forget");
    let second = c
        .metrics
        .list_attendee_metrics(ListAttendeeMetricsRequest {
            parent: w.name.clone(),
            page_size: 2,
            page_token: first.next_page_token,
        })
        .await
        .expect("second page")
        .into_inner();
    let second: Vec<String> = second
        .attendee_metrics
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(second, flat[2..4]);
}

async fn unlinked_refuses_writes_and_keeps_data(c: &mut Clients, w: &Webinar) {
    let registration = c
        .regs
        .list_registrations(ListRegistrationsRequest {
            parent: w.name.clone(),
            page_size: 1,
            filter: "status = DELIVERED".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations
        .pop()
        .expect("a delivered registration");
    let unlinked = c
        .webinars
        .unlink_webinar(UnlinkWebinarRequest {
            name: w.name.clone(),
        })
        .await
        .expect("unlink")
        .into_inner()
        .webinar
        .expect("webinar");
    assert_eq!(unlinked.status, WebinarStatus::Unlinked as i32);
    let unlinked_error = |status: tonic::Status| {
        assert_reason(&status, Code::FailedPrecondition, "WEBINAR_UNLINKED");
    };
    unlinked_error(
        c.regs
            .create_registration(CreateRegistrationRequest {
                parent: w.name.clone(),
                registration: Some(attendee(700)),
                request_id: String::new(),
            })
            .await
            .expect_err("create on unlinked"),
    );
    // The whole batch is refused, not each item.
    unlinked_error(
        c.regs
            .batch_create_registrations(BatchCreateRegistrationsRequest {
                parent: w.name.clone(),
                requests: vec![item(attendee(701)), item(attendee(702))],
            })
            .await
            .expect_err("batch on unlinked"),
    );
    unlinked_error(
        c.regs
            .update_registration(UpdateRegistrationRequest {
                registration: Some(Registration {
                    name: registration.name.clone(),
                    company: "Elsewhere".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["company".into()],
                }),
            })
            .await
            .expect_err("update on unlinked"),
    );
    unlinked_error(
        c.webinars
            .update_webinar(UpdateWebinarRequest {
                webinar: Some(Webinar {
                    name: w.name.clone(),
                    title: "Renamed".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["title".into()],
                }),
            })
            .await
            .expect_err("webinar update on unlinked"),
    );
    unlinked_error(
        c.metrics
            .sync_webinar_metrics(SyncWebinarMetricsRequest {
                name: w.name.clone(),
            })
            .await
            .expect_err("sync on unlinked"),
    );
    // Nothing was registered, and the data stays readable.
    let regs = c
        .regs
        .list_registrations(ListRegistrationsRequest {
            parent: w.name.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("registrations of an unlinked webinar")
        .into_inner()
        .registrations;
    assert!(regs.iter().all(|r| !r.email.starts_with("viewer70")));
    let unchanged = c
        .regs
        .get_registration(GetRegistrationRequest {
            name: registration.name.clone(),
        })
        .await
        .expect("get registration")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(unchanged.company, registration.company);
    assert!(
        !c.metrics
            .list_attendee_metrics(ListAttendeeMetricsRequest {
                parent: w.name.clone(),
                ..Default::default()
            })
            .await
            .expect("metrics of an unlinked webinar")
            .into_inner()
            .attendee_metrics
            .is_empty()
    );
    let totals = c
        .metrics
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: format!("{}/metrics", w.name),
        })
        .await
        .expect("totals of an unlinked webinar")
        .into_inner()
        .webinar_metrics
        .expect("metrics");
    assert!(totals.next_sync_time.is_none(), "no pull is scheduled");
    let got = c
        .webinars
        .get_webinar(GetWebinarRequest {
            name: w.name.clone(),
        })
        .await
        .expect("get unlinked")
        .into_inner()
        .webinar
        .expect("webinar");
    assert_eq!(got.status, WebinarStatus::Unlinked as i32);
    // Listed only when asked for; unlinking again answers the same webinar.
    for (show_unlinked, expected) in [(false, false), (true, true)] {
        let listed = c
            .webinars
            .list_webinars(ListWebinarsRequest {
                parent: TENANT.into(),
                show_unlinked,
                ..Default::default()
            })
            .await
            .expect("list webinars")
            .into_inner()
            .webinars;
        assert_eq!(listed.iter().any(|l| l.name == w.name), expected);
    }
    let again = c
        .webinars
        .unlink_webinar(UnlinkWebinarRequest {
            name: w.name.clone(),
        })
        .await
        .expect("unlink again")
        .into_inner()
        .webinar
        .expect("webinar");
    assert_eq!(again.status, WebinarStatus::Unlinked as i32);
}

async fn delete_counts_paused_deliveries(c: &mut Clients, sim: &on24sim::SimHandle) {
    let w = c.active_webinar(webinar("promises-paused", 30)).await;
    // ON24 fails every call: the three registrations stay undelivered.
    sim.control()
        .set_faults(&on24sim::FaultConfig {
            error_rate: 1.0,
            error_status: 503,
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("faults");
    let results = c
        .regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: w.name.clone(),
            requests: (800..803).map(|i| item(attendee(i))).collect(),
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert!(results.iter().all(|r| r.created));
    let deleted = c
        .creds
        .delete_on24_credentials(DeleteOn24CredentialsRequest {
            name: format!("{TENANT}/on24Credentials"),
        })
        .await
        .expect("delete")
        .into_inner();
    // Only these three wait: everything else of the tenant was delivered, cancelled or forgotten.
    assert_eq!(deleted.paused_delivery_count, 3);
    eventually("the three registrations PAUSED", || {
        let mut c = c.regs.clone();
        let parent = w.name.clone();
        async move {
            let page = c
                .list_registrations(ListRegistrationsRequest {
                    parent,
                    filter: "status = PAUSED".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (page.registrations.len() == 3).then_some(())
        }
    })
    .await;
    sim.control().clear_faults().await.expect("faults");
}

async fn promises(database_url: String) {
    // The freshness schedule behind `next_sync_time` exists only with the poller on.
    let stack = FullStack::start(database_url, |c| c.metrics_poll.enabled = true).await;
    let sim = &stack.sim;
    let channel = stack.h.tenant_a().await;
    let mut c = Clients {
        creds: ProviderConfigServiceClient::new(channel.clone()),
        webinars: WebinarServiceClient::new(channel.clone()),
        regs: RegistrationServiceClient::new(channel.clone()),
        metrics: MetricsServiceClient::new(channel),
    };
    c.creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(stack.credentials()),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect("put credentials");
    // Ended two hours ago: ON24 has its attendance.
    let w = c.active_webinar(webinar("promises-main", 120)).await;

    batch_items_name_fields_inside_the_item(&mut c, &w.name).await;
    let w = language_and_reference_are_updatable(&mut c, sim, &w).await;
    metrics_come_from_the_report(&mut c, sim, &w).await;
    unlinked_refuses_writes_and_keeps_data(&mut c, &w).await;
    delete_counts_paused_deliveries(&mut c, sim).await;
    stack.stop().await;
}

/// Attendee pages come from the database: every attendee of a large webinar exactly once, in
/// email order, with the first and the deepest pages read alike. `PROMISES_ATTENDEES` sets how
/// many attendees (20,000 by default; the figures in the report are for 100,000).
async fn large_attendee_list(database_url: String) {
    use integrationservice::testing::{Store, metrics, models::MetricsRow};
    let n: usize = std::env::var("PROMISES_ATTENDEES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let stack = FullStack::start(database_url.clone(), |_| {}).await;
    let channel = stack.h.tenant_a().await;
    ProviderConfigServiceClient::new(channel.clone())
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(stack.credentials()),
            ..Default::default()
        })
        .await
        .expect("put credentials");
    let w = WebinarServiceClient::new(channel.clone())
        .create_webinar(CreateWebinarRequest {
            parent: TENANT.into(),
            webinar: Some(webinar("promises-large", 120)),
            request_id: String::new(),
        })
        .await
        .expect("create webinar")
        .into_inner()
        .webinar
        .expect("webinar");
    // ON24 would report them; writing the rows directly keeps the test about reading them.
    let id = w.name.rsplit('/').next().expect("id").to_owned();
    let rows: Vec<MetricsRow> = (0..n)
        .map(|i| MetricsRow {
            tenant: "tenant-a".into(),
            webinar_id: id.clone(),
            email: format!("a{:06}@example.com", (i * 7919) % n),
            eventuserid: Some(i as i64 + 1),
            live_minutes: (i % 61) as i64,
            archive_minutes: 0,
            cumulative_live_minutes: 0,
            cumulative_archive_minutes: 0,
            engagement_score: 1.0,
            questions_asked: 0,
            polls_answered: 0,
            surveys_answered: 0,
            resources_downloaded: 0,
            first_live_activity_at: None,
            last_live_activity_at: None,
            updated_at: 0,
            first_archive_activity_at: None,
            last_archive_activity_at: None,
            email_hash: String::new(),
            interactions_digest: None,
        })
        .collect();
    let store = Store::connect(&database_url, 2).expect("store");
    store
        .transaction(move |conn| {
            let plain = integrationservice::testing::FieldCipher::plain("tenant-a");
            metrics::insert(conn, &plain, &rows).map_err(integrationservice::domain::Error::from)
        })
        .await
        .expect("insert attendees");
    let mut client = MetricsServiceClient::new(channel);
    // The aggregates are summed in the database; check them against the rows written.
    let started = std::time::Instant::now();
    let totals = client
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: format!("{}/metrics", w.name),
        })
        .await
        .expect("totals")
        .into_inner()
        .webinar_metrics
        .expect("metrics");
    let totals_time = started.elapsed();
    let live = |i: usize| (i % 61) as i64;
    let live_n = (0..n).filter(|i| live(*i) > 0).count() as i64;
    assert_eq!(totals.live_attendee_count, live_n);
    assert_eq!(totals.total_live_minutes, (0..n).map(live).sum::<i64>());
    // Every live attendee watched at most the 60-minute duration, except the 60-minute ones.
    let percent: f64 = (0..n)
        .filter(|i| live(*i) > 0)
        .map(|i| (live(i).min(60) as f64) * 100.0 / 60.0)
        .sum::<f64>()
        / live_n as f64;
    assert!(
        (totals.average_live_attendance_percent - percent).abs() < 1e-6,
        "{} vs {percent}",
        totals.average_live_attendance_percent
    );
    assert!((totals.average_engagement_score - 1.0).abs() < 1e-9);
    let (mut emails, mut times) = (Vec::with_capacity(n), Vec::new());
    let mut token = String::new();
    loop {
        let started = std::time::Instant::now();
        let page = client
            .list_attendee_metrics(ListAttendeeMetricsRequest {
                parent: w.name.clone(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("page")
            .into_inner();
        times.push(started.elapsed());
        emails.extend(page.attendee_metrics.into_iter().map(|a| a.email));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(emails.len(), n);
    assert!(emails.windows(2).all(|p| p[0] < p[1]), "sorted, no repeats");
    // Same-run baseline: reading the whole webinar, which every page cost before.
    let started = std::time::Instant::now();
    let (t, wid) = (
        integrationservice::domain::TenantId::parse("tenant-a").expect("tenant"),
        integrationservice::domain::WebinarId::parse(&id).expect("webinar id"),
    );
    let all = store
        .run(move |conn| {
            metrics::for_webinar(conn, &t, &wid).map_err(integrationservice::domain::Error::from)
        })
        .await
        .expect("whole webinar");
    let whole = started.elapsed();
    assert_eq!(all.len(), n);
    eprintln!(
        "{}: {n} attendees in {} pages of 1,000: first {:?}, last {:?}, slowest {:?}; \
         reading them all once (the old per-page floor): {whole:?}; aggregates: {totals_time:?}",
        if database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        times.len(),
        times[0],
        times[times.len() - 1],
        times.iter().max().expect("pages")
    );
    stack.stop().await;
}

api_both_backends!(large_attendee_list_pages, large_attendee_list);
api_both_backends!(protos_promises_hold, promises);
