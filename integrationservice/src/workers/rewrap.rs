//! The rewrap job, run every `WorkerConfig::rewrap_interval` after a key rotation: every stored
//! wrapped DEK under a version older than the key service's primary is sent to the key
//! service's `BatchRewrapKeys`, which re-wraps it under the primary without the plaintext
//! leaving the key service; the new wrapped DEK replaces the old one with a compare-and-set,
//! so a concurrent credential change wins. The DEK itself does not change, so the stored
//! ciphertext stays valid and decryption never fails during or after the move. The tenants'
//! own keys (`tenant_keys`, e.g. the suppression list's hash key) move the same way, after the
//! credentials; those made before per-tenant KEKs, under the credentials key, first move to
//! their tenant's own KEK (the same key wrapped anew), so a tenant purge shreds them too.
//!
//! At scale: rows already on the primary are never read or sent; the rest are walked in
//! bounded pages in tenant order (keyset pagination); and one replica at a time runs the pass,
//! holding the `rewrap` lease in the database and renewing it after every page.

use crate::crypto::{CryptoError, Envelope, credentials_aad, tenant_key_aad};
use crate::keyclient::KeyError;
use crate::store::models::{ProviderConfigRow, TenantKeyRow};
use crate::store::{DbConnection, Store, StoreError, leases, providers, tenant_keys};

/// Rows per page, and per `BatchRewrapKeys` call (the key service's batch limit).
const PAGE: i64 = 100;
/// Name of the lease that makes the pass run on one replica at a time.
const LEASE: &str = "rewrap";
/// How long the lease lasts without renewal: much longer than one page takes, so a live
/// holder never loses it; a dead holder's lease passes on after this.
const LEASE_TTL_MS: i64 = 5 * 60 * 1000;

/// What one rewrap pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// The key service's primary version the pass moved rows to (0 when the pass did not run).
    pub primary: u32,
    /// Rows moved to the primary version.
    pub moved: usize,
    /// Rows the key service answered for with a version that is not newer than theirs.
    pub current: usize,
    /// Rows the key service refused or that changed meanwhile.
    pub skipped: usize,
    /// Tenant keys made under the credentials key that moved to their tenant's own KEK.
    pub moved_to_tenant_kek: usize,
    /// Another replica holds the lease; this pass did nothing.
    pub leased_elsewhere: bool,
}

/// Rewrap failures.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key service could not be reached.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl From<diesel::result::Error> for RewrapError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Moves every live configuration's wrapped DEK that is below the primary key version to it,
/// if `holder` (this replica) gets the lease.
pub async fn rewrap_all(
    store: &Store,
    envelope: &Envelope,
    holder: &str,
) -> Result<RewrapReport, RewrapError> {
    if !take_lease(store, holder).await? {
        return Ok(RewrapReport {
            leased_elsewhere: true,
            ..RewrapReport::default()
        });
    }
    let result = rewrap_pages(store, envelope, holder).await;
    let holder_owned = holder.to_owned();
    let released = store
        .run(move |conn| leases::release(conn, LEASE, &holder_owned).map_err(RewrapError::from))
        .await;
    let report = result?;
    released?;
    Ok(report)
}

async fn take_lease(store: &Store, holder: &str) -> Result<bool, RewrapError> {
    let holder = holder.to_owned();
    store
        .run(move |conn| {
            leases::acquire(conn, LEASE, &holder, LEASE_TTL_MS).map_err(RewrapError::from)
        })
        .await
}

async fn rewrap_pages(
    store: &Store,
    envelope: &Envelope,
    holder: &str,
) -> Result<RewrapReport, RewrapError> {
    let primary = envelope.keys().primary_version().await?;
    let mut report = RewrapReport {
        primary,
        ..RewrapReport::default()
    };
    let below = i32::try_from(primary).unwrap_or(i32::MAX);
    let pass = Pass {
        store,
        envelope,
        holder,
        below,
    };
    if pass.run::<Credentials>(&mut report).await? && pass.to_tenant_keks(&mut report).await? {
        pass.run::<TenantKeys>(&mut report).await?;
    }
    Ok(report)
}

