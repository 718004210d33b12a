//! `PersonDataService`: a person's access request (everything the tenant holds about one
//! email), parsed, authorized, audited and mapped here; gathered by `domain::person_data`.

use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    ExportPersonDataRequest, ExportPersonDataResponse, PersonInteractions,
    person_data_service_server::PersonDataService,
};

use super::{State, audit::Access, convert, names, violations};
use crate::domain::Email;

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct PersonDataApi {
    state: State,
}

impl PersonDataApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl PersonDataService for PersonDataApi {
    async fn export_person_data(
        &self,
        request: Request<ExportPersonDataRequest>,
    ) -> Result<Response<ExportPersonDataResponse>, Status> {
        let req = request.get_ref();
        let tenant = self
            .state
            .resolve(&request, "parent", &req.parent, names::parse_tenant)?;
        let result = async {
            let email = Email::parse(&req.email).map_err(|e| violations::invalid("email", e))?;
            let data = self
                .state
                .engine
                .person_data()
                .export(&tenant.tenant, &email)
                .await?;
            let response = ExportPersonDataResponse {
                registrations: data
                    .registrations
                    .iter()
                    .map(convert::registration)
                    .collect(),
                attendee_metrics: data
                    .metrics
                    .iter()
                    .map(|m| convert::attendee(&tenant.tenant, m))
                    .collect(),
                erasure_requests: data
                    .erasure_requests
                    .iter()
                    .map(convert::erasure_request)
                    .collect(),
                suppressed: data.suppressed,
                attendee_interactions: data
                    .interactions
                    .iter()
                    .map(|(webinar, items)| PersonInteractions {
                        webinar: convert::webinar_name(&tenant.tenant, webinar),
                        interactions: items.iter().map(convert::interaction).collect(),
                    })
                    .collect(),
            };
            Ok::<_, Status>((data.item_count(), response))
        }
        .await;
        // The email is never recorded: the tenant is the resource.
        let access = Access {
            method: "ExportPersonData",
            tenant: &tenant.tenant,
            resource: &req.parent,
        };
        self.state
            .audited(&request, access, result, |(items, _)| *items)
            .await
            .map(|(_, response)| Response::new(response))
    }
}
