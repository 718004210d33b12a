//! Typed calls to the integration service for one tenant: ON24 credentials, webinars,
//! registrations and metrics. Every call carries the connection's deadline; every call the
//! contract documents as safe to repeat is retried on UNAVAILABLE (creates get a generated
//! `request_id` so a retry cannot create twice).

use futures::stream::BoxStream;
use prost_types::FieldMask;
use proto::webinar::v1::{
    self as pb, metrics_service_client::MetricsServiceClient,
    person_data_service_client::PersonDataServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    tenant_service_client::TenantServiceClient, webinar_service_client::WebinarServiceClient,
};

use crate::{
    ClientError, Connection, names,
    paging::paginate,
    retry::{Idempotency::Idempotent, with_retries},
};

/// Runs one unary RPC with the deadline and retries.
macro_rules! unary {
    ($conn:expr, $client:ident, $method:ident, $request:expr) => {{
        let conn: &Connection = $conn;
        let request = $request;
        with_retries(&conn.retry, Idempotent, || {
            let mut client = $client::new(conn.service());
            let request = conn.request(request.clone());
            async move {
                client
                    .$method(request)
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await
    }};
}

/// The integration service API for one tenant.
#[derive(Debug, Clone)]
pub struct WebinarApi {
    conn: Connection,
    tenant: String,
}

/// The result of one item of a batch registration.
pub type BatchItem = Result<(pb::Registration, bool), pb::ItemError>;

impl WebinarApi {
    /// Calls on behalf of `tenant` over `conn`.
    pub fn new(conn: Connection, tenant: &str) -> Self {
        Self {
            conn,
            tenant: tenant.to_string(),
        }
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The connection (for the change feed and custom calls).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Full webinar name from a short id or a full name.
    pub fn webinar_name(&self, id_or_name: &str) -> String {
        names::webinar(&self.tenant, id_or_name)
    }

    // ---- ON24 credentials -------------------------------------------------------------

    /// Creates or replaces the tenant's ON24 credentials (an upsert, so retried safely).
    pub async fn put_credentials(
        &self,
        mut credentials: pb::On24Credentials,
        live_check: bool,
        validate_only: bool,
    ) -> Result<pb::On24Credentials, ClientError> {
        credentials.name = names::credentials(&self.tenant);
        let response = unary!(
            &self.conn,
            ProviderConfigServiceClient,
            put_on24_credentials,
            pb::PutOn24CredentialsRequest {
                on24_credentials: Some(credentials),
                validate_only,
                live_check,
            }
        )?;
        required(response.on24_credentials, "on24_credentials")
    }

    /// The tenant's ON24 configuration and health (never the secrets).
    pub async fn get_credentials(&self) -> Result<pb::On24Credentials, ClientError> {
        let name = names::credentials(&self.tenant);
        let response = unary!(
            &self.conn,
            ProviderConfigServiceClient,
            get_on24_credentials,
            pb::GetOn24CredentialsRequest { name }
        )?;
        required(response.on24_credentials, "on24_credentials")
    }

    /// Calls ON24 now and returns the refreshed health.
    pub async fn check_credentials(&self) -> Result<pb::On24Credentials, ClientError> {
        let name = names::credentials(&self.tenant);
        let response = unary!(
            &self.conn,
            ProviderConfigServiceClient,
            check_on24_credentials,
            pb::CheckOn24CredentialsRequest { name }
        )?;
        required(response.on24_credentials, "on24_credentials")
    }

    /// Deletes the credentials (disables the integration); returns the paused deliveries.
    pub async fn delete_credentials(&self) -> Result<i64, ClientError> {
        let name = names::credentials(&self.tenant);
        let response = unary!(
            &self.conn,
            ProviderConfigServiceClient,
            delete_on24_credentials,
            pb::DeleteOn24CredentialsRequest { name }
        )?;
        Ok(response.paused_delivery_count)
    }

    // ---- the tenant ----------------------------------------------------------------------

    /// Deletes everything the service holds for the tenant (administrators only), after asking
    /// ON24 to forget its delivered registrants when `forget_at_on24`. Retried on UNAVAILABLE:
    /// a repeat continues the same purge.
    pub async fn purge_tenant(
        &self,
        forget_at_on24: bool,
    ) -> Result<pb::PurgeTenantResponse, ClientError> {
        unary!(
            &self.conn,
            TenantServiceClient,
            purge_tenant,
            pb::PurgeTenantRequest {
                name: names::tenant(&self.tenant),
                forget_at_on24,
            }
        )
    }

    // ---- webinars ---------------------------------------------------------------------

    /// Creates a webinar; `request_id` defaults to a fresh UUID so retries are idempotent.
    pub async fn create_webinar(
        &self,
        webinar: pb::Webinar,
        request_id: Option<String>,
    ) -> Result<pb::Webinar, ClientError> {
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            create_webinar,
            pb::CreateWebinarRequest {
                parent: names::tenant(&self.tenant),
                webinar: Some(webinar),
                request_id: request_id.unwrap_or_else(new_request_id),
            }
        )?;
        required(response.webinar, "webinar")
    }

    /// Links an existing ON24 event.
    pub async fn link_webinar(
        &self,
        on24_event_id: i64,
        crm_reference_id: &str,
        request_id: Option<String>,
    ) -> Result<pb::Webinar, ClientError> {
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            link_webinar,
            pb::LinkWebinarRequest {
                parent: names::tenant(&self.tenant),
                on24_event_id,
                crm_reference_id: crm_reference_id.to_string(),
                request_id: request_id.unwrap_or_else(new_request_id),
            }
        )?;
        required(response.webinar, "webinar")
    }

    /// Links the tenant's past ON24 events whose live start is at or after `since` (and
    /// whose broadcast ended), and pulls their registrants and metrics; a repeat links
    /// nothing twice.
    pub async fn backfill_webinars(
        &self,
        since: prost_types::Timestamp,
    ) -> Result<pb::BackfillWebinarsResponse, ClientError> {
        unary!(
            &self.conn,
            WebinarServiceClient,
            backfill_webinars,
            pb::BackfillWebinarsRequest {
                parent: names::tenant(&self.tenant),
                since: Some(since),
            }
        )
    }

    /// One webinar by short id or name.
    pub async fn get_webinar(&self, webinar: &str) -> Result<pb::Webinar, ClientError> {
        let name = self.webinar_name(webinar);
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            get_webinar,
            pb::GetWebinarRequest { name }
        )?;
        required(response.webinar, "webinar")
    }

    /// One page of webinars and the next page token.
    pub async fn list_webinars_page(
        &self,
        page_token: Option<String>,
        page_size: i32,
        show_unlinked: bool,
    ) -> Result<(Vec<pb::Webinar>, String), ClientError> {
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            list_webinars,
            pb::ListWebinarsRequest {
                parent: names::tenant(&self.tenant),
                page_size,
                page_token: page_token.unwrap_or_default(),
                show_unlinked,
            }
        )?;
        Ok((response.webinars, response.next_page_token))
    }

    /// Every webinar, page by page.
    pub fn list_webinars(
        &self,
        page_size: i32,
        show_unlinked: bool,
    ) -> BoxStream<'static, Result<pb::Webinar, ClientError>> {
        let api = self.clone();
        paginate(move |token| {
            let api = api.clone();
            async move {
                api.list_webinars_page(Some(token), page_size, show_unlinked)
                    .await
            }
        })
    }

    /// Updates the fields named in `paths` (e.g. `title`).
    pub async fn update_webinar(
        &self,
        webinar: pb::Webinar,
        paths: Vec<String>,
    ) -> Result<pb::Webinar, ClientError> {
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            update_webinar,
            pb::UpdateWebinarRequest {
                webinar: Some(webinar),
                update_mask: Some(FieldMask { paths }),
            }
        )?;
        required(response.webinar, "webinar")
    }

    /// Unlinks a webinar.
    pub async fn unlink_webinar(&self, webinar: &str) -> Result<pb::Webinar, ClientError> {
        let name = self.webinar_name(webinar);
        let response = unary!(
            &self.conn,
            WebinarServiceClient,
            unlink_webinar,
            pb::UnlinkWebinarRequest { name }
        )?;
        required(response.webinar, "webinar")
    }

    // ---- registrations ----------------------------------------------------------------

    /// Registers one attendee; returns the registration and whether this call created it.
    pub async fn create_registration(
        &self,
        webinar: &str,
        registration: pb::Registration,
        request_id: Option<String>,
    ) -> Result<(pb::Registration, bool), ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            create_registration,
            pb::CreateRegistrationRequest {
                parent: self.webinar_name(webinar),
                registration: Some(registration),
                request_id: request_id.unwrap_or_else(new_request_id),
            }
        )?;
        Ok((
            required(response.registration, "registration")?,
            response.created,
        ))
    }

    /// Registers up to 1,000 attendees in one call (idempotent by email, so retried safely).
    /// One result per item, in order.
    pub async fn batch_create_registrations(
        &self,
        webinar: &str,
        registrations: Vec<pb::Registration>,
    ) -> Result<Vec<BatchItem>, ClientError> {
        let count = registrations.len();
        let requests = registrations
            .into_iter()
            .map(|registration| pb::CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(registration),
                request_id: String::new(),
            })
            .collect();
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            batch_create_registrations,
            pb::BatchCreateRegistrationsRequest {
                parent: self.webinar_name(webinar),
                requests,
            }
        )?;
        let mut results: Vec<Option<BatchItem>> = (0..count).map(|_| None).collect();
        for result in response.results {
            let slot = usize::try_from(result.index)
                .ok()
                .and_then(|i| results.get_mut(i));
            let Some(slot) = slot else { continue };
            *slot = Some(match result.result {
                Some(pb::batch_create_registration_result::Result::Registration(r)) => {
                    Ok((r, result.created))
                }
                Some(pb::batch_create_registration_result::Result::Error(e)) => Err(e),
                None => Err(missing_item()),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(missing_item())))
            .collect())
    }

    /// One registration by full name.
    pub async fn get_registration(&self, name: &str) -> Result<pb::Registration, ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            get_registration,
            pb::GetRegistrationRequest {
                name: name.to_string()
            }
        )?;
        required(response.registration, "registration")
    }

    /// One page of registrations; `filter` like `status = DELIVERED`.
    pub async fn list_registrations_page(
        &self,
        webinar: &str,
        filter: &str,
        page_token: Option<String>,
        page_size: i32,
    ) -> Result<(Vec<pb::Registration>, String), ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            list_registrations,
            pb::ListRegistrationsRequest {
                parent: self.webinar_name(webinar),
                page_size,
                page_token: page_token.unwrap_or_default(),
                filter: filter.to_string(),
            }
        )?;
        Ok((response.registrations, response.next_page_token))
    }

    /// Every registration of a webinar matching `filter`, page by page.
    pub fn list_registrations(
        &self,
        webinar: &str,
        filter: &str,
        page_size: i32,
    ) -> BoxStream<'static, Result<pb::Registration, ClientError>> {
        let (api, webinar, filter) = (self.clone(), webinar.to_string(), filter.to_string());
        paginate(move |token| {
            let (api, webinar, filter) = (api.clone(), webinar.clone(), filter.clone());
            async move {
                api.list_registrations_page(&webinar, &filter, Some(token), page_size)
                    .await
            }
        })
    }

    /// Cancels a registration (idempotent).
    pub async fn cancel_registration(&self, name: &str) -> Result<pb::Registration, ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            cancel_registration,
            pb::CancelRegistrationRequest {
                name: name.to_string()
            }
        )?;
        required(response.registration, "registration")
    }

    /// Forgets a person across the tenant (GDPR); returns how many registrations were erased.
    pub async fn forget_person(&self, email: &str) -> Result<i64, ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            forget_person,
            pb::ForgetPersonRequest {
                parent: names::tenant(&self.tenant),
                email: email.to_string(),
                ..Default::default()
            }
        )?;
        Ok(response.forgotten_registration_count)
    }

    /// Forgets a person across the tenant (GDPR) and returns the whole answer with its
    /// erasure request, to follow with [`Self::get_erasure_request`].
    pub async fn forget_person_request(
        &self,
        email: &str,
        forget_at_on24_if_unknown: bool,
    ) -> Result<pb::ForgetPersonResponse, ClientError> {
        unary!(
            &self.conn,
            RegistrationServiceClient,
            forget_person,
            pb::ForgetPersonRequest {
                parent: names::tenant(&self.tenant),
                email: email.to_string(),
                forget_at_on24_if_unknown,
            }
        )
    }

    /// One erasure request, by full name or bare id.
    pub async fn get_erasure_request(&self, name: &str) -> Result<pb::ErasureRequest, ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            get_erasure_request,
            pb::GetErasureRequestRequest {
                name: names::erasure_request(&self.tenant, name)
            }
        )?;
        required(response.erasure_request, "erasure_request")
    }

    /// Queues the ON24 part of a FAILED erasure request again; `email` is the address it
    /// erased (the request keeps none).
    pub async fn retry_erasure_request(
        &self,
        name: &str,
        email: &str,
    ) -> Result<pb::ErasureRequest, ClientError> {
        let response = unary!(
            &self.conn,
            RegistrationServiceClient,
            retry_erasure_request,
            pb::RetryErasureRequestRequest {
                name: names::erasure_request(&self.tenant, name),
                email: email.to_string(),
            }
        )?;
        required(response.erasure_request, "erasure_request")
    }

    /// Everything the tenant holds about one person (GDPR access request).
    pub async fn export_person_data(
        &self,
        email: &str,
    ) -> Result<pb::ExportPersonDataResponse, ClientError> {
        unary!(
            &self.conn,
            PersonDataServiceClient,
            export_person_data,
            pb::ExportPersonDataRequest {
                parent: names::tenant(&self.tenant),
                email: email.to_string(),
            }
        )
    }

    // ---- metrics ----------------------------------------------------------------------

    /// Aggregated metrics of a webinar.
    pub async fn get_webinar_metrics(
        &self,
        webinar: &str,
    ) -> Result<pb::WebinarMetrics, ClientError> {
        let name = format!("{}/metrics", self.webinar_name(webinar));
        let response = unary!(
            &self.conn,
            MetricsServiceClient,
            get_webinar_metrics,
            pb::GetWebinarMetricsRequest { name }
        )?;
        required(response.webinar_metrics, "webinar_metrics")
    }

    /// Every attendee's metrics of a webinar, page by page.
    pub fn list_attendee_metrics(
        &self,
        webinar: &str,
        page_size: i32,
    ) -> BoxStream<'static, Result<pb::AttendeeMetrics, ClientError>> {
        let (api, parent) = (self.clone(), self.webinar_name(webinar));
        paginate(move |page_token| {
            let (api, parent) = (api.clone(), parent.clone());
            async move {
                let response = unary!(
                    &api.conn,
                    MetricsServiceClient,
                    list_attendee_metrics,
                    pb::ListAttendeeMetricsRequest {
                        parent,
                        page_size,
                        page_token,
                    }
                )?;
                Ok((response.attendee_metrics, response.next_page_token))
            }
        })
    }

    /// Asks for a metrics pull now.
    pub async fn sync_webinar_metrics(
        &self,
        webinar: &str,
    ) -> Result<Option<prost_types::Timestamp>, ClientError> {
        let name = self.webinar_name(webinar);
        let response = unary!(
            &self.conn,
            MetricsServiceClient,
            sync_webinar_metrics,
            pb::SyncWebinarMetricsRequest { name }
        )?;
        Ok(response.request_time)
    }

    /// The changes after `after_cursor` (one page) and the cursor to continue from.
    pub async fn list_changes(
        &self,
        after_cursor: &str,
        page_size: i32,
        webinar: Option<&str>,
    ) -> Result<(Vec<pb::Change>, String), ClientError> {
        let response = unary!(
            &self.conn,
            MetricsServiceClient,
            list_changes,
            pb::ListChangesRequest {
                parent: names::tenant(&self.tenant),
                after_cursor: after_cursor.to_string(),
                page_size,
                webinar: webinar.map(|w| self.webinar_name(w)).unwrap_or_default(),
            }
        )?;
        Ok((response.changes, response.next_cursor))
    }
}

/// A fresh client request id (UUID v4).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, ClientError> {
    value.ok_or_else(|| {
        ClientError::Status(Box::new(tonic::Status::internal(format!(
            "the server's response has no `{field}`"
        ))))
    })
}

fn missing_item() -> pb::ItemError {
    pb::ItemError {
        code: tonic::Code::Internal as i32,
        message: "the server returned no result for this item".into(),
        field_violations: Vec::new(),
        reason: String::new(),
    }
}
