//! Request inputs as ON24 takes them: form fields from `application/x-www-form-urlencoded` or
//! `multipart/form-data` bodies (recorded, masked, for the journal), and query parameters whose
//! names ON24 treats case-insensitively (`pageOffset` = `pageoffset`).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use http::request::Parts;

use super::error::ApiError;
use crate::journal::FormSlot;

/// Largest form body accepted; ON24's own limit is unknown, this only bounds memory.
const MAX_FORM_BYTES: usize = 4 * 1024 * 1024;

/// Form fields in the order sent. Repeated names (e.g. `tagCampaign`) are kept.
#[derive(Debug, Default, Clone)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// First value of a field, name compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a repeatable field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether the form carried this field at all (even empty).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let slot = req.extensions().get::<FormSlot>().cloned();
        let ctype = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let fields = if ctype.starts_with("multipart/form-data") {
            read_multipart(req, state).await?
        } else {
            let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
                .await
                .map_err(|_| ApiError::bad_request("The request body could not be read."))?;
            if body.is_empty() {
                Vec::new()
            } else {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                    .map_err(|_| ApiError::bad_request("The request body is not a valid form."))?
            }
        };
        if let Some(slot) = slot {
            slot.record(&fields);
        }
        Ok(Self(fields))
    }
}

async fn read_multipart<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|_| ApiError::bad_request("The multipart body is not valid."))?;
    let mut out = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| ApiError::bad_request("The multipart body is not valid."))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let text = field
            .text()
            .await
            .map_err(|_| ApiError::bad_request("The multipart body is not valid."))?;
        out.push((name, text));
    }
    Ok(out)
}

/// Query parameters with lower-cased names.
#[derive(Debug, Default, Clone)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The field's value, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter, or 400 naming it.
    pub fn uint(&self, name: &str, default: u64) -> Result<u64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("Invalid value for the {name} parameter."))
            }),
        }
    }

    /// A Y/N field as ON24 reads one: true only for `Y` (any case).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.eq_ignore_ascii_case("y"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q)
            .map_err(|_| ApiError::bad_request("The query string is not valid."))?;
        Ok(Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ))
    }
}
