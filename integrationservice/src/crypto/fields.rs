//! Personal columns encrypted at rest, per tenant: the one place that seals and opens them.
//!
//! Each tenant has a personal-data key (`tenant_keys`, purpose `personal_data`), a data key the
//! key service generated under the tenant's own KEK. A column value is stored as
//! `enc1:` + base64(nonce || AES-256-GCM ciphertext and tag), with the additional
//! authenticated data naming the tenant, table, row id and column (length-prefixed), so a
//! value copied to another row, column or tenant does not open. An empty value stays empty
//! (a forgotten registration's tombstone). A value without the prefix was written before
//! encryption at rest and is read as it is until the background migration seals it.
//!
//! A row's several personal values that are always written together (a registration's
//! names, company, job title and other fields; an interaction's prompt and response) are
//! sealed as one record instead ([`FieldCipher::seal_record`]): `enc2:` + base64(nonce ||
//! ciphertext and tag) of the values length-prefixed, stored in one column of the row (the
//! additional authenticated data names that column) while the others stay empty. One nonce,
//! tag and encoding per row rather than per value: about 40 bytes less per value in every
//! row, index-free but written to the WAL and every backup, and one AES-GCM call.
//!
//! The store seals a row's personal columns with [`FieldCipher::seal`] before it writes the
//! row and opens them after it reads one (`store::sealing` names the columns of each table),
//! so the rest of the service only ever sees plaintext rows and the database only ever
//! receives ciphertext.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::CryptoError;

/// The purpose of a tenant's personal-data key in `tenant_keys`.
pub(crate) const PERSONAL_DATA: &str = "personal_data";

/// Bytes of an AES-GCM nonce and tag.
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Marks a sealed value (format version 1).
const PREFIX: &str = "enc1:";

/// Marks a sealed record of several values ([`FieldCipher::seal_record`]).
const RECORD_PREFIX: &str = "enc2:";

/// What `LIKE` matches a sealed value or record with (`enc1:`, `enc2:`): the sealing
/// migration's "still in clear" filters use it.
pub(crate) const SEALED_LIKE: &str = "enc_:%";

/// Starts a digest made without the tenant's key ([`FieldCipher::digest`]), as `clear:`
/// starts the key of a row whose email is stored clear.
pub(crate) const CLEAR_DIGEST: &str = "clear:";

/// The keyed state of a digest made without the tenant's key: a public all-zero key,
/// scheduled once.
static CLEAR_DIGEST_MAC: std::sync::LazyLock<Hmac<Sha256>> = std::sync::LazyLock::new(|| {
    <Hmac<Sha256> as Mac>::new_from_slice(&[0; 32]).expect("HMAC takes any key length")
});

/// A tenant's personal-data cipher. `Debug` shows only the tenant; the AES key schedule is
/// wiped when the last user drops it (aes-gcm's `zeroize`).
pub struct FieldCipher {
    tenant: String,
    /// None: no key (a tenant that never wrote, or encryption off in a benchmark run): values
    /// are written as they are and only unsealed values can be read.
    aead: Option<Aes256Gcm>,
    /// The tenant's email-hash key (`tenant_keys`, purpose `email_hash`, the one suppressions
    /// use), keyed once: each hash clones the keyed state. None: no key (a tenant that never
    /// wrote, or the benchmark's encryption-off run): emails are stored and matched in clear.
    email_mac: Option<Hmac<Sha256>>,
    /// Keyed hashes of the emails hashed lately, by email ([`FieldCipher::memoizing`]): a
    /// metrics sync hashes each address of a chunk in several passes (suppression, metrics,
    /// interactions, feed entries), each pass a look-up here after the first.
    memo: Option<Mutex<HashMap<String, String>>>,
    /// False when the one sync this copy serves found no per-attendee row stored under the
    /// clear key of its email (written before emails were sealed) in its webinar
    /// ([`FieldCipher::without_clear_keyed_rows`]).
    clear_keyed_rows: bool,
}

/// Emails a memoizing cipher remembers before it starts afresh: a few sync chunks (2,000
/// attendees or 1,000 registrants each), about 1 MB.
const MEMO_CAP: usize = 8_192;

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldCipher")
            .field("tenant", &self.tenant)
            .field("keyed", &self.aead.is_some())
            .field("hashes", &self.email_mac.is_some())
            .field("memoizing", &self.memo.is_some())
            .field("clear_keyed_rows", &self.clear_keyed_rows)
            .finish()
    }
}

