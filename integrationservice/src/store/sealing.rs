//! Which columns of each table are personal and sealed at rest, and how a row's identity goes
//! into their additional authenticated data: the row-shaped side of `crypto::fields`, kept
//! with the rows so the cipher knows nothing of the tables.

use crate::attendee_activity::AttendeeInteraction;
use crate::crypto::CryptoError;
use crate::crypto::fields::{CLEAR_DIGEST, FieldCipher};

use super::models::{InteractionRow, MetricsRow, RegistrationRow};

/// The `registrations` table, as named in the additional authenticated data.
const REGISTRATIONS: &str = "registrations";
/// The `attendee_interactions` table, likewise.
const INTERACTIONS: &str = "attendee_interactions";
/// The `attendee_metrics` table, likewise.
const METRICS: &str = "attendee_metrics";
/// The `outbox_jobs` table (a forget job's payload), likewise.
const OUTBOX: &str = "outbox_jobs";

/// The digest of an attendee's interactions stored on their metrics row
/// (`attendee_metrics.interactions_digest`): the tenant's keyed digest
/// ([`FieldCipher::digest`]) of the list in report order, every field a sync compares
/// encoded unambiguously (the count, then per item its kind, time, reference, prompt,
/// response and answer time, each text length-prefixed and each optional time tagged), so two
/// lists have the same digest only if they are equal. None when the cipher cannot digest.
pub(crate) fn interactions_digest(
    cipher: &FieldCipher,
    items: &[AttendeeInteraction],
) -> Option<String> {
    fn text(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn time(out: &mut Vec<u8>, t: Option<i64>) {
        match t {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_be_bytes());
            }
            None => out.push(0),
        }
    }
    let size: usize = items
        .iter()
        .map(|i| 64 + i.reference.len() + i.prompt.len() + i.response.len())
        .sum();
    let mut out = Vec::with_capacity(8 + size);
    out.extend_from_slice(&(items.len() as u64).to_be_bytes());
    for i in items {
        text(&mut out, i.kind.as_str());
        time(&mut out, i.occurred_at);
        text(&mut out, &i.reference);
        text(&mut out, &i.prompt);
        text(&mut out, &i.response);
        time(&mut out, i.responded_at);
    }
    cipher.digest("attendee_interactions/v1", &out)
}

/// Whether two interaction digests were made the same way (both under the tenant's key, or
/// both without it), so that different values mean different interactions.
pub(crate) fn digests_comparable(a: &str, b: &str) -> bool {
    a.starts_with(CLEAR_DIGEST) == b.starts_with(CLEAR_DIGEST)
}

/// Seals the emails a job's payload carries (a forget's). `id` names the payload in the
/// additional authenticated data (the job's own id is not known before it is inserted).
pub(crate) fn seal_job_emails(
    cipher: &FieldCipher,
    tenant: &str,
    id: &str,
    emails: Vec<String>,
) -> Result<Vec<String>, CryptoError> {
    cipher.check_tenant(tenant)?;
    emails
        .iter()
        .map(|e| cipher.seal(OUTBOX, id, "emails", e))
        .collect()
}

/// Opens what [`seal_job_emails`] sealed; clear ones (payloads written before) stay as they
/// are.
pub(crate) fn open_job_emails(
    cipher: &FieldCipher,
    tenant: &str,
    id: &str,
    emails: &[String],
) -> Result<Vec<String>, CryptoError> {
    cipher.check_tenant(tenant)?;
    emails
        .iter()
        .map(|e| cipher.open(OUTBOX, id, "emails", e))
        .collect()
}

/// How the key of a per-attendee row (`attendee_metrics`, `attendee_interactions`) starts
/// when it is the clear email instead of its keyed hash: rows written before emails were
/// sealed (the migration keyed them so), and every row when the tenant has no email-hash key
/// (the benchmark's encryption-off run). A keyed hash is hex, so never starts so.
pub(crate) const CLEAR_KEY: &str = "clear:";

