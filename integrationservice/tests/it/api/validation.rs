//! Bad input for every RPC of `webinar.v1`: INVALID_ARGUMENT with a BadRequest naming the
//! field, over real TLS with an authorized tenant-A caller (so validation, not authorization,
//! is what answers).

use prost_types::{FieldMask, Timestamp};
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};

use crate::api::harness::{Harness, assert_bad_field};

const WEBINAR: &str = "tenants/tenant-a/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a";
const REGISTRATION: &str = "tenants/tenant-a/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a/registrations/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5b";

fn good_webinar() -> Webinar {
    Webinar {
        crm_reference_id: "event-1".into(),
        title: "Launch".into(),
        start_time: Some(Timestamp {
            seconds: 1_900_000_000,
            nanos: 0,
        }),
        duration_minutes: 60,
        time_zone: "Europe/Paris".into(),
        ..Default::default()
    }
}

fn good_registration() -> Registration {
    Registration {
        email: "ada@example.com".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn provider_config_rpcs_name_the_bad_field() {
    let h = Harness::start().await;
    let mut c = ProviderConfigServiceClient::new(h.tenant_a().await);
    let good = On24Credentials {
        name: "tenants/tenant-a/on24Credentials".into(),
        client_id: "12345".into(),
        access_token_key: "key-12345678".into(),
        access_token_secret: "secret-12345678".into(),
        ..Default::default()
    };
    let put = |creds: On24Credentials| PutOn24CredentialsRequest {
        on24_credentials: Some(creds),
        ..Default::default()
    };
    let err = c
        .put_on24_credentials(PutOn24CredentialsRequest::default())
        .await
        .expect_err("missing credentials");
    assert_bad_field(&err, "on24_credentials");
    for (creds, field) in [
        (
            On24Credentials {
                client_id: "12a".into(),
                ..good.clone()
            },
            "on24_credentials.client_id",
        ),
        (
            On24Credentials {
                access_token_key: "short".into(),
                ..good.clone()
            },
            "on24_credentials.access_token_key",
        ),
        (
            On24Credentials {
                access_token_secret: String::new(),
                ..good.clone()
            },
            "on24_credentials.access_token_secret",
        ),
        (
            On24Credentials {
                base_url: "ftp://x".into(),
                ..good.clone()
            },
            "on24_credentials.base_url",
        ),
        (
            On24Credentials {
                region: 9,
                ..good.clone()
            },
            "on24_credentials.region",
        ),
    ] {
        let err = c.put_on24_credentials(put(creds)).await.expect_err(field);
        assert_bad_field(&err, field);
        assert!(!err.message().contains("secret-12345678"), "secret echoed");
    }
    let bad_name = "tenants/tenant-a/credentials".to_string();
    let err = c
        .get_on24_credentials(GetOn24CredentialsRequest {
            name: bad_name.clone(),
        })
        .await
        .expect_err("bad name");
    assert_bad_field(&err, "name");
    let err = c
        .check_on24_credentials(CheckOn24CredentialsRequest {
            name: bad_name.clone(),
        })
        .await
        .expect_err("bad name");
    assert_bad_field(&err, "name");
    let err = c
        .delete_on24_credentials(DeleteOn24CredentialsRequest { name: bad_name })
        .await
        .expect_err("bad name");
    assert_bad_field(&err, "name");
    h.stop().await;
}

#[tokio::test]
async fn webinar_rpcs_name_the_bad_field() {
    let h = Harness::start().await;
    let mut c = WebinarServiceClient::new(h.tenant_a().await);
    let create = |w: Webinar| CreateWebinarRequest {
        parent: "tenants/tenant-a".into(),
        webinar: Some(w),
        request_id: String::new(),
    };
    let err = c
        .create_webinar(CreateWebinarRequest {
            parent: "tenant-a".into(),
            ..create(good_webinar())
        })
        .await
        .expect_err("bad parent");
    assert_bad_field(&err, "parent");
    for (w, field) in [
        (
            Webinar {
                title: String::new(),
                ..good_webinar()
            },
            "webinar.title",
        ),
        (
            Webinar {
                title: "x".repeat(251),
                ..good_webinar()
            },
            "webinar.title",
        ),
        (
            Webinar {
                duration_minutes: 45 + 1,
                ..good_webinar()
            },
            "webinar.duration_minutes",
        ),
        (
            Webinar {
                time_zone: "Paris!".into(),
                ..good_webinar()
            },
            "webinar.time_zone",
        ),
        (
            Webinar {
                start_time: None,
                ..good_webinar()
            },
            "webinar.start_time",
        ),
        (
            Webinar {
                crm_reference_id: "a b".into(),
                ..good_webinar()
            },
            "webinar.crm_reference_id",
        ),
        (
            Webinar {
                language_code: "English".into(),
                ..good_webinar()
            },
            "webinar.language_code",
        ),
        (
            Webinar {
                event_type: "web cast".into(),
                ..good_webinar()
            },
            "webinar.event_type",
        ),
    ] {
        let err = c.create_webinar(create(w)).await.expect_err(field);
        assert_bad_field(&err, field);
    }
    let err = c
        .create_webinar(CreateWebinarRequest {
            request_id: "nope".into(),
            ..create(good_webinar())
        })
        .await
        .expect_err("bad request id");
    assert_bad_field(&err, "request_id");

    let err = c
        .link_webinar(LinkWebinarRequest {
            parent: "tenants/tenant-a".into(),
            on24_event_id: 0,
            crm_reference_id: "event-1".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("event id");
    assert_bad_field(&err, "on24_event_id");
    for (since, why) in [
        (None, "since missing"),
        (
            Some(Timestamp {
                seconds: chrono::Utc::now().timestamp() + 86_400,
                nanos: 0,
            }),
            "since in the future",
        ),
        (
            Some(Timestamp {
                seconds: chrono::Utc::now().timestamp() - 800 * 86_400,
                nanos: 0,
            }),
            "since too far back",
        ),
    ] {
        let err = c
            .backfill_webinars(BackfillWebinarsRequest {
                parent: "tenants/tenant-a".into(),
                since,
            })
            .await
            .expect_err(why);
        assert_bad_field(&err, "since");
    }
    let err = c
        .get_webinar(GetWebinarRequest {
            name: "tenants/tenant-a/webinars/1".into(),
        })
        .await
        .expect_err("bad id");
    assert_bad_field(&err, "name");
    let err = c
        .list_webinars(ListWebinarsRequest {
            parent: "tenants/tenant-a".into(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("page size");
    assert_bad_field(&err, "page_size");
    let err = c
        .list_webinars(ListWebinarsRequest {
            parent: "tenants/tenant-a".into(),
            page_token: "forged".into(),
            ..Default::default()
        })
        .await
        .expect_err("page token");
    assert_bad_field(&err, "page_token");
    let err = c
        .update_webinar(UpdateWebinarRequest {
            webinar: Some(Webinar {
                name: WEBINAR.into(),
                ..good_webinar()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["on24_event_id".into()],
            }),
        })
        .await
        .expect_err("mask");
    assert_bad_field(&err, "update_mask");
    let err = c
        .update_webinar(UpdateWebinarRequest {
            webinar: Some(Webinar {
                name: WEBINAR.into(),
                title: String::new(),
                ..good_webinar()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .expect_err("title");
    assert_bad_field(&err, "webinar.title");
    let err = c
        .unlink_webinar(UnlinkWebinarRequest {
            name: "tenants/tenant-a".into(),
        })
        .await
        .expect_err("name");
    assert_bad_field(&err, "name");
    h.stop().await;
}

#[tokio::test]
async fn registration_rpcs_name_the_bad_field() {
    let h = Harness::start().await;
    let mut c = RegistrationServiceClient::new(h.tenant_a().await);
    let create = |r: Registration| CreateRegistrationRequest {
        parent: WEBINAR.into(),
        registration: Some(r),
        request_id: String::new(),
    };
    for (r, field) in [
        (
            Registration {
                email: "not-an-email".into(),
                ..good_registration()
            },
            "registration.email",
        ),
        (
            Registration {
                first_name: String::new(),
                ..good_registration()
            },
            "registration.first_name",
        ),
        (
            Registration {
                last_name: "x".repeat(101),
                ..good_registration()
            },
            "registration.last_name",
        ),
        (
            Registration {
                company: "bad\u{0}".into(),
                ..good_registration()
            },
            "registration.company",
        ),
        (
            Registration {
                zip: "9".repeat(33),
                ..good_registration()
            },
            "registration.zip",
        ),
        (
            Registration {
                crm_reference_id: "a/b".into(),
                ..good_registration()
            },
            "registration.crm_reference_id",
        ),
    ] {
        let err = c.create_registration(create(r)).await.expect_err(field);
        assert_bad_field(&err, field);
    }
    let mut r = good_registration();
    r.standard_fields.insert("std42".into(), "x".into());
    let err = c.create_registration(create(r)).await.expect_err("std42");
    assert_bad_field(&err, "registration.standard_fields[\"std42\"]");

    let err = c
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: WEBINAR.into(),
            requests: vec![],
        })
        .await
        .expect_err("empty batch");
    assert_bad_field(&err, "requests");
    let err = c
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: WEBINAR.into(),
            requests: vec![create(good_registration()); 1001],
        })
        .await
        .expect_err("batch too large");
    assert_bad_field(&err, "requests");
    let err = c
        .get_registration(GetRegistrationRequest {
            name: WEBINAR.into(),
        })
        .await
        .expect_err("name");
    assert_bad_field(&err, "name");
    let err = c
        .list_registrations(ListRegistrationsRequest {
            parent: WEBINAR.into(),
            filter: "status = LOST".into(),
            ..Default::default()
        })
        .await
        .expect_err("filter");
    assert_bad_field(&err, "filter");
    let err = c
        .list_registrations(ListRegistrationsRequest {
            parent: WEBINAR.into(),
            page_token: "AAAA".into(),
            ..Default::default()
        })
        .await
        .expect_err("token");
    assert_bad_field(&err, "page_token");
    let err = c
        .update_registration(UpdateRegistrationRequest {
            registration: Some(Registration {
                name: REGISTRATION.into(),
                ..good_registration()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["email".into()],
            }),
        })
        .await
        .expect_err("email is immutable");
    assert_bad_field(&err, "update_mask");
    let err = c
        .cancel_registration(CancelRegistrationRequest { name: "x".into() })
        .await
        .expect_err("name");
    assert_bad_field(&err, "name");
    let err = c
        .forget_person(ForgetPersonRequest {
            parent: "tenants/tenant-a".into(),
            email: "nobody".into(),
            ..Default::default()
        })
        .await
        .expect_err("email");
    assert_bad_field(&err, "email");
    h.stop().await;
}

#[tokio::test]
async fn metrics_rpcs_name_the_bad_field() {
    let h = Harness::start().await;
    let mut c = MetricsServiceClient::new(h.tenant_a().await);
    let err = c
        .list_attendee_metrics(ListAttendeeMetricsRequest {
            parent: WEBINAR.into(),
            page_size: 5000,
            page_token: String::new(),
        })
        .await
        .expect_err("page size");
    assert_bad_field(&err, "page_size");
    let err = c
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: WEBINAR.into(),
        })
        .await
        .expect_err("needs /metrics");
    assert_bad_field(&err, "name");
    let err = c
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: "tenants/tenant-a/webinars".into(),
        })
        .await
        .expect_err("name");
    assert_bad_field(&err, "name");
    let err = c
        .list_changes(ListChangesRequest {
            parent: "tenants/tenant-a".into(),
            after_cursor: "garbage".into(),
            ..Default::default()
        })
        .await
        .expect_err("cursor");
    assert_bad_field(&err, "after_cursor");
    let err = c
        .watch_changes(WatchChangesRequest {
            parent: "tenants/tenant-a".into(),
            after_cursor: String::new(),
            webinar: "tenants/tenant-b/webinars/0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a".into(),
        })
        .await
        .expect_err("webinar of another tenant");
    assert_bad_field(&err, "webinar");
    h.stop().await;
}
