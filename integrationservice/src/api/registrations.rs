//! `RegistrationService`: register one or a batch, get, list, update, cancel, forget.

use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    BatchCreateRegistrationsRequest, BatchCreateRegistrationsResponse, CancelRegistrationRequest,
    CancelRegistrationResponse, CreateRegistrationRequest, CreateRegistrationResponse,
    ForgetPersonRequest, ForgetPersonResponse, GetRegistrationRequest, GetRegistrationResponse,
    ListRegistrationsRequest, ListRegistrationsResponse, UpdateRegistrationRequest,
    UpdateRegistrationResponse, registration_service_server::RegistrationService,
};

use super::{
    State, names, not_wired,
    registration_fields::{self, RegistrationFields},
    validate,
    validate::Violations,
};

/// Most items in one `BatchCreateRegistrations`.
pub const MAX_BATCH: usize = 1000;

/// A validated registration to create.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// Attendee fields (email, first and last name always set).
    pub fields: RegistrationFields,
    /// Client idempotency key.
    pub request_id: Option<uuid::Uuid>,
}

/// Validates one create (alone or as batch item `prefix`), given the authorized webinar.
pub fn validate_item(
    request: &CreateRegistrationRequest,
    webinar: &names::WebinarName,
    v: &mut Violations,
    in_batch: bool,
) -> Option<NewRegistration> {
    if in_batch && !request.parent.is_empty() {
        match names::parse_webinar(&request.parent) {
            Ok(parent) if &parent == webinar => {}
            _ => v.add("parent", "must be empty or equal to the batch's parent"),
        }
    }
    let Some(r) = &request.registration else {
        v.add("registration", "required");
        return None;
    };
    let fields = registration_fields::validate(r, None, v, "registration.");
    let request_id = v.check("request_id", validate::request_id(&request.request_id));
    v.is_empty().then(|| NewRegistration {
        fields,
        request_id: request_id.flatten(),
    })
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct RegistrationApi {
    state: State,
}

impl RegistrationApi {
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

    fn registration<T>(
        &self,
        request: &Request<T>,
        field: &str,
        name: &str,
    ) -> Result<names::RegistrationName, Status> {
        let name = names::parse_registration(name).map_err(|d| validate::invalid(field, d))?;
        self.state.authorize(request, &name.tenant)?;
        Ok(name)
    }
}

#[tonic::async_trait]
impl RegistrationService for RegistrationApi {
    async fn create_registration(
        &self,
        request: Request<CreateRegistrationRequest>,
    ) -> Result<Response<CreateRegistrationResponse>, Status> {
        let webinar = self.webinar(&request, "parent", &request.get_ref().parent)?;
        let mut v = Violations::new();
        let item = validate_item(request.get_ref(), &webinar, &mut v, false);
        v.into_result()?;
        let _ = item;
        Err(not_wired("CreateRegistration"))
    }

    async fn batch_create_registrations(
        &self,
        request: Request<BatchCreateRegistrationsRequest>,
    ) -> Result<Response<BatchCreateRegistrationsResponse>, Status> {
        let webinar = self.webinar(&request, "parent", &request.get_ref().parent)?;
        let items = &request.get_ref().requests;
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(validate::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH} items"),
            ));
        }
        let _validated: Vec<Result<NewRegistration, Vec<tonic_types::FieldViolation>>> = items
            .iter()
            .map(|item| {
                let mut v = Violations::new();
                validate_item(item, &webinar, &mut v, true).ok_or_else(|| v.into_vec())
            })
            .collect();
        Err(not_wired("BatchCreateRegistrations"))
    }

    async fn get_registration(
        &self,
        request: Request<GetRegistrationRequest>,
    ) -> Result<Response<GetRegistrationResponse>, Status> {
        let _name = self.registration(&request, "name", &request.get_ref().name)?;
        Err(not_wired("GetRegistration"))
    }

    async fn list_registrations(
        &self,
        request: Request<ListRegistrationsRequest>,
    ) -> Result<Response<ListRegistrationsResponse>, Status> {
        let req = request.get_ref();
        let webinar = self.webinar(&request, "parent", &req.parent)?;
        let mut v = Violations::new();
        let _size = v.check("page_size", validate::page_size(req.page_size));
        let _statuses = v.check(
            "filter",
            registration_fields::parse_status_filter(&req.filter),
        );
        let scope = format!(
            "registrations|{}|{}|{}",
            webinar.tenant,
            webinar.webinar,
            req.filter.trim()
        );
        let _cursor = if req.page_token.is_empty() {
            None
        } else {
            v.check(
                "page_token",
                self.state.tokens.decode(&scope, &req.page_token),
            )
        };
        v.into_result()?;
        Err(not_wired("ListRegistrations"))
    }

    async fn update_registration(
        &self,
        request: Request<UpdateRegistrationRequest>,
    ) -> Result<Response<UpdateRegistrationResponse>, Status> {
        let req = request.get_ref();
        let Some(r) = &req.registration else {
            return Err(validate::invalid("registration", "required"));
        };
        let _name = self.registration(&request, "registration.name", &r.name)?;
        let mut v = Violations::new();
        let allowed = registration_fields::updatable();
        let paths: Vec<&str> = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if paths.is_empty() {
            v.add("update_mask", "required; name the fields to change");
        }
        for path in &paths {
            if !allowed.contains(path) {
                v.add(
                    "update_mask",
                    format!(
                        "`{path}` cannot be updated; allowed: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        let _fields = registration_fields::validate(r, Some(&paths), &mut v, "registration.");
        v.into_result()?;
        Err(not_wired("UpdateRegistration"))
    }

    async fn cancel_registration(
        &self,
        request: Request<CancelRegistrationRequest>,
    ) -> Result<Response<CancelRegistrationResponse>, Status> {
        let _name = self.registration(&request, "name", &request.get_ref().name)?;
        Err(not_wired("CancelRegistration"))
    }

    async fn forget_person(
        &self,
        request: Request<ForgetPersonRequest>,
    ) -> Result<Response<ForgetPersonResponse>, Status> {
        let req = request.get_ref();
        let tenant =
            names::parse_tenant(&req.parent).map_err(|d| validate::invalid("parent", d))?;
        self.state.authorize(&request, &tenant.tenant)?;
        validate::email(&req.email).map_err(|d| validate::invalid("email", d))?;
        Err(not_wired("ForgetPerson"))
    }
}
