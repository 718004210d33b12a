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
use crate::store::models::{InteractionRow, MetricsRow, RegistrationRow};
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
    let mut report = seal_table::<Registrations>(engine, batch, &mut ciphers).await?;
    report.add(seal_table::<Interactions>(engine, batch, &mut ciphers).await?);
    report.add(seal_table::<Metrics>(engine, batch, &mut ciphers).await?);
    Ok(report)
}

/// One table the migration seals: how to page through the rows still (partly) in clear, and
/// how to seal and swap one.
trait Unsealed {
    /// One stored row.
    type Row: Clone + Send + 'static;
    /// Where the next page starts (keyset pagination).
    type Cursor: Clone + Send + 'static;

    /// Up to `limit` rows still holding a clear value, after `after`.
    fn page(
        conn: &mut DbConnection,
        after: Option<&Self::Cursor>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<Self::Row>>;
    /// The cursor just past `row`.
    fn cursor(row: &Self::Row) -> Self::Cursor;
    /// The row's tenant.
    fn tenant(row: &Self::Row) -> &str;
    /// The row as it is stored sealed (values sealed already stay as they are); None to
    /// leave it as it is.
    fn seal(cipher: &FieldCipher, stored: &Self::Row) -> Result<Option<Self::Row>, Error>;
    /// The table's compare-and-set on the values read.
    fn swap(
        conn: &mut DbConnection,
        stored: &Self::Row,
        sealed: &Self::Row,
    ) -> diesel::QueryResult<bool>;
}

struct Registrations;

impl Unsealed for Registrations {
    type Row = RegistrationRow;
    type Cursor = (String, String);

    fn page(
        conn: &mut DbConnection,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<RegistrationRow>> {
        registrations::unsealed_page(conn, after.map(|(t, i)| (t.as_str(), i.as_str())), limit)
    }
    fn cursor(row: &RegistrationRow) -> (String, String) {
        (row.tenant.clone(), row.id.clone())
    }
    fn tenant(row: &RegistrationRow) -> &str {
        &row.tenant
    }
    fn seal(
        cipher: &FieldCipher,
        stored: &RegistrationRow,
    ) -> Result<Option<RegistrationRow>, Error> {
        let mut sealed = stored.clone();
        cipher.open_registration(&mut sealed)?;
        cipher.seal_registration(&mut sealed)?;
        Ok(Some(sealed))
    }
    fn swap(
        conn: &mut DbConnection,
        stored: &RegistrationRow,
        sealed: &RegistrationRow,
    ) -> diesel::QueryResult<bool> {
        registrations::swap_personal(conn, stored, sealed)
    }
}

struct Interactions;

impl Unsealed for Interactions {
    type Row = InteractionRow;
    type Cursor = (String, String, String, i32);

    fn page(
        conn: &mut DbConnection,
        after: Option<&Self::Cursor>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<InteractionRow>> {
        interactions::unsealed_page(conn, after, limit)
    }
    fn cursor(row: &InteractionRow) -> Self::Cursor {
        (
            row.tenant.clone(),
            row.webinar_id.clone(),
            row.email_hash.clone(),
            row.position,
        )
    }
    fn tenant(row: &InteractionRow) -> &str {
        &row.tenant
    }
    fn seal(
        cipher: &FieldCipher,
        stored: &InteractionRow,
    ) -> Result<Option<InteractionRow>, Error> {
        let mut sealed = stored.clone();
        cipher.open_interaction(&mut sealed)?;
        cipher.seal_interaction(&mut sealed)?;
        Ok(Some(sealed))
    }
    fn swap(
        conn: &mut DbConnection,
        stored: &InteractionRow,
        sealed: &InteractionRow,
    ) -> diesel::QueryResult<bool> {
        interactions::swap_content(conn, stored, sealed)
    }
}

struct Metrics;

impl Unsealed for Metrics {
    type Row = MetricsRow;
    type Cursor = (String, String, String);

    fn page(
        conn: &mut DbConnection,
        after: Option<&Self::Cursor>,
        limit: i64,
    ) -> diesel::QueryResult<Vec<MetricsRow>> {
        metrics::unsealed_page(conn, after, limit)
    }
    fn cursor(row: &MetricsRow) -> Self::Cursor {
        (
            row.tenant.clone(),
            row.webinar_id.clone(),
            row.email_hash.clone(),
        )
    }
    fn tenant(row: &MetricsRow) -> &str {
        &row.tenant
    }
    fn seal(cipher: &FieldCipher, stored: &MetricsRow) -> Result<Option<MetricsRow>, Error> {
        if !cipher.hashes_emails() {
            // Encryption off (benchmark only): rows stay under their clear key.
            return Ok(None);
        }
        let mut sealed = stored.clone();
        crate::store::sealing::seal_metrics(cipher, &mut sealed)?;
        Ok(Some(sealed))
    }
    fn swap(
        conn: &mut DbConnection,
        stored: &MetricsRow,
        sealed: &MetricsRow,
    ) -> diesel::QueryResult<bool> {
        metrics::swap_key(conn, stored, sealed)
    }
}

/// Seals every row of `T` still holding a clear value, a page at a time.
async fn seal_table<T: Unsealed>(
    engine: &Engine,
    batch: usize,
    ciphers: &mut HashMap<String, Arc<FieldCipher>>,
) -> Result<SealReport, Error> {
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let mut report = SealReport::default();
    let mut after: Option<T::Cursor> = None;
    loop {
        let cursor = after.clone();
        let page = engine
            .store()
            .run(move |conn| T::page(conn, cursor.as_ref(), limit).map_err(Error::from))
            .await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        after = Some(T::cursor(last));
        let mut swaps = Vec::with_capacity(page.len());
        for stored in page {
            let cipher = cipher_of(engine, ciphers, T::tenant(&stored)).await?;
            if let Some(sealed) = T::seal(&cipher, &stored)? {
                swaps.push((stored, sealed));
            }
        }
        report.add(swap_all(engine, swaps, T::swap).await?);
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
