//! `WebinarService`: create, link, get, list, update, unlink and backfill webinars.

use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    BackfillWebinarsRequest, BackfillWebinarsResponse, CreateWebinarRequest, CreateWebinarResponse,
    GetWebinarRequest, GetWebinarResponse, LinkWebinarRequest, LinkWebinarResponse,
    ListWebinarsRequest, ListWebinarsResponse, UnlinkWebinarRequest, UnlinkWebinarResponse,
    UpdateWebinarRequest, UpdateWebinarResponse, Webinar, webinar_service_server::WebinarService,
};

use super::{State, audit::Access, convert, names, violations, violations::Violations, wrap_token};
use crate::domain::{
    CrmReference, Description, DurationMinutes, EventType, Invalid, Language, RequestId, StartTime,
    TimeZone, Title, WebinarInput, WebinarPatch,
};

/// Fields of a webinar a CRM may set, each parsed into its domain type.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebinarFields {
    /// CRM event or session id.
    pub crm_reference_id: Option<CrmReference>,
    /// Title.
    pub title: Option<Title>,
    /// Description (`Some(None)`: given empty).
    pub description: Option<Option<Description>>,
    /// Live start.
    pub start_time: Option<StartTime>,
    /// Live duration.
    pub duration_minutes: Option<DurationMinutes>,
    /// Time zone.
    pub time_zone: Option<TimeZone>,
    /// Language code (empty: `en`).
    pub language_code: Option<Language>,
    /// ON24 event type.
    pub event_type: Option<EventType>,
}

/// The fields `UpdateWebinar` may change.
pub(crate) const UPDATABLE: &[&str] = &[
    "crm_reference_id",
    "title",
    "description",
    "start_time",
    "duration_minutes",
    "time_zone",
    "language_code",
];

/// The fields only `CreateWebinar` sets (ON24 cannot change an event's type afterwards).
const CREATE_ONLY: &[&str] = &["event_type"];

/// A required start time.
fn start_time(value: Option<&prost_types::Timestamp>) -> Result<StartTime, Invalid> {
    let ts = value.ok_or_else(|| Invalid::new("required"))?;
    StartTime::from_parts(ts.seconds, ts.nanos)
}

/// Parses the named fields of `w`, recording violations under `prefix`.
fn fields(w: &Webinar, only: &[&str], v: &mut Violations, prefix: &str) -> WebinarFields {
    let f = |name: &str| format!("{prefix}{name}");
    let wants = |name: &str| only.contains(&name);
    let mut out = WebinarFields::default();
    if wants("crm_reference_id") {
        out.crm_reference_id = v.check(
            &f("crm_reference_id"),
            CrmReference::parse(&w.crm_reference_id),
        );
    }
    if wants("title") {
        out.title = v.check(&f("title"), Title::parse(&w.title));
    }
    if wants("description") {
        out.description = v.check(&f("description"), Description::parse(&w.description));
    }
    if wants("start_time") {
        out.start_time = v.check(&f("start_time"), start_time(w.start_time.as_ref()));
    }
    if wants("duration_minutes") {
        out.duration_minutes = v.check(
            &f("duration_minutes"),
            DurationMinutes::parse(w.duration_minutes),
        );
    }
    if wants("time_zone") {
        out.time_zone = v.check(&f("time_zone"), TimeZone::parse(&w.time_zone));
    }
    if wants("language_code") {
        out.language_code = v.check(
            &f("language_code"),
            Language::parse_or_english(&w.language_code),
        );
    }
    if wants("event_type") {
        out.event_type = v.check(&f("event_type"), EventType::parse(&w.event_type));
    }
    out
}

/// A parsed `CreateWebinar`.
#[derive(Debug, Clone)]
pub(crate) struct CreateWebinar {
    /// The webinar's fields.
    pub input: WebinarInput,
    /// Client idempotency key.
    pub request_id: Option<RequestId>,
}

/// Parses a create request; the parent is already authorized.
pub(crate) fn validate_create(request: &CreateWebinarRequest) -> Result<CreateWebinar, Status> {
    let mut v = Violations::new();
    let Some(w) = &request.webinar else {
        return Err(violations::invalid("webinar", "required"));
    };
    let all: Vec<&str> = UPDATABLE.iter().chain(CREATE_ONLY).copied().collect();
    let f = fields(w, &all, &mut v, "webinar.");
    let request_id = v.check("request_id", RequestId::parse_optional(&request.request_id));
    let input = (|| {
        Some(WebinarInput {
            crm_reference_id: f.crm_reference_id?,
            title: f.title?,
            description: f.description?,
            start_at: f.start_time?,
            duration_minutes: f.duration_minutes?,
            time_zone: f.time_zone?,
            language: f.language_code?,
            event_type: f.event_type?,
        })
    })();
    let (input, request_id) = v.into_value(input.zip(request_id))?;
    Ok(CreateWebinar { input, request_id })
}

/// A parsed `LinkWebinar`: the ON24 event id, the CRM reference and the request id.
pub(crate) type LinkWebinar = (i64, CrmReference, Option<RequestId>);

/// Parses a link request; the parent is already authorized.
pub(crate) fn validate_link(request: &LinkWebinarRequest) -> Result<LinkWebinar, Status> {
    let mut v = Violations::new();
    if request.on24_event_id <= 0 {
        v.add(
            "on24_event_id",
            "required; must be a positive ON24 event id",
        );
    }
    let reference = v.check(
        "crm_reference_id",
        CrmReference::parse(&request.crm_reference_id),
    );
    let request_id = v.check("request_id", RequestId::parse_optional(&request.request_id));
    let (reference, request_id) = v.into_value(reference.zip(request_id))?;
    Ok((request.on24_event_id, reference, request_id))
}

