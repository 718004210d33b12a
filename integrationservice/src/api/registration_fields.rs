//! Parsing of the attendee fields of a `Registration` into their domain types, and of the
//! `ListRegistrations` filter (statuses and an email). The optional ON24 registrant fields are named once, in
//! `domain::RegistrantField`; only their proto accessors are listed here. Answers to the
//! webinar's custom registration questions are checked here too, against the questions
//! stored on the webinar (`domain::RegistrationQuestion::check` and `check_choices`).

use proto::webinar::v1::{Registration, RegistrationStatus};

use super::violations::Violations;
use crate::domain::{
    CrmReference, Email, PersonName, RegistrantField, RegistrantFields, RegistrationQuestion,
    organisation_text,
};

/// Parsed attendee fields; a field is `None` when not asked for or refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistrationFields {
    /// Email, normalised.
    pub email: Option<Email>,
    /// First name.
    pub first_name: Option<PersonName>,
    /// Last name.
    pub last_name: Option<PersonName>,
    /// Company (`Some(None)`: given empty).
    pub company: Option<Option<String>>,
    /// Job title (`Some(None)`: given empty).
    pub job_title: Option<Option<String>>,
    /// CRM contact id (`Some(None)`: given empty).
    pub crm_reference_id: Option<Option<CrmReference>>,
    /// The other registrant fields given (on create only the non-empty named ones; on update
    /// every masked one, an empty value clearing).
    pub fields: RegistrantFields,
}

/// Every field `UpdateRegistration` may change.
pub(crate) fn updatable() -> Vec<&'static str> {
    let mut all = vec![
        "first_name",
        "last_name",
        "company",
        "job_title",
        "standard_fields",
        "question_answers",
        "question_choices",
    ];
    all.extend(
        RegistrantField::ALL
            .iter()
            .filter(|f| !f.is_standard())
            .map(|f| f.name()),
    );
    all
}

/// The proto value of a named (not custom) registrant field.
fn named_value(r: &Registration, field: RegistrantField) -> &str {
    use RegistrantField as F;
    match field {
        F::JobFunction => &r.job_function,
        F::CompanyIndustry => &r.company_industry,
        F::CompanySize => &r.company_size,
        F::AddressStreet1 => &r.address_street1,
        F::AddressStreet2 => &r.address_street2,
        F::City => &r.city,
        F::State => &r.state,
        F::Zip => &r.zip,
        F::Country => &r.country,
        F::WorkPhone => &r.work_phone,
        F::PartnerRef => &r.partner_ref,
        F::Notes => &r.notes,
        // Custom fields come from the `standard_fields` map.
        F::Std1 | F::Std2 | F::Std3 | F::Std4 | F::Std5 => "",
        F::Std6 | F::Std7 | F::Std8 | F::Std9 | F::Std10 => "",
    }
}

/// Parses the fields of `r` named in `only` (or all when `only` is `None`: a create),
/// recording violations under `prefix` (e.g. `registration.`). `questions` are the webinar's
/// custom registration questions, None while they have not been read from the provider
/// (answers are then checked by their text rules only, under ids `std1` to `std10`).
pub(crate) fn validate(
    r: &Registration,
    only: Option<&[&str]>,
    v: &mut Violations,
    prefix: &str,
    questions: Option<&[RegistrationQuestion]>,
) -> RegistrationFields {
    let wants = |name: &str| only.is_none_or(|o| o.contains(&name));
    let f = |name: &str| format!("{prefix}{name}");
    let mut out = RegistrationFields::default();
    if wants("email") {
        out.email = v.check(&f("email"), Email::parse(&r.email));
    }
    if wants("first_name") {
        out.first_name = v.check(&f("first_name"), PersonName::parse(&r.first_name));
    }
    if wants("last_name") {
        out.last_name = v.check(&f("last_name"), PersonName::parse(&r.last_name));
    }
    if wants("company") {
        out.company = v.check(&f("company"), organisation_text(&r.company));
    }
    if wants("job_title") {
        out.job_title = v.check(&f("job_title"), organisation_text(&r.job_title));
    }
    if wants("crm_reference_id") {
        out.crm_reference_id = v.check(
            &f("crm_reference_id"),
            CrmReference::parse_optional(&r.crm_reference_id),
        );
    }
    for &field in RegistrantField::ALL.iter().filter(|f| !f.is_standard()) {
        let value = named_value(r, field);
        // On create only non-empty values travel; on update a masked empty value clears.
        if wants(field.name()) && (only.is_some() || !value.is_empty()) {
            let result = out.fields.set(field, value);
            v.check(&f(field.name()), result);
        }
    }
    if wants("standard_fields") {
        for (key, value) in &r.standard_fields {
            let path = f(&format!("standard_fields[{key:?}]"));
            match RegistrantField::standard(key) {
                None => v.add(&path, "keys must be std1 to std10"),
                Some(field) => {
                    let result = out.fields.set(field, value);
                    // A custom field that carries a question's answer follows its rules.
                    let question = questions
                        .into_iter()
                        .flatten()
                        .find(|q| q.id == field.name());
                    if v.check(&path, result).is_some()
                        && let (Some(q), Some(value)) = (question, out.fields.get(field))
                    {
                        v.check(&path, q.check(value));
                    }
                }
            }
        }
    }
    let given = Given {
        answers: wants("question_answers"),
        choices: wants("question_choices"),
        standard: wants("standard_fields"),
    };
    if given.answers || given.choices {
        answers(
            r,
            only.is_none(),
            given,
            v,
            prefix,
            questions,
            &mut out.fields,
        );
    }
    out
}

