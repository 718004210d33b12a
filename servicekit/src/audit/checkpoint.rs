//! Signed checkpoints: every so many records or seconds the chain's head (boot, seq and mac
//! of the last written record) is signed with the chain key and kept outside the log (the
//! file sink's `<file>.checkpoint`, and the service's operational log). A log cut short
//! before the head a checkpoint names fails verification, which the chain alone cannot show.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::line::hex32;

/// When checkpoints are written: after the write that reaches either bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Records since the last checkpoint.
    pub every_records: u64,
    /// Time since the last checkpoint.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            every_records: 1000,
            every: Duration::from_secs(10),
        }
    }
}

/// A signed chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The chain (boot id).
    pub boot: String,
    /// Sequence number of the head record.
    pub seq: u64,
    /// The head record's mac.
    pub head: String,
    /// HMAC of `checkpoint\n<boot>\n<seq>\n<head>` under the chain key.
    pub mac: String,
}

impl Checkpoint {
    pub(super) fn sign(keyed: &Hmac<Sha256>, boot: &str, seq: u64, head: &str) -> Self {
        Self {
            boot: boot.to_owned(),
            seq,
            head: head.to_owned(),
            mac: Self::expected_mac(keyed, boot, seq, head),
        }
    }

    fn expected_mac(keyed: &Hmac<Sha256>, boot: &str, seq: u64, head: &str) -> String {
        let mut mac = keyed.clone();
        mac.update(format!("checkpoint\n{boot}\n{seq}\n{head}").as_bytes());
        String::from_utf8_lossy(&hex32(&mac.finalize().into_bytes().into())).into_owned()
    }

    /// Whether the signature holds under the chain key.
    pub(super) fn is_signed_by(&self, keyed: &Hmac<Sha256>) -> bool {
        use subtle::ConstantTimeEq as _;
        let expected = Self::expected_mac(keyed, &self.boot, self.seq, &self.head);
        bool::from(expected.as_bytes().ct_eq(self.mac.as_bytes()))
    }

    /// Parses the JSON of a checkpoint (the checkpoint file, or the `checkpoint` field of the
    /// service's log line).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text.trim())
    }

    /// The JSON line written to the checkpoint file.
    pub fn to_line(&self) -> String {
        // Serializing four plain fields cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}
