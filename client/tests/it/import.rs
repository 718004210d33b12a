//! `webinarctl import` of a CSV with bad rows against the real stack: good rows registered,
//! bad rows (a forgotten, suppressed person among them) reported with their line numbers and
//! reasons, and a re-run registers nothing twice.

use std::{collections::BTreeSet, fmt::Write};

use crate::stack::Stack;

/// The row of a person the tenant forgot before the import (line 52).
const SUPPRESSED: u64 = 50;

/// 200 rows; the bad ones are at known file lines (the header is line 1), the suppressed
/// person's among them.
fn csv_with_bad_rows() -> (String, BTreeSet<u64>) {
    let mut text = String::from("email,first_name,last_name,company\n");
    let mut bad = BTreeSet::new();
    for i in 0..200u64 {
        let line = i + 2;
        let row = match i {
            10 => "not-an-email,Bad,Email,Acme".to_string(),
            20 => format!("p{i}@example.com,,NoFirstName,Acme"),
            30 => format!("p{i}@example.com,Short"),
            40 => format!("p{i}@example.com,Long,{},Acme", "x".repeat(300)),
            _ => format!("p{i}@example.com,First{i},Last{i},Acme"),
        };
        if [10, 20, 30, 40, SUPPRESSED].contains(&i) {
            bad.insert(line);
        }
        writeln!(text, "{row}").expect("write");
    }
    (text, bad)
}

#[test]
fn import_reports_bad_rows_by_line_and_a_rerun_registers_nothing_twice() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());
    stack.ctl_ok(&["credentials", "put", "--from-stack"]);
    let webinar = stack.ctl_ok(&[
        "webinar",
        "create",
        "--crm-ref",
        "import-1",
        "--title",
        "Import",
        "--start",
        "2030-02-01T15:00:00Z",
    ]);
    let id = webinar["id"].as_str().expect("id").to_string();
    // The tenant forgot this person before: their row is refused, not registered again.
    stack.ctl_ok(&["forget", &format!("P{SUPPRESSED}@Example.com")]);

    let (text, bad_lines) = csv_with_bad_rows();
    let file = state.path().join("people.csv");
    std::fs::write(&file, text).expect("write CSV");
    let report = state.path().join("report.csv");
    let args = [
        "import",
        file.to_str().expect("path"),
        "--webinar",
        &id,
        "--chunk-size",
        "50",
        "--report",
        report.to_str().expect("path"),
    ];

    let (code, out, err) = stack.ctl(&args);
    assert_eq!(code, 8, "refused rows give exit code 8: {err}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect("summary JSON");
    assert_eq!(summary["rows"], 200);
    assert_eq!(summary["created"], 195);
    assert_eq!(summary["refused"], 5);

    let mut reader = csv::Reader::from_path(&report).expect("report");
    let mut lines = BTreeSet::new();
    for record in reader.records() {
        let record = record.expect("record");
        let line: u64 = record[0].parse().expect("line number");
        assert!(
            !record[5].is_empty(),
            "every refusal has a reason: {record:?}"
        );
        lines.insert(line);
        if line == 12 {
            assert!(
                record[4].contains("email"),
                "the email field is named: {record:?}"
            );
        }
        if line == SUPPRESSED + 2 {
            assert_eq!(&record[3], "PERSON_SUPPRESSED", "{record:?}");
            assert!(record[4].contains("email"), "{record:?}");
        }
    }
    assert_eq!(lines, bad_lines);

    let (code, out, _) = stack.ctl(&args);
    assert_eq!(code, 8);
    let again: serde_json::Value = serde_json::from_str(&out).expect("summary JSON");
    assert_eq!(again["created"], 0, "a re-run creates nothing");
    assert_eq!(again["already_registered"], 195);

    let all = stack.ctl_ok(&["registrations", "list", "--webinar", &id]);
    assert_eq!(all.as_array().map(Vec::len), Some(195));
    assert!(stack.interrupt().success());
}
