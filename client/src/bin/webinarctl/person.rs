//! `webinarctl person export|forget|status|retry`: a person's GDPR requests — access
//! (everything held about an email, as JSON), erasure, and following an erasure request.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print everything the tenant holds about a person as JSON (`> person.json`).
    Export {
        /// The person's email address.
        #[arg(long)]
        email: String,
    },
    /// Forget a person across the tenant (here at once, then at ON24); prints the erasure
    /// request to follow with `person status`.
    Forget {
        /// The person's email address.
        #[arg(long)]
        email: String,
        /// Also ask ON24 to forget the address when no registration here matched it.
        #[arg(long)]
        at_on24_if_unknown: bool,
    },
    /// Show an erasure request (id or full name), or a person's requests and suppression.
    Status {
        /// Erasure request id or full name.
        request: Option<String>,
        /// The person's email address instead of a request.
        #[arg(long, conflicts_with = "request")]
        email: Option<String>,
    },
    /// Queue the ON24 part of a FAILED erasure request again.
    Retry {
        /// Erasure request id or full name.
        request: String,
        /// The address the request erased (the request keeps none).
        #[arg(long)]
        email: String,
    },
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let api = global.webinar_api()?;
    match command {
        Command::Export { email } => {
            let data = api.export_person_data(&email).await?;
            // Always JSON: the export is meant to be handed over as a file.
            let value = json!({
                "email": email.trim().to_lowercase(),
                "registrations": data.registrations.iter().map(output::registration).collect::<Vec<_>>(),
                "attendee_metrics": data.attendee_metrics.iter().map(output::attendee_metrics).collect::<Vec<_>>(),
                "erasure_requests": data.erasure_requests.iter().map(output::erasure_request).collect::<Vec<_>>(),
                "suppressed": data.suppressed,
                "attendee_interactions": data.attendee_interactions.iter().map(output::person_interactions).collect::<Vec<_>>(),
            });
            println!("{}", output::pretty(&value));
        }
        Command::Forget {
            email,
            at_on24_if_unknown,
        } => {
            let done = api
                .forget_person_request(&email, at_on24_if_unknown)
                .await?;
            let value = json!({
                "forgotten_registration_count": done.forgotten_registration_count,
                "on24_erasure_queued": done.on24_erasure_queued,
                "erasure_request": done.erasure_request.as_ref().map(output::erasure_request),
            });
            output::object(global.output, &value);
        }
        Command::Status { request, email } => {
            let value = match (request, email) {
                (Some(name), None) => {
                    output::erasure_request(&api.get_erasure_request(&name).await?)
                }
                (None, Some(email)) => {
                    let data = api.export_person_data(&email).await?;
                    json!({
                        "suppressed": data.suppressed,
                        "erasure_requests": Value::Array(
                            data.erasure_requests.iter().map(output::erasure_request).collect()
                        ),
                    })
                }
                _ => bail!("give an erasure request or --email"),
            };
            output::object(global.output, &value);
        }
        Command::Retry { request, email } => {
            let r = api.retry_erasure_request(&request, &email).await?;
            output::object(global.output, &output::erasure_request(&r));
        }
    }
    Ok(())
}
