//! `KeyService` handlers: generate, wrap, unwrap, rewrap and their batch forms. Unwrap and
//! rewrap authorize on the key named in the wrapped key's header, before anything is
//! decrypted; a header that does not parse is the same "cannot unwrap" as any other failure.

use proto::keyservice::v1::{self as pb, key_service_server::KeyService};
use tonic::{Request, Response, Status};

use super::{
    Edge, KeyServiceApi,
    call::{Call, Subject},
    error::{AUDIT_UNAVAILABLE, CANNOT_UNWRAP, invalid_field},
};
use crate::{
    authz::Operation,
    crypto::WrappedKey,
    domain::{KeyVersionRef, parse_key_name},
};

impl Edge {
    async fn generate_one(
        &self,
        call: &Call,
        item: pb::GenerateDataKeyRequest,
    ) -> Result<pb::GenerateDataKeyResponse, Status> {
        let op = Operation::Generate;
        let aad = item.associated_data.as_slice();
        let key_id = match parse_key_name(&item.name) {
            Ok(id) => id,
            Err(e) => {
                return self
                    .finish(call, Subject::new(op, None).aad(aad), Err(e.into()))
                    .await;
            }
        };
        let subject = Subject::new(op, Some(&key_id)).aad(aad);
        self.authorize(call, subject).await?;
        let result = self.manager.generate_data_key(&key_id, aad).await;
        let version = result.as_ref().ok().map(|g| g.version.version);
        let result = result
            .map_err(Status::from)
            .map(|g| pb::GenerateDataKeyResponse {
                // Copied into the response buffer; the Zeroizing original is wiped on drop.
                plaintext: g.plaintext.to_vec(),
                wrapped_key: g.wrapped_key,
                key_version: g.version.name(),
            });
        self.finish(call, subject.version(version), result).await
    }

    async fn wrap_one(
        &self,
        call: &Call,
        item: pb::WrapKeyRequest,
    ) -> Result<pb::WrapKeyResponse, Status> {
        let op = Operation::Wrap;
        let aad = item.associated_data.as_slice();
        let key_id = match parse_key_name(&item.name) {
            Ok(id) => id,
            Err(e) => {
                return self
                    .finish(call, Subject::new(op, None).aad(aad), Err(e.into()))
                    .await;
            }
        };
        let subject = Subject::new(op, Some(&key_id)).aad(aad);
        self.authorize(call, subject).await?;
        // Wipe the caller's plaintext once it has been wrapped.
        let plaintext = zeroize::Zeroizing::new(item.plaintext);
        let result = self.manager.wrap(&key_id, &plaintext, aad).await;
        let version = result.as_ref().ok().map(|w| w.version.version);
        let result = result.map_err(Status::from).map(|w| pb::WrapKeyResponse {
            wrapped_key: w.wrapped_key,
            key_version: w.version.name(),
        });
        self.finish(call, subject.version(version), result).await
    }

