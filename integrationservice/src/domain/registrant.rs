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

pub use crate::registrant_fields::{
    CHOICE_SEPARATOR, RegistrantField, RegistrantFields, RegistrationQuestion,
};

/// The most characters of an answer to a custom registration question (ON24's custom
/// fields `std1` to `std10` hold 255).
const MAX_ANSWER_CHARS: usize = 255;

/// How the provider validates a question's free answer (ON24 `validationtype`), checked
/// here too so a bad answer is refused at once instead of failing on delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerValidation {
    /// The provider named none (or the question was stored before it was kept): not checked.
    Unspecified,
    /// ON24 `none`: any text.
    None,
    /// ON24 `email`: an email address, by the rules of [`Email`].
    Email,
    /// ON24 `numeric`: a number, digits with an optional leading `-` and one decimal point.
    Numeric,
    /// A value this service does not know (ON24's contract shows only `none` and `email`
    /// and names no list): not checked here, ON24 judges the answer on delivery.
    Other,
}

impl AnswerValidation {
    /// Reads the provider's name (case-insensitive).
    pub fn parse(name: &str) -> Self {
        match name.trim().to_ascii_lowercase().as_str() {
            "" => Self::Unspecified,
            "none" => Self::None,
            "email" => Self::Email,
            "numeric" => Self::Numeric,
            _ => Self::Other,
        }
    }

    /// Checks a non-empty answer; the refusal never echoes it.
    fn check(self, answer: &str) -> Result<(), Invalid> {
        match self {
            Self::Email if Email::parse(answer).is_err() => Err(Invalid::new(
                "must be an email address like name@example.com: ON24 validates this \
                 question as one",
            )),
            Self::Numeric if !is_number(answer) => Err(Invalid::new(
                "must be a number (digits, an optional leading - and one decimal point): \
                 ON24 validates this question as numeric",
            )),
            _ => Ok(()),
        }
    }
}

/// Digits with an optional leading `-` and at most one `.` between digits.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction)
}

impl RegistrationQuestion {
    /// How the provider validates a free answer.
    pub fn validation(&self) -> AnswerValidation {
        AnswerValidation::parse(&self.validation)
    }

    /// Whether the question takes several options at once: an ON24 `checkbox` question with
    /// options (answered in `RegistrantFields::choices`).
    pub fn takes_several(&self) -> bool {
        self.field_type.trim().eq_ignore_ascii_case("checkbox") && !self.options.is_empty()
    }

    /// Checks an answer given as one text: a choice question takes exactly one of its
    /// options (a multiple-choice one one or more, joined as the provider's custom field
    /// carries them), a free answer follows the question's validation, and a required
    /// question takes no empty answer. The refusal never echoes the answer.
    pub fn check(&self, answer: &str) -> Result<(), Invalid> {
        if answer.is_empty() {
            return self.check_given(false);
        }
        if self.takes_several() {
            return match self.ticked(answer) {
                Some(_) => Ok(()),
                None => Err(self.not_options()),
            };
        }
        if !self.options.is_empty() && !self.options.iter().any(|o| o == answer) {
            return Err(Invalid::new(format!(
                "must be one of the question's {} options",
                self.options.len()
            )));
        }
        self.validation().check(answer)
    }

    /// Checks the options ticked for a multiple-choice question: each one of its options,
    /// none twice, at least one when the question is required.
    pub fn check_choices(&self, ticked: &[String]) -> Result<(), Invalid> {
        if !self.takes_several() {
            return Err(Invalid::new(
                "takes one answer (it is not a checkbox question): give it in \
                 question_answers",
            ));
        }
        if ticked.is_empty() {
            return self.check_given(false);
        }
        let known = ticked.iter().all(|t| self.options.contains(t));
        let distinct = ticked
            .iter()
            .enumerate()
            .all(|(i, t)| !ticked[..i].contains(t));
        if !known || !distinct {
            return Err(self.not_options());
        }
        Ok(())
    }

    fn check_given(&self, given: bool) -> Result<(), Invalid> {
        if self.required && !given {
            return Err(Invalid::new(
                "required: ON24 requires an answer to this question",
            ));
        }
        Ok(())
    }

    fn not_options(&self) -> Invalid {
        Invalid::new(format!(
            "must be one or more of the question's {} options, each once",
            self.options.len()
        ))
    }

