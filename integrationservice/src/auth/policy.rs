//! The tenant policy: which principal may act for which tenants. Deny by default: a principal
//! that is not listed may do nothing. `*` (every tenant) is refused at load unless the
//! configuration allows it, so a typo cannot silently create an administrator.
//!
//! ```toml
//! [[principal]]
//! id = "spiffe://webinar.local/crm/demo"   # URI SAN, `cn:<CN>` or `jwt:<sub>`
//! tenants = ["demo"]
//! ```
//!
//! An `id` may end in `*`, which stands for whole path segments only (the rules both services
//! share, `servicekit::identity::PrincipalPattern`): `spiffe://td/crm/*` is everything below
//! `spiffe://td/crm/`, `spiffe://td/crm*` is `spiffe://td/crm` and everything below it, and
//! neither matches `spiffe://td/crm-evil`. A principal gets the union of the tenants of every
//! entry that matches it. A `cn:` entry is refused unless `auth.allow_common_name` is on.
//!
//! Tenant administration (`PurgeTenant`, which deletes a whole tenant) needs more than acting
//! for the tenant: an entry marked `admin = true` that covers it. No entry is an
//! administrator unless it says so.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
};

use serde::Deserialize;
use servicekit::identity::PrincipalPattern;

use super::identity::{CommonNames, Principal};
use crate::config::AuthConfig;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[error("tenant policy: {0}")]
pub(crate) struct PolicyError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    principal: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    tenants: Vec<String>,
    /// May administer (purge) the tenants it covers.
    #[serde(default)]
    admin: bool,
}

/// What one principal may reach.
#[derive(Debug, Clone)]
enum Grant {
    All,
    Tenants(HashSet<String>),
}

impl Grant {
    fn covers(&self, tenant: &str) -> bool {
        match self {
            Self::All => true,
            Self::Tenants(tenants) => tenants.contains(tenant),
        }
    }
}

/// The loaded policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct TenantPolicy {
    /// Entries naming one principal, by its text.
    grants: HashMap<String, (PrincipalPattern, Grant)>,
    /// Entries whose `id` ends in `*`.
    patterns: Vec<(PrincipalPattern, Grant)>,
    /// Entries marked `admin = true`.
    admins: Vec<(PrincipalPattern, Grant)>,
}

