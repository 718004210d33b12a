//! The rewrap job, run every `WorkerConfig::rewrap_interval` after a key rotation: every stored
//! wrapped DEK under a version older than the key service's primary is sent to the key
//! service's `BatchRewrapKeys`, which re-wraps it under the primary without the plaintext
//! leaving the key service; the new wrapped DEK replaces the old one with a compare-and-set,
//! so a concurrent credential change wins. The DEK itself does not change, so the stored
//! ciphertext stays valid and decryption never fails during or after the move. The tenants'
//! own keys (`tenant_keys`, e.g. the suppression list's hash key) move the same way, after the
//! credentials.
//!
//! At scale: rows already on the primary are never read or sent; the rest are walked in
//! bounded pages in tenant order (keyset pagination); and one replica at a time runs the pass,
//! holding the `rewrap` lease in the database and renewing it after every page.

use crate::crypto::{Envelope, credentials_aad, tenant_key_aad};
use crate::keyclient::KeyError;
use crate::store::{Store, StoreError, leases, providers, tenant_keys};

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
    let mut after: Option<String> = None;
    loop {
        let cursor = after.clone();
        let rows = store
            .run(move |conn| {
                providers::wrapped_below(conn, below, cursor.as_deref(), PAGE)
                    .map_err(RewrapError::from)
            })
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.tenant.clone());
        let aads: Vec<Vec<u8>> = rows
            .iter()
            .map(|row| credentials_aad(&row.tenant, row.secret_version))
            .collect();
        let items: Vec<(&[u8], Vec<u8>)> = rows
            .iter()
            .zip(aads)
            .map(|(row, aad)| (row.wrapped_dek.as_slice(), aad))
            .collect();
        let answers = envelope.keys().batch_rewrap(&items).await?;
        let mut swaps = Vec::with_capacity(rows.len());
        for (row, answer) in rows.into_iter().zip(answers) {
            match answer {
                Ok((wrapped, version)) => {
                    let version = i32::try_from(version).unwrap_or(i32::MAX);
                    if version <= row.dek_key_version {
                        report.current += 1;
                    } else {
                        swaps.push((row, wrapped, version));
                    }
                }
                Err(KeyError::Refused(reason)) => {
                    tracing::warn!(tenant = %row.tenant, %reason, "rewrap refused; row left as it is");
                    report.skipped += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let attempted = swaps.len();
        let swapped = store
            .transaction(move |conn| {
                let mut n = 0;
                for (row, wrapped, version) in &swaps {
                    let done = providers::swap_wrapped_dek(
                        conn,
                        &row.tenant_id(),
                        row.secret_version,
                        &row.wrapped_dek,
                        wrapped,
                        *version,
                    )?;
                    n += usize::from(done);
                }
                Ok::<_, RewrapError>(n)
            })
            .await?;
        report.moved += swapped;
        report.skipped += attempted - swapped;
        if !take_lease(store, holder).await? {
            tracing::warn!("rewrap lease lost; another replica continues");
            return Ok(report);
        }
    }
    rewrap_tenant_keys(store, envelope, holder, below, &mut report).await?;
    Ok(report)
}

/// The same pass over the tenants' own keys (`tenant_keys`), counted in the same report.
async fn rewrap_tenant_keys(
    store: &Store,
    envelope: &Envelope,
    holder: &str,
    below: i32,
    report: &mut RewrapReport,
) -> Result<(), RewrapError> {
    let mut after: Option<(String, String)> = None;
    loop {
        let cursor = after.clone();
        let rows = store
            .run(move |conn| {
                tenant_keys::wrapped_below(
                    conn,
                    below,
                    cursor.as_ref().map(|(t, p)| (t.as_str(), p.as_str())),
                    PAGE,
                )
                .map_err(RewrapError::from)
            })
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.tenant.clone(), last.purpose.clone()));
        let aads: Vec<Vec<u8>> = rows
            .iter()
            .map(|row| tenant_key_aad(&row.tenant, &row.purpose))
            .collect();
        let items: Vec<(&[u8], Vec<u8>)> = rows
            .iter()
            .zip(aads)
            .map(|(row, aad)| (row.wrapped_key.as_slice(), aad))
            .collect();
        let answers = envelope.keys().batch_rewrap(&items).await?;
        let mut swaps = Vec::with_capacity(rows.len());
        for (row, answer) in rows.into_iter().zip(answers) {
            match answer {
                Ok((wrapped, version)) => {
                    let version = i32::try_from(version).unwrap_or(i32::MAX);
                    if version <= row.kek_version {
                        report.current += 1;
                    } else {
                        swaps.push((row, wrapped, version));
                    }
                }
                Err(KeyError::Refused(reason)) => {
                    tracing::warn!(tenant = %row.tenant, purpose = %row.purpose, %reason, "rewrap refused; key left as it is");
                    report.skipped += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let attempted = swaps.len();
        let swapped = store
            .transaction(move |conn| {
                let mut n = 0;
                for (row, wrapped, version) in &swaps {
                    n += usize::from(tenant_keys::swap_wrapped(conn, row, wrapped, *version)?);
                }
                Ok::<_, RewrapError>(n)
            })
            .await?;
        report.moved += swapped;
        report.skipped += attempted - swapped;
        if !take_lease(store, holder).await? {
            tracing::warn!("rewrap lease lost; another replica continues");
            return Ok(());
        }
    }
}
