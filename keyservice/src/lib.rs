//! The key service: wraps and unwraps data keys under key-encryption keys it never lets out.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod domain;
pub mod rootkey;
pub mod store;
