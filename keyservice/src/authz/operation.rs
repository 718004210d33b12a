//! The operations the policy and the audit log name. One list, so a new RPC cannot be
//! audited under one name and authorized under another.

use std::fmt;

/// Every operation of `KeyService` and `KeyAdminService`. Batch RPCs are authorized and
/// audited per item under the single-item operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// GenerateDataKey.
    Generate,
    /// WrapKey.
    Wrap,
    /// UnwrapKey.
    Unwrap,
    /// RewrapKey.
    Rewrap,
    /// CreateKey.
    CreateKey,
    /// GetKey.
    GetKey,
    /// ListKeys.
    ListKeys,
    /// RotateKey.
    RotateKey,
    /// UpdateKeyVersion.
    UpdateKeyVersion,
    /// SetMinDecryptionVersion.
    SetMinDecryptionVersion,
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion,
    /// CancelKeyDeletion.
    CancelKeyDeletion,
    /// Automatic rotation done by the service itself (audit only, never in a policy).
    AutoRotate,
}

const NAMES: &[(Operation, &str)] = &[
    (Operation::Generate, "generate"),
    (Operation::Wrap, "wrap"),
    (Operation::Unwrap, "unwrap"),
    (Operation::Rewrap, "rewrap"),
    (Operation::CreateKey, "admin:create"),
    (Operation::GetKey, "admin:get"),
    (Operation::ListKeys, "admin:list"),
    (Operation::RotateKey, "admin:rotate"),
    (Operation::UpdateKeyVersion, "admin:update_version"),
    (
        Operation::SetMinDecryptionVersion,
        "admin:set_min_decryption_version",
    ),
    (Operation::ScheduleKeyDeletion, "admin:schedule_deletion"),
    (Operation::CancelKeyDeletion, "admin:cancel_deletion"),
];

impl Operation {
    /// How many operations there are: every one in the policy's list, and `AutoRotate`.
    pub const COUNT: usize = NAMES.len() + 1;

    /// The operation's name in policy files and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Self::AutoRotate => "auto_rotate",
            op => NAMES
                .iter()
                .find(|(o, _)| *o == op)
                .map(|(_, n)| *n)
                .unwrap_or("unknown"),
        }
    }

    /// Parses a policy name; `auto_rotate` is deliberately not grantable.
    pub fn from_policy_name(name: &str) -> Option<Self> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(o, _)| *o)
    }

    /// Whether this is a `KeyAdminService` operation (covered by `admin:*`).
    pub fn is_admin(self) -> bool {
        self.name().starts_with("admin:")
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_covers_every_discriminant() {
        let all: Vec<Operation> = NAMES
            .iter()
            .map(|(op, _)| *op)
            .chain([Operation::AutoRotate])
            .collect();
        assert_eq!(all.len(), Operation::COUNT);
        let mut indices: Vec<usize> = all.iter().map(|op| *op as usize).collect();
        indices.sort_unstable();
        indices.dedup();
        assert_eq!(indices, (0..Operation::COUNT).collect::<Vec<_>>());
    }
}
