//! Verification of a log (`audit verify`): every line's mac under the audit key, every
//! chain unbroken from its start record, every restart naming the true end of the chain
//! before it, and the log reaching the head a signed checkpoint names. Lines of several
//! chains may interleave (replicas on one stream); each is checked on its own.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    AuditKey, CHAIN_LABEL, Checkpoint, GENESIS,
    line::{mac_hex, split_line},
};

/// The first broken line of a log (1-based), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct VerifyError {
    /// 1-based line number (0 for the file as a whole or the checkpoint).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records, start records included.
    pub records: u64,
    /// Chains (process starts).
    pub chains: usize,
    /// Whether a checkpoint was checked.
    pub checkpoint_checked: bool,
}

/// Verifies a log file; see [`verify_lines`].
pub fn verify_file(
    path: &Path,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<VerifyReport, VerifyError> {
    let file = File::open(path).map_err(|e| VerifyError {
        line: 0,
        reason: format!("cannot open {}: {e}", path.display()),
    })?;
    let mut lines = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        lines.push(line.map_err(|e| VerifyError {
            line: index + 1,
            reason: format!("unreadable: {e}"),
        })?);
    }
    verify_lines(lines.iter().map(String::as_str), key, checkpoint)
}

struct Chain {
    next_seq: u64,
    prev: String,
    /// A later chain named this one as its predecessor: it may not grow any more.
    closed: bool,
}

/// Verifies records given as lines under `key`, and that they reach `checkpoint`.
pub fn verify_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    key: &AuditKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<VerifyReport, VerifyError> {
    let chain_key = key.subkey(CHAIN_LABEL);
    let keyed =
        <Hmac<Sha256> as Mac>::new_from_slice(chain_key.as_slice()).map_err(|_| VerifyError {
            line: 0,
            reason: "unusable key".into(),
        })?;
    if let Some(checkpoint) = checkpoint
        && !checkpoint.is_signed_by(&keyed)
    {
        return Err(VerifyError {
            line: 0,
            reason: "the checkpoint's signature does not hold under this key".into(),
        });
    }
    let mut chains: HashMap<String, Chain> = HashMap::new();
    let mut records = 0;
    let mut checkpoint_reached = false;
    for (index, line) in lines.into_iter().enumerate() {
        let fail = |reason: &str| VerifyError {
            line: index + 1,
            reason: reason.to_owned(),
        };
        if line.trim().is_empty() {
            continue;
        }
        let (body, mac) = split_line(line).ok_or_else(|| fail("no mac member"))?;
        if mac_hex(&keyed, body.as_bytes()) != mac.as_bytes() {
            return Err(fail(
                "mac mismatch: the line was edited (or written under another key)",
            ));
        }
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|_| fail("not a JSON record"))?;
        let seq = value["seq"].as_u64().ok_or_else(|| fail("no seq"))?;
        let boot = value["boot"].as_str().ok_or_else(|| fail("no boot id"))?;
        let prev = value["prev"].as_str().ok_or_else(|| fail("no prev"))?;
        match chains.get_mut(boot) {
            None => {
                if seq != 0 || value["kind"] != "start" {
                    return Err(fail(
                        "a chain must begin with its start record (seq 0): lines before it were removed",
                    ));
                }
                match value["prev_boot"].as_str() {
                    None if prev != GENESIS => {
                        return Err(fail("a start record without prev_boot must have prev 0…0"));
                    }
                    None => {}
                    Some(before) => {
                        // The predecessor may be outside this file (rotated away); when it
                        // is here, the start record must name its true last mac.
                        if let Some(chain) = chains.get_mut(before) {
                            if chain.prev != prev {
                                return Err(fail(
                                    "the start record does not continue from the end of the chain before it: records at that chain's end were removed",
                                ));
                            }
                            chain.closed = true;
                        }
                    }
                }
                chains.insert(
                    boot.to_owned(),
                    Chain {
                        next_seq: 1,
                        prev: mac.to_owned(),
                        closed: false,
                    },
                );
            }
            Some(chain) => {
                if chain.closed {
                    return Err(fail(
                        "a record after the chain was continued by a restart: reordered or inserted",
                    ));
                }
                if seq != chain.next_seq {
                    return Err(fail(&format!(
                        "sequence {seq} where {} was expected: a record before it was removed or reordered",
                        chain.next_seq
                    )));
                }
                if prev != chain.prev {
                    return Err(fail(
                        "prev does not match the record before: the chain is broken",
                    ));
                }
                chain.next_seq = seq + 1;
                chain.prev = mac.to_owned();
            }
        }
        if let Some(checkpoint) = checkpoint
            && checkpoint.boot == boot
            && checkpoint.seq == seq
        {
            if checkpoint.head != mac {
                return Err(fail(
                    "the record at the checkpoint's head is not the one it signed",
                ));
            }
            checkpoint_reached = true;
        }
        records += 1;
    }
    if let Some(checkpoint) = checkpoint
        && !checkpoint_reached
    {
        let end = chains
            .get(&checkpoint.boot)
            .map(|chain| format!("ends at seq {}", chain.next_seq.saturating_sub(1)))
            .unwrap_or_else(|| "is missing".to_owned());
        return Err(VerifyError {
            line: 0,
            reason: format!(
                "truncated: the checkpoint signs seq {} of chain {}, which {end}",
                checkpoint.seq, checkpoint.boot
            ),
        });
    }
    Ok(VerifyReport {
        records,
        chains: chains.len(),
        checkpoint_checked: checkpoint.is_some(),
    })
}