/// The key a per-attendee row of `email` is stored under with this cipher.
pub(crate) fn attendee_key(cipher: &FieldCipher, email: &str) -> String {
    cipher
        .email_hash(email)
        .unwrap_or_else(|| format!("{CLEAR_KEY}{email}"))
}

/// Every key a per-attendee row of these emails may be stored under (its keyed hash, and
/// the clear key of a row not hashed yet unless the cipher knows there is none), each with
/// its email: what lookups match, hashed in one pass.
pub(crate) fn attendee_keys(cipher: &FieldCipher, emails: &[String]) -> Vec<(String, String)> {
    let clear_too = cipher.may_find_clear_keyed_rows();
    let mut keys = Vec::with_capacity(emails.len() * if clear_too { 2 } else { 1 });
    for email in emails {
        if let Some(hash) = cipher.email_hash(email) {
            keys.push((hash, email.clone()));
        }
        if clear_too {
            keys.push((format!("{CLEAR_KEY}{email}"), email.clone()));
        }
    }
    keys
}

/// A per-attendee row's identity in the email's additional authenticated data: webinar and
/// key (the email cannot name itself).
fn attendee_id(webinar_id: &str, key: &str) -> String {
    format!("{}:{webinar_id}/{key}", webinar_id.len())
}

/// Keys a per-attendee row and seals its email (unless sealed already).
fn seal_attendee_email(
    cipher: &FieldCipher,
    table: &str,
    webinar_id: &str,
    email: &mut String,
    key: &mut String,
) -> Result<(), CryptoError> {
    if crate::crypto::fields::is_sealed(email) {
        return Ok(());
    }
    *key = attendee_key(cipher, email);
    if !key.starts_with(CLEAR_KEY) {
        *email = cipher.seal(table, &attendee_id(webinar_id, key), "email", email)?;
    }
    Ok(())
}

/// Opens a per-attendee row's email (a clear one stays as it is).
fn open_attendee_email(
    cipher: &FieldCipher,
    table: &str,
    webinar_id: &str,
    email: &mut String,
    key: &str,
) -> Result<(), CryptoError> {
    *email = cipher.open(table, &attendee_id(webinar_id, key), "email", email)?;
    Ok(())
}

/// Seals a metrics row's email and sets its key.
pub(crate) fn seal_metrics(cipher: &FieldCipher, row: &mut MetricsRow) -> Result<(), CryptoError> {
    cipher.check_tenant(&row.tenant)?;
    seal_attendee_email(
        cipher,
        METRICS,
        &row.webinar_id,
        &mut row.email,
        &mut row.email_hash,
    )
}

/// Opens a metrics row's email.
pub(crate) fn open_metrics(cipher: &FieldCipher, row: &mut MetricsRow) -> Result<(), CryptoError> {
    cipher.check_tenant(&row.tenant)?;
    open_attendee_email(
        cipher,
        METRICS,
        &row.webinar_id,
        &mut row.email,
        &row.email_hash,
    )
}

/// Sealing and opening the personal columns of whole rows, in place.
pub(crate) trait SealRows {
    /// Seals a registration's personal columns: email (also setting its keyed hash,
    /// `email_hash`), first and last name, company, job title and the other registrant fields
    /// (`extra`).
    fn seal_registration(&self, row: &mut RegistrationRow) -> Result<(), CryptoError>;
    /// Opens what [`SealRows::seal_registration`] sealed; unsealed values (rows written
    /// before encryption at rest) are left as they are.
    fn open_registration(&self, row: &mut RegistrationRow) -> Result<(), CryptoError>;
    /// Seals an interaction's content: the question (or poll, resource, ...) and the person's
    /// answer.
    fn seal_interaction(&self, row: &mut InteractionRow) -> Result<(), CryptoError>;
    /// Opens what [`SealRows::seal_interaction`] sealed.
    fn open_interaction(&self, row: &mut InteractionRow) -> Result<(), CryptoError>;
}