    /// Reads the header and authorizes `op` on its key. Audits and returns the refusal.
    async fn authorize_wrapped(
        &self,
        call: &Call,
        op: Operation,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<KeyVersionRef, Status> {
        let header = match WrappedKey::parse_header(wrapped) {
            Ok(h) => h,
            Err(_) => {
                let refused = Err(Status::invalid_argument(CANNOT_UNWRAP));
                return self
                    .finish(call, Subject::new(op, None).aad(aad), refused)
                    .await;
            }
        };
        let subject = Subject::new(op, Some(&header.key_id))
            .version(Some(header.version))
            .aad(aad);
        self.authorize(call, subject).await?;
        Ok(KeyVersionRef {
            key_id: header.key_id,
            version: header.version,
        })
    }

    async fn unwrap_one(
        &self,
        call: &Call,
        item: pb::UnwrapKeyRequest,
    ) -> Result<pb::UnwrapKeyResponse, Status> {
        let op = Operation::Unwrap;
        let aad = item.associated_data.as_slice();
        let from = self
            .authorize_wrapped(call, op, &item.wrapped_key, aad)
            .await?;
        let result = self
            .manager
            .unwrap(&item.wrapped_key, aad)
            .await
            .map_err(Status::from)
            .map(|(plaintext, version)| pb::UnwrapKeyResponse {
                plaintext: plaintext.to_vec(),
                key_version: version.name(),
            });
        let subject = Subject::new(op, Some(&from.key_id))
            .version(Some(from.version))
            .aad(aad);
        self.finish(call, subject, result).await
    }

    async fn rewrap_one(
        &self,
        call: &Call,
        item: pb::RewrapKeyRequest,
    ) -> Result<pb::RewrapKeyResponse, Status> {
        let op = Operation::Rewrap;
        let aad = item.associated_data.as_slice();
        let from = self
            .authorize_wrapped(call, op, &item.wrapped_key, aad)
            .await?;
        let result = self.manager.rewrap(&item.wrapped_key, aad).await;
        // The record names the version the key was moved *to* when it succeeded.
        let version = result.as_ref().map_or(from.version, |w| w.version.version);
        let result = result.map_err(Status::from).map(|w| pb::RewrapKeyResponse {
            wrapped_key: w.wrapped_key,
            key_version: w.version.name(),
        });
        let subject = Subject::new(op, Some(&from.key_id))
            .version(Some(version))
            .aad(aad);
        self.finish(call, subject, result).await
    }

    /// Starts a batch request: the caller, charged one request per item, the size bound, and
    /// the call its items run on, which holds their audit records for [`Self::end_batch`].
    async fn begin_batch<M: BatchRequest>(
        &self,
        op: Operation,
        request: Request<M>,
    ) -> Result<(Call, Vec<M::Item>), Status> {
        let cost = batch_cost(request.get_ref().len());
        let call = self.begin(op, &request, cost).await?;
        let items = request.into_inner().into_items();
        self.check_batch(&call, op, items.len()).await?;
        Ok((call.deferring(), items))
    }

    /// Ends a batch: writes its items' audit records as one group, and only then gives the
    /// results, each wrapped as its item's result message.
    async fn end_batch<T, R>(
        &self,
        batch: &Call,
        results: Vec<Result<T, pb::ItemStatus>>,
        wrap: impl Fn(Result<T, pb::ItemStatus>) -> R,
    ) -> Result<Vec<R>, Status> {
        self.write_deferred(batch).await?;
        Ok(results.into_iter().map(wrap).collect())
    }

    /// Bounded batch size; an empty batch is a caller mistake too.
    async fn check_batch(&self, call: &Call, op: Operation, len: usize) -> Result<(), Status> {
        if (1..=self.max_batch_items).contains(&len) {
            return Ok(());
        }
        let reason = format!("1 to {} items", self.max_batch_items);
        self.finish(
            call,
            Subject::new(op, None),
            Err(invalid_field("requests", &reason)),
        )
        .await
    }
}

/// Per-item failure as the proto's `ItemStatus`; audit failures abort the whole batch.
fn item_status(status: &Status) -> pb::ItemStatus {
    pb::ItemStatus {
        code: status.code() as i32,
        message: status.message().to_owned(),
    }
}

/// Runs the items of a batch in order. A failed item becomes its `ItemStatus`; an audit
/// failure aborts the whole batch, because nothing may happen unaudited (fail closed). The
/// batch handlers run the items on a deferring call ([`Call::deferring`]) and write the
/// items' records as one group before answering, so the records cost one write per batch.
async fn each_item<I, T, F, Fut>(
    items: Vec<I>,
    mut one: F,
) -> Result<Vec<Result<T, pb::ItemStatus>>, Status>
where
    F: FnMut(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        match one(item).await {
            Ok(response) => results.push(Ok(response)),
            Err(status) if is_audit_failure(&status) => return Err(status),
            Err(status) => results.push(Err(item_status(&status))),
        }
    }
    Ok(results)
}

fn is_audit_failure(status: &Status) -> bool {
    status.code() == tonic::Code::Unavailable && status.message() == AUDIT_UNAVAILABLE
}

/// A batch request message: its items, each handled like the single RPC.
trait BatchRequest {
    type Item;
    fn len(&self) -> usize;
    fn into_items(self) -> Vec<Self::Item>;
}

