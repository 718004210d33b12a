//! `RegistrationService`: register one or a batch, get, list, update, cancel, forget, lift a
//! suppression, and get, list or retry erasure requests.

use std::sync::Arc;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    BatchCreateRegistrationsRequest, BatchCreateRegistrationsResponse, CancelRegistrationRequest,
    CancelRegistrationResponse, CreateRegistrationRequest, CreateRegistrationResponse,
    ForgetPersonRequest, ForgetPersonResponse, GetErasureRequestRequest, GetErasureRequestResponse,
    GetRegistrationRequest, GetRegistrationResponse, ListErasureRequestsRequest,
    ListErasureRequestsResponse, ListRegistrationsRequest, ListRegistrationsResponse,
    RetryErasureRequestRequest, RetryErasureRequestResponse, UnsuppressPersonRequest,
    UnsuppressPersonResponse, UpdateRegistrationRequest, UpdateRegistrationResponse,
    registration_service_server::RegistrationService,
};

use proto::webinar::v1::{
    BatchCreateRegistrationResult, ItemError, batch_create_registration_result,
};

use super::{
    State,
    audit::Access,
    convert, names,
    registration_fields::{self, RegistrationFields},
    violations,
    violations::Violations,
    wrap_token,
};
use crate::domain::{self, Email, RegistrationInput, RegistrationPatch, RequestId};

/// Most items in one `BatchCreateRegistrations`.
pub(crate) const MAX_BATCH: usize = 1000;

/// Parses one create, alone or as a batch item, given the authorized webinar. Field paths
/// are relative to the request item in both cases (`registration.email`).
pub(crate) fn validate_item(
    request: &CreateRegistrationRequest,
    webinar: &names::WebinarName,
    v: &mut Violations,
    in_batch: bool,
    questions: Option<&[domain::RegistrationQuestion]>,
) -> Option<RegistrationInput> {
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
    let f = registration_fields::validate(r, None, v, "registration.", questions);
    let request_id = v.check("request_id", RequestId::parse_optional(&request.request_id));
    if !v.is_empty() {
        return None;
    }
    input(f, request_id?)
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct RegistrationApi {
    state: State,
    /// Batches being validated and written at once (see [`batch_writes_in_flight`]).
    batch_writes: Arc<Semaphore>,
}

/// How many `BatchCreateRegistrations` are worked on at once; the others wait their turn.
/// A batch of 1,000 holds about 8 MiB while it is validated, sealed and written, and the work
/// is CPU-bound (sealing, hashing, encoding the insert), so batches beyond one per core add
/// memory, not throughput: four at once took the service's peak RSS from 48 to 70 MiB for
/// the same rows a second. Bounding it keeps memory flat however many callers send batches.
fn batch_writes_in_flight() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl RegistrationApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self {
            state,
            batch_writes: Arc::new(Semaphore::new(batch_writes_in_flight())),
        }
    }

    /// The webinar's custom registration questions, to check answers against: None while
    /// they have not been read from ON24, or when the webinar cannot be read (the write that
    /// follows then answers NOT_FOUND itself).
    async fn questions(
        &self,
        tenant: &domain::TenantId,
        webinar: &domain::WebinarId,
    ) -> Option<Vec<domain::RegistrationQuestion>> {
        self.state
            .engine
            .webinars()
            .get(tenant, webinar)
            .await
            .ok()?
            .registration_questions
    }
}

/// The domain's input from fields that all parsed (None if a required one is missing).
fn input(f: RegistrationFields, request_id: Option<RequestId>) -> Option<RegistrationInput> {
    Some(RegistrationInput {
        email: f.email?,
        first_name: f.first_name?,
        last_name: f.last_name?,
        company: f.company.flatten(),
        job_title: f.job_title.flatten(),
        crm_reference_id: f.crm_reference_id.flatten(),
        fields: f.fields,
        request_id,
    })
}

/// A batch item's error as the proto's `ItemError`.
fn item_error(status: &Status) -> ItemError {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    ItemError {
        code: status.code() as i32,
        message: status.message().to_owned(),
        field_violations: details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| proto::webinar::v1::FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        reason: details
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default(),
    }
}

fn result(
    index: usize,
    outcome: Result<(domain::Registration, bool), Status>,
) -> BatchCreateRegistrationResult {
    use batch_create_registration_result::Result as R;
    let index = i32::try_from(index).unwrap_or(i32::MAX);
    match outcome {
        Ok((r, created)) => BatchCreateRegistrationResult {
            index,
            result: Some(R::Registration(convert::registration(&r))),
            created,
        },
        Err(status) => BatchCreateRegistrationResult {
            index,
            result: Some(R::Error(item_error(&status))),
            created: false,
        },
    }
}

