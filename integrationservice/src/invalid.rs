//! Why a value was refused. A leaf, so every module that parses a value (the ids, the
//! domain's field types) states its rule the same way.

/// Why a value was refused: the rule it breaks, in words a caller can act on. It never holds
/// the value (which may be personal data or a secret); `Invalid::at` in the domain names the
/// field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(std::borrow::Cow<'static, str>);

impl Invalid {
    /// A refusal stating `rule`.
    pub fn new(rule: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self(rule.into())
    }

    /// The rule, as a field violation's description.
    pub fn rule(&self) -> &str {
        &self.0
    }
}

impl From<Invalid> for String {
    fn from(i: Invalid) -> Self {
        i.0.into_owned()
    }
}
