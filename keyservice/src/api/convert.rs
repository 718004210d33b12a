//! Domain types to proto messages and back (only the shapes; rules live in the domain).

use std::time::Duration;

use chrono::{DateTime, Utc};
use proto::keyservice::v1 as pb;
use tonic::Status;

use super::error::invalid_field;
use crate::domain::{self, KeyPurpose, KeyState, KeyVersionState, RotationPolicy};

pub(super) fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Always in 0..1e9 for a valid DateTime.
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// A non-negative proto duration as a std duration; `field` names it in the error.
pub(super) fn std_duration(d: &prost_types::Duration, field: &str) -> Result<Duration, Status> {
    let seconds =
        u64::try_from(d.seconds).map_err(|_| invalid_field(field, "must not be negative"))?;
    let nanos = u32::try_from(d.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| invalid_field(field, "nanos must be 0 to 999999999"))?;
    Ok(Duration::new(seconds, nanos))
}

pub(super) fn key(k: &domain::Key) -> pb::Key {
    let policy = &k.rotation_policy;
    let has_policy = policy.rotation_period.is_some() || policy.max_wraps_per_version != 0;
    pb::Key {
        name: k.name(),
        purpose: match k.purpose {
            KeyPurpose::EncryptDecrypt => pb::KeyPurpose::EncryptDecrypt as i32,
        },
        state: match k.state {
            KeyState::Enabled => pb::KeyState::Enabled,
            KeyState::DeleteScheduled => pb::KeyState::DeleteScheduled,
            KeyState::Destroyed => pb::KeyState::Destroyed,
        } as i32,
        primary_version: k.primary_version,
        min_decryption_version: k.min_decryption_version,
        rotation_policy: has_policy.then(|| pb::RotationPolicy {
            rotation_period: policy.rotation_period.map(proto_duration),
            max_wraps_per_version: policy.max_wraps_per_version,
        }),
        next_rotation_time: k.next_rotation_time.map(timestamp),
        delete_time: k.delete_time.map(timestamp),
        create_time: Some(timestamp(k.create_time)),
        update_time: Some(timestamp(k.update_time)),
    }
}

pub(super) fn version(v: &domain::KeyVersion) -> pb::KeyVersion {
    pb::KeyVersion {
        name: v.reference.name(),
        version: v.reference.version,
        state: version_state(v.state) as i32,
        wrap_count: v.wrap_count,
        create_time: Some(timestamp(v.create_time)),
    }
}

fn version_state(s: KeyVersionState) -> pb::KeyVersionState {
    match s {
        KeyVersionState::Enabled => pb::KeyVersionState::Enabled,
        KeyVersionState::Disabled => pb::KeyVersionState::Disabled,
    }
}

/// `UpdateKeyVersionRequest.state`: only ENABLED or DISABLED.
pub(super) fn requested_version_state(state: i32) -> Result<KeyVersionState, Status> {
    match pb::KeyVersionState::try_from(state) {
        Ok(pb::KeyVersionState::Enabled) => Ok(KeyVersionState::Enabled),
        Ok(pb::KeyVersionState::Disabled) => Ok(KeyVersionState::Disabled),
        _ => Err(invalid_field(
            "state",
            "must be KEY_VERSION_STATE_ENABLED or KEY_VERSION_STATE_DISABLED",
        )),
    }
}

/// `CreateKeyRequest.key`: purpose and rotation policy.
pub(super) fn new_key(key_id: String, key: Option<&pb::Key>) -> Result<domain::NewKey, Status> {
    let key = key.ok_or_else(|| invalid_field("key", "required"))?;
    let purpose = match pb::KeyPurpose::try_from(key.purpose) {
        Ok(pb::KeyPurpose::EncryptDecrypt) => KeyPurpose::EncryptDecrypt,
        _ => {
            return Err(invalid_field(
                "key.purpose",
                "must be KEY_PURPOSE_ENCRYPT_DECRYPT",
            ));
        }
    };
    let rotation_policy = match &key.rotation_policy {
        None => RotationPolicy::default(),
        Some(p) => RotationPolicy {
            rotation_period: p
                .rotation_period
                .as_ref()
                .map(|d| std_duration(d, "key.rotation_policy.rotation_period"))
                .transpose()?
                .filter(|d| !d.is_zero()),
            max_wraps_per_version: p.max_wraps_per_version,
        },
    };
    Ok(domain::NewKey {
        id: key_id,
        purpose,
        rotation_policy,
    })
}