    /// Reads an answer in the provider's form (options joined with `CHOICE_SEPARATOR`,
    /// which may also occur inside an option) as the options ticked; None unless every
    /// part is one of the question's options, each once.
    pub fn ticked(&self, answer: &str) -> Option<Vec<String>> {
        let mut ticked: Vec<String> = Vec::new();
        let mut pending = String::new();
        for (i, part) in answer.split(CHOICE_SEPARATOR).enumerate() {
            if i > 0 && !pending.is_empty() {
                pending.push_str(CHOICE_SEPARATOR);
            }
            pending.push_str(part);
            let wanted = pending.trim();
            if let Some(option) = self.options.iter().find(|o| o.as_str() == wanted) {
                if ticked.contains(option) {
                    return None;
                }
                ticked.push(option.clone());
                pending.clear();
            }
        }
        (pending.trim().is_empty() && !ticked.is_empty()).then_some(ticked)
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

    /// Sets the options ticked for the question `id` after checking their text: each
    /// non-empty, no control characters or surrounding blanks, and all of them joined at
    /// most 255 characters (the provider keeps them in one custom field). An empty list is
    /// kept (it clears on an update).
    pub fn set_choices(&mut self, id: &str, ticked: &[String]) -> Result<(), Invalid> {
        for t in ticked {
            if optional_text(t, MAX_ANSWER_CHARS)?.is_none() {
                return Err(Invalid::new("an option ticked may not be empty"));
            }
        }
        if ticked.join(CHOICE_SEPARATOR).chars().count() > MAX_ANSWER_CHARS {
            return Err(Invalid::new(format!(
                "the options ticked, joined with `{CHOICE_SEPARATOR}`, may hold at most \
                 {MAX_ANSWER_CHARS} characters (ON24 keeps them in one custom field)"
            )));
        }
        self.choices.insert(id.to_owned(), ticked.to_vec());
        Ok(())
    }

    /// Files the provider's custom fields that carry the answers to the webinar's
    /// `questions` under the answers (a multiple-choice one as its ticked options when they
    /// read as such), so a registration that started at the provider shows them as the
    /// CRM's own do. The values are kept as the provider holds them, unchecked.
    pub fn file_answers(&mut self, questions: &[RegistrationQuestion]) {
        for q in questions {
            let Some(field) = RegistrantField::standard(&q.id) else {
                continue;
            };
            let Some(value) = self.slot(field).take().filter(|v| !v.is_empty()) else {
                continue;
            };
            match q.takes_several().then(|| q.ticked(&value)).flatten() {
                Some(ticked) => {
                    self.choices.insert(q.id.clone(), ticked);
                }
                None => {
                    self.answers.insert(q.id.clone(), value);
                }
            }
        }
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

    fn checkbox() -> RegistrationQuestion {
        RegistrationQuestion {
            id: "std3".into(),
            field_type: "checkbox".into(),
            required: true,
            options: vec!["Cloud".into(), "Edge, IoT".into(), "On-prem".into()],
            ..RegistrationQuestion::default()
        }
    }

    #[test]
    fn validation_types() {
        let q = |validation: &str| RegistrationQuestion {
            id: "std4".into(),
            field_type: "textbox".into(),
            validation: validation.into(),
            ..RegistrationQuestion::default()
        };
        assert!(q("email").check("ada@example.com").is_ok());
        let refused = q("EMAIL").check("not an address").expect_err("email");
        assert!(!String::from(refused).contains("not an address"));
        for ok in ["42", "-3.5", "0.25"] {
            assert!(q("numeric").check(ok).is_ok(), "{ok}");
        }
        for bad in ["4 2", "1e3", "-", ".5", "5.", "1.2.3", "twelve"] {
            assert!(q("numeric").check(bad).is_err(), "{bad}");
        }
        // Unknown kinds and none are left to ON24; an empty optional answer is fine.
        assert!(q("postcode").check("anything").is_ok());
        assert!(q("none").check("anything").is_ok());
        assert!(q("numeric").check("").is_ok());
        assert_eq!(q("postcode").validation(), AnswerValidation::Other);
        assert_eq!(q("").validation(), AnswerValidation::Unspecified);
    }

    #[test]
    fn multiple_choices() {
        let q = checkbox();
        let ticked = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            q.ticked("Cloud,Edge, IoT"),
            Some(ticked(&["Cloud", "Edge, IoT"]))
        );
        assert_eq!(q.ticked("Edge, IoT"), Some(ticked(&["Edge, IoT"])));
        assert_eq!(
            q.ticked("Cloud, On-prem"),
            Some(ticked(&["Cloud", "On-prem"]))
        );
        for bad in ["", "Cloud,Cloud", "Cloud,Fog", "Edge", ","] {
            assert_eq!(q.ticked(bad), None, "{bad}");
        }
        assert!(q.check("Cloud,On-prem").is_ok());
        assert!(q.check("Fog").is_err());
        assert!(q.check_choices(&ticked(&["On-prem", "Cloud"])).is_ok());
        assert!(q.check_choices(&ticked(&["Cloud", "Cloud"])).is_err());
        assert!(q.check_choices(&ticked(&["Secret"])).is_err());
        assert!(q.check_choices(&[]).is_err(), "required");
        let radio = RegistrationQuestion {
            field_type: "radio".into(),
            ..checkbox()
        };
        assert!(radio.check_choices(&ticked(&["Cloud"])).is_err());
        let mut f = RegistrantFields::default();
        assert!(f.set_choices("std3", &ticked(&[""])).is_err());
        assert!(
            f.set_choices(
                "std3",
                &[&"x".repeat(200), &"y".repeat(60)].map(String::from)
            )
            .is_err()
        );
        f.set_choices("std3", &ticked(&["Cloud"])).expect("set");
    }

    #[test]
    fn provider_custom_fields_are_filed_as_answers() {
        let mut f = RegistrantFields::default();
        f.set(RegistrantField::Std1, "Partner").expect("std1");
        f.set(RegistrantField::Std3, "Cloud,On-prem").expect("std3");
        f.set(RegistrantField::Std9, "no question").expect("std9");
        let text = RegistrationQuestion {
            id: "std1".into(),
            field_type: "radio".into(),
            ..RegistrationQuestion::default()
        };
        f.file_answers(&[text, checkbox()]);
        assert_eq!(f.std1, None);
        assert_eq!(f.std3, None);
        assert_eq!(f.std9.as_deref(), Some("no question"));
        assert_eq!(f.answers["std1"], "Partner");
        assert_eq!(f.choices["std3"], ["Cloud", "On-prem"]);
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
