//! `WebinarService`: create, link, get, list, update and unlink webinars.

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    CreateWebinarRequest, CreateWebinarResponse, GetWebinarRequest, GetWebinarResponse,
    LinkWebinarRequest, LinkWebinarResponse, ListWebinarsRequest, ListWebinarsResponse,
    UnlinkWebinarRequest, UnlinkWebinarResponse, UpdateWebinarRequest, UpdateWebinarResponse,
    Webinar, webinar_service_server::WebinarService,
};

use super::{State, convert, names, validate, validate::Violations, wrap_token};
use crate::domain::{WebinarInput, WebinarPatch};

/// Fields of a webinar a CRM may set, validated.
#[derive(Debug, Clone, Default)]
pub struct WebinarFields {
    /// CRM event or session id.
    pub crm_reference_id: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Live start.
    pub start_time: Option<DateTime<Utc>>,
    /// Live duration.
    pub duration_minutes: Option<u32>,
    /// IANA zone.
    pub time_zone: Option<String>,
    /// Language code.
    pub language_code: Option<String>,
    /// ON24 event type.
    pub event_type: Option<String>,
}

/// The fields `UpdateWebinar` may change.
pub const UPDATABLE: &[&str] = &[
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

/// Validates the named fields of `w`, recording violations under `prefix`.
fn fields(w: &Webinar, only: &[&str], v: &mut Violations, prefix: &str) -> WebinarFields {
    let f = |name: &str| format!("{prefix}{name}");
    let wants = |name: &str| only.contains(&name);
    let mut out = WebinarFields::default();
    if wants("crm_reference_id") {
        out.crm_reference_id = v
            .check(
                &f("crm_reference_id"),
                validate::crm_reference(&w.crm_reference_id, true),
            )
            .map(|()| w.crm_reference_id.clone());
    }
    if wants("title") {
        out.title = v
            .check(&f("title"), validate::required_text(&w.title, 1, 250))
            .map(|()| w.title.clone());
    }
    if wants("description") {
        out.description = v
            .check(
                &f("description"),
                validate::optional_text(&w.description, 4000),
            )
            .map(|()| w.description.clone());
    }
    if wants("start_time") {
        out.start_time = v.check(&f("start_time"), validate::timestamp(w.start_time.as_ref()));
    }
    if wants("duration_minutes") {
        out.duration_minutes = v.check(
            &f("duration_minutes"),
            validate::duration_minutes(w.duration_minutes),
        );
    }
    if wants("time_zone") {
        out.time_zone = v
            .check(&f("time_zone"), validate::time_zone(&w.time_zone))
            .map(|()| w.time_zone.clone());
    }
    if wants("language_code") {
        out.language_code = v
            .check(
                &f("language_code"),
                validate::language_code(&w.language_code),
            )
            .map(|()| {
                if w.language_code.is_empty() {
                    "en".to_owned()
                } else {
                    w.language_code.clone()
                }
            });
    }
    if wants("event_type") {
        out.event_type = v
            .check(&f("event_type"), validate::event_type(&w.event_type))
            .map(|()| w.event_type.clone());
    }
    out
}

/// A validated `CreateWebinar`.
#[derive(Debug, Clone)]
pub struct CreateWebinar {
    /// Tenant id.
    pub tenant: String,
    /// Validated fields (all set).
    pub fields: WebinarFields,
    /// Client idempotency key.
    pub request_id: Option<uuid::Uuid>,
}

/// Validates a create request; the parent is already authorized.
pub fn validate_create(
    tenant: String,
    request: &CreateWebinarRequest,
) -> Result<CreateWebinar, Status> {
    let mut v = Violations::new();
    let Some(w) = &request.webinar else {
        return Err(validate::invalid("webinar", "required"));
    };
    let all: Vec<&str> = UPDATABLE.iter().chain(CREATE_ONLY).copied().collect();
    let fields = fields(w, &all, &mut v, "webinar.");
    let request_id = v.check("request_id", validate::request_id(&request.request_id));
    v.into_result()?;
    Ok(CreateWebinar {
        tenant,
        fields,
        request_id: request_id.flatten(),
    })
}

/// Validates a link request; the parent is already authorized.
pub fn validate_link(request: &LinkWebinarRequest) -> Result<(i64, Option<uuid::Uuid>), Status> {
    let mut v = Violations::new();
    if request.on24_event_id <= 0 {
        v.add(
            "on24_event_id",
            "required; must be a positive ON24 event id",
        );
    }
    v.check(
        "crm_reference_id",
        validate::crm_reference(&request.crm_reference_id, true),
    );
    let request_id = v.check("request_id", validate::request_id(&request.request_id));
    v.into_result()?;
    Ok((request.on24_event_id, request_id.flatten()))
}

/// Validates an update: the mask names only updatable fields and those fields are valid.
pub fn validate_update(
    request: &UpdateWebinarRequest,
) -> Result<(names::WebinarName, WebinarFields), Status> {
    let Some(w) = &request.webinar else {
        return Err(validate::invalid("webinar", "required"));
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
    let name = name.ok_or_else(|| validate::invalid("webinar.name", "required"))?;
    Ok((name, fields))
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct WebinarApi {
    state: State,
}

impl WebinarApi {
    /// A service over the shared state.
    pub fn new(state: State) -> Self {
        Self { state }
    }
}

fn input(create: CreateWebinar) -> WebinarInput {
    let f = create.fields;
    WebinarInput {
        crm_reference_id: f.crm_reference_id.unwrap_or_default(),
        title: f.title.unwrap_or_default(),
        description: f.description.filter(|d| !d.is_empty()),
        start_at: f
            .start_time
            .map(|t| t.timestamp_millis())
            .unwrap_or_default(),
        duration_minutes: f.duration_minutes.map(|d| d as i32).unwrap_or_default(),
        time_zone: f.time_zone.unwrap_or_default(),
        language: f.language_code.unwrap_or_else(|| "en".into()),
        event_type: f.event_type.unwrap_or_default(),
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
        let create = validate_create(tenant.clone(), request.get_ref())?;
        let request_id = create.request_id.map(|r| r.to_string());
        let w = self
            .state
            .engine
            .webinars()
            .create(&tenant, input(create), request_id)
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
        let (event, request_id) = validate_link(request.get_ref())?;
        let w = self
            .state
            .engine
            .webinars()
            .link(
                &tenant,
                event,
                &request.get_ref().crm_reference_id,
                request_id.map(|r| r.to_string()),
            )
            .await?;
        Ok(Response::new(LinkWebinarResponse {
            webinar: Some(convert::webinar(&w)),
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
            .get(&name.tenant, &name.webinar.to_string())
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
            start_at: f.start_time.map(|t| t.timestamp_millis()),
            duration_minutes: f.duration_minutes.map(|d| d as i32),
            time_zone: f.time_zone,
            language: f.language_code,
            crm_reference_id: f.crm_reference_id,
        };
        let w = self
            .state
            .engine
            .webinars()
            .update(&name.tenant, &name.webinar.to_string(), patch)
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
            .unlink(&name.tenant, &name.webinar.to_string())
            .await?;
        Ok(Response::new(UnlinkWebinarResponse {
            webinar: Some(convert::webinar(&w)),
        }))
    }
}