/// Whether a stored value is sealed, alone or as a record (not a value written before
/// encryption at rest).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX) || is_record(stored)
}

/// Whether a stored value is a sealed record of several values ([`FieldCipher::seal_record`]).
pub(crate) fn is_record(stored: &str) -> bool {
    stored.starts_with(RECORD_PREFIX)
}

impl FieldCipher {
    /// The cipher of `tenant` under its 32-byte personal-data key.
    pub fn new(tenant: &str, key: &[u8]) -> Self {
        Self {
            tenant: tenant.to_owned(),
            aead: Some(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))),
            email_mac: None,
            memo: None,
            clear_keyed_rows: true,
        }
    }

    /// A copy of this cipher that remembers the keyed hash of the last few thousand emails it
    /// hashed, for one metrics sync (which hashes each address several times). Its own copy,
    /// so the remembered emails go when the sync drops it.
    pub fn memoizing(&self) -> Self {
        Self {
            tenant: self.tenant.clone(),
            aead: self.aead.clone(),
            email_mac: self.email_mac.clone(),
            memo: Some(Mutex::new(HashMap::new())),
            clear_keyed_rows: self.clear_keyed_rows,
        }
    }

    /// This cipher, for work on one webinar found to hold no per-attendee row under a clear
    /// key: if it hashes emails, its lookups by email then ask for the keyed hash alone, half
    /// the keys. The finding stays true while the cipher is used: with the hash key no row is
    /// ever written under a clear key, and the sealing migration only removes them.
    pub fn without_clear_keyed_rows(mut self) -> Self {
        self.clear_keyed_rows = false;
        self
    }

    /// Whether lookups by email must ask for the clear key of each email: always without the
    /// hash key (the clear key is then the only one), else unless the webinar was found to
    /// hold none ([`FieldCipher::without_clear_keyed_rows`]).
    pub fn may_find_clear_keyed_rows(&self) -> bool {
        self.clear_keyed_rows || !self.hashes_emails()
    }

    /// This cipher, also hashing emails under the tenant's email-hash key: emails are then
    /// stored sealed beside their keyed hash, which lookups and uniqueness use.
    pub fn with_email_key(mut self, key: &[u8]) -> Self {
        self.email_mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok();
        self
    }

    /// Whether this cipher hashes (and so seals) emails.
    pub fn hashes_emails(&self) -> bool {
        self.email_mac.is_some() && self.aead.is_some()
    }

    /// The keyed hash of an address (lower-case hex HMAC-SHA-256 of it trimmed and
    /// lower-cased: the same value as the suppression list's), or None without a key.
    pub fn email_hash(&self, email: &str) -> Option<String> {
        // Without the column key emails stay clear (encryption off): no hash either.
        self.aead.as_ref()?;
        let mac = self.email_mac.as_ref()?;
        let Some(memo) = &self.memo else {
            return Some(hash_email(mac, email));
        };
        if let Some(hash) = memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(email)
        {
            return Some(hash.clone());
        }
        let hash = hash_email(mac, email);
        let mut memo = memo.lock().unwrap_or_else(PoisonError::into_inner);
        if memo.len() >= MEMO_CAP {
            memo.clear();
        }
        memo.insert(email.to_owned(), hash.clone());
        Some(hash)
    }

    /// The keyed digest of `message` in the domain `domain` (a name of what is digested, e.g.
    /// `interactions`): lower-case hex HMAC-SHA-256 under the tenant's email-hash key, over
    /// a NUL, the domain, a NUL and the message. An email hashed by [`Self::email_hash`] never
    /// starts with a NUL (addresses have no control characters), so a digest never equals
    /// an email hash. Keyed because what it digests is personal: an unkeyed hash of a poll
    /// answer could be found by trying the likely answers.
    ///
    /// Without the column key (encryption off: every personal value is stored clear) the
    /// digest is `clear:` + the same HMAC under a public all-zero key, so the comparison works
    /// the same way at the same cost, and never matches a keyed one. None with the column key
    /// but no email-hash key (a cipher that only reads).
    pub(crate) fn digest(&self, domain: &str, message: &[u8]) -> Option<String> {
        let (mac, prefix) = match (&self.aead, &self.email_mac) {
            (Some(_), Some(mac)) => (mac.clone(), ""),
            (Some(_), None) => return None,
            (None, _) => (CLEAR_DIGEST_MAC.clone(), CLEAR_DIGEST),
        };
        let mut mac = mac;
        mac.update(&[0]);
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        let mut out = String::with_capacity(prefix.len() + 64);
        out.push_str(prefix);
        push_hex(&mut out, &mac.finalize().into_bytes());
        Some(out)
    }

    /// A cipher without a key: writes values as they are and reads only unsealed values (a
    /// tenant with no key has no sealed value; the benchmark's encryption-off run).
    pub fn plain(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            aead: None,
            email_mac: None,
            memo: None,
            clear_keyed_rows: true,
        }
    }

    fn aad(&self, table: &str, row_id: &str, column: &str) -> Vec<u8> {
        format!(
            "webinar.integrationservice/v1/field/{}:{}/{}:{table}/{}:{row_id}/{column}",
            self.tenant.len(),
            self.tenant,
            table.len(),
            row_id.len(),
        )
        .into_bytes()
    }

    /// `plain` as stored in `table`.`column` of row `row_id`.
    pub(crate) fn seal(
        &self,
        table: &str,
        row_id: &str,
        column: &str,
        plain: &str,
    ) -> Result<String, CryptoError> {
        let Some(aead) = &self.aead else {
            return Ok(plain.to_owned());
        };
        if plain.is_empty() {
            return Ok(String::new());
        }
        let aad = self.aad(table, row_id, column);
        encrypt(aead, PREFIX, &aad, plain.as_bytes())
    }

    /// The plaintext of a value stored in `table`.`column` of row `row_id` (public for the
    /// tests that play an attacker holding a database copy and a key).
    pub fn open(
        &self,
        table: &str,
        row_id: &str,
        column: &str,
        stored: &str,
    ) -> Result<String, CryptoError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let aead = self.aead.as_ref().ok_or(CryptoError::Decrypt)?;
        let plain = decrypt(aead, &self.aad(table, row_id, column), body)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// `values` (each present or not) sealed as one record stored in `table`.`column` of row
    /// `row_id`; None without the personal-data key (the values are then stored as they are).
    /// Each value is encoded as a presence byte and, when present, its length (LEB128) and
    /// bytes, so the record opens to exactly these values in this order.
    pub(crate) fn seal_record(
        &self,
        table: &str,
        row_id: &str,
        column: &str,
        values: &[Option<&str>],
    ) -> Result<Option<String>, CryptoError> {
        let Some(aead) = &self.aead else {
            return Ok(None);
        };
        let size = values.iter().flatten().map(|v| v.len() + 4).sum::<usize>();
        let mut plain = Vec::with_capacity(values.len() + size);
        for value in values {
            match value {
                None => plain.push(0),
                Some(v) => {
                    plain.push(1);
                    let mut len = v.len();
                    while len >= 0x80 {
                        plain.push((len & 0x7f) as u8 | 0x80);
                        len >>= 7;
                    }
                    plain.push(len as u8);
                    plain.extend_from_slice(v.as_bytes());
                }
            }
        }
        let aad = self.aad(table, row_id, column);
        encrypt(aead, RECORD_PREFIX, &aad, &plain).map(Some)
    }

    /// The `count` values of a record stored in `table`.`column` of row `row_id`
    /// ([`Self::seal_record`]; public for the tests that play an attacker holding a database
    /// copy and a key).
    pub fn open_record(
        &self,
        table: &str,
        row_id: &str,
        column: &str,
        stored: &str,
        count: usize,
    ) -> Result<Vec<Option<String>>, CryptoError> {
        let body = stored
            .strip_prefix(RECORD_PREFIX)
            .ok_or(CryptoError::Decrypt)?;
        let aead = self.aead.as_ref().ok_or(CryptoError::Decrypt)?;
        let plain = decrypt(aead, &self.aad(table, row_id, column), body)?;
        let mut rest = plain.as_slice();
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let (&present, after) = rest.split_first().ok_or(CryptoError::Decrypt)?;
            rest = after;
            if present == 0 {
                values.push(None);
                continue;
            }
            let mut len = 0usize;
            let mut shift = 0;
            loop {
                let (&b, after) = rest.split_first().ok_or(CryptoError::Decrypt)?;
                rest = after;
                if shift > 28 {
                    return Err(CryptoError::Decrypt);
                }
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            if len > rest.len() {
                return Err(CryptoError::Decrypt);
            }
            let (value, after) = rest.split_at(len);
            rest = after;
            values.push(Some(
                String::from_utf8(value.to_vec()).map_err(|_| CryptoError::Decrypt)?,
            ));
        }
        if rest.is_empty() {
            Ok(values)
        } else {
            Err(CryptoError::Decrypt)
        }
    }

    /// Refuses a row of another tenant: its values must never be sealed or opened under this
    /// tenant's key.
    pub(crate) fn check_tenant(&self, tenant: &str) -> Result<(), CryptoError> {
        if tenant == self.tenant {
            Ok(())
        } else {
            Err(CryptoError::Encrypt)
        }
    }
}

