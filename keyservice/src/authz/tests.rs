use super::*;

const POLICY: &str = r#"
[[rule]]
identity = "spiffe://webinar.local/integrationservice"
operations = ["generate", "wrap", "unwrap", "rewrap"]
keys = ["on24-credentials"]

[[rule]]
identity = "spiffe://webinar.local/admin"
operations = ["admin:*"]
keys = ["*"]

[[rule]]
identity = "spiffe://webinar.local/crm/*"
operations = ["unwrap"]
keys = ["crm-*"]
"#;

fn id(s: &str) -> Identity {
    Identity::from_uri_san(s).expect("a valid URI SAN")
}

#[test]
fn grants_exactly_what_rules_say() -> Result<(), PolicyError> {
    let policy = Policy::parse(POLICY)?;
    let svc = id("spiffe://webinar.local/integrationservice");
    assert!(policy.allows(&svc, Operation::Unwrap, "on24-credentials"));
    assert!(!policy.allows(&svc, Operation::Unwrap, "other-key"));
    assert!(!policy.allows(&svc, Operation::RotateKey, "on24-credentials"));
    let admin = id("spiffe://webinar.local/admin");
    assert!(policy.allows(&admin, Operation::RotateKey, "on24-credentials"));
    assert!(policy.allows(&admin, Operation::ListKeys, "*"));
    assert!(!policy.allows(&admin, Operation::Unwrap, "on24-credentials"));
    let crm = id("spiffe://webinar.local/crm/demo");
    assert!(policy.allows(&crm, Operation::Unwrap, "crm-demo"));
    assert!(!policy.allows(&crm, Operation::Unwrap, "on24-credentials"));
    // a prefix key pattern does not grant listing all keys
    assert!(!policy.allows(&crm, Operation::ListKeys, "*"));
    assert!(!policy.allows(
        &id("spiffe://webinar.local/crmx"),
        Operation::Unwrap,
        "crm-demo"
    ));
    Ok(())
}

#[test]
fn empty_policy_denies_everything() -> Result<(), PolicyError> {
    let policy = Policy::parse("")?;
    assert!(!policy.allows(&id("spiffe://td/anyone"), Operation::GetKey, "k"));
    Ok(())
}

#[test]
fn typos_are_errors_not_silent_grants() {
    assert!(Policy::parse("[[rule]]\nidentity='a'\noperations=['unwarp']\nkeys=['k']").is_err());
    assert!(Policy::parse("[[rule]]\nidentity='a'\noperations=['wrap']\nkey=['k']").is_err());
    assert!(Policy::parse("[[rule]]\nidentity='a*b'\noperations=['wrap']\nkeys=['k']").is_err());
    assert!(
        Policy::parse("[[rule]]\nidentity='a'\noperations=['auto_rotate']\nkeys=['k']").is_err()
    );
}

/// Identity wildcards stop at path segments, and principals keep their source.
#[test]
fn identity_wildcards_stop_at_segments() -> Result<(), PolicyError> {
    let policy = Policy::parse(
        "[[rule]]\nidentity = 'spiffe://td/crm*'\noperations = ['unwrap']\nkeys = ['k']\n\
         [[rule]]\nidentity = 'jwt:alice'\noperations = ['unwrap']\nkeys = ['k']\n",
    )?;
    assert!(policy.allows(&id("spiffe://td/crm"), Operation::Unwrap, "k"));
    assert!(policy.allows(&id("spiffe://td/crm/a"), Operation::Unwrap, "k"));
    assert!(!policy.allows(&id("spiffe://td/crm-evil"), Operation::Unwrap, "k"));
    assert!(!policy.allows(&Identity::internal("jwt:alice"), Operation::Unwrap, "k"));
    Ok(())
}

#[test]
fn common_name_rules_need_common_names() -> Result<(), PolicyError> {
    let text = "[[rule]]\nidentity = 'cn:batch'\noperations = ['unwrap']\nkeys = ['k']\n";
    assert!(Policy::parse(text).is_err());
    let policy = Policy::parse_with(text, CommonNames::Accept)?;
    let batch = Identity::from_common_name("batch").expect("plain CN");
    assert!(policy.allows(&batch, Operation::Unwrap, "k"));
    assert_eq!(policy.common_names(), CommonNames::Accept);
    Ok(())
}
