//! Typed ids of the integration service: a tenant, a webinar and a registration. Each is
//! parsed once where it enters (the API's resource names, the auth policy, a stored row) and
//! travels as its type from there, so a webinar id can never be passed where a registration
//! id is expected, and no layer re-checks a string it was already given. A leaf: the domain
//! and the store both take these types, and it imports nothing of the service but
//! [`Invalid`].

use std::fmt;

use uuid::Uuid;

use crate::invalid::Invalid;

/// A tenant id: 1 to 63 characters of `[a-z0-9-]`, not starting or ending with `-` (a DNS
/// label, so it fits resource names, metric labels and certificate names alike).
#[derive(
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    diesel::expression::AsExpression,
)]
#[serde(try_from = "String", into = "String")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct TenantId(String);

/// Stored as its text, like any string column (`tenant` in every table).
impl diesel::serialize::ToSql<diesel::sql_types::Text, servicekit::db::MultiBackend> for TenantId {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, servicekit::db::MultiBackend>,
    ) -> diesel::serialize::Result {
        <String as diesel::serialize::ToSql<
            diesel::sql_types::Text,
            servicekit::db::MultiBackend,
        >>::to_sql(&self.0, out)
    }
}

impl TenantId {
    /// The rule a tenant id follows, as field violations state it.
    pub const RULE: &'static str =
        "the tenant id must be 1 to 63 characters of [a-z0-9-], not starting or ending with `-`";

    /// Checks `id` against [`Self::RULE`].
    pub fn parse(id: &str) -> Result<Self, Invalid> {
        let bytes = id.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-';
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(Invalid::new(Self::RULE))
        }
    }

    /// An id read back from the store, which holds only ids that were parsed on the way in.
    pub(crate) fn from_stored(id: &str) -> Self {
        Self(id.to_owned())
    }

    /// The id as text (resource names, store keys, labels).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> Self {
        id.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A server-assigned UUID id. Its text form is always lowercase and hyphenated, the only form
/// a resource name may carry, so a name can never smuggle another spelling of an id.
macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// The rule the id follows, as field violations state it.
            pub const RULE: &'static str =
                concat!("the ", $what, " id must be a lowercase hyphenated UUID");

            /// A new id, ordered by creation time (UUID v7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the lowercase hyphenated form (the only one accepted).
            pub fn parse(id: &str) -> Result<Self, Invalid> {
                match Uuid::try_parse(id) {
                    Ok(u) if u.hyphenated().to_string() == id => Ok(Self(u)),
                    _ => Err(Invalid::new(Self::RULE)),
                }
            }

            /// An id read back from the store, which holds only ids that were parsed on the
            /// way in (the nil UUID should a row be corrupted).
            pub(crate) fn from_stored(id: &str) -> Self {
                Self(Uuid::try_parse(id).unwrap_or_default())
            }

            /// The UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(value: String) -> Result<Self, Invalid> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

    };
}

uuid_id!(
    /// A webinar's id, assigned by this service.
    WebinarId,
    "webinar"
);

uuid_id!(
    /// A registration's id, assigned by this service.
    RegistrationId,
    "registration"
);

uuid_id!(
    /// An erasure request's id (one per `ForgetPerson` call), assigned by this service.
    ErasureRequestId,
    "erasure request"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_dns_labels() {
        for ok in ["a", "tenant-a", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a/b", "*", &"a".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_ids_take_one_spelling() {
        let id = "0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a";
        let parsed = WebinarId::parse(id).expect("lowercase hyphenated");
        assert_eq!(parsed.to_string(), id);
        assert_eq!(
            serde_json::to_string(&parsed).expect("serialize"),
            format!("\"{id}\"")
        );
        for bad in [
            "0190F0C4-8B7E-7C3A-9A53-4F1E2D3C4B5A",
            "0190f0c48b7e7c3a9a534f1e2d3c4b5a",
            "{0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a}",
            "1",
            "",
        ] {
            assert!(RegistrationId::parse(bad).is_err(), "{bad}");
        }
    }
}
