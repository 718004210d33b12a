//! `webinarctl tenant purge`: offboarding a tenant that leaves (administrators only). It
//! deletes everything the integration service holds for the tenant and cannot be undone, so
//! it asks for `--yes`.

use anyhow::Result;
use serde_json::json;
use webinar_client::ClientError;

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Delete every webinar, registration, metric, job, feed entry, erasure record,
    /// suppression, policy, the ON24 credentials and the keys of the tenant (--tenant).
    Purge(PurgeArgs),
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// First ask ON24 to forget every registrant the tenant delivered there (waits for it).
    #[arg(long)]
    forget_at_on24: bool,
    /// Confirm: the purge cannot be undone.
    #[arg(long)]
    yes: bool,
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    match command {
        Command::Purge(args) => {
            let api = global.webinar_api()?;
            if !args.yes {
                return Err(ClientError::Input(format!(
                    "purging tenant {} deletes all its data and cannot be undone: add --yes",
                    api.tenant()
                ))
                .into());
            }
            let done = api.purge_tenant(args.forget_at_on24).await?;
            let deleted: serde_json::Map<String, serde_json::Value> = done
                .deleted
                .iter()
                .map(|d| (d.table.clone(), json!(d.count)))
                .collect();
            output::object(
                global.output,
                &json!({
                    "tenant": api.tenant(),
                    "forgotten_at_on24_count": done.forgotten_at_on24_count,
                    "on24_refusal_count": done.on24_refusal_count,
                    "deleted": deleted,
                }),
            );
        }
    }
    Ok(())
}