/// Seals (`seal` true) or opens one optional registration column.
fn registration_opt(
    cipher: &FieldCipher,
    seal: bool,
    id: &str,
    column: &str,
    value: &mut Option<String>,
) -> Result<(), CryptoError> {
    if let Some(v) = value {
        *v = if seal {
            cipher.seal(REGISTRATIONS, id, column, v)?
        } else {
            cipher.open(REGISTRATIONS, id, column, v)?
        };
    }
    Ok(())
}

/// Seals or opens every personal column of a registration.
fn registration(
    cipher: &FieldCipher,
    seal: bool,
    row: &mut RegistrationRow,
) -> Result<(), CryptoError> {
    cipher.check_tenant(&row.tenant)?;
    let id = row.id.clone();
    let one = |column: &str, value: &str| {
        if seal {
            cipher.seal(REGISTRATIONS, &id, column, value)
        } else {
            cipher.open(REGISTRATIONS, &id, column, value)
        }
    };
    row.first_name = one("first_name", &row.first_name)?;
    row.last_name = one("last_name", &row.last_name)?;
    row.extra = one("extra", &row.extra)?;
    registration_opt(cipher, seal, &id, "company", &mut row.company)?;
    registration_opt(cipher, seal, &id, "job_title", &mut row.job_title)?;
    if !seal {
        return registration_opt(cipher, seal, &id, "email", &mut row.email);
    }
    // The keyed hash is what lookups and the unique index use; the address itself is sealed
    // like the other columns. Without the tenant's email-hash key (the benchmark's
    // encryption-off run) the address stays clear with no hash, and is matched as it is.
    match &row.email {
        Some(email) if crate::crypto::fields::is_sealed(email) => {}
        Some(email) if cipher.hashes_emails() => {
            row.email_hash = cipher.email_hash(email);
            row.email = Some(cipher.seal(REGISTRATIONS, &id, "email", email)?);
        }
        _ => row.email_hash = None,
    }
    Ok(())
}

/// A registration's email as stored (sealed or, before the migration, clear) opened.
pub(crate) fn open_registration_email(
    cipher: &FieldCipher,
    tenant: &str,
    id: &str,
    stored: &str,
) -> Result<String, CryptoError> {
    cipher.check_tenant(tenant)?;
    cipher.open(REGISTRATIONS, id, "email", stored)
}

/// An interaction row's identity in the additional authenticated data: its primary key.
fn interaction_id(row: &InteractionRow) -> String {
    format!(
        "{}:{}/{}:{}/{}",
        row.webinar_id.len(),
        row.webinar_id,
        row.email.len(),
        row.email,
        row.position
    )
}

/// Seals or opens an interaction's content.
fn interaction(
    cipher: &FieldCipher,
    seal: bool,
    row: &mut InteractionRow,
) -> Result<(), CryptoError> {
    cipher.check_tenant(&row.tenant)?;
    // The content's identity names the clear email, so the email is opened first and sealed
    // last (its own identity names the key instead).
    if !seal {
        open_attendee_email(
            cipher,
            INTERACTIONS,
            &row.webinar_id,
            &mut row.email,
            &row.email_hash,
        )?;
    }
    seal_content(cipher, seal, row)?;
    if seal {
        seal_attendee_email(
            cipher,
            INTERACTIONS,
            &row.webinar_id,
            &mut row.email,
            &mut row.email_hash,
        )?;
    }
    Ok(())
}

/// Seals interaction rows for writing, as [`SealRows::seal_interaction`] does one by one,
/// except that the rows of one attendee (consecutive, as a sync writes them) share one
/// sealed email: the email's identity names only the webinar and key, the same for each of
/// the attendee's rows, so one ciphertext serves them all (a copy, not a nonce used twice).
pub(crate) fn seal_interactions(
    cipher: &FieldCipher,
    rows: &[InteractionRow],
) -> Result<Vec<InteractionRow>, CryptoError> {
    // (webinar, clear email) of the last row sealed, with its key and sealed email.
    let mut last: Option<((String, String), String, String)> = None;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row = row.clone();
        match &last {
            Some(((webinar, email), key, sealed))
                if *webinar == row.webinar_id
                    && *email == row.email
                    && !crate::crypto::fields::is_sealed(&row.email) =>
            {
                cipher.check_tenant(&row.tenant)?;
                seal_content(cipher, true, &mut row)?;
                row.email_hash = key.clone();
                row.email = sealed.clone();
            }
            _ => {
                let clear = (row.webinar_id.clone(), row.email.clone());
                interaction(cipher, true, &mut row)?;
                last = Some((clear, row.email_hash.clone(), row.email.clone()));
            }
        }
        out.push(row);
    }
    Ok(out)
}