macro_rules! batch_request {
    ($($batch:ident => $item:ident),* $(,)?) => {$(
        impl BatchRequest for pb::$batch {
            type Item = pb::$item;
            fn len(&self) -> usize {
                self.requests.len()
            }
            fn into_items(self) -> Vec<pb::$item> {
                self.requests
            }
        }
    )*};
}

batch_request!(
    BatchGenerateDataKeysRequest => GenerateDataKeyRequest,
    BatchUnwrapKeysRequest => UnwrapKeyRequest,
    BatchRewrapKeysRequest => RewrapKeyRequest,
);

fn batch_cost(len: usize) -> u32 {
    u32::try_from(len.max(1)).unwrap_or(u32::MAX)
}

#[tonic::async_trait]
impl KeyService for KeyServiceApi {
    async fn generate_data_key(
        &self,
        request: Request<pb::GenerateDataKeyRequest>,
    ) -> Result<Response<pb::GenerateDataKeyResponse>, Status> {
        let call = self.0.begin(Operation::Generate, &request, 1).await?;
        self.0
            .generate_one(&call, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn wrap_key(
        &self,
        request: Request<pb::WrapKeyRequest>,
    ) -> Result<Response<pb::WrapKeyResponse>, Status> {
        let call = self.0.begin(Operation::Wrap, &request, 1).await?;
        self.0
            .wrap_one(&call, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn unwrap_key(
        &self,
        request: Request<pb::UnwrapKeyRequest>,
    ) -> Result<Response<pb::UnwrapKeyResponse>, Status> {
        let call = self.0.begin(Operation::Unwrap, &request, 1).await?;
        self.0
            .unwrap_one(&call, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn rewrap_key(
        &self,
        request: Request<pb::RewrapKeyRequest>,
    ) -> Result<Response<pb::RewrapKeyResponse>, Status> {
        let call = self.0.begin(Operation::Rewrap, &request, 1).await?;
        self.0
            .rewrap_one(&call, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn batch_generate_data_keys(
        &self,
        request: Request<pb::BatchGenerateDataKeysRequest>,
    ) -> Result<Response<pb::BatchGenerateDataKeysResponse>, Status> {
        use pb::batch_generate_data_keys_result::Result as R;
        let (batch, items) = self.0.begin_batch(Operation::Generate, request).await?;
        let results = each_item(items, |item| self.0.generate_one(&batch, item)).await?;
        let results = self
            .0
            .end_batch(&batch, results, |result| pb::BatchGenerateDataKeysResult {
                result: Some(result.map_or_else(R::Error, R::Response)),
            })
            .await?;
        Ok(Response::new(pb::BatchGenerateDataKeysResponse { results }))
    }

    async fn batch_unwrap_keys(
        &self,
        request: Request<pb::BatchUnwrapKeysRequest>,
    ) -> Result<Response<pb::BatchUnwrapKeysResponse>, Status> {
        use pb::batch_unwrap_keys_result::Result as R;
        let (batch, items) = self.0.begin_batch(Operation::Unwrap, request).await?;
        let results = each_item(items, |item| self.0.unwrap_one(&batch, item)).await?;
        let results = self
            .0
            .end_batch(&batch, results, |result| pb::BatchUnwrapKeysResult {
                result: Some(result.map_or_else(R::Error, R::Response)),
            })
            .await?;
        Ok(Response::new(pb::BatchUnwrapKeysResponse { results }))
    }

    async fn batch_rewrap_keys(
        &self,
        request: Request<pb::BatchRewrapKeysRequest>,
    ) -> Result<Response<pb::BatchRewrapKeysResponse>, Status> {
        use pb::batch_rewrap_keys_result::Result as R;
        let (batch, items) = self.0.begin_batch(Operation::Rewrap, request).await?;
        let results = each_item(items, |item| self.0.rewrap_one(&batch, item)).await?;
        let results = self
            .0
            .end_batch(&batch, results, |result| pb::BatchRewrapKeysResult {
                result: Some(result.map_or_else(R::Error, R::Response)),
            })
            .await?;
        Ok(Response::new(pb::BatchRewrapKeysResponse { results }))
    }
}
