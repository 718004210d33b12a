//! `MetricsService`: attendee metrics, webinar aggregates, sync now, and the change feed
//! (`ListChanges` and the resumable `WatchChanges` stream).

use std::pin::Pin;

use futures::Stream;
use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    GetWebinarMetricsRequest, GetWebinarMetricsResponse, ListAttendeeInteractionsRequest,
    ListAttendeeInteractionsResponse, ListAttendeeMetricsRequest, ListAttendeeMetricsResponse,
    ListChangesRequest, ListChangesResponse, SyncWebinarMetricsRequest, SyncWebinarMetricsResponse,
    WatchChangesRequest, WatchChangesResponse, metrics_service_server::MetricsService,
};

use proto::webinar::v1 as pb;

use super::audit::{Access, Caller};
use super::page_token::PageTokens;
use super::{State, convert, names, violations, violations::Violations, wrap_token};
use crate::auth::CredentialExpiry;
use crate::domain::{self, TenantId, WebinarId};

/// How long a watch waits for a change before sending a heartbeat. The feed read before the
/// heartbeat is also the watch's only re-read without a wake-up: it finds a change whose
/// cross-replica notification was lost, at most this late.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);
/// Changes sent per watch message.
const WATCH_BATCH: i32 = 100;

/// A validated change-feed position and scope.
#[derive(Debug, Clone)]
pub(crate) struct FeedQuery {
    /// Tenant id.
    pub tenant: TenantId,
    /// Feed position to start after; 0 means the oldest retained change.
    pub after: i64,
    /// Only this webinar's changes.
    pub webinar: Option<WebinarId>,
}

/// The signing scope of change cursors: per tenant, so a cursor never crosses tenants. It does
/// not include the webinar filter, so a CRM may narrow or widen its watch from the same cursor.
pub(crate) fn cursor_scope(tenant: &TenantId) -> String {
    format!("changes|{tenant}")
}

/// The feed position inside a change cursor this API returned for `tenant`.
pub(crate) fn open_cursor(
    tokens: &PageTokens,
    tenant: &TenantId,
    cursor: &str,
) -> Result<i64, String> {
    tokens.decode(&cursor_scope(tenant), cursor).and_then(|c| {
        c.parse::<i64>()
            .map_err(|_| "is not a cursor of this feed".to_string())
    })
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct MetricsApi {
    state: State,
}

impl MetricsApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self { state }
    }

    fn feed<T>(
        &self,
        request: &Request<T>,
        parent: &str,
        after: &str,
        webinar: &str,
    ) -> Result<FeedQuery, Status> {
        let tenant = self
            .state
            .resolve(request, "parent", parent, names::parse_tenant)?
            .tenant;
        let mut v = Violations::new();
        let after = if after.is_empty() {
            Some(0)
        } else {
            v.check(
                "after_cursor",
                open_cursor(&self.state.tokens, &tenant, after),
            )
        };
        let webinar = if webinar.is_empty() {
            None
        } else {
            match names::parse_webinar(webinar) {
                Ok(w) if w.tenant == tenant => Some(w.webinar),
                Ok(_) => {
                    v.add("webinar", "must belong to the tenant named in `parent`");
                    None
                }
                Err(d) => {
                    v.add("webinar", d);
                    None
                }
            }
        };
        v.into_result()?;
        Ok(FeedQuery {
            tenant,
            after: after.unwrap_or_default(),
            webinar,
        })
    }
}

/// Renders changes with snapshots of the resources as they are now.
#[derive(Debug, Clone)]
struct FeedRenderer {
    state: State,
}

impl FeedRenderer {
    fn cursor(&self, tenant: &TenantId, seq: i64) -> String {
        self.state
            .tokens
            .encode(&cursor_scope(tenant), &seq.to_string())
    }