/// Which of the maps that can answer a question the request writes.
#[derive(Clone, Copy)]
struct Given {
    answers: bool,
    choices: bool,
    standard: bool,
}

/// The question `id` answers, looked up among the webinar's `questions`: Ok(None) while they
/// have not been read (any of `std1` to `std10` is then accepted, checked by its text rules
/// only), Err with the violation's message when the id cannot be answered.
fn question<'q>(
    questions: Option<&'q [RegistrationQuestion]>,
    id: &str,
) -> Result<Option<&'q RegistrationQuestion>, &'static str> {
    match questions {
        Some(qs) => qs.iter().find(|q| q.id == id).map(Some).ok_or(
            "not a registration question of this webinar (see Webinar.registration_questions)",
        ),
        None if RegistrationQuestion::answerable_id(id) => Ok(None),
        None => Err(
            "the webinar's questions are not read from ON24 yet: only std1 to std10 \
                     can be answered",
        ),
    }
}

/// Checks the answers to the webinar's custom registration questions (`question_answers`,
/// and `question_choices` for multiple-choice ones) and keeps them in `fields`; on a create
/// (`creating`) every required question must be answered (in either map or, for an id
/// `stdN`, in `standard_fields`). One id may be answered in only one of the maps the request
/// writes. A multiple-choice question answered in `question_answers` (one option, or several
/// joined as ON24's custom field carries them) is kept as its ticked options. Messages never
/// echo an answer.
fn answers(
    r: &Registration,
    creating: bool,
    given: Given,
    v: &mut Violations,
    prefix: &str,
    questions: Option<&[RegistrationQuestion]>,
    fields: &mut RegistrantFields,
) {
    let path = |map: &str, id: &str| format!("{prefix}{map}[{id:?}]");
    let twice = "answered in question_answers, question_choices or standard_fields too: \
                 give one of them";
    if given.answers {
        for (id, value) in &r.question_answers {
            let path = path("question_answers", id);
            let question = match question(questions, id) {
                Ok(q) => q,
                Err(message) => {
                    v.add(&path, message);
                    continue;
                }
            };
            if (given.standard && r.standard_fields.contains_key(id))
                || (given.choices && r.question_choices.contains_key(id))
            {
                v.add(&path, twice);
                continue;
            }
            // On create only non-empty answers travel (a missing required one is reported
            // below); on update an empty one clears.
            if creating && value.is_empty() {
                continue;
            }
            if v.check(&path, fields.set_answer(id, value)).is_none() {
                continue;
            }
            let Some(q) = question else { continue };
            if v.check(&path, q.check(value)).is_none() {
                continue;
            }
            if let Some(ticked) = q.takes_several().then(|| q.ticked(value)).flatten() {
                fields.answers.remove(id);
                v.check(&path, fields.set_choices(id, &ticked));
            }
        }
    }
    if given.choices {
        for (id, ticked) in &r.question_choices {
            let path = path("question_choices", id);
            let question = match question(questions, id) {
                Ok(q) => q,
                Err(message) => {
                    v.add(&path, message);
                    continue;
                }
            };
            if given.standard && r.standard_fields.contains_key(id) {
                v.add(&path, twice);
                continue;
            }
            if creating && ticked.values.is_empty() {
                continue;
            }
            if v.check(&path, fields.set_choices(id, &ticked.values))
                .is_none()
            {
                continue;
            }
            if let Some(q) = question {
                v.check(&path, q.check_choices(&ticked.values));
            }
        }
    }
    if !creating {
        return;
    }
    for q in questions.into_iter().flatten().filter(|q| q.required) {
        let text = |v: Option<&String>| v.is_some_and(|a| !a.is_empty());
        let ticked = r
            .question_choices
            .get(&q.id)
            .is_some_and(|c| !c.values.is_empty());
        if !text(r.question_answers.get(&q.id)) && !text(r.standard_fields.get(&q.id)) && !ticked {
            let map = if q.takes_several() {
                "question_choices"
            } else {
                "question_answers"
            };
            v.add(
                &path(map, &q.id),
                "required: ON24 requires an answer to this question",
            );
        }
    }
}