/// One table of wrapped keys the pass moves: how to page through the rows below a version,
/// what each row's key and associated data are, and its compare-and-set.
trait WrappedKeys {
    /// One stored row.
    type Row: Send + 'static;
    /// Where the next page starts (keyset pagination).
    type Cursor: Clone + Send + 'static;
    /// What the log calls a row the key service refused.
    const WHAT: &'static str;

    /// Up to `limit` rows whose key is wrapped below `version`, after `cursor`.
    fn page(
        conn: &mut DbConnection,
        version: i32,
        cursor: Option<&Self::Cursor>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<Self::Row>>;
    /// The cursor just past `row`.
    fn cursor(row: &Self::Row) -> Self::Cursor;
    /// The row's tenant, for the log.
    fn tenant(row: &Self::Row) -> &str;
    /// The wrapped key as stored.
    fn wrapped(row: &Self::Row) -> &[u8];
    /// The associated data it was wrapped with.
    fn aad(row: &Self::Row) -> Vec<u8>;
    /// The key version it is wrapped under.
    fn version(row: &Self::Row) -> i32;
    /// Replaces the wrapped key if the row still holds the one that was read.
    fn swap(
        conn: &mut DbConnection,
        row: &Self::Row,
        wrapped: &[u8],
        version: i32,
    ) -> diesel::QueryResult<bool>;
}

/// The credentials' data keys (`provider_configs`).
struct Credentials;

impl WrappedKeys for Credentials {
    type Row = ProviderConfigRow;
    type Cursor = String;
    const WHAT: &'static str = "credentials";

    fn page(
        conn: &mut DbConnection,
        version: i32,
        cursor: Option<&String>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<ProviderConfigRow>> {
        providers::wrapped_below(conn, version, cursor.map(String::as_str), limit)
    }
    fn cursor(row: &ProviderConfigRow) -> String {
        row.tenant.clone()
    }
    fn tenant(row: &ProviderConfigRow) -> &str {
        &row.tenant
    }
    fn wrapped(row: &ProviderConfigRow) -> &[u8] {
        &row.wrapped_dek
    }
    fn aad(row: &ProviderConfigRow) -> Vec<u8> {
        credentials_aad(&row.tenant, row.secret_version)
    }
    fn version(row: &ProviderConfigRow) -> i32 {
        row.dek_key_version
    }
    fn swap(
        conn: &mut DbConnection,
        row: &ProviderConfigRow,
        wrapped: &[u8],
        version: i32,
    ) -> diesel::QueryResult<bool> {
        providers::swap_wrapped_dek(
            conn,
            &row.tenant_id(),
            row.secret_version,
            &row.wrapped_dek,
            wrapped,
            version,
        )
    }
}

/// The tenants' own keys (`tenant_keys`, e.g. the suppression list's hash key).
struct TenantKeys;

impl WrappedKeys for TenantKeys {
    type Row = TenantKeyRow;
    type Cursor = (String, String);
    const WHAT: &'static str = "tenant key";

