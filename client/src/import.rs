//! Reading registration import files (`webinarctl import`): a CSV with a header row, one
//! registration per row. Rows the reader cannot use become [`Refusal`]s with their line
//! number, so an import reports them with the service's refusals.
//!
//! Besides the fixed [`COLUMNS`], a column `question:<id>` answers the webinar's registration
//! question `<id>` (`Registration.question_answers`). A multiple-choice question needs no
//! other syntax: its options go comma-joined in the one cell (quoted, `"Email,Web"`), the form
//! ON24 keeps them in, and the service splits them against the question's options.

use std::io::Read;

use crate::{ClientError, webinar_v1 as pb};

/// The columns an import file may have (header names are matched case-insensitively, with
/// spaces and hyphens read as underscores).
pub const COLUMNS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "crm_reference_id",
    "job_function",
    "company_industry",
    "company_size",
    "address_street1",
    "address_street2",
    "city",
    "state",
    "zip",
    "country",
    "work_phone",
    "partner_ref",
    "notes",
    "std1",
    "std2",
    "std3",
    "std4",
    "std5",
    "std6",
    "std7",
    "std8",
    "std9",
    "std10",
];

/// The header prefix of a column answering a registration question: `question:<id>`.
pub const QUESTION_PREFIX: &str = "question:";

/// What the column of a header fills.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    /// One of [`COLUMNS`].
    Field(String),
    /// `question_answers[id]`.
    Question(String),
}

/// Whether `id` can name a registration question: ON24 field ids (`std1`, or a name the
/// account gave a custom field) are short words of ASCII letters, digits, `_`, `-` and `.`.
fn question_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The column a header names: `question:<id>` (prefix matched like the other headers, id
/// kept as written), else one of [`COLUMNS`] by [`normalise`].
fn column(header: &str, name: &str) -> Result<Column, ClientError> {
    let trimmed = header.trim();
    let prefix = trimmed
        .get(..QUESTION_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(QUESTION_PREFIX));
    if prefix.is_none() {
        let column = normalise(header);
        if !COLUMNS.contains(&column.as_str()) {
            return Err(ClientError::Input(format!(
                "{name}: unknown column `{column}`; known columns: {}, and \
                 {QUESTION_PREFIX}<id> for the answer to the webinar's registration question <id>",
                COLUMNS.join(", ")
            )));
        }
        return Ok(Column::Field(column));
    }
    let id = trimmed[QUESTION_PREFIX.len()..].trim();
    if !question_id_ok(id) {
        return Err(ClientError::Input(format!(
            "{name}: column `{trimmed}` names no question: write {QUESTION_PREFIX}<id> with the \
             question's id (as in `webinarctl webinar show`: letters, digits, `_`, `-`, `.`)"
        )));
    }
    Ok(Column::Question(id.to_string()))
}

/// One refused row, by the reader or by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Line of the row in the file (1 is the header).
    pub line: u64,
    /// The row's email, when it got as far as the service.
    pub email: String,
    /// gRPC code name (`INVALID_ARGUMENT` for rows the reader refused).
    pub code: String,
    /// Machine-readable reason (`CSV` for rows the reader refused).
    pub reason: String,
    /// What went wrong.
    pub message: String,
    /// Field path and description of each refused field.
    pub violations: Vec<(String, String)>,
}

/// A row to send: its line number in the file and the registration.
pub type Row = (u64, pb::Registration);

/// The column a header names (see [`COLUMNS`]).
pub fn normalise(header: &str) -> String {
    let h = header.trim().to_lowercase().replace([' ', '-'], "_");
    match h.as_str() {
        "firstname" => "first_name".into(),
        "lastname" => "last_name".into(),
        "email_address" | "e_mail" => "email".into(),
        "crm_ref" | "crm_reference" => "crm_reference_id".into(),
        "title" | "jobtitle" => "job_title".into(),
        _ => h,
    }
}

