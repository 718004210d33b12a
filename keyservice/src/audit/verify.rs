//! `keyservice audit verify FILE`: walks the chain and names the first line that breaks it.
//! An edited line fails its own hash; a removed or reordered line breaks `seq` or `prev` of
//! the line after it. (Removing the last lines leaves a valid, shorter chain: ship the log
//! to append-only storage to detect that.)

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
};

use super::record::{GENESIS, hash_body, split_line};

/// The first broken line of a log (1-based), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct VerifyError {
    /// 1-based line number (0 when the file could not be read at all).
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Verifies a log file; returns the number of records on success.
pub fn verify_file(path: &Path) -> Result<u64, VerifyError> {
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
    verify_lines(lines.iter().map(String::as_str))
}

/// Verifies records given as lines; returns the number of records on success.
pub fn verify_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<u64, VerifyError> {
    let mut expected_seq: Option<u64> = None;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (index, line) in lines.into_iter().enumerate() {
        let fail = |reason: &str| VerifyError {
            line: index + 1,
            reason: reason.to_owned(),
        };
        if line.trim().is_empty() {
            continue;
        }
        let (body, hash) = split_line(line).ok_or_else(|| fail("no hash member"))?;
        if hash_body(&body) != hash {
            return Err(fail("hash mismatch: the line was edited"));
        }
        let value: serde_json::Value =
            serde_json::from_str(&body).map_err(|_| fail("not a JSON record"))?;
        let seq = value["seq"].as_u64().ok_or_else(|| fail("no seq"))?;
        let claimed_prev = value["prev"].as_str().ok_or_else(|| fail("no prev"))?;
        match expected_seq {
            // A chain starts at seq 0 after 0…0, so removing the first line is detected too.
            None if seq != 0 || claimed_prev != GENESIS => {
                return Err(fail(
                    "the first record must have seq 0 and prev 0…0: lines before it were removed",
                ));
            }
            None => {}
            Some(want) if seq != want => {
                return Err(fail(&format!(
                    "sequence {seq} where {want} was expected: a line before it was removed or reordered"
                )));
            }
            Some(_) if claimed_prev != prev => {
                return Err(fail(
                    "prev does not match the line before: the chain is broken",
                ));
            }
            Some(_) => {}
        }
        expected_seq = Some(seq + 1);
        prev = hash.to_owned();
        count += 1;
    }
    Ok(count)
}
