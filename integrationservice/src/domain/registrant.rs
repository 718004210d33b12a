//! The values a registration is made of, each checked once by its constructor: the email,
//! the names, and [`RegistrantFields`], every optional ON24 registrant field we accept (ON24's
//! `AddRegistrantForm`), named once here. The API fills them from the proto, the store keeps
//! them as one JSON column, and the provider maps them to ON24's form.

use super::Invalid;
use super::webinar_fields::{optional_text, required_text};

/// A normalised email address: at most 254 characters, one `@`, a local part of 1 to 64
/// visible characters (no leading, trailing or doubled dot, none of `"(),:;<>@[\]`) and a
/// domain of at least two dot-separated labels of `[A-Za-z0-9-]` (not starting or ending with
/// `-`). Stored in lower case: registrations are keyed by (tenant, webinar, email).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks an address and lowercases it.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        const RULE: &str =
            "must be an email address like name@example.com (at most 254 characters)";
        if value.is_empty() {
            return Err(Invalid::new("required"));
        }
        let bad = || Invalid::new(RULE);
        if value.len() > 254 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad());
        }
        let (local, domain) = value.split_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']']);
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if local_ok && domain_ok {
            Ok(Self(value.to_lowercase()))
        } else {
            Err(bad())
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Email {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Email(..)")
    }
}

/// A first or last name: 1 to 100 characters, no control characters, no surrounding blanks.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Checks a name.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        required_text(value, 100).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for PersonName {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonName(..)")
    }
}

/// A company or job title: at most 255 characters, no control characters, no surrounding
/// blanks; empty means none.
pub fn organisation_text(value: &str) -> Result<Option<String>, Invalid> {
    optional_text(value, 255)
}

pub use crate::registrant_fields::{RegistrantField, RegistrantFields, RegistrationQuestion};

/// The most characters of an answer to a custom registration question (ON24's custom
/// fields `std1` to `std10` hold 255).
const MAX_ANSWER_CHARS: usize = 255;

impl RegistrationQuestion {
    /// Checks an answer against the definition: a choice question takes exactly one of its
    /// options, and a required one no empty answer. The refusal never echoes the answer.
    pub fn check(&self, answer: &str) -> Result<(), Invalid> {
        if answer.is_empty() {
            return if self.required {
                Err(Invalid::new(
                    "required: ON24 requires an answer to this question",
                ))
            } else {
                Ok(())
            };
        }
        if !self.options.is_empty() && !self.options.iter().any(|o| o == answer) {
            return Err(Invalid::new(format!(
                "must be one of the question's {} options",
                self.options.len()
            )));
        }
        Ok(())
    }

    /// Whether the provider's registrant form can carry an answer to the question with
    /// this id (ON24's custom fields `std1` to `std10`): before a webinar's questions are
    /// read, these are the ids accepted.
    pub fn answerable_id(id: &str) -> bool {
        RegistrantField::standard(id).is_some()
    }
}

impl RegistrantFields {
    /// Sets the answer to the question `id` after checking its text: at most 255
    /// characters, no control characters, no surrounding blanks. An empty answer is kept
    /// (it clears on an update).
    pub fn set_answer(&mut self, id: &str, value: &str) -> Result<(), Invalid> {
        let checked = optional_text(value, MAX_ANSWER_CHARS)?;
        self.answers
            .insert(id.to_owned(), checked.unwrap_or_default());
        Ok(())
    }
}

impl RegistrantFields {
    /// Sets `field` to `value` after checking it: at most the field's length, no control
    /// characters, no surrounding blanks. An empty value is kept (it clears on an update).
    pub fn set(&mut self, field: RegistrantField, value: &str) -> Result<(), Invalid> {
        let checked = optional_text(value, field.max_chars())?;
        *self.slot(field) = Some(checked.unwrap_or_default());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "x_y@a-b.io"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Email::parse("Ada@Example.COM")
                .map(Email::into_string)
                .ok()
                .as_deref(),
            Some("ada@example.com")
        );
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b..co", "a b@c.co", "a@b.co\n", "a@@b.co",
            ".a@b.co", "a@-b.co", "a@b_c.co", " a@b.co ", "a@b.c.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@b.co", "a".repeat(65))).is_err());
    }

    #[test]
    fn names_and_fields() {
        assert!(PersonName::parse("Ada").is_ok());
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert_eq!(organisation_text("").ok(), Some(None));
        assert!(organisation_text(&"x".repeat(256)).is_err());
        let mut f = RegistrantFields::default();
        assert!(f.set(RegistrantField::Zip, &"9".repeat(33)).is_err());
        assert!(f.set(RegistrantField::Notes, &"n".repeat(2000)).is_ok());
        assert!(f.set(RegistrantField::City, "a\u{0}").is_err());
        f.set(RegistrantField::Std10, "x").expect("std10");
        assert_eq!(
            RegistrantField::standard("std10"),
            Some(RegistrantField::Std10)
        );
        assert_eq!(RegistrantField::standard("std11"), None);
        assert_eq!(RegistrantField::standard("city"), None);
        assert_eq!(RegistrantField::named("std1"), None);
        assert_eq!(f.standard().collect::<Vec<_>>(), vec![("std10", "x")]);
    }

    #[test]
    fn stored_form_is_a_json_object_of_set_fields() {
        let mut f = RegistrantFields::default();
        f.set(RegistrantField::Country, "FR").expect("country");
        f.set(RegistrantField::Std2, "b").expect("std2");
        assert_eq!(f.to_json(), r#"{"country":"FR","std2":"b"}"#);
        assert_eq!(RegistrantFields::from_json(&f.to_json()), f);
        let mut patch = RegistrantFields::default();
        patch.set(RegistrantField::Country, "").expect("clear");
        f.merge(patch);
        assert_eq!(f.country.as_deref(), Some(""));
        assert_eq!(f.std2.as_deref(), Some("b"));
        assert_eq!(format!("{f:?}"), r#"["country", "std2"]"#);
        assert_eq!(
            RegistrantFields::from_json(r#"{"ext_event_user_cd":"x","city":"Lyon"}"#)
                .city
                .as_deref(),
            Some("Lyon")
        );
    }
}