#[tonic::async_trait]
impl RegistrationService for RegistrationApi {
    async fn create_registration(
        &self,
        request: Request<CreateRegistrationRequest>,
    ) -> Result<Response<CreateRegistrationResponse>, Status> {
        let webinar = self.state.resolve(
            &request,
            "parent",
            &request.get_ref().parent,
            names::parse_webinar,
        )?;
        let result = async {
            let questions = self.questions(&webinar.tenant, &webinar.webinar).await;
            let mut v = Violations::new();
            let item = validate_item(
                request.get_ref(),
                &webinar,
                &mut v,
                false,
                questions.as_deref(),
            );
            v.into_result()?;
            let item = item.ok_or_else(|| Status::invalid_argument("invalid registration"))?;
            let (r, created) = self
                .state
                .engine
                .registrations()
                .register(&webinar.tenant, &webinar.webinar, item)
                .await?;
            Ok(CreateRegistrationResponse {
                registration: Some(convert::registration(&r)),
                created,
            })
        }
        .await;
        let access = Access {
            method: "CreateRegistration",
            tenant: &webinar.tenant,
            resource: &request.get_ref().parent,
        };
        self.state
            .audited(&request, access, result, |_| 1)
            .await
            .map(Response::new)
    }

    async fn batch_create_registrations(
        &self,
        request: Request<BatchCreateRegistrationsRequest>,
    ) -> Result<Response<BatchCreateRegistrationsResponse>, Status> {
        let webinar = self.state.resolve(
            &request,
            "parent",
            &request.get_ref().parent,
            names::parse_webinar,
        )?;
        let result = self.batch(&request, &webinar).await;
        let access = Access {
            method: "BatchCreateRegistrations",
            tenant: &webinar.tenant,
            resource: &request.get_ref().parent,
        };
        self.state
            .audited(&request, access, result, |r| {
                r.results
                    .iter()
                    .filter(|i| {
                        matches!(
                            i.result,
                            Some(batch_create_registration_result::Result::Registration(_))
                        )
                    })
                    .count()
            })
            .await
            .map(Response::new)
    }

