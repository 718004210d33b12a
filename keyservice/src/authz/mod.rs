//! Authorization: who may do what on which key. Deny by default — a request is allowed only
//! when some rule names its identity, its operation and its key.
//!
//! Policy file (TOML), one `[[rule]]` per grant:
//!
//! ```toml
//! [[rule]]
//! identity = "spiffe://webinar.local/integrationservice"   # exact, ".../*" or ".../name*"
//! operations = ["generate", "wrap", "unwrap", "rewrap"]
//! keys = ["on24-credentials"]                              # exact names, or "*" for all
//!
//! [[rule]]
//! identity = "spiffe://webinar.local/admin"
//! operations = ["admin:*"]                                 # or e.g. "admin:rotate"
//! keys = ["*"]
//! ```
//!
//! Identity patterns follow the shared rules of `servicekit::identity::PrincipalPattern`: a
//! `*` ends the pattern and stands for whole path segments only (`spiffe://td/crm*` matches
//! `spiffe://td/crm` and `spiffe://td/crm/a`, never `spiffe://td/crm-evil`). Key patterns are
//! plain prefixes (`crm-*`), as key names have no segments. A `cn:` identity is refused unless
//! `tls.allow_common_name` is on, since such a caller could never be identified.

mod operation;

pub use operation::Operation;

use std::path::Path;

use serde::Deserialize;
use servicekit::identity::{CommonNames, PrincipalPattern};

use crate::tls::Identity;

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("invalid policy: {0}")]
    Invalid(String),
}

/// A loaded, validated policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    common_names: CommonNames,
}

#[derive(Debug, Clone)]
struct Rule {
    identity: PrincipalPattern,
    operations: Vec<OpPattern>,
    keys: Vec<Pattern>,
}

#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(text: &str, what: &str) -> Result<Self, PolicyError> {
        if text.is_empty() {
            return Err(PolicyError::Invalid(format!("empty {what}")));
        }
        match text.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => Err(PolicyError::Invalid(format!(
                "{what} {text:?}: '*' is only allowed at the end"
            ))),
            Some(prefix) => Ok(Self::Prefix(prefix.to_owned())),
            None if text.contains('*') => Err(PolicyError::Invalid(format!(
                "{what} {text:?}: '*' is only allowed at the end"
            ))),
            None => Ok(Self::Exact(text.to_owned())),
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == value,
            Self::Prefix(prefix) => value.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OpPattern {
    One(Operation),
    AllAdmin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    identity: String,
    operations: Vec<String>,
    keys: Vec<String>,
}

impl Policy {
    /// Reads and validates a policy file for a service that treats certificate common names
    /// as `common_names` says.
    pub fn load(path: &Path, common_names: CommonNames) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse_with(&text, common_names)
    }

    /// Parses policy TOML for a service that refuses common names.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_with(text, CommonNames::Refuse)
    }

    /// How callers' certificates without a URI SAN are treated (`tls.allow_common_name`).
    pub fn common_names(&self) -> CommonNames {
        self.common_names
    }

    /// Parses policy TOML. Unknown fields and unknown operation names are errors, so a typo
    /// cannot silently grant less (or more) than intended.
    pub fn parse_with(text: &str, common_names: CommonNames) -> Result<Self, PolicyError> {
        use figment::{
            Figment,
            providers::{Format, Toml},
        };
        let file: PolicyFile = Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for (index, rule) in file.rule.into_iter().enumerate() {
            let at = |e: PolicyError| PolicyError::Invalid(format!("rule {}: {e}", index + 1));
            let operations = rule
                .operations
                .iter()
                .map(|op| match op.as_str() {
                    "admin:*" => Ok(OpPattern::AllAdmin),
                    name => Operation::from_policy_name(name)
                        .map(OpPattern::One)
                        .ok_or_else(|| PolicyError::Invalid(format!("unknown operation {name:?}"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?;
            let keys = rule
                .keys
                .iter()
                .map(|k| Pattern::parse(k, "key"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?;
            let identity = PrincipalPattern::parse(&rule.identity)
                .map_err(|e| at(PolicyError::Invalid(e.to_string())))?;
            if identity.names_common_name() && common_names == CommonNames::Refuse {
                return Err(at(PolicyError::Invalid(format!(
                    "identity {:?} is a certificate common name, but tls.allow_common_name is off",
                    rule.identity
                ))));
            }
            rules.push(Rule {
                identity,
                operations,
                keys,
            });
        }
        Ok(Self {
            rules,
            common_names,
        })
    }

    /// Whether `identity` may perform `operation` on `key`. For operations that are not about
    /// one key (listing), pass `"*"`: only a rule granting all keys allows it.
    pub fn allows(&self, identity: &Identity, operation: Operation, key: &str) -> bool {
        self.rules.iter().any(|rule| {
            rule.identity.matches(identity)
                && rule.operations.iter().any(|op| match op {
                    OpPattern::One(one) => *one == operation,
                    OpPattern::AllAdmin => operation.is_admin(),
                })
                && rule.keys.iter().any(|k| match k {
                    // "*" on the key side means every key, including the list-all pseudo key.
                    Pattern::Prefix(p) if p.is_empty() => true,
                    other => key != "*" && other.matches(key),
                })
        })
    }
}

#[cfg(test)]
mod tests;
