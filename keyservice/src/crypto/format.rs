//! Byte layout of a wrapped key (format version 1) and its parser.
//!
//! ```text
//! offset  size  content
//! 0       1     format version, 0x01
//! 1       1     L, key id length (1..=63)
//! 2       L     key id, ASCII [a-z0-9-], starting with a letter
//! 2+L     4     key version, u32 big-endian, >= 1
//! 6+L     12    nonce
//! 18+L    n+16  AES-256-GCM ciphertext, then the 16-byte tag
//! ```
//!
//! Bytes `0..6+L` are the header; the GCM additional data is `header || associated_data`.
//! The header is self-delimiting, so that concatenation cannot be ambiguous.

use super::CannotUnwrap;

/// Format version byte of the only format so far.
pub const FORMAT_V1: u8 = 0x01;
/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 63;
/// AES-GCM nonce length (96 bits).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length (128 bits).
pub const TAG_LEN: usize = 16;

/// Whether `id` is a valid key id: 1 to 63 of `[a-z0-9-]`, starting with a letter.
pub fn is_valid_key_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_KEY_ID_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Encodes the header (`format version || L || key id || version`).
///
/// # Panics
/// Never for ids accepted by [`is_valid_key_id`]; callers validate ids before they reach the
/// store, so an invalid id here is a programming error.
pub fn encode_header(key_id: &str, version: u32) -> Vec<u8> {
    assert!(is_valid_key_id(key_id), "key id validated before wrapping");
    let mut out = Vec::with_capacity(6 + key_id.len());
    out.push(FORMAT_V1);
    // Cannot truncate: the id is at most 63 bytes.
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// What the header says: which key and version wrapped the data key. Not authenticated
/// until the whole wrapped key is unwrapped; use it to route and authorise, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeyHeader {
    /// Key id (the `{key}` of `keys/{key}`).
    pub key_id: String,
    /// Key version, >= 1.
    pub version: u32,
}

/// A wrapped key split into its parts, borrowing the input bytes.
#[derive(Debug, Clone, Copy)]
pub struct WrappedKey<'a> {
    header: &'a [u8],
    key_id: &'a str,
    version: u32,
    nonce: &'a [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> WrappedKey<'a> {
    /// Reads only the header, so the edge can authorise the caller for the key before
    /// anything is decrypted.
    pub fn parse_header(bytes: &[u8]) -> Result<WrappedKeyHeader, CannotUnwrap> {
        let parsed = WrappedKey::parse(bytes)?;
        Ok(WrappedKeyHeader {
            key_id: parsed.key_id.to_owned(),
            version: parsed.version,
        })
    }

    /// Splits a wrapped key into header, nonce and ciphertext, checking every length.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CannotUnwrap> {
        let (&format, rest) = bytes.split_first().ok_or(CannotUnwrap)?;
        if format != FORMAT_V1 {
            return Err(CannotUnwrap);
        }
        let (&id_len, rest) = rest.split_first().ok_or(CannotUnwrap)?;
        let id_len = usize::from(id_len);
        let id_bytes = rest.get(..id_len).ok_or(CannotUnwrap)?;
        let key_id = std::str::from_utf8(id_bytes).map_err(|_| CannotUnwrap)?;
        if !is_valid_key_id(key_id) {
            return Err(CannotUnwrap);
        }
        let rest = &rest[id_len..];
        let version_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(CannotUnwrap)?;
        let version = u32::from_be_bytes(version_bytes);
        if version == 0 {
            return Err(CannotUnwrap);
        }
        let rest = &rest[4..];
        let nonce: &[u8; NONCE_LEN] = rest
            .get(..NONCE_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(CannotUnwrap)?;
        let ciphertext = &rest[NONCE_LEN..];
        // An empty plaintext is never wrapped, so at least one byte precedes the tag.
        if ciphertext.len() <= TAG_LEN {
            return Err(CannotUnwrap);
        }
        Ok(Self {
            header: &bytes[..6 + id_len],
            key_id,
            version,
            nonce,
            ciphertext,
        })
    }

    /// The header bytes, bound into the GCM additional data.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }

    /// Key id named in the header.
    pub fn key_id(&self) -> &'a str {
        self.key_id
    }

    /// Key version named in the header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The 96-bit nonce.
    pub fn nonce(&self) -> &'a [u8; NONCE_LEN] {
        self.nonce
    }

    /// Ciphertext followed by the tag.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert!(is_valid_key_id("on24-credentials"));
        assert!(is_valid_key_id("a"));
        assert!(is_valid_key_id(&"a".repeat(63)));
        assert!(!is_valid_key_id(&"a".repeat(64)));
        assert!(!is_valid_key_id(""));
        assert!(!is_valid_key_id("1abc"));
        assert!(!is_valid_key_id("Abc"));
        assert!(!is_valid_key_id("a/b"));
        assert!(!is_valid_key_id("é"));
    }

    #[test]
    fn header_round_trip() {
        let mut bytes = encode_header("k1", 7);
        bytes.extend_from_slice(&[9; NONCE_LEN + TAG_LEN + 1]);
        let header = WrappedKey::parse_header(&bytes).expect("parses");
        assert_eq!(header.key_id, "k1");
        assert_eq!(header.version, 7);
        let parsed = WrappedKey::parse(&bytes).expect("parses");
        assert_eq!(parsed.header(), &bytes[..8]);
        assert_eq!(parsed.ciphertext().len(), TAG_LEN + 1);
    }

    #[test]
    fn truncated_and_bad_headers_fail() {
        let mut bytes = encode_header("k1", 7);
        bytes.extend_from_slice(&[9; NONCE_LEN + TAG_LEN + 1]);
        for len in 0..bytes.len() - 1 {
            assert!(WrappedKey::parse(&bytes[..len]).is_err(), "length {len}");
        }
        let mut wrong_format = bytes.clone();
        wrong_format[0] = 2;
        assert!(WrappedKey::parse(&wrong_format).is_err());
        let mut zero_version = bytes.clone();
        zero_version[4..8].copy_from_slice(&[0; 4]);
        assert!(WrappedKey::parse(&zero_version).is_err());
        let mut long_id = bytes;
        long_id[1] = 200;
        assert!(WrappedKey::parse(&long_id).is_err());
    }
}
