//! Checks the known-answer vectors in `tests/vectors/wrapped_key_vectors.json` (made with an
//! independent implementation) byte for byte, in both directions.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Kek, WrappedKey, unwrap, wrap_with_nonce};
use crate::{
    domain::kek_aad,
    rootkey::{RootKey, SoftwareRootKey},
};

#[derive(Deserialize)]
struct Vectors {
    sealed_keks: Vec<SealedKek>,
    wrapped_keys: Vec<Wrapped>,
}

#[derive(Deserialize)]
struct SealedKek {
    root_key_hex: String,
    key_id: String,
    version: u32,
    kek_hex: String,
    nonce_hex: String,
    aad_hex: String,
    sealed_hex: String,
}

#[derive(Deserialize)]
struct Wrapped {
    kek_hex: String,
    key_id: String,
    version: u32,
    nonce_hex: String,
    dek_hex: String,
    associated_data_hex: String,
    wrapped_hex: String,
}

fn vectors() -> Vectors {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/wrapped_key_vectors.json"
    ));
    serde_json::from_str(text).expect("vector file parses")
}

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex")
}

fn array<const N: usize>(text: &str) -> [u8; N] {
    bytes(text).try_into().expect("length")
}

#[test]
fn wrapped_key_vectors() {
    let vectors = vectors();
    assert!(!vectors.wrapped_keys.is_empty());
    for v in &vectors.wrapped_keys {
        let kek = Kek::from_slice(&bytes(&v.kek_hex)).expect("32 bytes");
        let aad = bytes(&v.associated_data_hex);
        let expected = bytes(&v.wrapped_hex);
        let made = wrap_with_nonce(
            &kek,
            &v.key_id,
            v.version,
            &array(&v.nonce_hex),
            &bytes(&v.dek_hex),
            &aad,
        );
        assert_eq!(hex::encode(&made), v.wrapped_hex, "wrap of {}", v.key_id);
        let header = WrappedKey::parse_header(&expected).expect("header");
        assert_eq!(
            (header.key_id.as_str(), header.version),
            (v.key_id.as_str(), v.version)
        );
        let parsed = WrappedKey::parse(&expected).expect("parses");
        let plain = unwrap(&kek, &parsed, &aad).expect("unwraps");
        assert_eq!(hex::encode(plain.as_slice()), v.dek_hex);
    }
}

#[test]
fn sealed_kek_vectors() {
    let vectors = vectors();
    assert!(!vectors.sealed_keks.is_empty());
    for v in &vectors.sealed_keks {
        let root = SoftwareRootKey::new(Zeroizing::new(array(&v.root_key_hex)), "vector");
        let aad = kek_aad(&v.key_id, v.version);
        assert_eq!(hex::encode(&aad), v.aad_hex);
        let sealed = root.seal_with_nonce(&array(&v.nonce_hex), &aad, &bytes(&v.kek_hex));
        assert_eq!(hex::encode(&sealed), v.sealed_hex);
        let kek = root.unseal(&aad, &bytes(&v.sealed_hex)).expect("unseals");
        assert_eq!(hex::encode(kek.as_slice()), v.kek_hex);
    }
}
