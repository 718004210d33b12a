//! The background migration to encryption at rest: registrations, attendee interactions and
//! attendee metrics written before it hold their personal columns, or their email, in clear;
//! this seals them under their tenant's personal-data key and keys their email by its keyed
//! hash (both keys made on the tenant's first use) in bounded batches while the service runs. Reads handle
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
use crate::store::sealing::SealRows;
use crate::store::{DbConnection, interactions, metrics, registrations};

/// What one migration run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Rows (registrations and interactions) whose personal columns were sealed.
    pub sealed: u64,
    /// Rows written meanwhile (sealed by that write), left alone.
    pub skipped: u64,
}

impl SealReport {
    fn add(&mut self, other: SealReport) {
        self.sealed += other.sealed;
        self.skipped += other.skipped;
    }
}

/// Seals every registration, then every interaction, then every metrics row still holding
/// a plaintext personal value or a clear email, `batch` rows per transaction, until none is
/// left. The report counts all three.
pub async fn seal_plaintext_registrations(
    engine: &Engine,
    batch: usize,
) -> Result<SealReport, Error> {
    let mut ciphers: HashMap<String, Arc<FieldCipher>> = HashMap::new();
    let mut report = seal_registrations(engine, batch, &mut ciphers).await?;
    report.add(seal_interactions(engine, batch, &mut ciphers).await?);
    report.add(seal_metrics(engine, batch, &mut ciphers).await?);
    Ok(report)
}

async fn seal_metrics(
    engine: &Engine,
    batch: usize,
    ciphers: &mut HashMap<String, Arc<FieldCipher>>,
) -> Result<SealReport, Error> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut report = SealReport::default();
    let mut after: Option<(String, String, String)> = None;
    loop {
        let cursor = after.clone();
        let page = engine
            .store()
            .run(move |conn| {
                metrics::unsealed_page(conn, cursor.as_ref(), limit).map_err(Error::from)
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        after = Some((
            last.tenant.clone(),
            last.webinar_id.clone(),
            last.email_hash.clone(),
        ));
        let mut swaps = Vec::with_capacity(page.len());
        for stored in page {
            let cipher = cipher_of(engine, ciphers, &stored.tenant).await?;
            if !cipher.hashes_emails() {
                // Encryption off (benchmark only): rows stay under their clear key.
                continue;
            }
            let mut sealed = stored.clone();
            crate::store::sealing::seal_metrics(&cipher, &mut sealed)?;
            swaps.push((stored, sealed));
        }
        report.add(swap_all(engine, swaps, metrics::swap_key).await?);
    }
}

/// The tenant's cipher, made once per run.
async fn cipher_of(
    engine: &Engine,
    ciphers: &mut HashMap<String, Arc<FieldCipher>>,
    tenant: &str,
) -> Result<Arc<FieldCipher>, Error> {
    if let Some(c) = ciphers.get(tenant) {
        return Ok(c.clone());
    }
    let c = field_cipher(engine, &TenantId::from_stored(tenant), true).await?;
    ciphers.insert(tenant.to_owned(), c.clone());
    Ok(c)
}

async fn seal_interactions(
    engine: &Engine,
    batch: usize,
    ciphers: &mut HashMap<String, Arc<FieldCipher>>,
) -> Result<SealReport, Error> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut report = SealReport::default();
    let mut after: Option<(String, String, String, i32)> = None;
    loop {
        let cursor = after.clone();
        let page = engine
            .store()
            .run(move |conn| {
                interactions::unsealed_page(conn, cursor.as_ref(), limit).map_err(Error::from)
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        after = Some((
            last.tenant.clone(),
            last.webinar_id.clone(),
            last.email_hash.clone(),
            last.position,
        ));
        let mut swaps = Vec::with_capacity(page.len());
        for stored in page {
            let cipher = cipher_of(engine, ciphers, &stored.tenant).await?;
            let mut sealed = stored.clone();
            cipher.open_interaction(&mut sealed)?;
            cipher.seal_interaction(&mut sealed)?;
            swaps.push((stored, sealed));
        }
        report.add(swap_all(engine, swaps, interactions::swap_content).await?);
    }
}

async fn seal_registrations(
    engine: &Engine,
    batch: usize,
    ciphers: &mut HashMap<String, Arc<FieldCipher>>,
) -> Result<SealReport, Error> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut report = SealReport::default();
    let mut after: Option<(String, String)> = None;
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
            let cipher = cipher_of(engine, ciphers, &stored.tenant).await?;
            // Values sealed already stay as they are; plaintext ones are sealed.
            let mut sealed = stored.clone();
            cipher.open_registration(&mut sealed)?;
            cipher.seal_registration(&mut sealed)?;
            swaps.push((stored, sealed));
        }
        report.add(swap_all(engine, swaps, registrations::swap_personal).await?);
    }
}

/// Swaps each (stored, sealed) pair in one transaction with `swap`, the table's
/// compare-and-set on the values read; counts the swapped rows and those written meanwhile.
async fn swap_all<R: Send + 'static>(
    engine: &Engine,
    swaps: Vec<(R, R)>,
    swap: fn(&mut DbConnection, &R, &R) -> diesel::QueryResult<bool>,
) -> Result<SealReport, Error> {
    engine
        .store()
        .transaction(move |conn| {
            let mut report = SealReport::default();
            for (stored, sealed) in &swaps {
                if swap(conn, stored, sealed)? {
                    report.sealed += 1;
                } else {
                    report.skipped += 1;
                }
            }
            Ok::<_, Error>(report)
        })
        .await
}
