//! `webinarctl keys list|show|create|rotate`: the key service admin API (admin identity).

use anyhow::Result;
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::{context::Global, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List keys.
    List,
    /// Show a key and its versions.
    Show {
        /// Key id or `keys/{key}`.
        key: String,
    },
    /// Create an encrypt/decrypt key; with --if-missing an existing key is not an error.
    Create {
        /// Key id (lowercase letters, digits, hyphens).
        key: String,
        #[arg(long)]
        if_missing: bool,
    },
    /// Create a new primary version (never retried automatically).
    Rotate {
        /// Key id or `keys/{key}`.
        key: String,
    },
}

pub async fn run(global: &Global, command: Command) -> Result<()> {
    let admin = global.key_admin()?;
    match command {
        Command::List => {
            let keys: Vec<_> = admin.list_keys(100).try_collect().await?;
            let values: Vec<Value> = keys.iter().map(output::key).collect();
            match global.output {
                output::Format::Json => println!("{}", output::pretty(&Value::Array(values))),
                output::Format::Table => {
                    let rows: Vec<Vec<String>> = values
                        .iter()
                        .map(|k| {
                            [
                                "name",
                                "state",
                                "primary_version",
                                "min_decryption_version",
                                "next_rotation_time",
                            ]
                            .iter()
                            .map(|f| output::cell(&k[*f]))
                            .collect()
                        })
                        .collect();
                    output::table(
                        &["name", "state", "primary", "min decrypt", "next rotation"],
                        &rows,
                    );
                }
            }
        }
        Command::Show { key } => {
            let response = admin.get_key(&key).await?;
            let mut value = response
                .key
                .as_ref()
                .map(output::key)
                .unwrap_or(Value::Null);
            let versions: Vec<Value> = response.versions.iter().map(output::key_version).collect();
            match global.output {
                output::Format::Json => {
                    value["versions"] = Value::Array(versions);
                    println!("{}", output::pretty(&value));
                }
                output::Format::Table => {
                    output::details(&value);
                    println!();
                    let rows: Vec<Vec<String>> = versions
                        .iter()
                        .map(|v| {
                            ["version", "state", "wrap_count", "create_time"]
                                .iter()
                                .map(|f| output::cell(&v[*f]))
                                .collect()
                        })
                        .collect();
                    output::table(&["version", "state", "wraps", "created"], &rows);
                }
            }
        }
        Command::Create { key, if_missing } => match admin.create_key(&key).await {
            Ok(created) => output::object(global.output, &output::key(&created)),
            Err(e) if if_missing && e.code() == Some(tonic::Code::AlreadyExists) => {
                output::object(
                    global.output,
                    &json!({"name": format!("keys/{key}"), "already_existed": true}),
                );
            }
            Err(e) => return Err(e.into()),
        },
        Command::Rotate { key } => {
            let response = admin.rotate_key(&key).await?;
            let mut value = response
                .key
                .as_ref()
                .map(output::key)
                .unwrap_or(Value::Null);
            value["new_version"] = response
                .key_version
                .as_ref()
                .map(output::key_version)
                .unwrap_or(Value::Null);
            output::object(global.output, &value);
        }
    }
    Ok(())
}
