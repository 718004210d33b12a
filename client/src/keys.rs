//! Typed calls to the key service's admin API (`keyservice.v1.KeyAdminService`): list, show,
//! create and rotate keys. Operators use these with the admin identity over mTLS.

use futures::stream::BoxStream;
use proto::keyservice::v1::{self as pb, key_admin_service_client::KeyAdminServiceClient};

use crate::{
    ClientError, Connection, names,
    paging::paginate,
    retry::{Idempotency, with_retries},
};

/// The key service admin API.
#[derive(Debug, Clone)]
pub struct KeyAdmin {
    conn: Connection,
}

impl KeyAdmin {
    /// Calls over `conn` (which must present an admin client certificate).
    pub fn new(conn: Connection) -> Self {
        Self { conn }
    }

    async fn call<T, F, Fut>(&self, idempotency: Idempotency, f: F) -> Result<T, ClientError>
    where
        F: Fn(KeyAdminServiceClient<crate::channel::AuthChannel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        with_retries(&self.conn.retry, idempotency, || {
            let fut = f(KeyAdminServiceClient::new(self.conn.service()));
            async move { fut.await.map(tonic::Response::into_inner) }
        })
        .await
    }

    /// One page of keys.
    pub async fn list_keys_page(
        &self,
        page_token: String,
        page_size: i32,
    ) -> Result<(Vec<pb::Key>, String), ClientError> {
        let request = pb::ListKeysRequest {
            page_size,
            page_token,
        };
        let response = self
            .call(Idempotency::Idempotent, |mut c| {
                let r = self.conn.request(request.clone());
                async move { c.list_keys(r).await }
            })
            .await?;
        Ok((response.keys, response.next_page_token))
    }

    /// Every key.
    pub fn list_keys(&self, page_size: i32) -> BoxStream<'static, Result<pb::Key, ClientError>> {
        let admin = self.clone();
        paginate(move |token| {
            let admin = admin.clone();
            async move { admin.list_keys_page(token, page_size).await }
        })
    }

    /// A key and its versions.
    pub async fn get_key(&self, key: &str) -> Result<pb::GetKeyResponse, ClientError> {
        let request = pb::GetKeyRequest {
            name: names::key(key),
        };
        self.call(Idempotency::Idempotent, |mut c| {
            let r = self.conn.request(request.clone());
            async move { c.get_key(r).await }
        })
        .await
    }

    /// Creates an encrypt/decrypt key. ALREADY_EXISTS when it exists, so a retry after a
    /// lost answer is recognisable; callers that only need the key to exist accept that.
    pub async fn create_key(&self, key_id: &str) -> Result<pb::Key, ClientError> {
        let request = pb::CreateKeyRequest {
            key_id: key_id.to_string(),
            key: Some(pb::Key {
                purpose: pb::KeyPurpose::EncryptDecrypt as i32,
                ..Default::default()
            }),
        };
        let response = self
            .call(Idempotency::Idempotent, |mut c| {
                let r = self.conn.request(request.clone());
                async move { c.create_key(r).await }
            })
            .await?;
        response
            .key
            .ok_or_else(|| ClientError::from(tonic::Status::internal("no key in the response")))
    }

    /// Creates a new primary version. Never retried: a retry could rotate twice.
    pub async fn rotate_key(&self, key: &str) -> Result<pb::RotateKeyResponse, ClientError> {
        let request = pb::RotateKeyRequest {
            name: names::key(key),
        };
        self.call(Idempotency::NotIdempotent, |mut c| {
            let r = self.conn.request(request.clone());
            async move { c.rotate_key(r).await }
        })
        .await
    }
}