    async fn render(&self, tenant: &TenantId, c: &domain::Change) -> pb::Change {
        use pb::change::Snapshot;
        let engine = &self.state.engine;
        // Every change but a credentials one names its webinar; a registration and a metrics
        // change name their registration. The nil id (never assigned) stands for a missing one.
        let webinar = &c.webinar_id.unwrap_or(WebinarId::from(uuid::Uuid::nil()));
        let registration = &c
            .registration_id
            .unwrap_or(domain::RegistrationId::from(uuid::Uuid::nil()));
        let (kind, resource, snapshot) = match c.kind {
            domain::ChangeKind::Registration => (
                pb::ChangeType::Registration,
                convert::registration_name(tenant, webinar, registration),
                engine
                    .registrations()
                    .get(tenant, webinar, registration)
                    .await
                    .ok()
                    .map(|r| Snapshot::Registration(convert::registration(&r))),
            ),
            domain::ChangeKind::AttendeeMetrics => {
                let found = engine
                    .metrics()
                    .for_registration(tenant, webinar, registration)
                    .await
                    .ok()
                    .flatten();
                let m = found.map(|m| convert::attendee(tenant, &m));
                (
                    pb::ChangeType::AttendeeMetrics,
                    m.as_ref().map_or_else(
                        || convert::registration_name(tenant, webinar, registration),
                        |m| m.name.clone(),
                    ),
                    m.map(Snapshot::AttendeeMetrics),
                )
            }
            domain::ChangeKind::AttendeeInteractions => (
                pb::ChangeType::AttendeeInteractions,
                convert::registration_name(tenant, webinar, registration),
                None,
            ),
            domain::ChangeKind::Webinar => (
                pb::ChangeType::Webinar,
                convert::webinar_name(tenant, webinar),
                engine
                    .webinars()
                    .get(tenant, webinar)
                    .await
                    .ok()
                    .map(|w| Snapshot::WebinarSnapshot(convert::webinar(&w))),
            ),
            domain::ChangeKind::Credentials => (
                pb::ChangeType::Credentials,
                names::credentials_name(tenant),
                None,
            ),
            domain::ChangeKind::ErasureRequest => {
                // The entry's registration id column holds the erasure request's id.
                let id = domain::ErasureRequestId::from(*registration.as_uuid());
                (
                    pb::ChangeType::ErasureRequest,
                    names::erasure_request_name(tenant, &id),
                    engine
                        .erasure_requests()
                        .get(tenant, &id)
                        .await
                        .ok()
                        .map(|r| Snapshot::ErasureRequest(convert::erasure_request(&r))),
                )
            }
        };
        pb::Change {
            cursor: self.cursor(tenant, c.seq),
            change_time: Some(convert::ts(c.created_at)),
            r#type: kind as i32,
            resource,
            webinar: c
                .webinar_id
                .map(|w| convert::webinar_name(tenant, &w))
                .unwrap_or_default(),
            snapshot,
        }
    }

    /// Renders the changes of the query's webinar (all if none); returns them and the cursor
    /// after the last change read (filtered-out ones included, so they are not re-read).
    async fn render_all(
        &self,
        query: &FeedQuery,
        changes: &[domain::Change],
        mut after: i64,
    ) -> (Vec<pb::Change>, i64) {
        let wanted = query.webinar;
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            after = after.max(c.seq);
            if wanted.is_some() && c.webinar_id != wanted {
                continue;
            }
            out.push(self.render(&query.tenant, c).await);
        }
        (out, after)
    }
}