/// Opens interaction rows read by email: `email_of` gives each row's email from its key (the
/// lookup hashed the emails), so only the content is decrypted. A row whose content does not
/// open under that email (stored with another spelling of it) is opened whole.
pub(crate) fn open_interactions_keyed(
    cipher: &FieldCipher,
    rows: &mut [InteractionRow],
    email_of: &std::collections::HashMap<&str, &str>,
) -> Result<(), CryptoError> {
    for row in rows {
        cipher.check_tenant(&row.tenant)?;
        if let Some(email) = email_of.get(row.email_hash.as_str()) {
            let mut keyed = row.clone();
            keyed.email = (*email).to_owned();
            if seal_content(cipher, false, &mut keyed).is_ok() {
                *row = keyed;
                continue;
            }
        }
        interaction(cipher, false, row)?;
    }
    Ok(())
}

/// Seals or opens an interaction's prompt and response, whose identity names the clear email
/// (`row.email` must be clear).
fn seal_content(
    cipher: &FieldCipher,
    seal: bool,
    row: &mut InteractionRow,
) -> Result<(), CryptoError> {
    let id = interaction_id(row);
    let one = |column: &str, value: &str| {
        if seal {
            cipher.seal(INTERACTIONS, &id, column, value)
        } else {
            cipher.open(INTERACTIONS, &id, column, value)
        }
    };
    row.prompt = one("prompt", &row.prompt)?;
    row.response = one("response", &row.response)?;
    Ok(())
}

impl SealRows for FieldCipher {
    fn seal_registration(&self, row: &mut RegistrationRow) -> Result<(), CryptoError> {
        registration(self, true, row)
    }

    fn open_registration(&self, row: &mut RegistrationRow) -> Result<(), CryptoError> {
        registration(self, false, row)
    }

    fn seal_interaction(&self, row: &mut InteractionRow) -> Result<(), CryptoError> {
        interaction(self, true, row)
    }

    fn open_interaction(&self, row: &mut InteractionRow) -> Result<(), CryptoError> {
        interaction(self, false, row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails() -> Vec<String> {
        vec!["a@example.com".into(), "b@example.com".into()]
    }

    #[test]
    fn lookups_ask_for_the_clear_key_only_where_it_may_be() {
        let hashing = FieldCipher::new("t", &[7; 32]).with_email_key(&[9; 32]);
        let hash_a = hashing.email_hash("a@example.com").expect("hashes");
        let both = attendee_keys(&hashing, &emails());
        assert_eq!(both.len(), 4, "keyed hash and clear key of each");
        assert!(both.contains(&(hash_a.clone(), "a@example.com".into())));
        assert!(both.contains(&("clear:a@example.com".into(), "a@example.com".into())));

        let known = hashing.memoizing().without_clear_keyed_rows();
        let hashed = attendee_keys(&known, &emails());
        assert_eq!(hashed.len(), 2, "the keyed hashes alone");
        assert_eq!(hashed[0], (hash_a, "a@example.com".into()));

        // Without the hash key the clear key is the only one, whatever was found.
        let plain = FieldCipher::plain("t").without_clear_keyed_rows();
        assert_eq!(
            attendee_keys(&plain, &emails()),
            [
                ("clear:a@example.com".to_owned(), "a@example.com".to_owned()),
                ("clear:b@example.com".to_owned(), "b@example.com".to_owned()),
            ]
        );
    }
}
