//! Turns the global options into connections: explicit fields (`--endpoint`, `--ca`, `--cert`,
//! `--key`, `--token`) win; otherwise `stack.json` of the local stack supplies the endpoint, CA
//! and the certificate of `--identity` (default: the demo CRM identity for the integration
//! service, `admin` for the key service).

use std::{path::PathBuf, time::Duration};

use secrecy::SecretString;
use webinar_client::{ClientError, ConnectOptions, KeyAdmin, StackFile, WebinarApi};

use crate::output::Format;

/// Options shared by every command.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The local stack's description, written by `cargo xtask up`.
    #[arg(
        long,
        global = true,
        env = "WEBINARCTL_STACK",
        default_value = ".state/stack.json"
    )]
    pub stack: PathBuf,
    /// Identity (client certificate) from stack.json: `crm-demo`, `admin`, ...
    #[arg(long, global = true, env = "WEBINARCTL_IDENTITY")]
    pub identity: Option<String>,
    /// Service endpoint, e.g. https://webinar.example.com:8443 (instead of stack.json).
    #[arg(long, global = true, env = "WEBINARCTL_ENDPOINT")]
    pub endpoint: Option<String>,
    /// PEM CA file to trust (with --endpoint; default: the system roots).
    #[arg(long = "ca", global = true, env = "WEBINARCTL_CA")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS (with --endpoint).
    #[arg(long = "cert", global = true, env = "WEBINARCTL_CERT")]
    pub client_cert: Option<PathBuf>,
    /// PEM client key for mTLS (with --endpoint).
    #[arg(long = "key", global = true, env = "WEBINARCTL_KEY")]
    pub client_key: Option<PathBuf>,
    /// JWT bearer token (prefer the environment variable: command lines are visible to others).
    #[arg(long, global = true, env = "WEBINARCTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Name expected in the server certificate (default: the endpoint's host).
    #[arg(long, global = true)]
    pub server_name: Option<String>,
    /// Tenant to act for (default: the demo tenant of stack.json).
    #[arg(long, global = true, env = "WEBINARCTL_TENANT")]
    pub tenant: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value = "table")]
    pub output: Format,
    /// Deadline of each call, e.g. 30s, 2m.
    #[arg(long, global = true, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

impl Global {
    fn stack_file(&self) -> Result<StackFile, ClientError> {
        StackFile::load(&self.stack)
    }

    fn explicit(&self, endpoint: &str) -> ConnectOptions {
        let mut options = ConnectOptions::new(endpoint);
        options.ca_cert = self.ca_file.clone();
        options.client_cert = self.client_cert.clone();
        options.client_key = self.client_key.clone();
        options.server_name = self.server_name.clone();
        options
    }

    fn finish(&self, mut options: ConnectOptions) -> ConnectOptions {
        if let Some(token) = &self.token {
            options.bearer_token = Some(SecretString::from(token.clone()));
        }
        if self.server_name.is_some() {
            options.server_name = self.server_name.clone();
        }
        options.timeout = self.timeout;
        options
    }

    /// The integration service API for the chosen tenant.
    pub fn webinar_api(&self) -> Result<WebinarApi, ClientError> {
        let (options, default_tenant) = match &self.endpoint {
            Some(endpoint) => (self.explicit(endpoint), None),
            None => {
                let stack = self.stack_file()?;
                let identity = self.identity.clone().unwrap_or(stack.demo.identity.clone());
                let options = ConnectOptions::integration_from_stack(&stack, &identity)?;
                (options, Some(stack.demo.tenant.clone()))
            }
        };
        let tenant = self.tenant.clone().or(default_tenant).ok_or_else(|| {
            ClientError::Config("give the tenant with --tenant (or WEBINARCTL_TENANT)".into())
        })?;
        Ok(WebinarApi::new(self.finish(options).connect()?, &tenant))
    }

    /// The key service admin API.
    pub fn key_admin(&self) -> Result<KeyAdmin, ClientError> {
        let options = match &self.endpoint {
            Some(endpoint) => self.explicit(endpoint),
            None => {
                let stack = self.stack_file()?;
                let identity = self.identity.as_deref().unwrap_or("admin");
                ConnectOptions::keyservice_from_stack(&stack, identity)?
            }
        };
        Ok(KeyAdmin::new(self.finish(options).connect()?))
    }

    /// The demo ON24 account of the local stack (for `credentials put --from-stack`).
    pub fn demo_on24(&self) -> Result<webinar_client::stack::DemoOn24, ClientError> {
        Ok(self.stack_file()?.demo.on24)
    }
}
