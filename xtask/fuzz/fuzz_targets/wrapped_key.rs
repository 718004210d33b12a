//! The key service's wrapped-key parser and unwrapping: any bytes either parse into parts
//! that re-encode to the same header and add up to the input, or are refused; unwrapping
//! never panics; a wrap of the input unwraps back to it.
#![no_main]

use keyservice::fuzzing::{
    KEK_LEN, Kek, NONCE_LEN, WrappedKey, encode_header, unwrap, wrap_with_nonce,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kek = Kek::from_slice(&[7u8; KEK_LEN]).expect("a 32-byte key");
    match WrappedKey::parse(data) {
        Ok(parsed) => {
            assert_eq!(
                encode_header(parsed.key_id(), parsed.version()),
                parsed.header()
            );
            assert_eq!(
                parsed.header().len() + NONCE_LEN + parsed.ciphertext().len(),
                data.len()
            );
            let header = WrappedKey::parse_header(data).expect("parse and parse_header agree");
            assert_eq!(header.key_id, parsed.key_id());
            // Random bytes forge no GCM tag.
            assert!(unwrap(&kek, &parsed, b"aad").is_err());
        }
        Err(_) => assert!(WrappedKey::parse_header(data).is_err()),
    }
    if !data.is_empty() {
        let nonce = [3u8; NONCE_LEN];
        let wrapped = wrap_with_nonce(&kek, "fuzz-key", 9, &nonce, data, b"aad");
        let parsed = WrappedKey::parse(&wrapped).expect("own output parses");
        assert_eq!(parsed.version(), 9);
        let plain = unwrap(&kek, &parsed, b"aad").expect("own output unwraps");
        assert_eq!(plain.as_slice(), data);
        assert!(unwrap(&kek, &parsed, b"other").is_err(), "aad is bound");
    }
});
