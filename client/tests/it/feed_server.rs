//! A small `webinar.v1.MetricsService` served over real TLS (rcgen certificates from
//! `xtask::pki`) whose behaviour the library tests script: it refuses the first calls with
//! UNAVAILABLE, checks the bearer token, and breaks the change feed mid-stream, recording every
//! request so the tests can assert what the client sent.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures::Stream;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    Request, Response, Status,
    transport::{Identity, Server, ServerTlsConfig},
};
use webinar_client::webinar_v1::{
    self as pb,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use xtask::pki::CertificateAuthority;

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// `after_cursor` of every WatchChanges call, in order.
    pub watch_cursors: Vec<String>,
    /// Number of ListChanges calls (including refused ones).
    pub list_calls: u32,
    /// The `authorization` header of the last GetWebinarMetrics call.
    pub authorization: Option<String>,
}

#[derive(Debug, Clone)]
struct Feed {
    seen: Arc<Mutex<Seen>>,
    refuse_list_calls: u32,
}

fn change(cursor: &str) -> pb::Change {
    pb::Change {
        cursor: cursor.to_string(),
        resource: format!("tenants/t/webinars/w/registrations/{cursor}"),
        r#type: pb::ChangeType::Registration as i32,
        ..Default::default()
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchChangesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MetricsService for Feed {
    async fn list_attendee_interactions(
        &self,
        _: Request<pb::ListAttendeeInteractionsRequest>,
    ) -> Result<Response<pb::ListAttendeeInteractionsResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_attendee_metrics(
        &self,
        _: Request<pb::ListAttendeeMetricsRequest>,
    ) -> Result<Response<pb::ListAttendeeMetricsResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn get_webinar_metrics(
        &self,
        request: Request<pb::GetWebinarMetricsRequest>,
    ) -> Result<Response<pb::GetWebinarMetricsResponse>, Status> {
        let auth = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.seen.lock().expect("lock").authorization = auth.clone();
        if auth.as_deref() != Some("Bearer test-token") {
            return Err(Status::unauthenticated("no valid bearer token"));
        }
        Ok(Response::new(pb::GetWebinarMetricsResponse {
            webinar_metrics: Some(pb::WebinarMetrics {
                name: request.into_inner().name,
                registration_count: 42,
                ..Default::default()
            }),
        }))
    }

    async fn sync_webinar_metrics(
        &self,
        _: Request<pb::SyncWebinarMetricsRequest>,
    ) -> Result<Response<pb::SyncWebinarMetricsResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let calls = {
            let mut seen = self.seen.lock().expect("lock");
            seen.list_calls += 1;
            seen.list_calls
        };
        if calls <= self.refuse_list_calls {
            return Err(Status::unavailable("warming up"));
        }
        let after = request.into_inner().after_cursor;
        Ok(Response::new(pb::ListChangesResponse {
            changes: vec![change("c9")],
            next_cursor: format!("{after}+c9"),
        }))
    }

    type WatchChangesStream = WatchStream;

    async fn watch_changes(
        &self,
        request: Request<pb::WatchChangesRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let after = request.into_inner().after_cursor;
        self.seen
            .lock()
            .expect("lock")
            .watch_cursors
            .push(after.clone());
        // First connection: two changes, then the stream breaks. Later: what follows the
        // cursor, then the stream stays open (like a real feed waiting for news).
        let items: Vec<Result<pb::WatchChangesResponse, Status>> = match after.as_str() {
            "" => vec![
                Ok(pb::WatchChangesResponse {
                    changes: vec![change("c1")],
                    cursor: "c1".into(),
                }),
                Ok(pb::WatchChangesResponse {
                    changes: vec![change("c2")],
                    cursor: "c2".into(),
                }),
                Err(Status::unavailable("connection lost")),
            ],
            "c2" => vec![Ok(pb::WatchChangesResponse {
                changes: vec![change("c3")],
                cursor: "c3".into(),
            })],
            _ => vec![],
        };
        let stream = futures::stream::iter(items).chain(futures::stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}

use futures::StreamExt;

/// A running server: its address, the CA file to trust, and what it saw.
pub struct Running {
    pub endpoint: String,
    pub ca_file: std::path::PathBuf,
    pub seen: Arc<Mutex<Seen>>,
    _dir: tempfile::TempDir,
}

/// Starts the scripted server on 127.0.0.1 with a `localhost` certificate.
pub async fn start(refuse_list_calls: u32) -> Running {
    webinar_client::channel::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertificateAuthority::new("test CA").expect("CA");
    let server = ca.server_cert(&["localhost"]).expect("server cert");
    let ca_file = dir.path().join("ca.crt");
    ca.write_cert(&ca_file).expect("write CA");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let feed = Feed {
        seen: seen.clone(),
        refuse_list_calls,
    };
    let tls = ServerTlsConfig::new().identity(Identity::from_pem(server.cert_pem, server.key_pem));
    tokio::spawn(async move {
        Server::builder()
            .tls_config(tls)
            .expect("tls")
            .add_service(MetricsServiceServer::new(feed))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("serve");
    });
    Running {
        endpoint: format!("https://127.0.0.1:{port}"),
        ca_file,
        seen,
        _dir: dir,
    }
}