/// The stream type of `WatchChanges`.
pub(crate) type WatchStream =
    Pin<Box<dyn Stream<Item = Result<WatchChangesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MetricsService for MetricsApi {
    async fn list_attendee_interactions(
        &self,
        request: Request<ListAttendeeInteractionsRequest>,
    ) -> Result<Response<ListAttendeeInteractionsResponse>, Status> {
        let req = request.get_ref();
        let registration =
            self.state
                .resolve(&request, "parent", &req.parent, names::parse_registration)?;
        let mut v = Violations::new();
        let scope = format!(
            "interactions|{}|{}|{}",
            registration.tenant, registration.webinar, registration.registration
        );
        let paging = self
            .state
            .paging(&mut v, &scope, req.page_size, &req.page_token);
        let paging = v.into_value(paging)?;
        let page = self
            .state
            .engine
            .metrics()
            .interactions(
                &registration.tenant,
                &registration.webinar,
                &registration.registration,
                paging.size,
                &paging.token,
            )
            .await?;
        Ok(Response::new(ListAttendeeInteractionsResponse {
            attendee_interactions: page.items.iter().map(convert::interaction).collect(),
            next_page_token: wrap_token(&self.state, &scope, &page.next_page_token),
        }))
    }

    async fn list_attendee_metrics(
        &self,
        request: Request<ListAttendeeMetricsRequest>,
    ) -> Result<Response<ListAttendeeMetricsResponse>, Status> {
        let req = request.get_ref();
        let webinar = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_webinar)?;
        let result = self.attendees(req, &webinar).await;
        let access = Access {
            method: "ListAttendeeMetrics",
            tenant: &webinar.tenant,
            resource: &req.parent,
        };
        self.state
            .audited(&request, access, result, |r| r.attendee_metrics.len())
            .await
            .map(Response::new)
    }

    async fn get_webinar_metrics(
        &self,
        request: Request<GetWebinarMetricsRequest>,
    ) -> Result<Response<GetWebinarMetricsResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_webinar_metrics,
        )?;
        let m = self
            .state
            .engine
            .metrics()
            .webinar(&name.tenant, &name.webinar)
            .await?;
        Ok(Response::new(GetWebinarMetricsResponse {
            webinar_metrics: Some(convert::webinar_metrics(&name.tenant, &name.webinar, &m)),
        }))
    }

    async fn sync_webinar_metrics(
        &self,
        request: Request<SyncWebinarMetricsRequest>,
    ) -> Result<Response<SyncWebinarMetricsResponse>, Status> {
        let webinar = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_webinar,
        )?;
        let request_time = convert::ts(crate::store::now_ms());
        let result = self
            .state
            .engine
            .metrics()
            .sync_now(&webinar.tenant, &webinar.webinar)
            .await
            .map(|_| SyncWebinarMetricsResponse {
                request_time: Some(request_time),
            })
            .map_err(Status::from);
        let access = Access {
            method: "SyncWebinarMetrics",
            tenant: &webinar.tenant,
            resource: &request.get_ref().name,
        };
        self.state
            .audited(&request, access, result, |_| 0)
            .await
            .map(Response::new)
    }

    async fn list_changes(
        &self,
        request: Request<ListChangesRequest>,
    ) -> Result<Response<ListChangesResponse>, Status> {
        let req = request.get_ref();
        let query = self.feed(&request, &req.parent, &req.after_cursor, &req.webinar)?;
        let result = async {
            let size = domain::PageSize::parse(req.page_size)
                .map_err(|e| violations::invalid("page_size", e))?
                .get();
            let changes = self
                .state
                .engine
                .metrics()
                .changes(&query.tenant, query.after, size as i32)
                .await?;
            let renderer = FeedRenderer {
                state: self.state.clone(),
            };
            let (changes, last) = renderer.render_all(&query, &changes, query.after).await;
            Ok(ListChangesResponse {
                changes,
                next_cursor: renderer.cursor(&query.tenant, last),
            })
        }
        .await;
        let access = Access {
            method: "ListChanges",
            tenant: &query.tenant,
            resource: &req.parent,
        };
        self.state
            .audited(&request, access, result, |r| r.changes.len())
            .await
            .map(Response::new)
    }

    type WatchChangesStream = WatchStream;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let req = request.get_ref();
        let query = self.feed(&request, &req.parent, &req.after_cursor, &req.webinar)?;
        let permit = self.state.limits.open_watch(query.tenant.as_str())?;
        let caller = Caller::of(&request);
        let resource = req.parent.clone();
        let opened = self
            .state
            .audited_as(
                &caller,
                Access {
                    method: "WatchChanges",
                    tenant: &query.tenant,
                    resource: &resource,
                },
                Ok(()),
                |()| 0,
            )
            .await;
        opened?;
        let renderer = FeedRenderer {
            state: self.state.clone(),
        };
        // The stream ends when the bearer token that opened it expires: the caller must
        // come back with a fresh token (resuming from its last cursor).
        let expires = request
            .extensions()
            .get::<CredentialExpiry>()
            .map(|CredentialExpiry(at)| {
                let left = at
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default();
                tokio::time::Instant::now() + left
            });
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            // Held for as long as the stream runs.
            let _permit = permit;
            let mut after = query.after;
            let expired = async {
                match expires {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(expired);
            loop {
                let metrics = renderer.state.engine.metrics();
                let wait = metrics.wait_changes(&query.tenant, after, WATCH_BATCH, HEARTBEAT);
                let found = tokio::select! {
                    () = tx.closed() => return,
                    () = renderer.state.shutdown.cancelled() => return,
                    () = &mut expired => {
                        let _ = tx
                            .send(Err(Status::unauthenticated("bearer token expired")))
                            .await;
                        return;
                    }
                    found = wait => found,
                };
                let message = match found {
                    Ok(changes) => {
                        let (changes, last) = renderer.render_all(&query, &changes, after).await;
                        after = last;
                        let message = Ok(WatchChangesResponse {
                            changes,
                            cursor: renderer.cursor(&query.tenant, after),
                        });
                        // Every message with changes is audited before it is sent;
                        // heartbeats carry nothing.
                        let access = Access {
                            method: "WatchChanges",
                            tenant: &query.tenant,
                            resource: &resource,
                        };
                        match &message {
                            Ok(m) if !m.changes.is_empty() => {
                                renderer
                                    .state
                                    .audited_as(&caller, access, message, |m| m.changes.len())
                                    .await
                            }
                            _ => message,
                        }
                    }
                    Err(e) => Err(Status::from(e)),
                };
                let failed = message.is_err();
                if tx.send(message).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

impl MetricsApi {
    /// The body of `ListAttendeeMetrics`, for the authorized webinar.
    async fn attendees(
        &self,
        req: &ListAttendeeMetricsRequest,
        webinar: &names::WebinarName,
    ) -> Result<ListAttendeeMetricsResponse, Status> {
        let mut v = Violations::new();
        let scope = format!("attendees|{}|{}", webinar.tenant, webinar.webinar);
        let paging = self
            .state
            .paging(&mut v, &scope, req.page_size, &req.page_token);
        let paging = v.into_value(paging)?;
        // One page is read from the database, never the whole webinar.
        let page = self
            .state
            .engine
            .metrics()
            .attendees(
                &webinar.tenant,
                &webinar.webinar,
                paging.size,
                &paging.token,
            )
            .await?;
        Ok(ListAttendeeMetricsResponse {
            attendee_metrics: page
                .items
                .iter()
                .map(|m| convert::attendee(&webinar.tenant, m))
                .collect(),
            next_page_token: wrap_token(&self.state, &scope, &page.next_page_token),
        })
    }
}
