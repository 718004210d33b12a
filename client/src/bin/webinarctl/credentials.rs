//! `webinarctl credentials put|show|check|delete`: the tenant's ON24 credentials. Secrets are
//! read from the environment (or flags) and are never printed: the service returns only the
//! last four characters of the key.

use anyhow::Result;
use serde_json::json;
use webinar_client::{ClientError, webinar_v1 as pb};

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create or replace the tenant's ON24 credentials.
    Put(PutArgs),
    /// Show the configuration and health (never the secrets).
    Show,
    /// Call ON24 now with the stored credentials and show the health.
    Check,
    /// Delete the credentials: disables the integration for this tenant only.
    Delete,
}

/// ON24 region.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Region {
    /// North America (api.on24.com).
    Na,
    /// Europe (api.eu.on24.com).
    Eu,
}

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// Use the demo ON24 account of the local stack (simulator) from stack.json.
    #[arg(long, conflicts_with_all = ["client_id", "access_token_key", "access_token_secret"])]
    from_stack: bool,
    /// ON24 client (account) id.
    #[arg(long, required_unless_present = "from_stack")]
    client_id: Option<String>,
    /// ON24 access token key.
    #[arg(long, env = "ON24_ACCESS_TOKEN_KEY", hide_env_values = true)]
    access_token_key: Option<String>,
    /// ON24 access token secret.
    #[arg(long, env = "ON24_ACCESS_TOKEN_SECRET", hide_env_values = true)]
    access_token_secret: Option<String>,
    /// ON24 region (ignored with --base-url).
    #[arg(long, value_enum, default_value = "na")]
    region: Region,
    /// Explicit ON24 API base URL (e.g. a simulator).
    #[arg(long)]
    base_url: Option<String>,
    /// Call ON24 first and store only if it accepts the credentials.
    #[arg(long)]
    live_check: bool,
    /// Validate (and live-check if asked) without storing.
    #[arg(long)]
    validate_only: bool,
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let api = global.webinar_api()?;
    match command {
        Command::Put(args) => {
            let credentials = if args.from_stack {
                let demo = global.demo_on24()?;
                pb::On24Credentials {
                    client_id: demo.client_id,
                    access_token_key: demo.access_token_key,
                    access_token_secret: demo.access_token_secret,
                    base_url: args.base_url.unwrap_or(demo.base_url),
                    ..Default::default()
                }
            } else {
                let missing = |what: &str, env: &str| {
                    ClientError::Input(format!("give the ON24 {what} with --{what} or {env}"))
                };
                pb::On24Credentials {
                    client_id: args.client_id.unwrap_or_default(),
                    access_token_key: args
                        .access_token_key
                        .ok_or_else(|| missing("access-token-key", "ON24_ACCESS_TOKEN_KEY"))?,
                    access_token_secret: args.access_token_secret.ok_or_else(|| {
                        missing("access-token-secret", "ON24_ACCESS_TOKEN_SECRET")
                    })?,
                    region: match args.region {
                        Region::Na => pb::On24Region::Na,
                        Region::Eu => pb::On24Region::Eu,
                    } as i32,
                    base_url: args.base_url.unwrap_or_default(),
                    ..Default::default()
                }
            };
            let stored = api
                .put_credentials(credentials, args.live_check, args.validate_only)
                .await?;
            output::object(global.output, &output::credentials(&stored));
        }
        Command::Show => {
            output::object(
                global.output,
                &output::credentials(&api.get_credentials().await?),
            );
        }
        Command::Check => {
            output::object(
                global.output,
                &output::credentials(&api.check_credentials().await?),
            );
        }
        Command::Delete => {
            let paused = api.delete_credentials().await?;
            output::object(
                global.output,
                &json!({"deleted": true, "paused_delivery_count": paused}),
            );
        }
    }
    Ok(())
}
