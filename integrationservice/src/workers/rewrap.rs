//! The rewrap job, run every `WorkerConfig::rewrap_interval` after a key rotation: every stored wrapped DEK is sent to the key service's
//! `RewrapKey`, which re-wraps it under the current primary version without the plaintext
//! leaving the key service; the new wrapped DEK replaces the old one with a compare-and-set,
//! so a concurrent credential change wins. The DEK itself does not change, so the stored
//! ciphertext stays valid and decryption never fails during or after the move.

use crate::crypto::{Envelope, credentials_aad};
use crate::keyclient::KeyError;
use crate::store::{Store, StoreError, providers};

/// What one rewrap pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Rows moved to a newer key version.
    pub moved: usize,
    /// Rows already on the primary version.
    pub current: usize,
    /// Rows the key service refused or that changed meanwhile.
    pub skipped: usize,
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

/// Moves every live configuration's wrapped DEK to the primary key version.
pub async fn rewrap_all(store: &Store, envelope: &Envelope) -> Result<RewrapReport, RewrapError> {
    let mut report = RewrapReport::default();
    // Version "infinity" lists every row; rows already on the primary come back unchanged.
    let rows = store
        .run(|conn| providers::wrapped_below(conn, i32::MAX, 100_000).map_err(RewrapError::from))
        .await?;
    for row in rows {
        let aad = credentials_aad(&row.tenant, row.secret_version);
        let (wrapped, version) = match envelope.keys().rewrap(&row.wrapped_dek, &aad).await {
            Ok(v) => v,
            Err(KeyError::Refused(reason)) => {
                tracing::warn!(tenant = %row.tenant, %reason, "rewrap refused; row left as it is");
                report.skipped += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let version = i32::try_from(version).unwrap_or(i32::MAX);
        if version <= row.dek_key_version {
            report.current += 1;
            continue;
        }
        let swapped = store
            .run(move |conn| {
                providers::swap_wrapped_dek(
                    conn,
                    &row.tenant_id(),
                    row.secret_version,
                    &row.wrapped_dek,
                    &wrapped,
                    version,
                )
                .map_err(RewrapError::from)
            })
            .await?;
        if swapped {
            report.moved += 1;
        } else {
            report.skipped += 1;
        }
    }
    Ok(report)
}