/// Validates an update: the mask names only updatable fields and those fields are valid.
pub(crate) fn validate_update(
    request: &UpdateWebinarRequest,
) -> Result<(names::WebinarName, WebinarFields), Status> {
    let Some(w) = &request.webinar else {
        return Err(violations::invalid("webinar", "required"));
    };
    let mut v = Violations::new();
    let name = v.check("webinar.name", names::parse_webinar(&w.name));
    let paths: Vec<&str> = request
        .update_mask
        .as_ref()
        .map(|m| m.paths.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if paths.is_empty() {
        v.add("update_mask", "required; name the fields to change");
    }
    for path in &paths {
        if !UPDATABLE.contains(path) {
            v.add(
                "update_mask",
                format!(
                    "`{path}` cannot be updated; allowed: {}",
                    UPDATABLE.join(", ")
                ),
            );
        }
    }
    let fields = fields(w, &paths, &mut v, "webinar.");
    v.into_result()?;
    let name = name.ok_or_else(|| violations::invalid("webinar.name", "required"))?;
    Ok((name, fields))
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct WebinarApi {
    state: State,
}

impl WebinarApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl WebinarService for WebinarApi {
    async fn create_webinar(
        &self,
        request: Request<CreateWebinarRequest>,
    ) -> Result<Response<CreateWebinarResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "parent",
                &request.get_ref().parent,
                names::parse_tenant,
            )?
            .tenant;
        let create = validate_create(request.get_ref())?;
        let w = self
            .state
            .engine
            .webinars()
            .create(&tenant, create.input, create.request_id)
            .await?;
        Ok(Response::new(CreateWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }

    async fn link_webinar(
        &self,
        request: Request<LinkWebinarRequest>,
    ) -> Result<Response<LinkWebinarResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "parent",
                &request.get_ref().parent,
                names::parse_tenant,
            )?
            .tenant;
        let (event, reference, request_id) = validate_link(request.get_ref())?;
        let w = self
            .state
            .engine
            .webinars()
            .link(&tenant, event, &reference, request_id)
            .await?;
        Ok(Response::new(LinkWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }

    async fn backfill_webinars(
        &self,
        request: Request<BackfillWebinarsRequest>,
    ) -> Result<Response<BackfillWebinarsResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "parent",
                &request.get_ref().parent,
                names::parse_tenant,
            )?
            .tenant;
        // The range rules (in the past, how far back) are the domain's.
        let since = request
            .get_ref()
            .since
            .as_ref()
            .ok_or_else(|| violations::invalid("since", "required"))?;
        let since_ms = since
            .seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(since.nanos.clamp(0, 999_999_999) / 1_000_000));
        let result = self
            .state
            .engine
            .webinars()
            .backfill(&tenant, since_ms)
            .await
            .map_err(Status::from);
        // A backfill links events whose registrants and attendees the syncs it queues bring
        // in: the access audit records who asked and how many webinars it linked.
        let access = Access {
            method: "BackfillWebinars",
            tenant: &tenant,
            resource: &request.get_ref().parent,
        };
        let report = self
            .state
            .audited(&request, access, result, |report| report.linked.len())
            .await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(BackfillWebinarsResponse {
            webinars: report.linked.iter().map(convert::webinar).collect(),
            found_count: count(report.found),
            already_linked_count: count(report.already_linked),
        }))
    }

    async fn get_webinar(
        &self,
        request: Request<GetWebinarRequest>,
    ) -> Result<Response<GetWebinarResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_webinar,
        )?;
        let w = self
            .state
            .engine
            .webinars()
            .get(&name.tenant, &name.webinar)
            .await?;
        Ok(Response::new(GetWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }

    async fn list_webinars(
        &self,
        request: Request<ListWebinarsRequest>,
    ) -> Result<Response<ListWebinarsResponse>, Status> {
        let req = request.get_ref();
        let tenant = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_tenant)?
            .tenant;
        let mut v = Violations::new();
        let scope = format!("webinars|{tenant}|{}", req.show_unlinked);
        let paging = self
            .state
            .paging(&mut v, &scope, req.page_size, &req.page_token);
        let paging = v.into_value(paging)?;
        let page = self
            .state
            .engine
            .webinars()
            .list(&tenant, req.show_unlinked, paging.size, &paging.token)
            .await?;
        Ok(Response::new(ListWebinarsResponse {
            webinars: page.items.iter().map(convert::webinar).collect(),
            next_page_token: wrap_token(&self.state, &scope, &page.next_page_token),
        }))
    }

    async fn update_webinar(
        &self,
        request: Request<UpdateWebinarRequest>,
    ) -> Result<Response<UpdateWebinarResponse>, Status> {
        let name = request
            .get_ref()
            .webinar
            .as_ref()
            .map(|w| w.name.clone())
            .unwrap_or_default();
        if let Ok(name) = names::parse_webinar(&name) {
            self.state.authorize(&request, &name.tenant)?;
        }
        let (name, f) = validate_update(request.get_ref())?;
        let patch = WebinarPatch {
            title: f.title,
            description: f.description,
            start_at: f.start_time,
            duration_minutes: f.duration_minutes,
            time_zone: f.time_zone,
            language: f.language_code,
            crm_reference_id: f.crm_reference_id,
        };
        let w = self
            .state
            .engine
            .webinars()
            .update(&name.tenant, &name.webinar, patch)
            .await?;
        Ok(Response::new(UpdateWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }

    async fn unlink_webinar(
        &self,
        request: Request<UnlinkWebinarRequest>,
    ) -> Result<Response<UnlinkWebinarResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_webinar,
        )?;
        let w = self
            .state
            .engine
            .webinars()
            .unlink(&name.tenant, &name.webinar)
            .await?;
        Ok(Response::new(UnlinkWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }
}
