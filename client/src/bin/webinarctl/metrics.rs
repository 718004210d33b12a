//! `webinarctl metrics show|sync|watch`: aggregated and per-attendee metrics, an on-demand
//! pull, and following the change feed (resuming by itself across disconnects).

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use webinar_client::changes::WatchOptions;

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show a webinar's aggregated metrics (and per attendee with --attendees).
    Show {
        /// Webinar id or full name.
        webinar: String,
        /// Also list every attendee's metrics.
        #[arg(long)]
        attendees: bool,
    },
    /// Ask for a metrics pull from ON24 now.
    Sync {
        /// Webinar id or full name.
        webinar: String,
    },
    /// Follow the change feed; prints one line (or JSON object) per change.
    Watch {
        /// Only this webinar.
        #[arg(long)]
        webinar: Option<String>,
        /// Start after this cursor (empty: from the oldest retained change).
        #[arg(long, default_value = "")]
        after: String,
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<usize>,
        /// Print what is recorded so far and stop (pages through ListChanges).
        #[arg(long)]
        until_caught_up: bool,
    },
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let api = global.webinar_api()?;
    match command {
        Command::Show { webinar, attendees } => {
            let metrics = api.get_webinar_metrics(&webinar).await?;
            let mut value = output::webinar_metrics(&metrics);
            let people: Vec<Value> = if attendees {
                let all: Vec<_> = api
                    .list_attendee_metrics(&webinar, 1000)
                    .try_collect()
                    .await?;
                all.iter().map(output::attendee_metrics).collect()
            } else {
                Vec::new()
            };
            match global.output {
                output::Format::Json => {
                    if attendees {
                        value["attendees"] = Value::Array(people);
                    }
                    println!("{}", output::pretty(&value));
                }
                output::Format::Table => {
                    output::details(&value);
                    if attendees {
                        println!();
                        let rows: Vec<Vec<String>> = people
                            .iter()
                            .map(|a| {
                                [
                                    "email",
                                    "live_minutes",
                                    "archive_minutes",
                                    "engagement_score",
                                    "questions_asked",
                                    "polls_answered",
                                    "live_attendance_percent",
                                ]
                                .iter()
                                .map(|k| output::cell(&a[*k]))
                                .collect()
                            })
                            .collect();
                        output::table(
                            &[
                                "email",
                                "live min",
                                "archive min",
                                "engagement",
                                "questions",
                                "polls",
                                "live %",
                            ],
                            &rows,
                        );
                    }
                }
            }
        }
        Command::Sync { webinar } => {
            let requested = api.sync_webinar_metrics(&webinar).await?;
            output::object(
                global.output,
                &json!({"webinar": api.webinar_name(&webinar), "request_time": output::ts(&requested)}),
            );
        }
        Command::Watch {
            webinar,
            after,
            count,
            until_caught_up,
        } => {
            let limit = count.unwrap_or(usize::MAX);
            let mut seen = 0usize;
            if until_caught_up {
                // Page through ListChanges until an empty page: a definite "caught up".
                let mut cursor = after;
                while seen < limit {
                    let (changes, next) =
                        api.list_changes(&cursor, 1000, webinar.as_deref()).await?;
                    if changes.is_empty() {
                        break;
                    }
                    for change in changes.iter().take(limit - seen) {
                        seen += 1;
                        print_change(global.output, change);
                    }
                    cursor = next;
                }
                return Ok(());
            }
            let mut feed = Box::pin(api.watch_changes(WatchOptions {
                after_cursor: after,
                webinar,
            }));
            while seen < limit {
                let Some(message) = feed.next().await else {
                    break;
                };
                for change in message?.changes.iter().take(limit - seen) {
                    seen += 1;
                    print_change(global.output, change);
                }
            }
        }
    }
    Ok(())
}

fn print_change(format: output::Format, change: &webinar_client::webinar_v1::Change) {
    let value = output::change(change);
    match format {
        // One JSON object per line, so scripts can stream it.
        output::Format::Json => println!("{value}"),
        output::Format::Table => println!(
            "{}  {:<16}  {}  {}",
            output::cell(&value["change_time"]),
            output::cell(&value["type"]),
            value["resource"].as_str().unwrap_or(""),
            value["snapshot"]["status"].as_str().unwrap_or("")
        ),
    }
}