fn set(registration: &mut pb::Registration, column: &Column, value: String) {
    let column = match column {
        Column::Field(column) => column.as_str(),
        Column::Question(id) => {
            if !value.is_empty() {
                registration.question_answers.insert(id.clone(), value);
            }
            return;
        }
    };
    let field = match column {
        "email" => &mut registration.email,
        "first_name" => &mut registration.first_name,
        "last_name" => &mut registration.last_name,
        "company" => &mut registration.company,
        "job_title" => &mut registration.job_title,
        "crm_reference_id" => &mut registration.crm_reference_id,
        "job_function" => &mut registration.job_function,
        "company_industry" => &mut registration.company_industry,
        "company_size" => &mut registration.company_size,
        "address_street1" => &mut registration.address_street1,
        "address_street2" => &mut registration.address_street2,
        "city" => &mut registration.city,
        "state" => &mut registration.state,
        "zip" => &mut registration.zip,
        "country" => &mut registration.country,
        "work_phone" => &mut registration.work_phone,
        "partner_ref" => &mut registration.partner_ref,
        "notes" => &mut registration.notes,
        std => {
            if !value.is_empty() {
                registration.standard_fields.insert(std.to_string(), value);
            }
            return;
        }
    };
    *field = value;
}

/// Line numbers of byte offsets, counting every line break the CSV reader ends a record at:
/// `\r\n`, `\n` and a bare `\r` (old Mac exports). The reader's own line count knows only
/// `\n`, so rows of a `\r` file would all be reported as line 1.
struct Lines<'a> {
    data: &'a [u8],
    /// Offsets where lines 2, 3, ... start.
    starts: Vec<u64>,
}

impl<'a> Lines<'a> {
    fn of(data: &'a [u8]) -> Self {
        let starts = data
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
            .map(|(i, _)| i as u64 + 1)
            .collect();
        Self { data, starts }
    }

    /// The 1-based line of a record starting at byte `offset`. The reader may place a record
    /// at the line break before it (the `\n` of a `\r\n`), so line breaks are skipped first.
    fn at(&self, offset: u64) -> u64 {
        let mut at = offset;
        while let Some(b'\r' | b'\n') = usize::try_from(at).ok().and_then(|i| self.data.get(i)) {
            at += 1;
        }
        1 + self.starts.partition_point(|&start| start <= at) as u64
    }
}

