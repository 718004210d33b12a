//! The ON24 egress rule at the API edge: a tenant's `base_url` must name one of the
//! operator's ON24 hosts on 443 (or loopback under the development flag). The rule itself is
//! the ON24 client's (`on24_client::EgressPolicy`), which also checks resolved addresses.

use on24_client::EgressPolicy;

/// Checks `PutOn24Credentials.base_url` (empty: the region's root). The reason never repeats
/// the value.
pub fn base_url(value: &str, egress: &EgressPolicy) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 512 {
        return Err("must be at most 512 characters".into());
    }
    egress.check_base_url(value).map(|_| ())
}
