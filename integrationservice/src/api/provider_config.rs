//! `ProviderConfigService`: put, get, check and delete a tenant's ON24 credentials.
//! Secrets are taken into secrets by their constructors (`domain::AccessToken`) and never
//! echoed back.

use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    CheckOn24CredentialsRequest, CheckOn24CredentialsResponse, DeleteOn24CredentialsRequest,
    DeleteOn24CredentialsResponse, GetOn24CredentialsRequest, GetOn24CredentialsResponse,
    On24Region, PutOn24CredentialsRequest, PutOn24CredentialsResponse,
    provider_config_service_server::ProviderConfigService,
};

use super::{State, convert, error::error_info_status, names, violations::Violations};
use crate::domain::providers::status_of;
use crate::domain::{AccessToken, BaseUrl, CredentialsInput, On24ClientId, Region};

/// A validated put of ON24 credentials. `Debug` prints no part of the tokens.
#[derive(Debug)]
pub(crate) struct PutCredentials {
    /// Tenant id.
    pub tenant: crate::domain::TenantId,
    /// The credentials, each field checked by its domain constructor.
    pub input: CredentialsInput,
    /// Store nothing.
    pub validate_only: bool,
    /// Call ON24 first.
    pub live_check: bool,
}

/// Validates a put request (everything but the tenant authorization): each field through
/// its domain constructor, every refusal named with its proto field path.
pub(crate) fn validate_put(
    request: PutOn24CredentialsRequest,
    egress: &on24_client::EgressPolicy,
) -> Result<PutCredentials, Status> {
    let mut v = Violations::new();
    let Some(creds) = request.on24_credentials else {
        v.add("on24_credentials", "required");
        return Err(v
            .into_result()
            .err()
            .unwrap_or_else(|| Status::invalid_argument("")));
    };
    let tenant = v.check(
        "on24_credentials.name",
        names::parse_credentials(&creds.name),
    );
    let client_id = v.check(
        "on24_credentials.client_id",
        On24ClientId::parse(&creds.client_id),
    );
    let token_key = v.check(
        "on24_credentials.access_token_key",
        AccessToken::parse(creds.access_token_key),
    );
    let token_secret = v.check(
        "on24_credentials.access_token_secret",
        AccessToken::parse(creds.access_token_secret),
    );
    let base_url = v.check(
        "on24_credentials.base_url",
        BaseUrl::parse(&creds.base_url, egress),
    );
    let region = match On24Region::try_from(creds.region) {
        Ok(On24Region::Unspecified | On24Region::Na) => Some(Region::Na),
        Ok(On24Region::Eu) => Some(Region::Eu),
        Err(_) => {
            v.add(
                "on24_credentials.region",
                "must be ON24_REGION_NA or ON24_REGION_EU",
            );
            None
        }
    }
    .and_then(|region| v.check("on24_credentials.region", region.check_allowed(egress)));
    v.into_result()?;
    let (
        Some(tenant),
        Some(client_id),
        Some(access_token_key),
        Some(access_token_secret),
        Some(base_url),
        Some(region),
    ) = (tenant, client_id, token_key, token_secret, base_url, region)
    else {
        return Err(Status::invalid_argument("invalid request"));
    };
    Ok(PutCredentials {
        tenant: tenant.tenant,
        input: CredentialsInput {
            client_id,
            access_token_key,
            access_token_secret,
            region,
            base_url,
            check: false,
        },
        validate_only: request.validate_only,
        live_check: request.live_check,
    })
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct ProviderConfigApi {
    state: State,
}

impl ProviderConfigApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self { state }
    }
}

/// The ErrorInfo reason and code for an ON24 refusal seen by a live check.
fn live_check_refusal(status: crate::domain::CredentialStatus, message: &str) -> Status {
    use crate::domain::CredentialStatus as S;
    let message = format!("ON24 refused the credentials: {message}");
    match status {
        S::NotAuthenticated | S::TokenExpired => error_info_status(
            tonic::Code::FailedPrecondition,
            &message,
            "ON24_NOT_AUTHENTICATED",
            &[],
        ),
        S::Forbidden => error_info_status(
            tonic::Code::FailedPrecondition,
            &message,
            "ON24_FORBIDDEN",
            &[],
        ),
        _ => error_info_status(tonic::Code::Unavailable, &message, "ON24_UNAVAILABLE", &[]),
    }
}

