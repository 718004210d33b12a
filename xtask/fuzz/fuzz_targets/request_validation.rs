//! Request validation (integration service): the resource-name parsers, the domain
//! constructors every request field goes through, and the ON24 `base_url` egress rule. None
//! panics; what one accepts it accepts again unchanged; names round-trip; an accepted base
//! URL is https to an allowed host. The input is one field's text (UTF-8).
#![no_main]

use integrationservice::fuzzing::{
    CrmReference, Description, DurationMinutes, EgressPolicy, Email, EventType, Language,
    PageSize, PersonName, RegistrantField, RegistrantFields, RequestId, StartTime, TenantId,
    TimeZone, Title, base_url, organisation_text, parse_credentials, parse_registration,
    parse_tenant, parse_webinar, parse_webinar_metrics, registration_name, webinar_name,
};
use libfuzzer_sys::fuzz_target;

/// Parsing the text of an accepted value accepts it again, unchanged.
macro_rules! stable {
    ($parse:path, $text:expr) => {
        if let Ok(value) = $parse($text) {
            let again = $parse(value.as_str()).expect("an accepted value is accepted again");
            assert_eq!(again.as_str(), value.as_str());
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The numeric fields read the text as a number (its length when it is none).
    let number = text.trim().parse::<i64>().unwrap_or(text.len() as i64);
    let _ = parse_tenant(text);
    let _ = parse_credentials(text);
    let _ = parse_webinar_metrics(text);
    if let Ok(name) = parse_webinar(text) {
        let again = parse_webinar(&webinar_name(&name.tenant, &name.webinar)).expect("round trip");
        assert_eq!(again.webinar, name.webinar);
        assert_eq!(again.tenant.as_str(), name.tenant.as_str());
    }
    if let Ok(name) = parse_registration(text) {
        let again = parse_registration(&registration_name(
            &name.tenant,
            &name.webinar,
            &name.registration,
        ))
        .expect("round trip");
        assert_eq!(again.registration, name.registration);
    }
    stable!(TenantId::parse, text);
    stable!(Email::parse, text);
    stable!(PersonName::parse, text);
    stable!(Title::parse, text);
    stable!(CrmReference::parse, text);
    stable!(TimeZone::parse, text);
    stable!(Language::parse, text);
    stable!(EventType::parse, text);
    let _ = Description::parse(text);
    let _ = RequestId::parse(text);
    let _ = organisation_text(text);
    let field = RegistrantField::ALL[text.len() % RegistrantField::ALL.len()];
    let mut fields = RegistrantFields::default();
    if fields.set(field, text).is_ok() {
        let kept = fields.get(field).expect("a set field is kept");
        assert!(kept.chars().count() <= field.max_chars());
    }
    let small = i32::try_from(number).unwrap_or(i32::MAX);
    let _ = PageSize::parse(small);
    let _ = DurationMinutes::parse(small);
    let _ = StartTime::from_parts(number, small);
    let _ = StartTime::from_parts(number, 0);

    let policy = EgressPolicy::new(["api.on24.com"], false);
    if let Ok(url) = policy.check_base_url(text) {
        assert!(url.is_https() && !url.is_loopback(), "{}", url.as_str());
        assert!(base_url(text, &policy).is_ok() || text.len() > 512);
    }
});
