//! Provider configuration: put (encrypt and store), get (never the secrets), check now, and
//! delete, which disables the integration for that tenant only — queued jobs and undelivered
//! registrations go PAUSED and nothing is lost; putting credentials back resumes them.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{
    BaseUrl, ChangeKind, CredentialStatus, CredentialsInput, Engine, Error, ProviderConfig,
    RegistrationStatus, TenantId,
};
use crate::crypto::{Sealed, credentials_aad};
use crate::provider::{CredentialProblem, ProviderCredentials, ProviderError};
use crate::store::models::ProviderConfigRow;
use crate::store::{DbConnection, changes, now_ms, outbox, providers, registrations};

/// Provider configuration service.
#[derive(Debug)]
pub struct ProviderConfigs<'a> {
    pub(crate) engine: &'a Engine,
}

fn view(row: &ProviderConfigRow) -> ProviderConfig {
    ProviderConfig {
        tenant: TenantId::from_stored(&row.tenant),
        client_id: row.client_id.to_string(),
        region: row.region.clone(),
        base_url: row.base_url.clone(),
        key_last_four: row.key_hint.clone(),
        status: CredentialStatus::parse(&row.status).unwrap_or(CredentialStatus::Unhealthy),
        status_message: row.status_message.clone(),
        last_check_at: row.last_check_at,
        last_metrics_at: row.last_metrics_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The credential status a provider answer implies (None: says nothing about credentials).
pub fn status_of(result: &Result<(), ProviderError>) -> Option<(CredentialStatus, Option<String>)> {
    match result {
        Ok(()) => Some((CredentialStatus::Healthy, None)),
        Err(ProviderError::Credentials { problem, message }) => Some((
            match problem {
                CredentialProblem::NotAuthenticated => CredentialStatus::NotAuthenticated,
                CredentialProblem::TokenExpired => CredentialStatus::TokenExpired,
                CredentialProblem::Forbidden => CredentialStatus::Forbidden,
            },
            Some(message.clone()),
        )),
        Err(ProviderError::Retryable { message, .. }) => {
            Some((CredentialStatus::Unhealthy, Some(message.clone())))
        }
        Err(_) => None,
    }
}

/// The secret plaintext: key length (u32, big-endian), key, secret.
fn encode_secret(key: &SecretString, secret: &SecretString) -> Zeroizing<Vec<u8>> {
    let (k, s) = (
        key.expose_secret().as_bytes(),
        secret.expose_secret().as_bytes(),
    );
    let mut out = Zeroizing::new(Vec::with_capacity(4 + k.len() + s.len()));
    out.extend_from_slice(&(k.len() as u32).to_be_bytes());
    out.extend_from_slice(k);
    out.extend_from_slice(s);
    out
}

fn decode_secret(plain: &[u8]) -> Option<(SecretString, SecretString)> {
    let len = u32::from_be_bytes(plain.get(..4)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(plain.get(4..4 + len)?).ok()?;
    let secret = std::str::from_utf8(plain.get(4 + len..)?).ok()?;
    Some((
        SecretString::from(key.to_owned()),
        SecretString::from(secret.to_owned()),
    ))
}

/// Holds a tenant's work: jobs PAUSED, undelivered registrations PAUSED (with feed entries).
pub(crate) fn pause_tenant(conn: &mut DbConnection, tenant: &TenantId) -> diesel::QueryResult<()> {
    outbox::pause_tenant(conn, tenant)?;
    let moved = registrations::move_status(
        conn,
        tenant,
        &[RegistrationStatus::Pending, RegistrationStatus::Retrying],
        RegistrationStatus::Paused,
    )?;
    let feed: Vec<_> = moved
        .iter()
        .map(|(w, r)| changes::change(tenant, ChangeKind::Registration, Some(w), Some(r)))
        .collect();
    changes::append(conn, &feed)
}

/// Releases a tenant's held work.
pub(crate) fn resume_tenant(conn: &mut DbConnection, tenant: &TenantId) -> diesel::QueryResult<()> {
    outbox::resume_tenant(conn, tenant)?;
    let moved = registrations::move_status(
        conn,
        tenant,
        &[RegistrationStatus::Paused],
        RegistrationStatus::Pending,
    )?;
    let feed: Vec<_> = moved
        .iter()
        .map(|(w, r)| changes::change(tenant, ChangeKind::Registration, Some(w), Some(r)))
        .collect();
    changes::append(conn, &feed)
}

/// True when work for this tenant must wait (credentials refused by the provider).
pub(crate) fn is_blocked(row: &ProviderConfigRow) -> bool {
    CredentialStatus::parse(&row.status).is_some_and(CredentialStatus::blocks_calls)
}

/// The tenant's live configuration, or `IntegrationDisabled`.
pub(crate) fn enabled(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> Result<ProviderConfigRow, Error> {
    match providers::get(conn, tenant)? {
        Some(row) if !row.deleted => Ok(row),
        _ => Err(Error::IntegrationDisabled {
            tenant: tenant.to_string(),
            reason: "no ON24 credentials are configured for this tenant".into(),
        }),
    }
}

impl ProviderConfigs<'_> {
    /// Encrypts and stores the tenant's credentials (optionally checking them first), and
    /// resumes the tenant's held work when they are usable.
    pub async fn put(
        &self,
        tenant: &TenantId,
        input: CredentialsInput,
    ) -> Result<ProviderConfig, Error> {
        // Every put generates a data key; refused before any outside call when over the limit.
        self.engine.key_generation.check(tenant)?;
        let creds = input.provider_credentials();
        let checked = if input.check {
            let result = self.engine.provider.check_credentials(&creds).await;
            status_of(&result)
        } else {
            None
        };
        let t = tenant.clone();
        let previous = self
            .engine
            .store
            .run(move |conn| providers::get(conn, &t).map_err(Error::from))
            .await?;
        let secret_version = previous.as_ref().map_or(1, |p| p.secret_version + 1);
        let aad = credentials_aad(tenant.as_str(), secret_version);
        let plain = encode_secret(
            input.access_token_key.secret(),
            input.access_token_secret.secret(),
        );
        let sealed = self.engine.envelope.seal(&aad, &plain).await?;
        drop(plain);
        let now = now_ms();
        let (status, message) = checked
            .clone()
            .unwrap_or((CredentialStatus::Unchecked, None));
        let row = ProviderConfigRow {
            tenant: tenant.to_string(),
            provider: self.engine.provider.name().to_owned(),
            client_id: input.client_id.stored(),
            region: input.region.as_str().to_owned(),
            base_url: input.base_url.map(BaseUrl::into_string),
            key_hint: input.access_token_key.last_four(),
            wrapped_dek: sealed.wrapped_dek,
            dek_key_version: i32::try_from(sealed.key_version).unwrap_or(i32::MAX),
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
            secret_version,
            status: status.as_str().to_owned(),
            status_message: message,
            last_check_at: checked.as_ref().map(|_| now),
            last_metrics_at: previous.as_ref().and_then(|p| p.last_metrics_at),
            throttle_until: None,
            throttle_level: 0,
            deleted: false,
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        let blocked = status.blocks_calls();
        let saved = row.clone();
        let t = tenant.clone();
        self.engine
            .store
            .transaction(move |conn| {
                providers::put(conn, &row)?;
                if blocked {
                    pause_tenant(conn, &t)?;
                } else {
                    resume_tenant(conn, &t)?;
                }
                changes::append(
                    conn,
                    &[changes::change(&t, ChangeKind::Credentials, None, None)],
                )?;
                Ok::<_, Error>(())
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&saved))
    }

    /// The tenant's configuration without secrets.
    pub async fn get(&self, tenant: &TenantId) -> Result<ProviderConfig, Error> {
        let t = tenant.clone();
        let row = self
            .engine
            .store
            .run(move |conn| providers::get(conn, &t).map_err(Error::from))
            .await?;
        match row {
            Some(row) if !row.deleted => Ok(view(&row)),
            _ => Err(Error::not_found(format!(
                "tenants/{tenant}/on24Credentials"
            ))),
        }
    }

    /// Calls the provider now with the stored credentials and records the outcome.
    pub async fn check(&self, tenant: &TenantId) -> Result<ProviderConfig, Error> {
        let creds = self.credentials(tenant).await?;
        let result = self.engine.provider.check_credentials(&creds).await;
        self.record(tenant, &result).await?;
        self.get(tenant).await
    }

    /// Deletes the credentials: the integration is disabled for this tenant, its work held.
    /// Returns how many registrations now wait in PAUSED for credentials to be put again:
    /// the undelivered ones this deletion paused, plus any already paused because the
    /// provider had refused the credentials (they too now wait for new credentials).
    pub async fn delete(&self, tenant: &TenantId) -> Result<i64, Error> {
        let t = tenant.clone();
        let paused = self
            .engine
            .store
            .transaction(move |conn| {
                enabled(conn, &t)
                    .map_err(|_| Error::not_found(format!("tenants/{t}/on24Credentials")))?;
                providers::mark_deleted(conn, &t)?;
                pause_tenant(conn, &t)?;
                changes::append(
                    conn,
                    &[changes::change(&t, ChangeKind::Credentials, None, None)],
                )?;
                // Counted in the same transaction, so it is exactly what the deletion left.
                Ok::<_, Error>(registrations::count_in_status(
                    conn,
                    &t,
                    RegistrationStatus::Paused,
                )?)
            })
            .await?;
        self.engine.signals.changes_added(tenant);
        Ok(paused)
    }

    /// Decrypts the tenant's credentials for one use.
    pub async fn credentials(&self, tenant: &TenantId) -> Result<ProviderCredentials, Error> {
        self.decrypt(tenant, false).await
    }

    /// Like `credentials`, but refuses (IntegrationDisabled) while the provider refuses them,
    /// so background work does not call the provider with credentials known to be bad.
    pub async fn credentials_for_work(
        &self,
        tenant: &TenantId,
    ) -> Result<ProviderCredentials, Error> {
        self.decrypt(tenant, true).await
    }

    async fn decrypt(
        &self,
        tenant: &TenantId,
        refuse_blocked: bool,
    ) -> Result<ProviderCredentials, Error> {
        let t = tenant.clone();
        let row = self
            .engine
            .store
            .run(move |conn| {
                let row = enabled(conn, &t)?;
                if refuse_blocked && is_blocked(&row) {
                    return Err(Error::IntegrationDisabled {
                        tenant: t.to_string(),
                        reason: "ON24 refused the credentials".into(),
                    });
                }
                Ok(row)
            })
            .await?;
        self.open_row(tenant, row).await
    }

    /// Like `credentials_for_work`, on a provider row the caller read already (in the same
    /// read as its other rows, saving a round trip per job): refuses a missing, deleted or
    /// refused configuration, otherwise decrypts for one use.
    pub async fn credentials_for_work_from(
        &self,
        tenant: &TenantId,
        row: Option<ProviderConfigRow>,
    ) -> Result<ProviderCredentials, Error> {
        let row = match row {
            Some(row) if !row.deleted && !is_blocked(&row) => row,
            Some(row) if !row.deleted => {
                return Err(Error::IntegrationDisabled {
                    tenant: tenant.to_string(),
                    reason: "ON24 refused the credentials".into(),
                });
            }
            _ => {
                return Err(Error::IntegrationDisabled {
                    tenant: tenant.to_string(),
                    reason: "no ON24 credentials are configured for this tenant".into(),
                });
            }
        };
        self.open_row(tenant, row).await
    }

    async fn open_row(
        &self,
        tenant: &TenantId,
        row: ProviderConfigRow,
    ) -> Result<ProviderCredentials, Error> {
        let sealed = Sealed {
            wrapped_dek: row.wrapped_dek.clone(),
            key_version: u32::try_from(row.dek_key_version).unwrap_or(0),
            nonce: row.nonce.clone(),
            ciphertext: row.ciphertext.clone(),
        };
        let plain = self
            .engine
            .envelope
            .open(
                &credentials_aad(tenant.as_str(), row.secret_version),
                &sealed,
            )
            .await?;
        let (token_key, token_secret) = decode_secret(&plain).ok_or(Error::Internal)?;
        Ok(ProviderCredentials {
            client_id: u64::try_from(row.client_id).unwrap_or(0),
            region: row.region,
            base_url: row.base_url,
            token_key,
            token_secret,
        })
    }

    /// Records what a provider call revealed about the credentials; a refusal holds the
    /// tenant's work so the provider is not hammered with credentials it rejects.
    pub async fn record(
        &self,
        tenant: &TenantId,
        result: &Result<(), ProviderError>,
    ) -> Result<(), Error> {
        let Some((status, message)) = status_of(result) else {
            return Ok(());
        };
        let t = tenant.clone();
        let paused = self
            .engine
            .store
            .transaction(move |conn| {
                let row = enabled(conn, &t)?;
                let was_blocked = is_blocked(&row);
                providers::set_status(conn, &t, status.as_str(), message.as_deref())?;
                if status.blocks_calls() && !was_blocked {
                    pause_tenant(conn, &t)?;
                    changes::append(
                        conn,
                        &[changes::change(&t, ChangeKind::Credentials, None, None)],
                    )?;
                    return Ok::<_, Error>(true);
                }
                if !status.blocks_calls() && was_blocked {
                    resume_tenant(conn, &t)?;
                    changes::append(
                        conn,
                        &[changes::change(&t, ChangeKind::Credentials, None, None)],
                    )?;
                    return Ok(true);
                }
                Ok(false)
            })
            .await?;
        if paused {
            self.engine.signals.changes_added(tenant);
            self.engine.signals.jobs_added();
        }
        Ok(())
    }
}
