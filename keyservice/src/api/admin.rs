//! `KeyAdminService` handlers: parse the resource name, authorize `admin:*` operations on
//! that key (listing needs a grant on all keys, `"*"`), call the domain, audit, map.

use proto::keyservice::v1::{self as pb, key_admin_service_server::KeyAdminService};
use tonic::{Request, Response, Status};

use super::{KeyAdminApi, call::Subject, convert};
use crate::{
    authz::Operation,
    domain::{parse_key_name, parse_version_name},
};

/// One admin RPC: begin, parse the key name, authorize, run `body`, audit, answer.
/// `body` returns the response and the key version the record should name.
macro_rules! admin_call {
    ($edge:expr, $request:expr, $op:expr, |$req:ident| $key_id:expr, |$id:ident| $body:expr) => {{
        let edge = &$edge;
        let call = edge.begin($op, &$request, 1).await?;
        let $req = $request.into_inner();
        let key_id: Result<String, Status> = $key_id;
        let key_id = match key_id {
            Ok(id) => id,
            Err(status) => {
                return edge
                    .finish(&call, Subject::new($op, None), Err(status))
                    .await;
            }
        };
        let subject = Subject::new($op, Some(&key_id));
        edge.authorize(&call, subject).await?;
        let $id = key_id.clone();
        let result: Result<(_, Option<u32>), Status> = async { $body }.await;
        let version = result.as_ref().ok().and_then(|(_, v)| *v);
        edge.finish(
            &call,
            subject.version(version),
            result.map(|(r, _)| Response::new(r)),
        )
        .await
    }};
}

#[tonic::async_trait]
impl KeyAdminService for KeyAdminApi {
    async fn create_key(
        &self,
        request: Request<pb::CreateKeyRequest>,
    ) -> Result<Response<pb::CreateKeyResponse>, Status> {
        let key = request.get_ref().key.clone();
        admin_call!(
            self.0,
            request,
            Operation::CreateKey,
            |req| Ok(req.key_id),
            |id| {
                let new = convert::new_key(id, key.as_ref())?;
                let key = self.0.manager.create_key(new).await?;
                Ok((
                    pb::CreateKeyResponse {
                        key: Some(convert::key(&key)),
                    },
                    Some(key.primary_version),
                ))
            }
        )
    }

    async fn get_key(
        &self,
        request: Request<pb::GetKeyRequest>,
    ) -> Result<Response<pb::GetKeyResponse>, Status> {
        admin_call!(
            self.0,
            request,
            Operation::GetKey,
            |req| Ok(parse_key_name(&req.name)?),
            |id| {
                let (key, versions) = self.0.manager.get_key(&id).await?;
                Ok((
                    pb::GetKeyResponse {
                        key: Some(convert::key(&key)),
                        versions: versions.iter().map(convert::version).collect(),
                    },
                    None,
                ))
            }
        )
    }

    async fn list_keys(
        &self,
        request: Request<pb::ListKeysRequest>,
    ) -> Result<Response<pb::ListKeysResponse>, Status> {
        let edge = &self.0;
        let op = Operation::ListKeys;
        let call = edge.begin(op, &request, 1).await?;
        let req = request.into_inner();
        // Listing reveals every key name, so it needs a grant on all keys.
        let subject = Subject::new(op, None);
        edge.authorize(&call, subject).await?;
        let result = edge
            .manager
            .list_keys(req.page_size, &req.page_token)
            .await
            .map_err(Status::from)
            .map(|page| pb::ListKeysResponse {
                keys: page.keys.iter().map(convert::key).collect(),
                next_page_token: page.next_page_token,
            });
        edge.finish(&call, subject, result).await.map(Response::new)
    }

    async fn rotate_key(
        &self,
        request: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::RotateKeyResponse>, Status> {
        admin_call!(
            self.0,
            request,
            Operation::RotateKey,
            |req| Ok(parse_key_name(&req.name)?),
            |id| {
                let (key, version) = self.0.manager.rotate_key(&id).await?;
                Ok((
                    pb::RotateKeyResponse {
                        key: Some(convert::key(&key)),
                        key_version: Some(convert::version(&version)),
                    },
                    Some(version.reference.version),
                ))
            }
        )
    }

    async fn update_key_version(
        &self,
        request: Request<pb::UpdateKeyVersionRequest>,
    ) -> Result<Response<pb::UpdateKeyVersionResponse>, Status> {
        let state = request.get_ref().state;
        let name = request.get_ref().name.clone();
        admin_call!(
            self.0,
            request,
            Operation::UpdateKeyVersion,
            |req| Ok(parse_version_name(&req.name)?.key_id),
            |_id| {
                let reference = parse_version_name(&name)?;
                let state = convert::requested_version_state(state)?;
                let version = self.0.manager.update_key_version(&reference, state).await?;
                Ok((
                    pb::UpdateKeyVersionResponse {
                        key_version: Some(convert::version(&version)),
                    },
                    Some(reference.version),
                ))
            }
        )
    }

    async fn set_min_decryption_version(
        &self,
        request: Request<pb::SetMinDecryptionVersionRequest>,
    ) -> Result<Response<pb::SetMinDecryptionVersionResponse>, Status> {
        let min = request.get_ref().min_decryption_version;
        let force = request.get_ref().force;
        admin_call!(
            self.0,
            request,
            Operation::SetMinDecryptionVersion,
            |req| Ok(parse_key_name(&req.name)?),
            |id| {
                let key = self
                    .0
                    .manager
                    .set_min_decryption_version(&id, min, force)
                    .await?;
                Ok((
                    pb::SetMinDecryptionVersionResponse {
                        key: Some(convert::key(&key)),
                    },
                    Some(min),
                ))
            }
        )
    }

    async fn schedule_key_deletion(
        &self,
        request: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Result<Response<pb::ScheduleKeyDeletionResponse>, Status> {
        let waiting = request.get_ref().waiting_period;
        admin_call!(
            self.0,
            request,
            Operation::ScheduleKeyDeletion,
            |req| Ok(parse_key_name(&req.name)?),
            |id| {
                let waiting = waiting
                    .as_ref()
                    .map(|d| convert::std_duration(d, "waiting_period"))
                    .transpose()?;
                let key = self.0.manager.schedule_key_deletion(&id, waiting).await?;
                Ok((
                    pb::ScheduleKeyDeletionResponse {
                        key: Some(convert::key(&key)),
                    },
                    None,
                ))
            }
        )
    }

    async fn cancel_key_deletion(
        &self,
        request: Request<pb::CancelKeyDeletionRequest>,
    ) -> Result<Response<pb::CancelKeyDeletionResponse>, Status> {
        admin_call!(
            self.0,
            request,
            Operation::CancelKeyDeletion,
            |req| Ok(parse_key_name(&req.name)?),
            |id| {
                let key = self.0.manager.cancel_key_deletion(&id).await?;
                Ok((
                    pb::CancelKeyDeletionResponse {
                        key: Some(convert::key(&key)),
                    },
                    None,
                ))
            }
        )
    }
}
