//! Conversions between stored rows (integer codes, microsecond times) and domain types.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::types::{
    Key, KeyPurpose, KeyState, KeyVersion, KeyVersionRef, KeyVersionState, RotationPolicy,
};
use crate::store::models;

pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub(crate) fn time(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub(crate) fn key_state(code: i32) -> KeyState {
    match code {
        models::KEY_ENABLED => KeyState::Enabled,
        models::KEY_DELETE_SCHEDULED => KeyState::DeleteScheduled,
        // Unknown codes are treated as the most restrictive state.
        _ => KeyState::Destroyed,
    }
}

pub(crate) fn version_state(code: i32) -> KeyVersionState {
    if code == models::VERSION_ENABLED {
        KeyVersionState::Enabled
    } else {
        KeyVersionState::Disabled
    }
}

pub(crate) fn version_code(state: KeyVersionState) -> i32 {
    match state {
        KeyVersionState::Enabled => models::VERSION_ENABLED,
        KeyVersionState::Disabled => models::VERSION_DISABLED,
    }
}

pub(crate) fn version_num(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Converts a row; `primary_created_at` (micros) is the primary version's creation time.
pub(crate) fn key_from_row(row: &models::KeyRow, primary_created_at: Option<i64>) -> Key {
    let rotation_period = row
        .rotation_period_secs
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs);
    Key {
        id: row.id.clone(),
        purpose: KeyPurpose::EncryptDecrypt,
        state: key_state(row.state),
        primary_version: version_num(row.primary_version),
        min_decryption_version: version_num(row.min_decryption_version),
        rotation_policy: RotationPolicy {
            rotation_period,
            max_wraps_per_version: u64::try_from(row.max_wraps_per_version).unwrap_or(0),
        },
        next_rotation_time: match (rotation_period, primary_created_at) {
            (Some(p), Some(created)) if row.state == models::KEY_ENABLED => {
                Some(time(created.saturating_add(duration_micros(p))))
            }
            _ => None,
        },
        delete_time: row.delete_at.map(time),
        create_time: time(row.created_at),
        update_time: time(row.updated_at),
    }
}

pub(crate) fn version_from_meta(meta: &models::VersionMeta) -> KeyVersion {
    KeyVersion {
        reference: KeyVersionRef {
            key_id: meta.key_id.clone(),
            version: version_num(meta.version),
        },
        state: version_state(meta.state),
        wrap_count: u64::try_from(meta.wrap_count).unwrap_or(0),
        create_time: time(meta.created_at),
    }
}