/// `prefix` + base64(nonce || AES-256-GCM ciphertext of `plain` and tag) under `aad`.
fn encrypt(
    aead: &Aes256Gcm,
    prefix: &str,
    aad: &[u8],
    plain: &[u8],
) -> Result<String, CryptoError> {
    // A random 96-bit nonce from the thread's CSPRNG (ChaCha, seeded and reseeded from the
    // OS): a system call per value, as `OsRng` makes, was a measurable share of sealing a
    // batch of rows. Random nonces stay far from GCM's 2^32 messages per key: a tenant's
    // key seals a handful of values per registration.
    let mut bytes = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
    bytes.resize(NONCE_LEN, 0);
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..NONCE_LEN]);
    bytes.extend_from_slice(plain);
    let (nonce, message) = bytes.split_at_mut(NONCE_LEN);
    let tag = aead
        .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, message)
        .map_err(|_| CryptoError::Encrypt)?;
    bytes.extend_from_slice(&tag);
    let mut out = String::with_capacity(prefix.len() + bytes.len().div_ceil(3) * 4);
    out.push_str(prefix);
    B64.encode_string(&bytes, &mut out);
    Ok(out)
}

/// The plaintext of base64(nonce || ciphertext and tag) under `aad`.
fn decrypt(aead: &Aes256Gcm, aad: &[u8], body: &str) -> Result<Vec<u8>, CryptoError> {
    let mut bytes = B64.decode(body).map_err(|_| CryptoError::Decrypt)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Decrypt);
    }
    let tag = bytes.split_off(bytes.len() - TAG_LEN);
    let (nonce, message) = bytes.split_at_mut(NONCE_LEN);
    aead.decrypt_in_place_detached(
        Nonce::from_slice(nonce),
        aad,
        message,
        aes_gcm::Tag::from_slice(&tag),
    )
    .map_err(|_| CryptoError::Decrypt)?;
    bytes.drain(..NONCE_LEN);
    Ok(bytes)
}

