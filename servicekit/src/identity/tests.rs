//! The identity rules on certificates made here with rcgen.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

use super::*;

fn cert(cn: Option<&str>, sans: &[SanType]) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.subject_alt_names = sans.to_vec();
    let key = KeyPair::generate().expect("key");
    params.self_signed(&key).expect("sign").der().to_vec()
}

fn uri(text: &str) -> SanType {
    SanType::URI(text.try_into().expect("ia5"))
}

fn principal(der: &[u8], cn: CommonNames) -> Result<Principal, IdentityError> {
    CertificateIdentity::parse(der).principal(cn)
}

#[test]
fn exactly_one_uri_san_names_the_holder() {
    let one = cert(Some("svc"), &[uri("spiffe://webinar.local/svc")]);
    let p = principal(&one, CommonNames::Refuse).expect("one URI");
    assert_eq!(p.as_str(), "spiffe://webinar.local/svc");
    assert_eq!(p.source(), Source::UriSan);
    // DNS names beside the URI do not matter.
    let with_dns = cert(
        None,
        &[
            SanType::DnsName("svc.local".try_into().expect("dns")),
            uri("spiffe://webinar.local/svc"),
        ],
    );
    assert_eq!(principal(&with_dns, CommonNames::Refuse), Ok(p));
    let two = cert(
        Some("svc"),
        &[
            uri("spiffe://webinar.local/a"),
            uri("spiffe://webinar.local/admin"),
        ],
    );
    assert_eq!(
        principal(&two, CommonNames::Accept),
        Err(IdentityError::SeveralUris)
    );
    assert_eq!(
        principal(b"not a certificate", CommonNames::Accept),
        Err(IdentityError::Unparsable)
    );
}

#[test]
fn common_names_only_where_accepted_and_namespaced() {
    let cn_only = cert(Some("batch-job"), &[]);
    assert_eq!(
        principal(&cn_only, CommonNames::Refuse),
        Err(IdentityError::NoUri)
    );
    let p = principal(&cn_only, CommonNames::Accept).expect("accepted");
    assert_eq!(p.as_str(), "cn:batch-job");
    assert_eq!(p.source(), Source::CommonName);
    // Only DNS SANs and a CN that looks like a SPIFFE id: never that id, whatever the rule.
    let posing = cert(
        Some("spiffe://webinar.local/admin"),
        &[SanType::DnsName("admin.local".try_into().expect("dns"))],
    );
    assert_eq!(
        principal(&posing, CommonNames::Refuse),
        Err(IdentityError::NoUri)
    );
    assert_eq!(
        principal(&posing, CommonNames::Accept),
        Err(IdentityError::BadCommonName)
    );
    assert_eq!(
        principal(&cert(None, &[]), CommonNames::Accept),
        Err(IdentityError::BadCommonName)
    );
}

#[test]
fn principals_of_different_sources_never_meet() {
    // A URI SAN in a reserved scheme is refused outright.
    for reserved in ["jwt:alice", "JWT:alice", "cn:legacy-crm"] {
        let der = cert(Some("x"), &[uri(reserved)]);
        assert_eq!(
            principal(&der, CommonNames::Accept),
            Err(IdentityError::BadUri),
            "{reserved}"
        );
    }
    let token = Principal::from_token_subject("alice").expect("subject");
    assert_eq!(token.as_str(), "jwt:alice");
    // Even built by hand, equal text from another source is another principal.
    let internal = Principal::internal("jwt:alice");
    assert_ne!(token, internal);
    assert!(
        !PrincipalPattern::parse("jwt:alice")
            .expect("pattern")
            .matches(&internal)
    );
    assert!(
        PrincipalPattern::parse("jwt:alice")
            .expect("pattern")
            .matches(&token)
    );
    assert!(Principal::from_token_subject("").is_err());
    assert!(Principal::from_token_subject("a\nb").is_err());
}

#[test]
fn uri_sans_must_be_well_formed() {
    for good in [
        "spiffe://webinar.local/crm/tenant-a",
        "spiffe://td",
        "urn:example:svc",
        "https://idp.example/x",
    ] {
        assert!(Principal::from_uri_san(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "no-scheme",
        "1x://a",
        "spiffe://td/a/",
        "spiffe://td//a",
        "spiffe://td/a/../admin",
        "spiffe://TD/a",
        "spiffe://td/a?x=1",
        "spiffe:td/a",
        "SPIFFE://td/a",
        "spiffe://td/a b",
        "spiffe://td/*",
    ] {
        assert!(Principal::from_uri_san(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn wildcards_stop_at_path_segments() {
    let p = |text: &str| Principal::from_uri_san(text).expect("principal");
    let pattern = |text: &str| PrincipalPattern::parse(text).expect("pattern");
    let crm = p("spiffe://td/crm");
    let crm_a = p("spiffe://td/crm/a");
    let crm_a_b = p("spiffe://td/crm/a/b");
    let evil = p("spiffe://td/crm-evil");
    let glued = pattern("spiffe://td/crm*");
    assert!(glued.matches(&crm) && glued.matches(&crm_a) && glued.matches(&crm_a_b));
    assert!(!glued.matches(&evil), "crm* must not match crm-evil");
    assert!(!glued.matches(&p("spiffe://td/crmx")));
    let below = pattern("spiffe://td/crm/*");
    assert!(below.matches(&crm_a) && below.matches(&crm_a_b));
    assert!(!below.matches(&crm) && !below.matches(&evil));
    let exact = pattern("spiffe://td/crm");
    assert!(exact.matches(&crm) && !exact.matches(&crm_a));
    assert_eq!(exact.exact(), Some("spiffe://td/crm"));
    let any = pattern("*");
    assert!(any.matches(&evil));
    assert!(!any.matches(&Principal::internal("keyservice")));
    let tokens = pattern("jwt:*");
    assert!(tokens.matches(&Principal::from_token_subject("bob").expect("sub")));
    assert!(!tokens.matches(&crm));
    assert!(pattern("cn:*").names_common_name());
    assert!(!glued.names_common_name());
    assert!(PrincipalPattern::parse("spiffe://td/*/x").is_err());
    assert!(PrincipalPattern::parse("spiffe://td/c*m").is_err());
    assert!(PrincipalPattern::parse("").is_err());
}