/// Parses `status = X [OR status = Y ...]`; empty means every status.
pub(crate) fn parse_status_filter(filter: &str) -> Result<Vec<RegistrationStatus>, String> {
    const RULE: &str = "must be `status = <STATUS>` optionally joined by ` OR `, with STATUS one of \
                        PENDING, DELIVERED, RETRYING, FAILED, CANCELLED, FORGOTTEN, PAUSED";
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(Vec::new());
    }
    if filter.len() > 512 {
        return Err(RULE.into());
    }
    let mut statuses = Vec::new();
    for clause in filter.split(" OR ") {
        let (field, value) = clause.split_once('=').ok_or(RULE)?;
        if field.trim() != "status" {
            return Err(RULE.into());
        }
        let value = value.trim();
        let status = RegistrationStatus::from_str_name(&format!("REGISTRATION_STATUS_{value}"))
            .filter(|s| *s != RegistrationStatus::Unspecified)
            .ok_or(RULE)?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok(statuses)
}

/// A parsed `ListRegistrations` filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RegistrationFilter {
    /// Wanted statuses; empty means every status.
    pub statuses: Vec<RegistrationStatus>,
    /// Only this person's registrations.
    pub email: Option<Email>,
}

/// Parses `status = X [OR status = Y ...]`, `email = "addr"`, or both joined by ` AND `.
/// The message never echoes the address.
pub(crate) fn parse_filter(filter: &str) -> Result<RegistrationFilter, String> {
    const RULE: &str = "must be a status filter (`status = <STATUS>` optionally joined by ` OR `), \
                        `email = \"<address>\"`, or both joined by ` AND `";
    let filter = filter.trim();
    if filter.len() > 512 {
        return Err(RULE.into());
    }
    let mut out = RegistrationFilter::default();
    let mut seen_status = false;
    for clause in filter
        .split(" AND ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let (field, value) = clause.split_once('=').ok_or(RULE)?;
        if field.trim() == "email" {
            let quoted = value.trim();
            let address = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|_| out.email.is_none())
                .ok_or(RULE)?;
            let email = Email::parse(address)
                .map_err(|e| format!("the email of the filter {}", String::from(e)))?;
            out.email = Some(email);
        } else if !seen_status {
            seen_status = true;
            out.statuses = parse_status_filter(clause)?;
        } else {
            return Err(RULE.into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_filters() {
        assert_eq!(
            parse_filter("").expect("empty"),
            RegistrationFilter::default()
        );
        let both =
            parse_filter("email = \"Ada@Example.com\" AND status = DELIVERED OR status = FAILED")
                .expect("valid");
        assert_eq!(
            both.email.as_ref().map(Email::as_str),
            Some("ada@example.com")
        );
        assert_eq!(
            both.statuses,
            vec![RegistrationStatus::Delivered, RegistrationStatus::Failed]
        );
        for bad in [
            "email = ada@corp.test",
            "email = \"not-an-address.corp.test\"",
            "email = \"a@corp.test\" AND email = \"b@corp.test\"",
            "status = DELIVERED AND status = FAILED",
            "name = \"x\"",
        ] {
            let error = parse_filter(bad).expect_err(bad);
            assert!(!error.contains("corp.test"), "{error}");
        }
    }

    #[test]
    fn filters() {
        assert_eq!(parse_status_filter("").expect("empty"), vec![]);
        assert_eq!(
            parse_status_filter("status = RETRYING OR status=FAILED").expect("valid"),
            vec![RegistrationStatus::Retrying, RegistrationStatus::Failed]
        );
        for bad in [
            "status = UNSPECIFIED",
            "email = x",
            "status = delivered",
            "status",
        ] {
            assert!(parse_status_filter(bad).is_err(), "{bad}");
        }
    }

    fn questions() -> Vec<RegistrationQuestion> {
        vec![
            RegistrationQuestion {
                id: "std1".into(),
                caption: "Source".into(),
                field_type: "radio".into(),
                required: true,
                options: vec!["Email".into(), "Web".into()],
                validation: "none".into(),
            },
            RegistrationQuestion {
                id: "std2".into(),
                caption: "Ask".into(),
                field_type: "textarea".into(),
                required: false,
                options: Vec::new(),
                validation: String::new(),
            },
            RegistrationQuestion {
                id: "std3".into(),
                caption: "Where do you run it?".into(),
                field_type: "checkbox".into(),
                required: false,
                options: vec!["Cloud".into(), "Edge, IoT".into(), "On-prem".into()],
                validation: String::new(),
            },
            RegistrationQuestion {
                id: "std4".into(),
                caption: "Team size".into(),
                field_type: "textbox".into(),
                required: false,
                options: Vec::new(),
                validation: "numeric".into(),
            },
        ]
    }

    #[test]
    fn multiple_choices_and_validations() {
        let qs = questions();
        let ticked = |id: &str, values: &[&str]| {
            let mut r = answered(&[("std1", "Web")]);
            r.question_choices.insert(
                id.into(),
                proto::webinar::v1::QuestionChoices {
                    values: values.iter().map(|s| (*s).to_owned()).collect(),
                },
            );
            r
        };
        let ok = ticked("std3", &["On-prem", "Edge, IoT"]);
        assert!(bad(&ok, None, Some(&qs)).is_empty());
        let mut v = Violations::new();
        let out = validate(&ok, None, &mut v, "", Some(&qs));
        assert_eq!(out.fields.choices["std3"], ["On-prem", "Edge, IoT"]);
        // In question_answers, ON24's joined form reads as the options ticked.
        let joined = answered(&[("std1", "Web"), ("std3", "Cloud,Edge, IoT")]);
        let out = validate(&joined, None, &mut v, "", Some(&qs));
        assert_eq!(out.fields.choices["std3"], ["Cloud", "Edge, IoT"]);
        assert!(!out.fields.answers.contains_key("std3"));
        let choices = r#"question_choices["std3"]"#;
        for bad_ticks in [&["Fog"][..], &["Cloud", "Cloud"]] {
            assert_eq!(bad(&ticked("std3", bad_ticks), None, Some(&qs)), [choices]);
        }
        // Not a checkbox question; answered twice.
        assert_eq!(
            bad(&ticked("std2", &["x"]), None, Some(&qs)),
            [r#"question_choices["std2"]"#]
        );
        let mut twice = ticked("std3", &["Cloud"]);
        twice.question_answers.insert("std3".into(), "Cloud".into());
        assert_eq!(
            bad(&twice, None, Some(&qs)),
            [r#"question_answers["std3"]"#]
        );
        // ON24's validation type of a free answer.
        assert_eq!(
            bad(
                &answered(&[("std1", "Web"), ("std4", "a dozen")]),
                None,
                Some(&qs)
            ),
            [r#"question_answers["std4"]"#]
        );
        assert!(
            bad(
                &answered(&[("std1", "Web"), ("std4", "12")]),
                None,
                Some(&qs)
            )
            .is_empty()
        );
        // Before the questions are read, std ids only.
        assert!(bad(&ticked("std5", &["a", "b"]), None, None).is_empty());
        assert_eq!(
            bad(&ticked("q1", &["a"]), None, None),
            [r#"question_choices["q1"]"#]
        );
    }

    fn answered(pairs: &[(&str, &str)]) -> Registration {
        let mut r = Registration::default();
        for (k, v) in pairs {
            r.question_answers.insert((*k).into(), (*v).into());
        }
        r
    }

    /// The fields named by the violations of `r`'s answers: on a create when `only` is
    /// None (the answers alone, without the other required fields), else on an update of
    /// the fields in `only`.
    fn bad(
        r: &Registration,
        only: Option<&[&str]>,
        qs: Option<&[RegistrationQuestion]>,
    ) -> Vec<String> {
        let mut v = Violations::new();
        match only {
            None => answers(
                r,
                true,
                Given {
                    answers: true,
                    choices: true,
                    standard: true,
                },
                &mut v,
                "",
                qs,
                &mut RegistrantFields::default(),
            ),
            Some(only) => {
                validate(r, Some(only), &mut v, "", qs);
            }
        }
        v.into_vec().into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn answers_are_checked_against_the_questions() {
        let qs = questions();
        let (create, update) = (None, Some(&["question_answers"][..]));
        // A valid create, and what is kept.
        let ok = answered(&[("std1", "Web"), ("std2", "Free text")]);
        assert!(bad(&ok, create, Some(&qs)).is_empty());
        let mut v = Violations::new();
        let out = validate(&ok, Some(&["question_answers"]), &mut v, "", Some(&qs));
        assert_eq!(
            out.fields.answers.get("std1").map(String::as_str),
            Some("Web")
        );
        // Unknown id, an answer outside the options, a required one missing.
        assert_eq!(
            bad(
                &answered(&[("std1", "Web"), ("std9", "x")]),
                create,
                Some(&qs)
            ),
            [r#"question_answers["std9"]"#]
        );
        assert_eq!(
            bad(&answered(&[("std1", "Fax")]), create, Some(&qs)),
            [r#"question_answers["std1"]"#]
        );
        assert_eq!(
            bad(&answered(&[("std2", "x")]), create, Some(&qs)),
            [r#"question_answers["std1"]"#]
        );
        // A required question answered through standard_fields counts, with its rules.
        let mut through_std = answered(&[]);
        through_std
            .standard_fields
            .insert("std1".into(), "Email".into());
        assert!(bad(&through_std, create, Some(&qs)).is_empty());
        let mut v = Violations::new();
        through_std
            .standard_fields
            .insert("std1".into(), "Fax".into());
        validate(
            &through_std,
            Some(&["standard_fields"]),
            &mut v,
            "",
            Some(&qs),
        );
        assert_eq!(v.into_vec().len(), 1);
        // Both maps at once for one id: refused.
        let mut both = answered(&[("std1", "Web")]);
        both.standard_fields.insert("std1".into(), "Web".into());
        assert_eq!(
            bad(
                &both,
                Some(&["question_answers", "standard_fields"]),
                Some(&qs)
            ),
            [r#"question_answers["std1"]"#]
        );
        // Update: a required answer cannot be cleared, an optional one can.
        assert_eq!(
            bad(&answered(&[("std1", "")]), update, Some(&qs)),
            [r#"question_answers["std1"]"#]
        );
        assert!(bad(&answered(&[("std2", "")]), update, Some(&qs)).is_empty());
        // Before the questions are read: std1 to std10 only, by their text rules.
        assert!(bad(&answered(&[("std4", "anything")]), create, None).is_empty());
        assert_eq!(
            bad(&answered(&[("q42", "x")]), create, None),
            [r#"question_answers["q42"]"#]
        );
        assert_eq!(
            bad(&answered(&[("std4", &"x".repeat(256))]), create, None),
            [r#"question_answers["std4"]"#]
        );
    }

    #[test]
    fn answer_refusals_never_echo_the_answer() {
        let qs = questions();
        let mut v = Violations::new();
        let r = answered(&[("std1", "Secret answer 42")]);
        validate(&r, Some(&["question_answers"]), &mut v, "", Some(&qs));
        let all = format!("{:?}", v.into_vec());
        assert!(!all.contains("Secret answer"), "{all}");
    }

    #[test]
    fn standard_field_keys() {
        let mut r = Registration::default();
        r.standard_fields.insert("std10".into(), "x".into());
        r.standard_fields.insert("std11".into(), "x".into());
        r.standard_fields.insert("std01".into(), "x".into());
        let mut v = Violations::new();
        let out = validate(
            &r,
            Some(&["standard_fields"]),
            &mut v,
            "registration.",
            None,
        );
        assert_eq!(v.into_vec().len(), 2);
        assert_eq!(out.fields.std10.as_deref(), Some("x"));
    }
}