/// Lower-case hex HMAC-SHA-256 of an address trimmed and lower-cased, under the keyed state
/// `mac` (cloned: the key is scheduled once).
pub(crate) fn hash_email(mac: &Hmac<Sha256>, email: &str) -> String {
    let mut mac = mac.clone();
    let email = email.trim();
    if email.bytes().any(|b| b.is_ascii_uppercase()) || !email.is_ascii() {
        mac.update(email.to_lowercase().as_bytes());
    } else {
        mac.update(email.as_bytes());
    }
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(digest.len() * 2);
    push_hex(&mut out, &digest);
    out
}

/// Appends `bytes` to `out` in lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// A store error for a value that cannot be sealed or opened (never with the value).
pub(crate) fn store_error(e: CryptoError) -> diesel::result::Error {
    match e {
        CryptoError::Decrypt => diesel::result::Error::DeserializationError(Box::new(e)),
        other => diesel::result::Error::SerializationError(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_row_and_column() {
        let a = FieldCipher::new("acme", &[7; 32]);
        let sealed = a
            .seal("registrations", "r1", "company", "Initech")
            .expect("crypto");
        assert!(is_sealed(&sealed) && !sealed.contains("Initech"));
        assert_eq!(
            a.open("registrations", "r1", "company", &sealed)
                .expect("crypto"),
            "Initech"
        );
        assert!(a.open("registrations", "r2", "company", &sealed).is_err());
        assert!(a.open("registrations", "r1", "job_title", &sealed).is_err());
        let b = FieldCipher::new("globex", &[7; 32]);
        assert!(b.open("registrations", "r1", "company", &sealed).is_err());
        assert_eq!(
            a.open("registrations", "r1", "company", "legacy")
                .expect("crypto"),
            "legacy"
        );
        assert_eq!(
            a.seal("registrations", "r1", "company", "")
                .expect("crypto"),
            ""
        );
        assert_ne!(
            sealed,
            a.seal("registrations", "r1", "company", "Initech")
                .expect("crypto")
        );
    }

    #[test]
    fn record_round_trip_bound_to_row_and_column() {
        let a = FieldCipher::new("acme", &[7; 32]);
        let long = "x".repeat(300);
        let values = [Some("Ada"), None, Some(""), Some(long.as_str())];
        let sealed = a
            .seal_record("registrations", "r1", "extra", &values)
            .expect("crypto")
            .expect("keyed");
        assert!(is_sealed(&sealed) && is_record(&sealed) && !sealed.contains("Ada"));
        let opened = a
            .open_record("registrations", "r1", "extra", &sealed, 4)
            .expect("crypto");
        let opened: Vec<Option<&str>> = opened.iter().map(Option::as_deref).collect();
        assert_eq!(opened, values);
        assert!(
            a.open_record("registrations", "r1", "extra", &sealed, 3)
                .is_err()
        );
        assert!(
            a.open_record("registrations", "r1", "extra", &sealed, 5)
                .is_err()
        );
        assert!(
            a.open_record("registrations", "r2", "extra", &sealed, 4)
                .is_err()
        );
        assert!(
            a.open_record("registrations", "r1", "first_name", &sealed, 4)
                .is_err()
        );
        let b = FieldCipher::new("globex", &[7; 32]);
        assert!(
            b.open_record("registrations", "r1", "extra", &sealed, 4)
                .is_err()
        );
        // A single value is not a record, nor the other way round.
        let single = a
            .seal("registrations", "r1", "extra", "Ada")
            .expect("crypto");
        assert!(
            a.open_record("registrations", "r1", "extra", &single, 1)
                .is_err()
        );
        assert_eq!(
            FieldCipher::plain("acme")
                .seal_record("registrations", "r1", "extra", &values)
                .expect("plain"),
            None
        );
    }

    #[test]
    fn memoizing_hashes_alike() {
        let a = FieldCipher::new("acme", &[7; 32]).with_email_key(&[1; 32]);
        let m = a.memoizing();
        for _ in 0..2 {
            for e in ["ada@example.com", " Bo@Example.com"] {
                assert_eq!(m.email_hash(e), a.email_hash(e));
            }
        }
        assert_eq!(
            FieldCipher::plain("acme")
                .memoizing()
                .email_hash("ada@example.com"),
            None
        );
    }

    #[test]
    fn digest_is_keyed_and_never_an_email_hash() {
        let a = FieldCipher::new("acme", &[7; 32]).with_email_key(&[1; 32]);
        let b = FieldCipher::new("globex", &[7; 32]).with_email_key(&[2; 32]);
        let d = a.digest("interactions", b"yes").expect("keyed");
        assert_eq!(d.len(), 64);
        assert_eq!(
            a.digest("interactions", b"yes").as_deref(),
            Some(d.as_str())
        );
        assert_ne!(a.digest("interactions", b"no").as_deref(), Some(d.as_str()));
        assert_ne!(a.digest("other", b"yes").as_deref(), Some(d.as_str()));
        assert_ne!(
            b.digest("interactions", b"yes").as_deref(),
            Some(d.as_str())
        );
        assert_ne!(a.email_hash("yes").as_deref(), Some(d.as_str()));
        // A cipher that only reads has no email key: no digest.
        assert_eq!(
            FieldCipher::new("acme", &[7; 32]).digest("interactions", b"yes"),
            None
        );
        // Encryption off: marked, and never equal to a keyed one.
        let clear = FieldCipher::plain("acme")
            .digest("interactions", b"yes")
            .expect("clear");
        assert!(clear.starts_with(CLEAR_DIGEST) && !clear.ends_with(d.as_str()));
        assert_eq!(
            FieldCipher::plain("globex").digest("interactions", b"yes"),
            Some(clear)
        );
    }

    #[test]
    fn email_hash_is_keyed_and_case_blind() {
        let a = FieldCipher::new("acme", &[7; 32]).with_email_key(&[1; 32]);
        let b = FieldCipher::new("globex", &[7; 32]).with_email_key(&[2; 32]);
        let h = a.email_hash("ada@example.com").expect("keyed");
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(
            a.email_hash(" Ada@Example.COM ").as_deref(),
            Some(h.as_str())
        );
        assert_ne!(b.email_hash("ada@example.com").as_deref(), Some(h.as_str()));
        assert!(a.hashes_emails());
        assert_eq!(
            FieldCipher::new("acme", &[7; 32]).email_hash("ada@example.com"),
            None
        );
        assert_eq!(
            FieldCipher::plain("acme").email_hash("ada@example.com"),
            None
        );
    }
}
