//! What the fuzz targets in `xtask/fuzz` reach: the wrapped-key parser and unwrapping, re-exported
//! so the targets keep working whichever modules the crate makes private. Not an API.

pub use crate::crypto::{
    CannotUnwrap, KEK_LEN, Kek, NONCE_LEN, TAG_LEN, WrappedKey, encode_header, is_valid_key_id,
    unwrap, wrap_with_nonce,
};
