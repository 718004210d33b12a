//! What the fuzz targets in `xtask/fuzz` reach: page tokens and change cursors, resource
//! names, the domain constructors every request field goes through, and the ON24 egress rule
//! for `base_url`. Re-exports and one-line wrappers only, so the targets exercise the code the
//! service runs whichever modules the crate keeps private. Not an API.

pub use crate::api::names::{
    parse_credentials, parse_registration, parse_tenant, parse_webinar, parse_webinar_metrics,
    registration_name, webinar_name,
};
pub use crate::api::page_token::PageTokens;
pub use crate::domain::paging::{decode_page_token, encode_page_token};
pub use crate::domain::{
    CrmReference, Description, DurationMinutes, Email, EventType, Language, PageSize, PersonName,
    RegistrantField, RegistrantFields, RegistrationId, RequestId, StartTime, TenantId, TimeZone,
    Title, WebinarId, organisation_text,
};
pub use on24_client::EgressPolicy;

/// Page tokens sealed under `master` (as `api.page_token_key_file` would give).
pub fn page_tokens(master: &[u8]) -> PageTokens {
    PageTokens::with_master(master)
}

/// The cursor `WatchChanges`/`ListChanges` return for feed position `seq` of `tenant`.
pub fn change_cursor(tokens: &PageTokens, tenant: &TenantId, seq: i64) -> String {
    tokens.encode(&crate::api::metrics::cursor_scope(tenant), &seq.to_string())
}

/// Reads a change cursor the way `WatchChanges`/`ListChanges` do.
pub fn open_change_cursor(
    tokens: &PageTokens,
    tenant: &TenantId,
    cursor: &str,
) -> Result<i64, String> {
    crate::api::metrics::open_cursor(tokens, tenant, cursor)
}

/// The `base_url` rule of `PutOn24Credentials`: its length and the ON24 egress policy.
pub fn base_url(value: &str, egress: &EgressPolicy) -> Result<(), String> {
    crate::domain::credentials::BaseUrl::parse(value, egress)
        .map(|_| ())
        .map_err(|invalid| invalid.to_string())
}
