//! Principal patterns as policies write them. A `*` may only end a pattern, and it only ever
//! stands for whole path segments, so a grant to `crm` never reaches `crm-evil`:
//!
//! | pattern | matches | does not match |
//! | --- | --- | --- |
//! | `spiffe://td/crm` | `spiffe://td/crm` | `spiffe://td/crm/a`, `spiffe://td/crm-evil` |
//! | `spiffe://td/crm/*` | `spiffe://td/crm/a`, `spiffe://td/crm/a/b` | `spiffe://td/crm`, `spiffe://td/crm-evil` |
//! | `spiffe://td/crm*` | `spiffe://td/crm`, `spiffe://td/crm/a` | `spiffe://td/crm-evil`, `spiffe://td/crmx` |
//! | `jwt:*` | every bearer-token subject | `spiffe://td/jwt`, `cn:x` |
//! | `*` | every authenticated principal | the service's own internal name |
//!
//! A pattern starting `cn:` only matches certificate common names, one starting `jwt:` only
//! bearer-token subjects, any other only URI SANs, whatever the text looks like.

use super::{Principal, Source};

/// Why a pattern is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty text.
    #[error("empty principal pattern")]
    Empty,
    /// A `*` somewhere other than at the end.
    #[error("principal pattern {0:?}: '*' is only allowed at the end")]
    Star(String),
}

/// A parsed principal pattern (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalPattern {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Every authenticated principal.
    Any,
    /// Exactly this principal.
    Exact(Source, String),
    /// Strictly below this prefix, which ends in `/`.
    Below(Source, String),
    /// This principal, or anything below `<it>/`.
    SelfAndBelow(Source, String),
}

impl PrincipalPattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text == "*" {
            return Ok(Self { kind: Kind::Any });
        }
        let source = if text.starts_with("cn:") {
            Source::CommonName
        } else if text.starts_with("jwt:") {
            Source::Token
        } else {
            Source::UriSan
        };
        let kind = match text.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => return Err(PatternError::Star(text.into())),
            // `…/*`, and `cn:*` / `jwt:*` (the namespace is a boundary of its own).
            Some(prefix) if prefix.ends_with('/') || prefix == "cn:" || prefix == "jwt:" => {
                Kind::Below(source, prefix.to_owned())
            }
            Some(prefix) => Kind::SelfAndBelow(source, prefix.to_owned()),
            None if text.contains('*') => return Err(PatternError::Star(text.into())),
            None => Kind::Exact(source, text.to_owned()),
        };
        Ok(Self { kind })
    }

    /// Whether the pattern is one exact principal (policies index those by text).
    pub fn exact(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exact(_, text) => Some(text),
            _ => None,
        }
    }

    /// Whether the pattern names a certificate common name (`cn:…`), which a service that
    /// refuses common names can never see: such a policy entry is a mistake.
    pub fn names_common_name(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Exact(Source::CommonName, _)
                | Kind::Below(Source::CommonName, _)
                | Kind::SelfAndBelow(Source::CommonName, _)
        )
    }

    /// Whether `principal` matches.
    pub fn matches(&self, principal: &Principal) -> bool {
        let text = principal.as_str();
        match &self.kind {
            Kind::Any => principal.source() != Source::Internal,
            Kind::Exact(source, exact) => principal.source() == *source && text == exact,
            Kind::Below(source, prefix) => {
                principal.source() == *source
                    && text.len() > prefix.len()
                    && text.starts_with(prefix.as_str())
            }
            Kind::SelfAndBelow(source, prefix) => {
                principal.source() == *source
                    && text
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
        }
    }
}
