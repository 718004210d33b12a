//! `ProviderConfigService`: put, get, check and delete a tenant's ON24 credentials.
//! Secrets are taken into `SecretString` as soon as they are validated and never echoed back.

use secrecy::SecretString;
use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    CheckOn24CredentialsRequest, CheckOn24CredentialsResponse, DeleteOn24CredentialsRequest,
    DeleteOn24CredentialsResponse, GetOn24CredentialsRequest, GetOn24CredentialsResponse,
    On24Region, PutOn24CredentialsRequest, PutOn24CredentialsResponse,
    provider_config_service_server::ProviderConfigService,
};

use super::{State, names, not_wired, validate, validate::Violations};

/// A validated put of ON24 credentials.
pub struct PutCredentials {
    /// Tenant id.
    pub tenant: String,
    /// ON24 client id.
    pub client_id: u64,
    /// `NA` or `EU`.
    pub region: &'static str,
    /// Explicit base URL, if any.
    pub base_url: Option<String>,
    /// Access token key.
    pub token_key: SecretString,
    /// Access token secret.
    pub token_secret: SecretString,
    /// Store nothing.
    pub validate_only: bool,
    /// Call ON24 first.
    pub live_check: bool,
}

impl std::fmt::Debug for PutCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutCredentials")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Validates a put request (everything but the tenant authorization).
pub fn validate_put(
    request: PutOn24CredentialsRequest,
    allow_http: bool,
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
        validate::on24_client_id(&creds.client_id),
    );
    v.check(
        "on24_credentials.access_token_key",
        validate::access_token(&creds.access_token_key),
    );
    v.check(
        "on24_credentials.access_token_secret",
        validate::access_token(&creds.access_token_secret),
    );
    v.check(
        "on24_credentials.base_url",
        validate::base_url(&creds.base_url, allow_http),
    );
    let region = match On24Region::try_from(creds.region) {
        Ok(On24Region::Unspecified | On24Region::Na) => Some("NA"),
        Ok(On24Region::Eu) => Some("EU"),
        Err(_) => {
            v.add(
                "on24_credentials.region",
                "must be ON24_REGION_NA or ON24_REGION_EU",
            );
            None
        }
    };
    v.into_result()?;
    let (Some(tenant), Some(client_id), Some(region)) = (tenant, client_id, region) else {
        return Err(Status::invalid_argument("invalid request"));
    };
    Ok(PutCredentials {
        tenant: tenant.tenant,
        client_id,
        region,
        base_url: (!creds.base_url.is_empty()).then_some(creds.base_url),
        token_key: SecretString::from(creds.access_token_key),
        token_secret: SecretString::from(creds.access_token_secret),
        validate_only: request.validate_only,
        live_check: request.live_check,
    })
}

/// The gRPC service.
#[derive(Debug, Clone)]
pub struct ProviderConfigApi {
    state: State,
}

impl ProviderConfigApi {
    /// A service over the shared state.
    pub fn new(state: State) -> Self {
        Self { state }
    }

    fn tenant_of<T>(&self, request: &Request<T>, name: &str) -> Result<String, Status> {
        let tenant = names::parse_credentials(name)
            .map_err(|d| validate::invalid("name", d))?
            .tenant;
        self.state.authorize(request, &tenant)?;
        Ok(tenant)
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
        let put = validate_put(request.into_inner(), self.state.allow_http)?;
        let _ = put;
        Err(not_wired("PutOn24Credentials"))
    }

    async fn get_on24_credentials(
        &self,
        request: Request<GetOn24CredentialsRequest>,
    ) -> Result<Response<GetOn24CredentialsResponse>, Status> {
        let _tenant = self.tenant_of(&request, &request.get_ref().name)?;
        Err(not_wired("GetOn24Credentials"))
    }

    async fn check_on24_credentials(
        &self,
        request: Request<CheckOn24CredentialsRequest>,
    ) -> Result<Response<CheckOn24CredentialsResponse>, Status> {
        let _tenant = self.tenant_of(&request, &request.get_ref().name)?;
        Err(not_wired("CheckOn24Credentials"))
    }

    async fn delete_on24_credentials(
        &self,
        request: Request<DeleteOn24CredentialsRequest>,
    ) -> Result<Response<DeleteOn24CredentialsResponse>, Status> {
        let _tenant = self.tenant_of(&request, &request.get_ref().name)?;
        Err(not_wired("DeleteOn24Credentials"))
    }
}
