//! The background migration to encryption at rest: registrations written before it hold
//! their personal columns in clear; this seals them under their tenant's personal-data key
//! (made on the tenant's first use) in bounded batches while the service runs. Reads handle
//! both forms meanwhile (`crypto::fields`). Each row is swapped by compare-and-set on the
//! values read, so a registration written meanwhile (and so sealed by that write) or a
//! delivery recorded meanwhile is never overwritten. Safe to run on every replica at once;
//! a pass that finds nothing left ends the migration.

use std::collections::HashMap;
use std::sync::Arc;

use crate::crypto::fields::FieldCipher;
use crate::domain::tenant_keys::field_cipher;
use crate::domain::{Engine, Error};
use crate::ids::TenantId;
use crate::store::registrations;

/// What one migration run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Registrations whose personal columns were sealed.
    pub sealed: u64,
    /// Registrations written meanwhile (sealed by that write), left alone.
    pub skipped: u64,
}

/// Seals every registration still holding a plaintext personal value, `batch` rows per
/// transaction, until none is left.
pub async fn seal_plaintext_registrations(
    engine: &Engine,
    batch: usize,
) -> Result<SealReport, Error> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut report = SealReport::default();
    let mut after: Option<(String, String)> = None;
    let mut ciphers: HashMap<String, Arc<FieldCipher>> = HashMap::new();
    loop {
        let cursor = after.clone();
        let page = engine
            .store()
            .run(move |conn| {
                registrations::unsealed_page(
                    conn,
                    cursor.as_ref().map(|(t, i)| (t.as_str(), i.as_str())),
                    limit,
                )
                .map_err(Error::from)
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        after = Some((last.tenant.clone(), last.id.clone()));
        let mut swaps = Vec::with_capacity(page.len());
        for stored in page {
            let cipher = match ciphers.get(&stored.tenant) {
                Some(c) => c.clone(),
                None => {
                    let tenant = TenantId::from_stored(&stored.tenant);
                    let c = field_cipher(engine, &tenant, true).await?;
                    ciphers.insert(stored.tenant.clone(), c.clone());
                    c
                }
            };
            // Values sealed already stay as they are; plaintext ones are sealed.
            let mut sealed = stored.clone();
            cipher.open_registration(&mut sealed)?;
            cipher.seal_registration(&mut sealed)?;
            swaps.push((stored, sealed));
        }
        let (n, total) = engine
            .store()
            .transaction(move |conn| {
                let mut n = 0u64;
                for (stored, sealed) in &swaps {
                    if registrations::swap_personal(conn, stored, sealed)? {
                        n += 1;
                    }
                }
                Ok::<_, Error>((n, swaps.len() as u64))
            })
            .await?;
        report.sealed += n;
        report.skipped += total - n;
    }
}