#[tonic::async_trait]
impl ProviderConfigService for ProviderConfigApi {
    async fn put_on24_credentials(
        &self,
        request: Request<PutOn24CredentialsRequest>,
    ) -> Result<Response<PutOn24CredentialsResponse>, Status> {
        // Authorize on the name first, so a stranger learns nothing from validation.
        let name = request
            .get_ref()
            .on24_credentials
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        if let Ok(tenant) = names::parse_credentials(&name) {
            self.state.authorize(&request, &tenant.tenant)?;
        }
        let put = validate_put(request.into_inner(), &self.state.egress)?;
        let engine = &self.state.engine;
        if put.live_check {
            let creds = put.input.provider_credentials();
            let result = engine.provider().check_credentials(&creds).await;
            match status_of(&result) {
                Some((crate::domain::CredentialStatus::Healthy, _)) => {}
                Some((status, message)) => {
                    return Err(live_check_refusal(status, &message.unwrap_or_default()));
                }
                // Quota or another answer that says nothing about the credentials.
                None => {
                    return Err(live_check_refusal(
                        crate::domain::CredentialStatus::Unhealthy,
                        "ON24 could not confirm them now; retry later",
                    ));
                }
            }
        }
        if put.validate_only {
            let now = crate::store::now_ms();
            let input = &put.input;
            let preview = crate::domain::ProviderConfig {
                tenant: put.tenant.clone(),
                client_id: input.client_id.get().to_string(),
                region: input.region.as_str().to_owned(),
                base_url: input.base_url.as_ref().map(|u| u.as_str().to_owned()),
                key_last_four: input.access_token_key.last_four(),
                status: if put.live_check {
                    crate::domain::CredentialStatus::Healthy
                } else {
                    crate::domain::CredentialStatus::Unchecked
                },
                status_message: None,
                last_check_at: put.live_check.then_some(now),
                last_metrics_at: None,
                created_at: now,
                updated_at: now,
            };
            return Ok(Response::new(PutOn24CredentialsResponse {
                on24_credentials: Some(convert::credentials(&preview)),
            }));
        }
        let mut config = engine.providers().put(&put.tenant, put.input).await?;
        if put.live_check {
            // The check above passed: record it rather than calling ON24 a second time.
            engine.providers().record(&put.tenant, &Ok(())).await?;
            config = engine.providers().get(&put.tenant).await?;
        }
        Ok(Response::new(PutOn24CredentialsResponse {
            on24_credentials: Some(convert::credentials(&config)),
        }))
    }

    async fn get_on24_credentials(
        &self,
        request: Request<GetOn24CredentialsRequest>,
    ) -> Result<Response<GetOn24CredentialsResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "name",
                &request.get_ref().name,
                names::parse_credentials,
            )?
            .tenant;
        let config = self.state.engine.providers().get(&tenant).await?;
        Ok(Response::new(GetOn24CredentialsResponse {
            on24_credentials: Some(convert::credentials(&config)),
        }))
    }

    async fn check_on24_credentials(
        &self,
        request: Request<CheckOn24CredentialsRequest>,
    ) -> Result<Response<CheckOn24CredentialsResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "name",
                &request.get_ref().name,
                names::parse_credentials,
            )?
            .tenant;
        let config = self
            .state
            .engine
            .providers()
            .check(&tenant)
            .await
            .map_err(not_configured)?;
        Ok(Response::new(CheckOn24CredentialsResponse {
            on24_credentials: Some(convert::credentials(&config)),
        }))
    }

    async fn delete_on24_credentials(
        &self,
        request: Request<DeleteOn24CredentialsRequest>,
    ) -> Result<Response<DeleteOn24CredentialsResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "name",
                &request.get_ref().name,
                names::parse_credentials,
            )?
            .tenant;
        let paused_delivery_count = self.state.engine.providers().delete(&tenant).await?;
        Ok(Response::new(DeleteOn24CredentialsResponse {
            paused_delivery_count,
        }))
    }
}

/// Without credentials there is nothing to check: NOT_FOUND, as documented.
fn not_configured(e: crate::domain::Error) -> Status {
    match e {
        crate::domain::Error::IntegrationDisabled { tenant, .. } => {
            Status::not_found(format!("tenants/{tenant}/on24Credentials not found"))
        }
        other => other.into(),
    }
}