    async fn get_registration(
        &self,
        request: Request<GetRegistrationRequest>,
    ) -> Result<Response<GetRegistrationResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_registration,
        )?;
        let result = self
            .state
            .engine
            .registrations()
            .get(&name.tenant, &name.webinar, &name.registration)
            .await
            .map(|r| GetRegistrationResponse {
                registration: Some(convert::registration(&r)),
            })
            .map_err(Status::from);
        let access = Access {
            method: "GetRegistration",
            tenant: &name.tenant,
            resource: &request.get_ref().name,
        };
        self.state
            .audited(&request, access, result, |_| 1)
            .await
            .map(Response::new)
    }

    async fn list_registrations(
        &self,
        request: Request<ListRegistrationsRequest>,
    ) -> Result<Response<ListRegistrationsResponse>, Status> {
        let req = request.get_ref();
        let webinar = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_webinar)?;
        let result = self.list(req, &webinar).await;
        // The filter (which may hold an email) is not recorded.
        let access = Access {
            method: "ListRegistrations",
            tenant: &webinar.tenant,
            resource: &req.parent,
        };
        self.state
            .audited(&request, access, result, |r| r.registrations.len())
            .await
            .map(Response::new)
    }

    async fn update_registration(
        &self,
        request: Request<UpdateRegistrationRequest>,
    ) -> Result<Response<UpdateRegistrationResponse>, Status> {
        let req = request.get_ref();
        let Some(r) = &req.registration else {
            return Err(violations::invalid("registration", "required"));
        };
        let name = self.state.resolve(
            &request,
            "registration.name",
            &r.name,
            names::parse_registration,
        )?;
        let result = self.update(req, r, &name).await;
        let access = Access {
            method: "UpdateRegistration",
            tenant: &name.tenant,
            resource: &r.name,
        };
        self.state
            .audited(&request, access, result, |_| 1)
            .await
            .map(Response::new)
    }

    async fn cancel_registration(
        &self,
        request: Request<CancelRegistrationRequest>,
    ) -> Result<Response<CancelRegistrationResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_registration,
        )?;
        let result = self
            .state
            .engine
            .registrations()
            .cancel(&name.tenant, &name.webinar, &name.registration)
            .await
            .map(|r| CancelRegistrationResponse {
                registration: Some(convert::registration(&r)),
            })
            .map_err(Status::from);
        let access = Access {
            method: "CancelRegistration",
            tenant: &name.tenant,
            resource: &request.get_ref().name,
        };
        self.state
            .audited(&request, access, result, |_| 1)
            .await
            .map(Response::new)
    }

    async fn forget_person(
        &self,
        request: Request<ForgetPersonRequest>,
    ) -> Result<Response<ForgetPersonResponse>, Status> {
        let req = request.get_ref();
        let tenant = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_tenant)?;
        let result = async {
            let email = Email::parse(&req.email).map_err(|e| violations::invalid("email", e))?;
            let done = self
                .state
                .engine
                .registrations()
                .forget(&tenant.tenant, &email, req.forget_at_on24_if_unknown)
                .await?;
            Ok(ForgetPersonResponse {
                forgotten_registration_count: i64::try_from(done.registrations).unwrap_or(i64::MAX),
                on24_erasure_queued: done.provider_erasure_queued,
                erasure_request: Some(convert::erasure_request(&done.request)),
            })
        }
        .await;
        // The erasure request names what was done; the email is never recorded.
        let resource = result
            .as_ref()
            .ok()
            .and_then(|r| r.erasure_request.as_ref())
            .map_or_else(|| req.parent.clone(), |e| e.name.clone());
        let access = Access {
            method: "ForgetPerson",
            tenant: &tenant.tenant,
            resource: &resource,
        };
        self.state
            .audited(&request, access, result, |r| {
                usize::try_from(r.forgotten_registration_count).unwrap_or(usize::MAX)
            })
            .await
            .map(Response::new)
    }

    async fn unsuppress_person(
        &self,
        request: Request<UnsuppressPersonRequest>,
    ) -> Result<Response<UnsuppressPersonResponse>, Status> {
        let req = request.get_ref();
        let tenant =
            names::parse_tenant(&req.parent).map_err(|d| violations::invalid("parent", d))?;
        let principal = self.state.authorize(&request, &tenant.tenant)?;
        let result = async {
            let email = Email::parse(&req.email).map_err(|e| violations::invalid("email", e))?;
            let lifted = self
                .state
                .engine
                .suppressions()
                .lift(&tenant.tenant, &email)
                .await?;
            // Who lifted a suppression in which tenant; never whose.
            tracing::info!(
                principal = %principal,
                tenant = %tenant.tenant,
                lifted,
                "suppression lift requested"
            );
            Ok(UnsuppressPersonResponse { lifted })
        }
        .await;
        let access = Access {
            method: "UnsuppressPerson",
            tenant: &tenant.tenant,
            resource: &req.parent,
        };
        self.state
            .audited(&request, access, result, |r| usize::from(r.lifted))
            .await
            .map(Response::new)
    }

    async fn get_erasure_request(
        &self,
        request: Request<GetErasureRequestRequest>,
    ) -> Result<Response<GetErasureRequestResponse>, Status> {
        let name = self.state.resolve(
            &request,
            "name",
            &request.get_ref().name,
            names::parse_erasure_request,
        )?;
        let r = self
            .state
            .engine
            .erasure_requests()
            .get(&name.tenant, &name.erasure_request)
            .await?;
        Ok(Response::new(GetErasureRequestResponse {
            erasure_request: Some(convert::erasure_request(&r)),
        }))
    }

    async fn list_erasure_requests(
        &self,
        request: Request<ListErasureRequestsRequest>,
    ) -> Result<Response<ListErasureRequestsResponse>, Status> {
        let req = request.get_ref();
        let tenant = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_tenant)?;
        let mut v = Violations::new();
        let scope = format!("erasureRequests|{}", tenant.tenant);
        let paging = self
            .state
            .paging(&mut v, &scope, req.page_size, &req.page_token);
        let paging = v.into_value(paging)?;
        let page = self
            .state
            .engine
            .erasure_requests()
            .list(&tenant.tenant, paging.size, &paging.token)
            .await?;
        Ok(Response::new(ListErasureRequestsResponse {
            erasure_requests: page.items.iter().map(convert::erasure_request).collect(),
            next_page_token: wrap_token(&self.state, &scope, &page.next_page_token),
        }))
    }

    async fn retry_erasure_request(
        &self,
        request: Request<RetryErasureRequestRequest>,
    ) -> Result<Response<RetryErasureRequestResponse>, Status> {
        let req = request.get_ref();
        let name = self
            .state
            .resolve(&request, "name", &req.name, names::parse_erasure_request)?;
        let result = async {
            let email = Email::parse(&req.email).map_err(|e| violations::invalid("email", e))?;
            let r = self
                .state
                .engine
                .registrations()
                .retry_erasure(&name.tenant, &name.erasure_request, &email)
                .await?;
            Ok(RetryErasureRequestResponse {
                erasure_request: Some(convert::erasure_request(&r)),
            })
        }
        .await;
        let access = Access {
            method: "RetryErasureRequest",
            tenant: &name.tenant,
            resource: &req.name,
        };
        self.state
            .audited(&request, access, result, |_| 1)
            .await
            .map(Response::new)
    }
}