/// Reads an import file: rows to send (with their line numbers) and rows refused while
/// reading. `name` names the file in errors. A header with an unknown column, a `question:`
/// column without a valid id or twice the same question, or without `email`, `first_name` or
/// `last_name`, refuses the whole file.
pub fn read_csv(mut input: impl Read, name: &str) -> Result<(Vec<Row>, Vec<Refusal>), ClientError> {
    let mut data = Vec::new();
    input
        .read_to_end(&mut data)
        .map_err(|e| ClientError::Input(format!("{name}: cannot read: {e}")))?;
    let lines = Lines::of(&data);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data.as_slice());
    let headers: Vec<Column> = reader
        .headers()
        .map_err(|e| ClientError::Input(format!("{name}: cannot read the header row: {e}")))?
        .iter()
        .map(|h| column(h, name))
        .collect::<Result<_, _>>()?;
    for (i, header) in headers.iter().enumerate() {
        if let Column::Question(id) = header
            && headers[..i].contains(header)
        {
            return Err(ClientError::Input(format!(
                "{name}: the header row answers question `{id}` in two columns"
            )));
        }
    }
    for required in ["email", "first_name", "last_name"] {
        if !headers.contains(&Column::Field(required.into())) {
            return Err(ClientError::Input(format!(
                "{name}: the header row has no `{required}` column"
            )));
        }
    }
    let (mut rows, mut refused) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                refused.push(Refusal {
                    line: error.position().map_or(0, |p| lines.at(p.byte())),
                    email: String::new(),
                    code: "INVALID_ARGUMENT".into(),
                    reason: "CSV".into(),
                    message: format!("unreadable CSV row: {error}"),
                    violations: Vec::new(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        if record.len() != headers.len() {
            refused.push(Refusal {
                line,
                email: String::new(),
                code: "INVALID_ARGUMENT".into(),
                reason: "CSV".into(),
                message: format!(
                    "the row has {} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
                violations: Vec::new(),
            });
            continue;
        }
        let mut registration = pb::Registration::default();
        for (column, value) in headers.iter().zip(record.iter()) {
            set(&mut registration, column, value.to_string());
        }
        rows.push((line, registration));
    }
    Ok((rows, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_line_numbers_and_refuses_short_rows() {
        let input = "Email,First Name,Last Name,Company,std1\n\
             a@example.com,Ann,Lee,Acme,x\n\
             b@example.com,Bob\n\
             c@example.com,Cy,Ng,,\n";
        let (rows, refused) = read_csv(input.as_bytes(), "in.csv").expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1.first_name, "Ann");
        assert_eq!(
            rows[0].1.standard_fields.get("std1").map(String::as_str),
            Some("x")
        );
        assert_eq!(rows[1].0, 4);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].line, 3);
    }

    #[test]
    fn rows_of_files_with_bare_cr_line_breaks_keep_their_line_numbers() {
        // Found by the csv_import fuzz target: the reader ends records at a bare `\r` but does
        // not count it as a line, so these rows were all reported as line 1.
        let input = "email,first_name,last_name\ra@example.com,Ann,Lee\rb@example.com\r\nc@example.com,Cy,Ng\n";
        let (rows, refused) = read_csv(input.as_bytes(), "mac.csv").expect("read");
        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].line, 3);
        let fuzzed = include_bytes!("../../xtask/fuzz/seeds/csv_import/regression_bare_cr");
        let (rows, _) = read_csv(&fuzzed[..], "fuzzed.csv").expect("read");
        assert!(
            rows.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "{:?}",
            rows.iter().map(|(line, _)| line).collect::<Vec<_>>()
        );
    }

    #[test]
    fn unknown_columns_are_named() {
        let error = read_csv(&b"email,first_name,last_name,shoe_size\n"[..], "in.csv")
            .expect_err("refused")
            .to_string();
        assert!(error.contains("shoe_size"), "{error}");
    }

    #[test]
    fn question_columns_fill_the_answers_and_empty_cells_answer_nothing() {
        let input = "email,first_name,last_name, Question:std1 ,question:Std2,QUESTION:interest\n\
             a@example.com,Ann,Lee,Partner,,\"Email,Web\"\n\
             b@example.com,Bob,Ng,,Free text,\n";
        let (rows, refused) = read_csv(input.as_bytes(), "in.csv").expect("read");
        assert!(refused.is_empty(), "{refused:?}");
        let answers = |i: usize| {
            let mut pairs: Vec<(String, String)> = rows[i]
                .1
                .question_answers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            pairs.sort();
            pairs
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        // Ids kept as written; a multiple-choice answer stays comma-joined for the service.
        assert_eq!(
            answers(0),
            [pair("interest", "Email,Web"), pair("std1", "Partner")]
        );
        assert_eq!(answers(1), [pair("Std2", "Free text")]);
        assert!(rows[0].1.standard_fields.is_empty());
    }

    #[test]
    fn question_columns_without_a_valid_id_are_refused_by_name() {
        for header in [
            "question:",
            "Question: ",
            "question:std 1",
            "question:\"x\"",
            "question:a:b",
        ] {
            let input = format!(
                "email,first_name,last_name,\"{}\"\n",
                header.replace('"', "\"\"")
            );
            let error = read_csv(input.as_bytes(), "in.csv")
                .expect_err(header)
                .to_string();
            assert!(
                error.contains(header.trim()) && error.contains("in.csv"),
                "{header}: {error}"
            );
        }
        let error = read_csv(
            &b"email,first_name,last_name,question:std1,Question:std1\n"[..],
            "in.csv",
        )
        .expect_err("twice")
        .to_string();
        assert!(error.contains("std1"), "{error}");
    }

    #[test]
    fn unknown_columns_list_the_question_form() {
        let error = read_csv(
            &b"email,first_name,last_name,questions_std1\n"[..],
            "in.csv",
        )
        .expect_err("refused")
        .to_string();
        assert!(
            error.contains("questions_std1") && error.contains("question:<id>"),
            "{error}"
        );
    }
}
