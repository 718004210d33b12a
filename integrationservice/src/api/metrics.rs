//! `MetricsService`: attendee metrics, webinar aggregates, sync now, and the change feed
//! (`ListChanges` and the resumable `WatchChanges` stream).

use std::pin::Pin;

use futures::Stream;
use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    GetWebinarMetricsRequest, GetWebinarMetricsResponse, ListAttendeeMetricsRequest,
    ListAttendeeMetricsResponse, ListChangesRequest, ListChangesResponse,
    SyncWebinarMetricsRequest, SyncWebinarMetricsResponse, WatchChangesRequest,
    WatchChangesResponse, metrics_service_server::MetricsService,
};

use super::{State, names, not_wired, validate, validate::Violations};

/// A validated change-feed position and scope.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// Tenant id.
    pub tenant: String,
    /// Store cursor to start after; `None` means the oldest retained change.
    pub after: Option<String>,
    /// Only this webinar's changes.
    pub webinar: Option<uuid::Uuid>,
}

/// The signing scope of change cursors: per tenant, so a cursor never crosses tenants. It does
/// not include the webinar filter, so a CRM may narrow or widen its watch from the same cursor.
pub fn cursor_scope(tenant: &str) -> String {
    format!("changes|{tenant}")
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct MetricsApi {
    state: State,
}

impl MetricsApi {
    /// A service over the shared state.
    pub fn new(state: State) -> Self {
        Self { state }
    }

    fn webinar<T>(
        &self,
        request: &Request<T>,
        field: &str,
        name: &str,
    ) -> Result<names::WebinarName, Status> {
        let name = names::parse_webinar(name).map_err(|d| validate::invalid(field, d))?;
        self.state.authorize(request, &name.tenant)?;
        Ok(name)
    }

    fn feed<T>(
        &self,
        request: &Request<T>,
        parent: &str,
        after: &str,
        webinar: &str,
    ) -> Result<FeedQuery, Status> {
        let tenant = names::parse_tenant(parent)
            .map_err(|d| validate::invalid("parent", d))?
            .tenant;
        self.state.authorize(request, &tenant)?;
        let mut v = Violations::new();
        let after = if after.is_empty() {
            None
        } else {
            v.check(
                "after_cursor",
                self.state.tokens.decode(&cursor_scope(&tenant), after),
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
            after,
            webinar,
        })
    }
}

/// The stream type of `WatchChanges`.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchChangesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MetricsService for MetricsApi {
    async fn list_attendee_metrics(
        &self,
        request: Request<ListAttendeeMetricsRequest>,
    ) -> Result<Response<ListAttendeeMetricsResponse>, Status> {
        let req = request.get_ref();
        let webinar = self.webinar(&request, "parent", &req.parent)?;
        let mut v = Violations::new();
        let _size = v.check("page_size", validate::page_size(req.page_size));
        let scope = format!("attendees|{}|{}", webinar.tenant, webinar.webinar);
        let _cursor = if req.page_token.is_empty() {
            None
        } else {
            v.check(
                "page_token",
                self.state.tokens.decode(&scope, &req.page_token),
            )
        };
        v.into_result()?;
        Err(not_wired("ListAttendeeMetrics"))
    }

    async fn get_webinar_metrics(
        &self,
        request: Request<GetWebinarMetricsRequest>,
    ) -> Result<Response<GetWebinarMetricsResponse>, Status> {
        let name = names::parse_webinar_metrics(&request.get_ref().name)
            .map_err(|d| validate::invalid("name", d))?;
        self.state.authorize(&request, &name.tenant)?;
        Err(not_wired("GetWebinarMetrics"))
    }

    async fn sync_webinar_metrics(
        &self,
        request: Request<SyncWebinarMetricsRequest>,
    ) -> Result<Response<SyncWebinarMetricsResponse>, Status> {
        let _webinar = self.webinar(&request, "name", &request.get_ref().name)?;
        Err(not_wired("SyncWebinarMetrics"))
    }

    async fn list_changes(
        &self,
        request: Request<ListChangesRequest>,
    ) -> Result<Response<ListChangesResponse>, Status> {
        let req = request.get_ref();
        let _query = self.feed(&request, &req.parent, &req.after_cursor, &req.webinar)?;
        validate::page_size(req.page_size).map_err(|d| validate::invalid("page_size", d))?;
        Err(not_wired("ListChanges"))
    }

    type WatchChangesStream = WatchStream;

    async fn watch_changes(
        &self,
        request: Request<WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let req = request.get_ref();
        let _query = self.feed(&request, &req.parent, &req.after_cursor, &req.webinar)?;
        Err(not_wired("WatchChanges"))
    }
}
