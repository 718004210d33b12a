//! `webinarctl webinar create|link|list|show|update|unlink`, and `webinarctl backfill`.

use anyhow::Result;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use webinar_client::{ClientError, webinar_v1 as pb};

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an ON24 webinar for a CRM event or session.
    Create(CreateArgs),
    /// Link an existing ON24 event instead of creating one.
    Link(LinkArgs),
    /// List the tenant's webinars, newest first.
    List(ListArgs),
    /// Show one webinar (id or full name).
    Show {
        /// Webinar id or `tenants/{t}/webinars/{w}`.
        webinar: String,
    },
    /// Change fields of a webinar.
    Update(UpdateArgs),
    /// Unlink a webinar (stop deliveries and metrics; the ON24 event is left alone).
    Unlink {
        /// Webinar id or full name.
        webinar: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The CRM's id of the event or session (unique in the tenant).
    #[arg(long)]
    crm_ref: String,
    /// Title.
    #[arg(long)]
    title: String,
    /// Live start, RFC 3339 (e.g. 2026-12-01T15:00:00Z).
    #[arg(long)]
    start: String,
    /// Live duration in minutes (15..120 by 15, then up to 480 by 30).
    #[arg(long, default_value_t = 60)]
    duration: i32,
    /// IANA time zone shown to attendees.
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// ON24 language code.
    #[arg(long, default_value = "en")]
    language: String,
    /// ON24 event type (e.g. webcast).
    #[arg(long, default_value = "")]
    event_type: String,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Client request id (UUID) for idempotent retries across runs.
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// The existing ON24 event id.
    event_id: i64,
    /// The CRM's id of the event or session.
    #[arg(long)]
    crm_ref: String,
    /// Client request id (UUID).
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The earliest live start to link, RFC 3339 (at most 730 days ago).
    #[arg(long)]
    since: String,
}

/// `webinarctl backfill`: links past ON24 events and prints what it linked.
pub async fn backfill(global: &Global, args: BackfillArgs) -> Result<()> {
    let api = global.webinar_api()?;
    let done = api
        .backfill_webinars(timestamp(&args.since, "--since")?)
        .await?;
    let linked: Vec<Value> = done.webinars.iter().map(output::webinar).collect();
    let value = serde_json::json!({
        "linked_count": linked.len(),
        "found_count": done.found_count,
        "already_linked_count": done.already_linked_count,
        "webinars": linked,
    });
    output::object(global.output, &value);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Include unlinked webinars.
    #[arg(long)]
    show_unlinked: bool,
    /// Stop after this many.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Webinar id or full name.
    webinar: String,
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// RFC 3339.
    #[arg(long)]
    start: Option<String>,
    #[arg(long)]
    duration: Option<i32>,
    #[arg(long)]
    time_zone: Option<String>,
    #[arg(long)]
    language: Option<String>,
}

/// Parses an RFC 3339 time for `--start`.
pub fn timestamp(text: &str, flag: &str) -> Result<prost_types::Timestamp, ClientError> {
    let time: DateTime<Utc> = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            ClientError::Input(format!(
                "{flag}: `{text}` is not an RFC 3339 time like 2026-12-01T15:00:00Z ({e})"
            ))
        })?
        .with_timezone(&Utc);
    Ok(prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let api = global.webinar_api()?;
    let webinar = match command {
        Command::Create(a) => {
            let webinar = pb::Webinar {
                crm_reference_id: a.crm_ref,
                title: a.title,
                description: a.description,
                start_time: Some(timestamp(&a.start, "--start")?),
                duration_minutes: a.duration,
                time_zone: a.time_zone,
                language_code: a.language,
                event_type: a.event_type,
                ..Default::default()
            };
            api.create_webinar(webinar, a.request_id).await?
        }
        Command::Link(a) => {
            api.link_webinar(a.event_id, &a.crm_ref, a.request_id)
                .await?
        }
        Command::List(a) => {
            let stream = api.list_webinars(100, a.show_unlinked);
            let webinars: Vec<pb::Webinar> = stream
                .take(a.limit.unwrap_or(usize::MAX))
                .try_collect()
                .await?;
            let values: Vec<Value> = webinars.iter().map(output::webinar).collect();
            match global.output {
                output::Format::Json => println!("{}", output::pretty(&Value::Array(values))),
                output::Format::Table => {
                    let rows: Vec<Vec<String>> = values
                        .iter()
                        .map(|w| {
                            [
                                "id",
                                "crm_reference_id",
                                "status",
                                "start_time",
                                "on24_event_id",
                                "title",
                            ]
                            .iter()
                            .map(|k| output::cell(&w[*k]))
                            .collect()
                        })
                        .collect();
                    output::table(
                        &["id", "crm ref", "status", "start", "on24 event", "title"],
                        &rows,
                    );
                }
            }
            return Ok(());
        }
        Command::Show { webinar } => api.get_webinar(&webinar).await?,
        Command::Update(a) => {
            let mut webinar = pb::Webinar {
                name: api.webinar_name(&a.webinar),
                ..Default::default()
            };
            let mut paths = Vec::new();
            if let Some(v) = a.title {
                webinar.title = v;
                paths.push("title".to_string());
            }
            if let Some(v) = a.description {
                webinar.description = v;
                paths.push("description".to_string());
            }
            if let Some(v) = a.start {
                webinar.start_time = Some(timestamp(&v, "--start")?);
                paths.push("start_time".to_string());
            }
            if let Some(v) = a.duration {
                webinar.duration_minutes = v;
                paths.push("duration_minutes".to_string());
            }
            if let Some(v) = a.time_zone {
                webinar.time_zone = v;
                paths.push("time_zone".to_string());
            }
            if let Some(v) = a.language {
                webinar.language_code = v;
                paths.push("language_code".to_string());
            }
            if paths.is_empty() {
                return Err(ClientError::Input(
                    "nothing to update: give at least one of --title, --description, --start, --duration, --time-zone, --language".into(),
                )
                .into());
            }
            api.update_webinar(webinar, paths).await?
        }
        Command::Unlink { webinar } => api.unlink_webinar(&webinar).await?,
    };
    output::object(global.output, &output::webinar(&webinar));
    Ok(())
}
