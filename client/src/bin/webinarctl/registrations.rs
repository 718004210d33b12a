//! `webinarctl register`, `registrations list|show|cancel` and `forget`.

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use webinar_client::{names, webinar_v1 as pb};

use crate::{context::Global, output};

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// Webinar id or full name.
    #[arg(long)]
    webinar: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    first_name: String,
    #[arg(long)]
    last_name: String,
    #[arg(long, default_value = "")]
    company: String,
    #[arg(long, default_value = "")]
    job_title: String,
    /// The CRM's id of the contact.
    #[arg(long, default_value = "")]
    crm_ref: String,
    /// Client request id (UUID) for idempotent retries across runs.
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// The person's email address.
    email: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the registrations of a webinar, oldest first.
    List {
        /// Webinar id or full name.
        #[arg(long)]
        webinar: String,
        /// Only these statuses (repeatable): PENDING, DELIVERED, RETRYING, FAILED, CANCELLED,
        /// FORGOTTEN, PAUSED.
        #[arg(long)]
        status: Vec<String>,
        /// Stop after this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one registration (full name, or id with --webinar).
    Show {
        registration: String,
        #[arg(long)]
        webinar: Option<String>,
    },
    /// Cancel a registration (ON24 soft delete).
    Cancel {
        registration: String,
        #[arg(long)]
        webinar: Option<String>,
    },
}

pub async fn register(global: &Global, a: RegisterArgs) -> Result<()> {
    let api = global.webinar_api()?;
    let registration = pb::Registration {
        email: a.email,
        first_name: a.first_name,
        last_name: a.last_name,
        company: a.company,
        job_title: a.job_title,
        crm_reference_id: a.crm_ref,
        ..Default::default()
    };
    let (registration, created) = api
        .create_registration(&a.webinar, registration, a.request_id)
        .await?;
    let mut value = output::registration(&registration);
    value["created"] = Value::Bool(created);
    output::object(global.output, &value);
    Ok(())
}

pub async fn forget(global: &Global, a: ForgetArgs) -> Result<()> {
    let api = global.webinar_api()?;
    let count = api.forget_person(&a.email).await?;
    output::object(
        global.output,
        &json!({"forgotten_registration_count": count}),
    );
    Ok(())
}

/// `status = A OR status = B` from repeated `--status` values.
fn filter(statuses: &[String]) -> String {
    statuses
        .iter()
        .map(|s| format!("status = {}", s.trim().to_uppercase()))
        .collect::<Vec<_>>()
        .join(" OR ")
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let api = global.webinar_api()?;
    let registration = match command {
        Command::List {
            webinar,
            status,
            limit,
        } => {
            let all: Vec<pb::Registration> = api
                .list_registrations(&webinar, &filter(&status), 1000)
                .take(limit.unwrap_or(usize::MAX))
                .try_collect()
                .await?;
            let values: Vec<Value> = all.iter().map(output::registration).collect();
            match global.output {
                output::Format::Json => println!("{}", output::pretty(&Value::Array(values))),
                output::Format::Table => {
                    let rows: Vec<Vec<String>> = values
                        .iter()
                        .map(|r| {
                            [
                                "id",
                                "email",
                                "status",
                                "on24_event_user_id",
                                "delivery_attempts",
                                "last_error",
                            ]
                            .iter()
                            .map(|k| output::cell(&r[*k]))
                            .collect()
                        })
                        .collect();
                    output::table(
                        &[
                            "id",
                            "email",
                            "status",
                            "on24 user",
                            "attempts",
                            "last error",
                        ],
                        &rows,
                    );
                }
            }
            return Ok(());
        }
        Command::Show {
            registration,
            webinar,
        } => {
            let name = names::registration(api.tenant(), webinar.as_deref(), &registration);
            api.get_registration(&name).await?
        }
        Command::Cancel {
            registration,
            webinar,
        } => {
            let name = names::registration(api.tenant(), webinar.as_deref(), &registration);
            api.cancel_registration(&name).await?
        }
    };
    output::object(global.output, &output::registration(&registration));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn statuses_become_an_or_filter() {
        assert_eq!(super::filter(&[]), "");
        assert_eq!(
            super::filter(&["retrying".into(), "FAILED".into()]),
            "status = RETRYING OR status = FAILED"
        );
    }
}
