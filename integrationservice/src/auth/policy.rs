//! The tenant policy: which principal may act for which tenants. Deny by default: a principal
//! that is not listed may do nothing. `*` (every tenant) is refused at load unless the
//! configuration allows it, so a typo cannot silently create an administrator.
//!
//! ```toml
//! [[principal]]
//! id = "spiffe://webinar.local/crm/demo"   # URI SAN, `cn:<CN>` or `jwt:<sub>`
//! tenants = ["demo"]
//! ```

use std::{
    collections::{HashMap, HashSet},
    path::Path,
};

use serde::Deserialize;

use super::identity::Principal;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[error("tenant policy: {0}")]
pub struct PolicyError(String);

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
}

/// What one principal may reach.
#[derive(Debug, Clone)]
enum Grant {
    All,
    Tenants(HashSet<String>),
}

/// The loaded policy.
#[derive(Debug, Clone, Default)]
pub struct TenantPolicy {
    grants: HashMap<String, Grant>,
}

impl TenantPolicy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path, allow_wildcard: bool) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError(format!("{}: {e}", path.display())))?;
        Self::parse(&text, allow_wildcard)
    }

    /// Parses and checks a policy document.
    pub fn parse(text: &str, allow_wildcard: bool) -> Result<Self, PolicyError> {
        use figment::providers::Format as _;
        let file: PolicyFile = figment::Figment::from(figment::providers::Toml::string(text))
            .extract()
            .map_err(|e| PolicyError(e.to_string()))?;
        let mut grants = HashMap::new();
        for entry in file.principal {
            if entry.id.trim().is_empty() {
                return Err(PolicyError("a principal has an empty `id`".into()));
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
            if grants.insert(entry.id.clone(), grant).is_some() {
                return Err(PolicyError(format!(
                    "principal `{}` is listed twice",
                    entry.id
                )));
            }
        }
        Ok(Self { grants })
    }

    /// True if `principal` may act for `tenant`.
    pub fn allows(&self, principal: &Principal, tenant: &str) -> bool {
        match self.grants.get(principal.as_str()) {
            Some(Grant::All) => true,
            Some(Grant::Tenants(tenants)) => tenants.contains(tenant),
            None => false,
        }
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
        let crm = Principal::from_token_subject("x");
        assert!(!policy.allows(&crm, "demo"), "unknown principal is denied");
    }

    #[test]
    fn bad_tenant_ids_and_duplicates_are_refused() {
        let bad = "[[principal]]\nid = \"a\"\ntenants = [\"Not Valid\"]\n";
        assert!(TenantPolicy::parse(bad, false).is_err());
        let dup = "[[principal]]\nid = \"a\"\ntenants = [\"x\"]\n[[principal]]\nid = \"a\"\ntenants = [\"y\"]\n";
        assert!(TenantPolicy::parse(dup, false).is_err());
    }
}