impl TenantPolicy {
    /// Reads and checks the policy file `auth.policy_file` under the `auth` settings.
    pub(crate) fn load(auth: &AuthConfig) -> Result<Self, PolicyError> {
        let path: &Path = &auth.policy_file;
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError(format!("{}: {e}", path.display())))?;
        Self::parse_with(
            &text,
            auth.allow_wildcard,
            CommonNames::accept_if(auth.allow_common_name),
        )
    }

    /// Parses and checks a policy document for a service that refuses common names.
    #[cfg(test)]
    pub(crate) fn parse(text: &str, allow_wildcard: bool) -> Result<Self, PolicyError> {
        Self::parse_with(text, allow_wildcard, CommonNames::Refuse)
    }

    /// Parses and checks a policy document.
    pub(crate) fn parse_with(
        text: &str,
        allow_wildcard: bool,
        common_names: CommonNames,
    ) -> Result<Self, PolicyError> {
        use figment::providers::Format as _;
        let file: PolicyFile = figment::Figment::from(figment::providers::Toml::string(text))
            .extract()
            .map_err(|e| PolicyError(e.to_string()))?;
        let mut grants = HashMap::new();
        let mut patterns = Vec::new();
        let mut admins = Vec::new();
        for entry in file.principal {
            if entry.id.trim().is_empty() {
                return Err(PolicyError("a principal has an empty `id`".into()));
            }
            let pattern = PrincipalPattern::parse(&entry.id)
                .map_err(|e| PolicyError(format!("principal `{}`: {e}", entry.id)))?;
            if pattern.names_common_name() && common_names == CommonNames::Refuse {
                return Err(PolicyError(format!(
                    "principal `{}` is a certificate common name but `auth.allow_common_name` is false",
                    entry.id
                )));
            }
            let grant = if entry.tenants.iter().any(|t| t == "*") {
                if !allow_wildcard {
                    return Err(PolicyError(format!(
                        "principal `{}` has tenants = [\"*\"] but `auth.allow_wildcard` is false",
                        entry.id
                    )));
                }
                Grant::All
            } else {
                for tenant in &entry.tenants {
                    if crate::domain::TenantId::parse(tenant).is_err() {
                        return Err(PolicyError(format!(
                            "principal `{}`: `{tenant}` is not a valid tenant id",
                            entry.id
                        )));
                    }
                }
                Grant::Tenants(entry.tenants.into_iter().collect())
            };
            if entry.admin {
                admins.push((pattern.clone(), grant.clone()));
            }
            let duplicate = if pattern.exact().is_some() {
                grants.insert(entry.id.clone(), (pattern, grant)).is_some()
            } else {
                let seen = patterns.iter().any(|(p, _)| *p == pattern);
                patterns.push((pattern, grant));
                seen
            };
            if duplicate {
                return Err(PolicyError(format!(
                    "principal `{}` is listed twice",
                    entry.id
                )));
            }
        }
        Ok(Self {
            grants,
            patterns,
            admins,
        })
    }

    /// True if an `admin = true` entry matching `principal` covers `tenant`.
    pub(crate) fn administers(&self, principal: &Principal, tenant: &str) -> bool {
        self.admins
            .iter()
            .any(|(pattern, grant)| pattern.matches(principal) && grant.covers(tenant))
    }

    /// True if `principal` may act for `tenant`.
    pub(crate) fn allows(&self, principal: &Principal, tenant: &str) -> bool {
        let grants = |grant: &Grant| match grant {
            Grant::All => true,
            Grant::Tenants(tenants) => tenants.contains(tenant),
        };
        // The exact entry is found by text, then must match by source too: a URI SAN and a
        // token subject with the same text are different principals.
        self.grants
            .get(principal.as_str())
            .is_some_and(|(pattern, grant)| pattern.matches(principal) && grants(grant))
            || self
                .patterns
                .iter()
                .any(|(pattern, grant)| pattern.matches(principal) && grants(grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
        [[principal]]
        id = "spiffe://webinar.local/crm/demo"
        tenants = ["demo", "acme"]
        [[principal]]
        id = "spiffe://webinar.local/admin"
        tenants = ["*"]
    "#;

    #[test]
    fn denies_by_default_and_wildcard_needs_opt_in() {
        let err = TenantPolicy::parse(POLICY, false).expect_err("wildcard refused");
        assert!(err.to_string().contains("allow_wildcard"), "{err}");
        let policy = TenantPolicy::parse(POLICY, true).expect("valid");
        let crm = Principal::from_token_subject("x").expect("subject");
        assert!(!policy.allows(&crm, "demo"), "unknown principal is denied");
    }

    #[test]
    fn wildcards_stop_at_segments_and_sources_stay_apart() {
        let text = "[[principal]]\nid = \"spiffe://td/crm*\"\ntenants = [\"demo\"]\n\
                    [[principal]]\nid = \"jwt:alice\"\ntenants = [\"demo\"]\n";
        let policy = TenantPolicy::parse(text, false).expect("valid");
        let uri = |text: &str| Principal::from_uri_san(text).expect("URI");
        assert!(policy.allows(&uri("spiffe://td/crm"), "demo"));
        assert!(policy.allows(&uri("spiffe://td/crm/a"), "demo"));
        assert!(!policy.allows(&uri("spiffe://td/crm-evil"), "demo"));
        assert!(!policy.allows(&uri("spiffe://td/crm"), "acme"));
        let alice = Principal::from_token_subject("alice").expect("subject");
        assert!(policy.allows(&alice, "demo"));
        assert!(!policy.allows(&Principal::internal("jwt:alice"), "demo"));
    }

    #[test]
    fn common_name_entries_need_common_names() {
        let text = "[[principal]]\nid = \"cn:legacy\"\ntenants = [\"demo\"]\n";
        assert!(TenantPolicy::parse(text, false).is_err());
        let policy = TenantPolicy::parse_with(text, false, CommonNames::Accept).expect("allowed");
        let legacy = Principal::from_common_name("legacy").expect("CN");
        assert!(policy.allows(&legacy, "demo"));
    }

    #[test]
    fn administration_needs_an_admin_entry_that_covers_the_tenant() {
        let text = "[[principal]]\nid = \"spiffe://td/crm\"\ntenants = [\"demo\"]\n\
                    [[principal]]\nid = \"spiffe://td/ops\"\ntenants = [\"demo\"]\nadmin = true\n";
        let policy = TenantPolicy::parse(text, false).expect("valid");
        let uri = |text: &str| Principal::from_uri_san(text).expect("URI");
        assert!(policy.allows(&uri("spiffe://td/crm"), "demo"));
        assert!(!policy.administers(&uri("spiffe://td/crm"), "demo"));
        assert!(policy.administers(&uri("spiffe://td/ops"), "demo"));
        assert!(!policy.administers(&uri("spiffe://td/ops"), "acme"));
    }

    #[test]
    fn bad_tenant_ids_and_duplicates_are_refused() {
        let bad = "[[principal]]\nid = \"a\"\ntenants = [\"Not Valid\"]\n";
        assert!(TenantPolicy::parse(bad, false).is_err());
        let dup = "[[principal]]\nid = \"a\"\ntenants = [\"x\"]\n[[principal]]\nid = \"a\"\ntenants = [\"y\"]\n";
        assert!(TenantPolicy::parse(dup, false).is_err());
    }
}
