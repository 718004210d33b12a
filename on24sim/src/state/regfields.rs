//! An event's registration fields, as `GET /event/{eventId}/regfield` lists them: ON24's
//! standard fields by default, and the custom questions a test defines through the control
//! API (`PUT /_sim/events/{eventId}/regfields`), with their type, whether an answer is
//! required and the allowed choices.

use serde::{Deserialize, Serialize};

use super::Store;
use crate::api::error::{ApiError, ApiResult};

/// One registration field of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegField {
    /// The form field name (`fieldid`): a standard one (`firstname`) or a custom question
    /// (`std1` to `std10`, or any custom name the account defined).
    pub field_id: String,
    /// The question as shown on the registration page (`fieldcaption`).
    pub caption: String,
    /// `textbox`, `textarea`, `listbox`, `checkbox` or `radio` (`fieldtype`).
    pub field_type: String,
    /// `none`, `email`, `numeric`, ... (`validationtype`).
    pub validation_type: String,
    /// Whether an answer is required (`required`, `Y`/`N`).
    pub required: bool,
    /// The allowed choices of a list, box or radio question (`options`); empty: free text.
    pub options: Vec<String>,
}

/// ON24's standard fields of a new event.
pub fn default_fields() -> Vec<RegField> {
    let field = |id: &str, caption: &str, validation: &str, required: bool| RegField {
        field_id: id.into(),
        caption: caption.into(),
        field_type: "textbox".into(),
        validation_type: validation.into(),
        required,
        options: Vec::new(),
    };
    vec![
        field("firstname", "First Name", "none", true),
        field("lastname", "Last Name", "none", true),
        field("email", "Email", "email", true),
        field("company", "Company", "none", false),
    ]
}

impl Store {
    /// Replaces the event's registration fields (404 for an unknown event, 400 for a field
    /// without a name).
    pub fn set_registration_fields(
        &mut self,
        event_id: i64,
        fields: Vec<RegField>,
    ) -> ApiResult<()> {
        if fields.iter().any(|f| f.field_id.trim().is_empty()) {
            return Err(ApiError::bad_request("every field needs a fieldId"));
        }
        let ev = self
            .events
            .get_mut(&event_id)
            .filter(|e| !e.deleted)
            .ok_or_else(|| ApiError::event_not_found(event_id))?;
        ev.registration_fields = fields;
        Ok(())
    }
}
