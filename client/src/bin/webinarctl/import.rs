//! `webinarctl import FILE.csv --webinar W`: bulk registration through
//! `BatchCreateRegistrations`, in chunks sent a few at a time, with a progress bar. Rows the
//! service (or the CSV reader) refuses are written to a report with their line number and the
//! reason, field by field. Safe to re-run: registrations are keyed by email, so rows already
//! registered come back as "already registered" and nothing is registered twice.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use webinar_client::import::{Refusal, Row, read_csv};
use webinar_client::{error::code_name, webinar_v1 as pb};

use crate::{Exit, context::Global, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file with a header row; needs `email`, `first_name`, `last_name`. A column
    /// `question:<id>` answers the webinar's registration question <id> (ids as `webinar show`
    /// lists them; empty cell: no answer); several options of a multiple-choice question go
    /// comma-joined in one quoted cell ("Email,Web").
    file: PathBuf,
    /// Webinar id or full name.
    #[arg(long)]
    webinar: String,
    /// Rows per batch call (1 to 1000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    chunk_size: u16,
    /// Batch calls in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    parallel: u16,
    /// Where to write the per-row error report (default: FILE.errors.csv).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// The field path inside the item: batch errors may name it from the request root
/// (`requests[5].registration.email`); the report already has the line, so keep the rest.
fn item_field(field: &str) -> &str {
    match field.strip_prefix("requests[") {
        Some(rest) => rest.split_once("].").map_or(field, |(_, tail)| tail),
        None => field,
    }
}

/// Reads the file: rows to send (with their line numbers) and rows refused while reading.
fn read(path: &Path) -> Result<(Vec<Row>, Vec<Refusal>)> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(read_csv(
        std::io::BufReader::new(file),
        &path.display().to_string(),
    )?)
}

fn write_report(path: &Path, refused: &mut [Refusal]) -> Result<()> {
    refused.sort_by_key(|r| r.line);
    let mut writer = csv::Writer::from_path(path)
        .with_context(|| format!("cannot write the report {}", path.display()))?;
    writer.write_record(["line", "email", "code", "reason", "field", "description"])?;
    for r in refused.iter() {
        let line = r.line.to_string();
        if r.violations.is_empty() {
            writer.write_record([&line, &r.email, &r.code, &r.reason, "", &r.message])?;
        }
        for (field, description) in &r.violations {
            writer.write_record([&line, &r.email, &r.code, &r.reason, field, description])?;
        }
    }
    writer.flush()?;
    Ok(())
}

fn progress(total: usize, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if hidden {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    bar
}

pub async fn run(global: &Global, args: Args) -> Result<()> {
    let api = global.webinar_api()?;
    let started = Instant::now();
    let (rows, mut refused) = read(&args.file)?;
    let total = rows.len() + refused.len();
    let bar = progress(
        total,
        args.no_progress || global.output == output::Format::Json,
    );
    bar.inc(refused.len() as u64);

    let chunks: Vec<Vec<Row>> = rows
        .chunks(usize::from(args.chunk_size))
        .map(<[_]>::to_vec)
        .collect();
    let mut results = stream::iter(chunks)
        .map(|chunk| {
            let api = api.clone();
            let webinar = args.webinar.clone();
            async move {
                let (lines, registrations): (Vec<u64>, Vec<pb::Registration>) =
                    chunk.into_iter().unzip();
                let emails: Vec<String> = registrations.iter().map(|r| r.email.clone()).collect();
                let outcome = api
                    .batch_create_registrations(&webinar, registrations)
                    .await;
                (lines, emails, outcome)
            }
        })
        .buffer_unordered(usize::from(args.parallel));

    let (mut created, mut existing) = (0u64, 0u64);
    while let Some((lines, emails, outcome)) = results.next().await {
        let items = match outcome {
            Ok(items) => items,
            Err(error) => {
                bar.abandon();
                eprintln!(
                    "the import stopped: a batch call failed. Rows sent so far are kept; re-running the same import is safe."
                );
                return Err(error.into());
            }
        };
        bar.inc(items.len() as u64);
        for ((line, email), item) in lines.into_iter().zip(emails).zip(items) {
            match item {
                Ok((_, true)) => created += 1,
                Ok((_, false)) => existing += 1,
                Err(error) => refused.push(Refusal {
                    line,
                    email,
                    code: code_name(tonic::Code::from_i32(error.code)).to_string(),
                    reason: error.reason,
                    message: error.message,
                    violations: error
                        .field_violations
                        .into_iter()
                        .map(|v| (item_field(&v.field).to_string(), v.description))
                        .collect(),
                }),
            }
        }
    }
    bar.finish_and_clear();

    let report = args.report.clone().unwrap_or_else(|| {
        let mut name = args.file.clone().into_os_string();
        name.push(".errors.csv");
        PathBuf::from(name)
    });
    write_report(&report, &mut refused)?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for r in &refused {
        let key = r
            .violations
            .first()
            .map(|(field, _)| field.clone())
            .unwrap_or_else(|| r.code.clone());
        *reasons.entry(key).or_default() += 1;
    }
    let summary = json!({
        "file": args.file,
        "webinar": api.webinar_name(&args.webinar),
        "rows": total,
        "created": created,
        "already_registered": existing,
        "refused": refused.len(),
        "refused_by_field": reasons,
        "report": report,
        "elapsed_seconds": (elapsed * 1000.0).round() / 1000.0,
        "rows_per_second": if elapsed > 0.0 { (total as f64 / elapsed).round() } else { 0.0 },
    });
    output::object(global.output, &summary);
    if !refused.is_empty() {
        return Err(Exit {
            code: 8,
            message: format!(
                "{} of {total} rows were refused; line numbers and reasons are in {}",
                refused.len(),
                report.display()
            ),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_field_paths_lose_their_request_index() {
        assert_eq!(
            item_field("requests[5].registration.email"),
            "registration.email"
        );
        assert_eq!(item_field("registration.email"), "registration.email");
    }

    #[test]
    fn unknown_columns_are_named_with_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "email,first_name,last_name,shoe_size\n").expect("write");
        let error = read(&path).expect_err("refused").to_string();
        assert!(
            error.contains("shoe_size") && error.contains("in.csv"),
            "{error}"
        );
    }
}
