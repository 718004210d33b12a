//! Every optional ON24 registrant field we accept, named once ([`RegistrantFields`]): the API
//! fills it from the proto (checked by `domain::registrant`), the store keeps it as one JSON
//! column, and the provider maps it to ON24's form. A leaf: it imports nothing of the
//! service, so the domain and the provider seam can both use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What joins the options ticked for a multiple-choice question in the provider's one custom
/// field. ON24's contract documents no multi-value form for its registrant form (only that
/// checkbox answers are validated against the options); a comma-joined list is the form
/// assumed, the one ON24's other multi-value parameters use.
pub const CHOICE_SEPARATOR: &str = ",";

macro_rules! registrant_fields {
    ($($(#[$doc:meta])* $field:ident / $variant:ident : $max:literal),+ $(,)?) => {
        /// Every optional ON24 registrant field we accept, by its proto field name (also its
        /// key in the stored JSON). `None`: not given; `Some("")` on an update: cleared.
        #[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct RegistrantFields {
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )+
            /// Answers to the webinar's custom registration questions, by the question's
            /// provider field id (ON24: `std1` to `std10`). On an update, a given empty
            /// answer clears (and is kept empty).
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub answers: BTreeMap<String, String>,
            /// The options ticked for the webinar's multiple-choice (checkbox) questions, by
            /// question id, in the order given; sent to the provider joined with
            /// [`CHOICE_SEPARATOR`]. An id is in `answers` or here, never both. On an update,
            /// a given empty list clears (and is kept empty).
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub choices: BTreeMap<String, Vec<String>>,
        }

        /// Names one of [`RegistrantFields`]' fields.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum RegistrantField {
            $(
                $(#[$doc])*
                $variant,
            )+
        }

        impl RegistrantField {
            /// Every field, in proto order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The proto field name (and stored JSON key).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($field),)+
                }
            }

            /// The most characters a value may have.
            pub fn max_chars(self) -> usize {
                match self {
                    $(Self::$variant => $max,)+
                }
            }
        }

        impl RegistrantFields {
            /// The value of one field.
            pub fn get(&self, field: RegistrantField) -> Option<&str> {
                match field {
                    $(RegistrantField::$variant => self.$field.as_deref(),)+
                }
            }

            pub(crate) fn slot(&mut self, field: RegistrantField) -> &mut Option<String> {
                match field {
                    $(RegistrantField::$variant => &mut self.$field,)+
                }
            }
        }
    };
}

registrant_fields! {
    /// Job function (ON24 `jobFunction`).
    job_function / JobFunction: 255,
    /// Company industry (ON24 `companyIndustry`).
    company_industry / CompanyIndustry: 255,
    /// Company size (ON24 `companySize`).
    company_size / CompanySize: 64,
    /// Street address, first line (ON24 `addressStreet1`).
    address_street1 / AddressStreet1: 255,
    /// Street address, second line (ON24 `addressStreet2`).
    address_street2 / AddressStreet2: 255,
    /// City.
    city / City: 128,
    /// State or province.
    state / State: 128,
    /// Postal code.
    zip / Zip: 32,
    /// Country.
    country / Country: 128,
    /// Work phone (ON24 `workPhone`).
    work_phone / WorkPhone: 32,
    /// Partner reference (ON24 `partnerRef`), for source tracking.
    partner_ref / PartnerRef: 255,
    /// Free notes.
    notes / Notes: 2000,
    /// ON24 custom field 1.
    std1 / Std1: 255,
    /// ON24 custom field 2.
    std2 / Std2: 255,
    /// ON24 custom field 3.
    std3 / Std3: 255,
    /// ON24 custom field 4.
    std4 / Std4: 255,
    /// ON24 custom field 5.
    std5 / Std5: 255,
    /// ON24 custom field 6.
    std6 / Std6: 255,
    /// ON24 custom field 7.
    std7 / Std7: 255,
    /// ON24 custom field 8.
    std8 / Std8: 255,
    /// ON24 custom field 9.
    std9 / Std9: 255,
    /// ON24 custom field 10.
    std10 / Std10: 255,
}

impl RegistrantField {
    /// True for ON24's custom fields `std1` to `std10` (the proto's `standard_fields` map).
    pub fn is_standard(self) -> bool {
        self.name().starts_with("std")
    }

    /// A named field (not a custom one) by proto name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| !f.is_standard() && f.name() == name)
    }

    /// A custom field by its `standard_fields` key, `std1` to `std10`.
    pub fn standard(key: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.is_standard() && f.name() == key)
    }
}

impl RegistrantFields {
    /// Takes every field and answer `patch` gives (a given empty value clears).
    pub fn merge(&mut self, patch: RegistrantFields) {
        for &field in RegistrantField::ALL {
            if let Some(v) = patch.get(field) {
                *self.slot(field) = Some(v.to_owned());
            }
        }
        // A cleared answer is kept empty, like a cleared field, so the update sends it empty
        // and ON24 clears its copy too (a field left out of an update is left as it is). An
        // answer given in one form replaces one stored in the other.
        for id in patch.answers.keys() {
            self.choices.remove(id);
        }
        for id in patch.choices.keys() {
            self.answers.remove(id);
        }
        self.answers.extend(patch.answers);
        self.choices.extend(patch.choices);
    }

