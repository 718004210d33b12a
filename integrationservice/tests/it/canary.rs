//! ON24's answer text never leaves the service: the simulator answers 500 with a canary string
//! as its message, and the canary appears in no gRPC status (message or details), no
//! `status_message` field and nothing the real binary logs.

use std::time::Duration;

use proto::webinar::v1::{provider_config_service_client::ProviderConfigServiceClient, *};

use crate::crash_safety::Service;
use crate::engine::harness::{CLIENT_ID, KeyService, TOKEN_KEY, TOKEN_SECRET};

const CANARY: &str = "CANARY-5d1e-internal-host-10.0.0.7";

/// The canary in a status: its message, or its details (error info, bad request).
fn assert_clean_status(what: &str, status: &tonic::Status) {
    assert!(!status.message().contains(CANARY), "{what}: {status:?}");
    assert!(
        !String::from_utf8_lossy(status.details()).contains(CANARY),
        "{what}: details carry the canary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on24_answer_text_never_reaches_callers_or_logs() {
    let keys = KeyService::start().await;
    let sim = on24sim::Simulator::start(on24sim::SimConfig::with_account(
        CLIENT_ID,
        TOKEN_KEY,
        TOKEN_SECRET,
    ))
    .await
    .expect("simulator");
    let db = xtask::testdb::TestSqlite::new().expect("test sqlite");
    let service = Service::new(&keys, db.url.clone());
    let mut running = service.start();
    let channel = service.connect(&mut running).await;
    let mut creds = ProviderConfigServiceClient::new(channel);
    let credentials = On24Credentials {
        name: "tenants/demo/on24Credentials".into(),
        client_id: CLIENT_ID.to_string(),
        access_token_key: TOKEN_KEY.into(),
        access_token_secret: TOKEN_SECRET.into(),
        base_url: sim.base_url.clone(),
        ..Default::default()
    };
    creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(credentials.clone()),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect("credentials stored while ON24 answers");

    sim.control()
        .set_faults(&on24sim::FaultConfig {
            error_rate: 1.0,
            error_status: 500,
            error_message: Some(CANARY.into()),
            ..Default::default()
        })
        .await
        .expect("faults");
    let before = sim.control().journal().await.expect("journal").len();

    match creds
        .check_on24_credentials(CheckOn24CredentialsRequest {
            name: credentials.name.clone(),
        })
        .await
    {
        Ok(answer) => {
            let checked = answer.into_inner().on24_credentials.expect("credentials");
            assert!(
                !checked.status_message.is_empty(),
                "the failure is reported"
            );
            assert!(
                !checked.status_message.contains(CANARY),
                "status_message: {}",
                checked.status_message
            );
        }
        Err(status) => assert_clean_status("CheckOn24Credentials", &status),
    }
    let stored = creds
        .get_on24_credentials(GetOn24CredentialsRequest {
            name: credentials.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert!(!format!("{stored:?}").contains(CANARY), "{stored:?}");
    match creds
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(credentials.clone()),
            live_check: true,
            validate_only: true,
        })
        .await
    {
        Ok(answer) => assert!(!format!("{answer:?}").contains(CANARY)),
        Err(status) => assert_clean_status("PutOn24Credentials", &status),
    }

    // Control: the calls above did reach ON24 and got the canary back.
    let journal = sim.control().journal().await.expect("journal");
    assert!(
        journal[before..].iter().any(|e| e.status == 500),
        "no ON24 call was answered with the canary"
    );
    // The refusals are logged (at warn) by the time the answers came back; the log must show
    // them, and never the canary.
    let log = testkit::eventually(
        "the ON24 refusal in the log",
        Duration::from_secs(10),
        || {
            let log = service.log();
            std::future::ready(log.contains("ON24 call refused").then_some(log))
        },
    )
    .await;
    assert!(
        !log.contains(CANARY),
        "the service logged ON24's answer text"
    );
    drop(running);
}
