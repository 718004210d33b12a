//! Validation of the attendee fields of a `Registration`, and of the `ListRegistrations`
//! status filter. The optional ON24 registrant fields travel to the domain as a map keyed by
//! their proto field names (`job_function`, `std1`, ...), the domain's `extra` keys.

use std::collections::BTreeMap;

use proto::webinar::v1::{Registration, RegistrationStatus};

use super::{validate, validate::Violations};

/// Validated attendee fields.
#[derive(Debug, Clone, Default)]
pub struct RegistrationFields {
    /// Email, lowercased for the (tenant, webinar, email) key.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company (empty: none).
    pub company: Option<String>,
    /// Job title (empty: none).
    pub job_title: Option<String>,
    /// CRM contact id (empty: none).
    pub crm_reference_id: Option<String>,
    /// Other registrant fields by proto name; only the masked or non-empty ones.
    pub extra: BTreeMap<String, String>,
}

/// Optional registrant fields: proto field (also the domain's key), longest value (the
/// domain's `EXTRA_LIMITS`).
const EXTRA: &[(&str, usize)] = &[
    ("job_function", 255),
    ("company_industry", 255),
    ("company_size", 64),
    ("address_street1", 255),
    ("address_street2", 255),
    ("city", 128),
    ("state", 128),
    ("zip", 32),
    ("country", 128),
    ("work_phone", 32),
    ("partner_ref", 255),
    ("notes", 2000),
];

/// Every field `UpdateRegistration` may change.
pub fn updatable() -> Vec<&'static str> {
    let mut all = vec![
        "first_name",
        "last_name",
        "company",
        "job_title",
        "standard_fields",
    ];
    all.extend(EXTRA.iter().map(|(p, _)| *p));
    all
}

fn extra_value<'a>(r: &'a Registration, field: &str) -> &'a str {
    match field {
        "job_function" => &r.job_function,
        "company_industry" => &r.company_industry,
        "company_size" => &r.company_size,
        "address_street1" => &r.address_street1,
        "address_street2" => &r.address_street2,
        "city" => &r.city,
        "state" => &r.state,
        "zip" => &r.zip,
        "country" => &r.country,
        "work_phone" => &r.work_phone,
        "partner_ref" => &r.partner_ref,
        "notes" => &r.notes,
        _ => "",
    }
}

/// Validates the fields of `r` named in `only` (or all when `only` is `None`), recording
/// violations under `prefix` (e.g. `registration.`).
pub fn validate(
    r: &Registration,
    only: Option<&[&str]>,
    v: &mut Violations,
    prefix: &str,
) -> RegistrationFields {
    let wants = |name: &str| only.is_none_or(|o| o.contains(&name));
    let f = |name: &str| format!("{prefix}{name}");
    let mut out = RegistrationFields::default();
    if wants("email") {
        out.email = v
            .check(&f("email"), validate::email(&r.email))
            .map(|()| r.email.to_ascii_lowercase());
    }
    let text = |v: &mut Violations, name: &str, value: &str, required: bool, max: usize| {
        let result = if required {
            validate::required_text(value, 1, max)
        } else {
            validate::optional_text(value, max)
        };
        v.check(&f(name), result).map(|()| value.to_owned())
    };
    if wants("first_name") {
        out.first_name = text(v, "first_name", &r.first_name, true, 100);
    }
    if wants("last_name") {
        out.last_name = text(v, "last_name", &r.last_name, true, 100);
    }
    if wants("company") {
        out.company = text(v, "company", &r.company, false, 255);
    }
    if wants("job_title") {
        out.job_title = text(v, "job_title", &r.job_title, false, 255);
    }
    if wants("crm_reference_id") {
        out.crm_reference_id = v
            .check(
                &f("crm_reference_id"),
                validate::crm_reference(&r.crm_reference_id, false),
            )
            .map(|()| r.crm_reference_id.clone());
    }
    for (field, max) in EXTRA {
        let value = extra_value(r, field);
        // On create only non-empty values travel; on update a masked empty value clears.
        if wants(field)
            && (only.is_some() || !value.is_empty())
            && text(v, field, value, false, *max).is_some()
        {
            out.extra.insert((*field).to_owned(), value.to_owned());
        }
    }
    if wants("standard_fields") {
        for (key, value) in &r.standard_fields {
            let known = key
                .strip_prefix("std")
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| {
                    (1..=10).contains(&n) && key.len() <= 5 && !key.starts_with("std0")
                });
            if !known {
                v.add(
                    &f(&format!("standard_fields[{key:?}]")),
                    "keys must be std1 to std10",
                );
            } else if let Some(()) = v.check(
                &f(&format!("standard_fields[{key:?}]")),
                validate::optional_text(value, 255),
            ) {
                out.extra.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// Parses `status = X [OR status = Y ...]`; empty means every status.
pub fn parse_status_filter(filter: &str) -> Result<Vec<RegistrationStatus>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn standard_field_keys() {
        let mut r = Registration::default();
        r.standard_fields.insert("std10".into(), "x".into());
        r.standard_fields.insert("std11".into(), "x".into());
        r.standard_fields.insert("std01".into(), "x".into());
        let mut v = Violations::new();
        let out = validate(&r, Some(&["standard_fields"]), &mut v, "registration.");
        assert_eq!(v.into_vec().len(), 2);
        assert_eq!(out.extra.get("std10").map(String::as_str), Some("x"));
    }
}
