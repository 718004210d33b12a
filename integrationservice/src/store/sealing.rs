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

/// Opens one optional registration column sealed on its own.
fn registration_opt(
    cipher: &FieldCipher,
    id: &str,
    column: &str,
    value: &mut Option<String>,
) -> Result<(), CryptoError> {
    if let Some(v) = value {
        *v = cipher.open(REGISTRATIONS, id, column, v)?;
    }
    Ok(())
}

/// The column of `registrations` holding the sealed record of a registration's personal
/// values other than the email ([`registration`]).
const REGISTRATION_RECORD: &str = "extra";

/// Seals or opens every personal column of a registration.
///
/// Sealing puts the names, company, job title and other fields in one record
/// ([`FieldCipher::seal_record`]) stored in `extra`, the other four columns then empty; the
/// email is sealed alone, as the readers that need only it (a sync's attendance pass, a
/// tenant purge's forget) open it alone. Opening reads either form, and the per-column one
/// of rows sealed before records (and clear values of rows written before encryption).
fn registration(
    cipher: &FieldCipher,
    seal: bool,
    row: &mut RegistrationRow,
) -> Result<(), CryptoError> {
    cipher.check_tenant(&row.tenant)?;
    let id = row.id.clone();
    if seal {
        let record = cipher.seal_record(
            REGISTRATIONS,
            &id,
            REGISTRATION_RECORD,
            &[
                Some(row.first_name.as_str()),
                Some(row.last_name.as_str()),
                row.company.as_deref(),
                row.job_title.as_deref(),
                Some(row.extra.as_str()),
            ],
        )?;
        if let Some(record) = record {
            row.first_name = String::new();
            row.last_name = String::new();
            row.company = None;
            row.job_title = None;
            row.extra = record;
        }
    } else if crate::crypto::fields::is_record(&row.extra) {
        let mut values = cipher
            .open_record(REGISTRATIONS, &id, REGISTRATION_RECORD, &row.extra, 5)?
            .into_iter();
        let mut next = || values.next().ok_or(CryptoError::Decrypt);
        row.first_name = next()?.ok_or(CryptoError::Decrypt)?;
        row.last_name = next()?.ok_or(CryptoError::Decrypt)?;
        row.company = next()?;
        row.job_title = next()?;
        row.extra = next()?.ok_or(CryptoError::Decrypt)?;
    } else {
        let one = |column: &str, value: &str| cipher.open(REGISTRATIONS, &id, column, value);
        row.first_name = one("first_name", &row.first_name)?;
        row.last_name = one("last_name", &row.last_name)?;
        row.extra = one("extra", &row.extra)?;
        registration_opt(cipher, &id, "company", &mut row.company)?;
        registration_opt(cipher, &id, "job_title", &mut row.job_title)?;
    }
    if !seal {
        return registration_opt(cipher, &id, "email", &mut row.email);
    }
    // The keyed hash is what lookups and the unique index use; the address itself is sealed
    // on its own. Without the tenant's email-hash key (the benchmark's encryption-off run)
    // the address stays clear with no hash, and is matched as it is.
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

/// The column of `attendee_interactions` holding the sealed record of an interaction's
/// prompt and response ([`seal_content`]).
const INTERACTION_RECORD: &str = "response";

/// Seals or opens an interaction's prompt and response, whose identity names the clear email
/// (`row.email` must be clear). Sealed as one record in `response` (`prompt` then empty);
/// opening also reads the per-column form of rows sealed before records.
fn seal_content(
    cipher: &FieldCipher,
    seal: bool,
    row: &mut InteractionRow,
) -> Result<(), CryptoError> {
    let id = interaction_id(row);
    if seal {
        let record = cipher.seal_record(
            INTERACTIONS,
            &id,
            INTERACTION_RECORD,
            &[Some(row.prompt.as_str()), Some(row.response.as_str())],
        )?;
        if let Some(record) = record {
            row.prompt = String::new();
            row.response = record;
        }
    } else if crate::crypto::fields::is_record(&row.response) {
        let mut values = cipher
            .open_record(INTERACTIONS, &id, INTERACTION_RECORD, &row.response, 2)?
            .into_iter()
            .flatten();
        row.prompt = values.next().ok_or(CryptoError::Decrypt)?;
        row.response = values.next().ok_or(CryptoError::Decrypt)?;
    } else {
        row.prompt = cipher.open(INTERACTIONS, &id, "prompt", &row.prompt)?;
        row.response = cipher.open(INTERACTIONS, &id, "response", &row.response)?;
    }
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

    fn cipher() -> FieldCipher {
        FieldCipher::new("acme", &[7; 32]).with_email_key(&[9; 32])
    }

    fn person(company: Option<&str>, job_title: Option<&str>) -> RegistrationRow {
        RegistrationRow {
            tenant: "acme".into(),
            id: "r1".into(),
            webinar_id: "w1".into(),
            email: Some("ada@example.com".into()),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: company.map(Into::into),
            job_title: job_title.map(Into::into),
            crm_reference_id: None,
            extra: r#"{"city":"London"}"#.into(),
            status: "PENDING".into(),
            eventuserid: None,
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
            request_id: None,
            delivered_at: None,
            created_at: 0,
            updated_at: 0,
            origin: "CRM".into(),
            attendance: "UNKNOWN".into(),
            email_hash: None,
        }
    }

    /// The personal values of a registration, to compare rows (`RegistrationRow` has no
    /// `PartialEq`, its `Debug` hides them).
    fn values(r: &RegistrationRow) -> [Option<String>; 6] {
        [
            r.email.clone(),
            Some(r.first_name.clone()),
            Some(r.last_name.clone()),
            r.company.clone(),
            r.job_title.clone(),
            Some(r.extra.clone()),
        ]
    }

    #[test]
    fn a_registration_is_sealed_as_its_email_and_one_record() {
        let c = cipher();
        for (company, job_title) in [
            (Some("Analytical Engines"), Some("Countess")),
            (None, None),
            (Some(""), None),
        ] {
            let clear = person(company, job_title);
            let mut row = clear.clone();
            c.seal_registration(&mut row).expect("seal");
            assert!(crate::crypto::fields::is_record(&row.extra));
            assert!(row.email.as_deref().is_some_and(|e| e.starts_with("enc1:")));
            assert_eq!(row.email_hash, c.email_hash("ada@example.com"));
            assert_eq!((row.first_name.as_str(), row.last_name.as_str()), ("", ""));
            assert_eq!(
                (row.company.as_deref(), row.job_title.as_deref()),
                (None, None)
            );
            c.open_registration(&mut row).expect("open");
            assert_eq!(values(&row), values(&clear), "{company:?} {job_title:?}");
        }
        // Bound to the row: another id does not open it.
        let mut row = person(None, None);
        c.seal_registration(&mut row).expect("seal");
        row.id = "r2".into();
        assert!(c.open_registration(&mut row).is_err());
        // Encryption off: stored as it is.
        let mut row = person(Some("X"), None);
        FieldCipher::plain("acme")
            .seal_registration(&mut row)
            .expect("plain");
        assert_eq!(values(&row), values(&person(Some("X"), None)));
    }

    #[test]
    fn registrations_sealed_value_by_value_still_open() {
        let c = cipher();
        let clear = person(Some("Analytical Engines"), None);
        let mut row = clear.clone();
        let one = |column: &str, v: &str| c.seal(REGISTRATIONS, "r1", column, v).expect("seal");
        row.first_name = one("first_name", &clear.first_name);
        row.last_name = one("last_name", &clear.last_name);
        row.company = Some(one("company", "Analytical Engines"));
        row.extra = one("extra", &clear.extra);
        row.email = Some(one("email", "ada@example.com"));
        row.email_hash = c.email_hash("ada@example.com");
        c.open_registration(&mut row).expect("open");
        assert_eq!(values(&row), values(&clear));
    }

    fn answer(prompt: &str, response: &str) -> InteractionRow {
        InteractionRow {
            tenant: "acme".into(),
            webinar_id: "w1".into(),
            email: "ada@example.com".into(),
            position: 0,
            kind: "POLL".into(),
            occurred_at: None,
            reference: "p1".into(),
            prompt: prompt.into(),
            response: response.into(),
            responded_at: None,
            email_hash: String::new(),
        }
    }

    #[test]
    fn an_interaction_is_sealed_as_one_record_and_the_older_form_still_opens() {
        let c = cipher();
        let mut row = answer("Which engine?", "Analytical");
        c.seal_interaction(&mut row).expect("seal");
        assert_eq!(row.prompt, "");
        assert!(crate::crypto::fields::is_record(&row.response));
        c.open_interaction(&mut row).expect("open");
        assert_eq!(
            (
                row.email.as_str(),
                row.prompt.as_str(),
                row.response.as_str()
            ),
            ("ada@example.com", "Which engine?", "Analytical")
        );
        // Sealed value by value, as before records.
        let mut row = answer("Which engine?", "Analytical");
        let id = interaction_id(&row);
        row.prompt = c
            .seal(INTERACTIONS, &id, "prompt", "Which engine?")
            .expect("seal");
        row.response = c
            .seal(INTERACTIONS, &id, "response", "Analytical")
            .expect("seal");
        seal_content(&c, false, &mut row).expect("open");
        assert_eq!(
            (row.prompt.as_str(), row.response.as_str()),
            ("Which engine?", "Analytical")
        );
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