impl RegistrationApi {
    /// The body of `BatchCreateRegistrations`, for the authorized webinar.
    async fn batch(
        &self,
        request: &Request<BatchCreateRegistrationsRequest>,
        webinar: &names::WebinarName,
    ) -> Result<BatchCreateRegistrationsResponse, Status> {
        let items = &request.get_ref().requests;
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(violations::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH} items"),
            ));
        }
        // Held until the answer is built; a call cancelled while waiting gives up its place.
        let _turn = self
            .batch_writes
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the service is shutting down"))?;
        // Invalid items are answered here; the valid ones go to the domain in one call.
        let mut outcomes: Vec<Option<Result<(domain::Registration, bool), Status>>> =
            Vec::with_capacity(items.len());
        let mut valid = Vec::new();
        let mut positions = Vec::new();
        let questions = self.questions(&webinar.tenant, &webinar.webinar).await;
        for (i, item) in items.iter().enumerate() {
            // Paths inside the item (`registration.email`): the result's `index` names it.
            let mut v = Violations::new();
            match validate_item(item, webinar, &mut v, true, questions.as_deref()) {
                Some(ok) => {
                    positions.push(i);
                    valid.push(ok);
                    outcomes.push(None);
                }
                None => outcomes.push(Some(Err(v
                    .into_result()
                    .err()
                    .unwrap_or_else(|| Status::invalid_argument("invalid item"))))),
            }
        }
        if !valid.is_empty() {
            let done = self
                .state
                .engine
                .registrations()
                .register_batch(&webinar.tenant, &webinar.webinar, valid)
                .await?;
            for (position, outcome) in positions.into_iter().zip(done) {
                let created = outcome.created;
                outcomes[position] =
                    Some(outcome.result.map(|r| (r, created)).map_err(Status::from));
            }
        }
        let results = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                result(
                    i,
                    o.unwrap_or_else(|| Err(Status::internal("internal error"))),
                )
            })
            .collect();
        Ok(BatchCreateRegistrationsResponse { results })
    }

    /// The body of `ListRegistrations`, for the authorized webinar.
    async fn list(
        &self,
        req: &ListRegistrationsRequest,
        webinar: &names::WebinarName,
    ) -> Result<ListRegistrationsResponse, Status> {
        let mut v = Violations::new();
        let filter = v.check("filter", registration_fields::parse_filter(&req.filter));
        let scope = format!(
            "registrations|{}|{}|{}",
            webinar.tenant,
            webinar.webinar,
            req.filter.trim()
        );
        let paging = self
            .state
            .paging(&mut v, &scope, req.page_size, &req.page_token);
        let (filter, paging) = v.into_value(filter.zip(paging))?;
        let wanted: Vec<domain::RegistrationStatus> = filter
            .statuses
            .iter()
            .filter_map(|s| convert::domain_status(*s))
            .collect();
        // One status is filtered by the store; several are filtered here (a page may then
        // hold fewer items than asked, which the page token still continues correctly).
        let single = (wanted.len() == 1).then(|| wanted[0]);
        let page = self
            .state
            .engine
            .registrations()
            .list(
                &webinar.tenant,
                &webinar.webinar,
                single,
                filter.email.as_ref(),
                paging.size,
                &paging.token,
            )
            .await?;
        Ok(ListRegistrationsResponse {
            registrations: page
                .items
                .iter()
                .filter(|r| wanted.is_empty() || wanted.contains(&r.status))
                .map(convert::registration)
                .collect(),
            next_page_token: wrap_token(&self.state, &scope, &page.next_page_token),
        })
    }

    /// The body of `UpdateRegistration`, for the authorized registration.
    async fn update(
        &self,
        req: &UpdateRegistrationRequest,
        r: &proto::webinar::v1::Registration,
        name: &names::RegistrationName,
    ) -> Result<UpdateRegistrationResponse, Status> {
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
        let questions = self.questions(&name.tenant, &name.webinar).await;
        let f = registration_fields::validate(
            r,
            Some(&paths),
            &mut v,
            "registration.",
            questions.as_deref(),
        );
        v.into_result()?;
        let patch = RegistrationPatch {
            first_name: f.first_name,
            last_name: f.last_name,
            company: f.company.map(Option::unwrap_or_default),
            job_title: f.job_title.map(Option::unwrap_or_default),
            fields: f.fields,
        };
        let updated = self
            .state
            .engine
            .registrations()
            .update(&name.tenant, &name.webinar, &name.registration, patch)
            .await?;
        Ok(UpdateRegistrationResponse {
            registration: Some(convert::registration(&updated)),
        })
    }
}