    /// The answer to question `id` as the provider's custom field carries it: the free or
    /// single answer, or the ticked options joined with [`CHOICE_SEPARATOR`].
    pub fn answer_text(&self, id: &str) -> Option<String> {
        self.answers
            .get(id)
            .cloned()
            .or_else(|| self.choices.get(id).map(|c| c.join(CHOICE_SEPARATOR)))
    }

    /// What the provider's custom field `field` (`std1` to `std10`) carries: the value
    /// given in `standard_fields`, else the answer to the question with that id (the API
    /// refuses both at once).
    pub fn standard_or_answer(&self, field: RegistrantField) -> Option<String> {
        self.get(field)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .or_else(|| self.answer_text(field.name()))
    }

    /// The custom fields `std1` to `std10` that are set, by key.
    pub fn standard(&self) -> impl Iterator<Item = (&'static str, &str)> {
        RegistrantField::ALL
            .iter()
            .filter(|f| f.is_standard())
            .filter_map(|&f| Some((f.name(), self.get(f)?)))
    }

    /// The stored form: a JSON object of the fields that are set.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Reads the stored form; keys this version does not know are ignored.
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }
}

impl std::fmt::Debug for RegistrantFields {
    // Personal data stays out of logs: only which fields are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Question ids are the provider's field names, not personal; the answers are.
        f.debug_list()
            .entries(
                RegistrantField::ALL
                    .iter()
                    .filter(|&&field| self.get(field).is_some())
                    .map(|field| field.name()),
            )
            .entries(self.answers.keys().map(|id| format!("answers[{id}]")))
            .entries(self.choices.keys().map(|id| format!("choices[{id}]")))
            .finish()
    }
}

/// A custom question of a webinar's registration page, as the provider defines it (not
/// personal data): registrations answer it in [`RegistrantFields::answers`] under `id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationQuestion {
    /// The provider's field id the answer is sent under (ON24: `std1` to `std10`).
    pub id: String,
    /// The question as the registration page shows it.
    pub caption: String,
    /// The provider's field type (ON24: `textbox`, `textarea`, `listbox`, `checkbox`,
    /// `radio`).
    pub field_type: String,
    /// Whether the provider requires an answer.
    pub required: bool,
    /// The allowed answers of a choice question; empty for free text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// How the provider validates a free answer (ON24 `validationtype`: `none`, `email`,
    /// `numeric`, ...), lowercased; empty when the provider gave none (and in questions
    /// stored before it was kept). See `domain::AnswerValidation`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub validation: String,
}

impl RegistrationQuestion {
    /// The stored form of a webinar's questions: a JSON array.
    pub fn list_to_json(questions: &[Self]) -> String {
        serde_json::to_string(questions).unwrap_or_else(|_| "[]".into())
    }

    /// Reads the stored form; None when nothing usable is stored.
    pub fn list_from_json(json: &str) -> Option<Vec<Self>> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_merge_and_stay_out_of_debug() {
        let mut stored = RegistrantFields::default();
        stored.answers.insert("std1".into(), "Email".into());
        stored.answers.insert("std2".into(), "Private words".into());
        let mut patch = RegistrantFields::default();
        patch.answers.insert("std1".into(), "Web".into());
        patch.answers.insert("std2".into(), String::new());
        stored.merge(patch);
        assert_eq!(stored.answers["std1"], "Web");
        assert_eq!(stored.answers["std2"], "");
        assert_eq!(
            stored.standard_or_answer(RegistrantField::Std2).as_deref(),
            Some("")
        );
        assert_eq!(RegistrantFields::from_json(&stored.to_json()), stored);
        let debug = format!("{stored:?}");
        assert!(
            debug.contains("answers[std1]") && !debug.contains("Web"),
            "{debug}"
        );
        let q = RegistrationQuestion {
            id: "std1".into(),
            options: vec!["Web".into()],
            ..RegistrationQuestion::default()
        };
        let json = RegistrationQuestion::list_to_json(std::slice::from_ref(&q));
        assert_eq!(RegistrationQuestion::list_from_json(&json), Some(vec![q]));
    }

    #[test]
    fn ticked_options_travel_joined_and_replace_a_single_answer() {
        let mut stored = RegistrantFields::default();
        stored.answers.insert("std3".into(), "Cloud".into());
        let mut patch = RegistrantFields::default();
        patch
            .choices
            .insert("std3".into(), vec!["Cloud".into(), "Edge, IoT".into()]);
        stored.merge(patch);
        assert!(stored.answers.is_empty());
        assert_eq!(
            stored.standard_or_answer(RegistrantField::Std3).as_deref(),
            Some("Cloud,Edge, IoT")
        );
        assert_eq!(RegistrantFields::from_json(&stored.to_json()), stored);
        assert!(!format!("{stored:?}").contains("Cloud"));
        let mut single = RegistrantFields::default();
        single.answers.insert("std3".into(), "Cloud".into());
        stored.merge(single);
        assert!(stored.choices.is_empty());
    }

    #[test]
    fn questions_stored_without_a_validation_still_read() {
        let stored = r#"[{"id":"std1","caption":"Why?","field_type":"radio","required":true,"options":["A"]}]"#;
        let read = RegistrationQuestion::list_from_json(stored).expect("parses");
        assert_eq!(read[0].validation, "");
        assert_eq!(read[0].options, ["A"]);
    }
}