    fn page(
        conn: &mut DbConnection,
        version: i32,
        cursor: Option<&(String, String)>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<TenantKeyRow>> {
        tenant_keys::wrapped_below(
            conn,
            version,
            cursor.map(|(tenant, purpose)| (tenant.as_str(), purpose.as_str())),
            limit,
        )
    }
    fn cursor(row: &TenantKeyRow) -> (String, String) {
        (row.tenant.clone(), row.purpose.clone())
    }
    fn tenant(row: &TenantKeyRow) -> &str {
        &row.tenant
    }
    fn wrapped(row: &TenantKeyRow) -> &[u8] {
        &row.wrapped_key
    }
    fn aad(row: &TenantKeyRow) -> Vec<u8> {
        tenant_key_aad(&row.tenant, &row.purpose)
    }
    fn version(row: &TenantKeyRow) -> i32 {
        row.kek_version
    }
    fn swap(
        conn: &mut DbConnection,
        row: &TenantKeyRow,
        wrapped: &[u8],
        version: i32,
    ) -> diesel::QueryResult<bool> {
        tenant_keys::swap_wrapped(conn, row, wrapped, version)
    }
}

/// What one pass works with: the store, the key service, this replica's lease and the
/// primary version rows move to.
struct Pass<'a> {
    store: &'a Store,
    envelope: &'a Envelope,
    holder: &'a str,
    below: i32,
}

impl Pass<'_> {
    /// Moves every tenant key still under the credentials key to its tenant's own KEK, a page
    /// at a time, renewing the lease after each page. False when the lease was lost.
    async fn to_tenant_keks(&self, report: &mut RewrapReport) -> Result<bool, RewrapError> {
        let mut after: Option<(String, String)> = None;
        loop {
            let cursor = after.clone();
            let rows = self
                .store
                .run(move |conn| {
                    let after = cursor.as_ref().map(|(t, p)| (t.as_str(), p.as_str()));
                    tenant_keys::under_shared_kek(conn, after, PAGE).map_err(RewrapError::from)
                })
                .await?;
            let Some(last) = rows.last() else {
                return Ok(true);
            };
            after = Some((last.tenant.clone(), last.purpose.clone()));
            let mut moves = Vec::with_capacity(rows.len());
            for row in rows {
                let aad = tenant_key_aad(&row.tenant, &row.purpose);
                match self
                    .envelope
                    .move_to_tenant_kek(&row.tenant, &row.wrapped_key, &aad)
                    .await
                {
                    Ok(moved) => moves.push((row, moved)),
                    Err(CryptoError::Key(KeyError::Unavailable(m))) => {
                        return Err(KeyError::Unavailable(m).into());
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %row.tenant, error = %e, "tenant key not moved to its tenant's KEK; left as it is");
                        report.skipped += 1;
                    }
                }
            }
            let attempted = moves.len();
            let moved = self
                .store
                .transaction(move |conn| {
                    let mut n = 0;
                    for (row, to) in &moves {
                        let version = i32::try_from(to.key_version).unwrap_or(i32::MAX);
                        n += usize::from(tenant_keys::move_to_kek(
                            conn,
                            row,
                            &to.wrapped,
                            version,
                            &to.kek,
                        )?);
                    }
                    Ok::<_, RewrapError>(n)
                })
                .await?;
            report.moved_to_tenant_kek += moved;
            report.skipped += attempted - moved;
            if !take_lease(self.store, self.holder).await? {
                tracing::warn!("rewrap lease lost; another replica continues");
                return Ok(false);
            }
        }
    }

    /// Moves every row of `K` below the primary, a page at a time, renewing the lease after
    /// each page. False when the lease was lost (another replica continues).
    async fn run<K: WrappedKeys>(&self, report: &mut RewrapReport) -> Result<bool, RewrapError> {
        let mut after: Option<K::Cursor> = None;
        loop {
            let (cursor, below) = (after.clone(), self.below);
            let rows = self
                .store
                .run(move |conn| {
                    K::page(conn, below, cursor.as_ref(), PAGE).map_err(RewrapError::from)
                })
                .await?;
            let Some(last) = rows.last() else {
                return Ok(true);
            };
            after = Some(K::cursor(last));
            let aads: Vec<Vec<u8>> = rows.iter().map(K::aad).collect();
            let items: Vec<(&[u8], Vec<u8>)> = rows
                .iter()
                .zip(aads)
                .map(|(row, aad)| (K::wrapped(row), aad))
                .collect();
            let answers = self.envelope.keys().batch_rewrap(&items).await?;
            let mut swaps = Vec::with_capacity(rows.len());
            for (row, answer) in rows.into_iter().zip(answers) {
                match answer {
                    Ok((wrapped, version)) => {
                        let version = i32::try_from(version).unwrap_or(i32::MAX);
                        if version <= K::version(&row) {
                            report.current += 1;
                        } else {
                            swaps.push((row, wrapped, version));
                        }
                    }
                    Err(KeyError::Refused(reason)) => {
                        tracing::warn!(tenant = %K::tenant(&row), what = K::WHAT, %reason, "rewrap refused; key left as it is");
                        report.skipped += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let attempted = swaps.len();
            let swapped = self
                .store
                .transaction(move |conn| {
                    let mut n = 0;
                    for (row, wrapped, version) in &swaps {
                        n += usize::from(K::swap(conn, row, wrapped, *version)?);
                    }
                    Ok::<_, RewrapError>(n)
                })
                .await?;
            report.moved += swapped;
            report.skipped += attempted - swapped;
            if !take_lease(self.store, self.holder).await? {
                tracing::warn!("rewrap lease lost; another replica continues");
                return Ok(false);
            }
        }
    }
}
