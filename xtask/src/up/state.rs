//! The state folder of the local stack (`.state/` in the clone, gitignored): everything made
//! once and kept across restarts — the development PKI, the key service root key, the page
//! token key, the demo ON24 account — plus the per-service configuration files, which are
//! rewritten on every start (ports and database may change between runs).

use std::{
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use xtask::pki::{CertificateAuthority, write_private};

/// Client identities of the development PKI: (short name, common name, SPIFFE URI).
pub const IDENTITIES: &[(&str, &str, &str)] = &[
    (
        "integrationservice",
        "integrationservice",
        "spiffe://webinar.local/integrationservice",
    ),
    ("admin", "admin", "spiffe://webinar.local/admin"),
    ("crm-demo", "crm-demo", "spiffe://webinar.local/crm/demo"),
];

/// The demo tenant's id and the identity that may act for it.
pub const DEMO_TENANT: &str = "demo";
/// See [`DEMO_TENANT`].
pub const DEMO_IDENTITY: &str = "crm-demo";

/// The simulator account made for the demo tenant. Development-only secrets: they open
/// nothing but the local simulator.
#[derive(Clone, Serialize, Deserialize)]
pub struct DemoAccount {
    pub client_id: String,
    pub access_token_key: String,
    pub access_token_secret: String,
}

impl std::fmt::Debug for DemoAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoAccount")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Paths inside the state folder.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn pki(&self) -> PathBuf {
        self.root.join("pki")
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.pki().join("ca.crt")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.pki().join("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.pki().join("server.key")
    }
    pub fn client_cert(&self, name: &str) -> PathBuf {
        self.pki().join(format!("{name}.crt"))
    }
    pub fn client_key(&self, name: &str) -> PathBuf {
        self.pki().join(format!("{name}.key"))
    }
    pub fn keyservice(&self) -> PathBuf {
        self.root.join("keyservice")
    }
    pub fn integrationservice(&self) -> PathBuf {
        self.root.join("integrationservice")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn stack_json(&self) -> PathBuf {
        self.root.join("stack.json")
    }
    pub fn demo_account(&self) -> PathBuf {
        self.root.join("on24sim-demo-account.json")
    }
}

/// Creates the folders (owner-only) and everything that is made once.
pub fn prepare(layout: &Layout, keyservice_bin: &Path) -> Result<DemoAccount> {
    for dir in [
        layout.root.clone(),
        layout.pki(),
        layout.keyservice(),
        layout.integrationservice(),
        layout.logs(),
    ] {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    ensure_pki(layout)?;
    let root_key = layout.keyservice().join("root.key");
    if !root_key.exists() {
        // The key service writes its own root key format (32 random bytes, base64, 0600).
        crate::run::exec(
            std::process::Command::new(keyservice_bin)
                .args(["root-key", "generate", "--out"])
                .arg(&root_key),
        )?;
    }
    let page_key = layout.integrationservice().join("page-token.key");
    if !page_key.exists() {
        write_private(&page_key, hex(&random_bytes(32)?).as_bytes())?;
    }
    // The access audit's key: kept with the state so `integrationservice audit verify` can
    // check the log after a restart.
    let audit_key = layout.integrationservice().join("audit.key");
    if !audit_key.exists() {
        write_private(&audit_key, hex(&random_bytes(32)?).as_bytes())?;
    }
    demo_account(layout)
}

/// The CA key is not kept, so the PKI is made as a whole: if any file is missing, all of it is
/// made again (clients then need the new `ca.crt`, which stack.json points to).
fn ensure_pki(layout: &Layout) -> Result<()> {
    let mut files = vec![layout.ca_cert(), layout.server_cert(), layout.server_key()];
    for (name, _, _) in IDENTITIES {
        files.push(layout.client_cert(name));
        files.push(layout.client_key(name));
    }
    if files.iter().all(|f| f.exists()) {
        return Ok(());
    }
    println!(
        "    generating the development PKI in {}",
        layout.pki().display()
    );
    let ca = CertificateAuthority::new("webinar.local development CA")?;
    ca.write_cert(&layout.ca_cert())?;
    let server = ca.server_cert(&["localhost", "127.0.0.1"])?;
    server.write(&layout.pki(), "server")?;
    for (name, common_name, uri) in IDENTITIES {
        ca.client_cert_for(common_name, uri)?
            .write(&layout.pki(), name)?;
    }
    Ok(())
}

fn demo_account(layout: &Layout) -> Result<DemoAccount> {
    let path = layout.demo_account();
    if let Ok(text) = fs::read_to_string(&path) {
        return serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()));
    }
    let account = DemoAccount {
        client_id: "10001".into(),
        access_token_key: hex(&random_bytes(16)?),
        access_token_secret: hex(&random_bytes(24)?),
    };
    write_private(&path, serde_json::to_string_pretty(&account)?.as_bytes())?;
    Ok(account)
}

/// Random bytes from the kernel.
pub fn random_bytes(count: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; count];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A path as a TOML basic string (Debug escaping matches TOML for paths).
pub fn toml_str(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Writes the key service's policy and configuration; returns the configuration path.
pub fn keyservice_config(
    layout: &Layout,
    main: u16,
    health: u16,
    database_url: &str,
) -> Result<PathBuf> {
    let dir = layout.keyservice();
    let policy = dir.join("policy.toml");
    fs::write(
        &policy,
        "# Written by `cargo xtask up`.\n\
         [[rule]]\n\
         identity = \"spiffe://webinar.local/integrationservice\"\n\
         operations = [\"generate\", \"wrap\", \"unwrap\", \"rewrap\"]\n\
         keys = [\"on24-credentials\"]\n\n\
         [[rule]]\n\
         identity = \"spiffe://webinar.local/integrationservice\"\n\
         operations = [\"generate\", \"wrap\", \"unwrap\", \"rewrap\", \"admin:create\", \"admin:schedule_deletion\"]\n\
         keys = [\"tenant-*\"]\n\n\
         [[rule]]\n\
         identity = \"spiffe://webinar.local/admin\"\n\
         operations = [\"admin:*\"]\n\
         keys = [\"*\"]\n",
    )?;
    let config = dir.join("keyservice.toml");
    let root = format!("file:{}", dir.join("root.key").display());
    let audit = format!("file:{}", dir.join("audit.log").display());
    let text = format!(
        "# Written by `cargo xtask up` on every start; see docs/keyservice-config.md.\n\
         [listen]\nmain = \"127.0.0.1:{main}\"\nhealth = \"127.0.0.1:{health}\"\n\n\
         [tls]\ncert = {cert}\nkey = {key}\nclient_ca = {ca}\n\n\
         [root_key]\nsource = {root:?}\n\n\
         [database]\nurl = {db:?}\n\n\
         [policy]\nfile = {policy}\n\n\
         [audit]\nsink = {audit:?}\n\n\
         [hardening]\n# Development: do not fail on small RLIMIT_MEMLOCK.\nlock_memory = false\n",
        cert = toml_str(&layout.server_cert()),
        key = toml_str(&layout.server_key()),
        ca = toml_str(&layout.ca_cert()),
        db = database_url,
        policy = toml_str(&policy),
    );
    fs::write(&config, text)?;
    Ok(config)
}

/// Writes the integration service's tenant policy and configuration; returns the path.
pub fn integrationservice_config(
    layout: &Layout,
    grpc: u16,
    health: u16,
    keyservice_port: u16,
    database_url: &str,
) -> Result<PathBuf> {
    let dir = layout.integrationservice();
    let policy = dir.join("tenants.toml");
    fs::write(
        &policy,
        format!(
            "# Written by `cargo xtask up`: which principal may act for which tenant.\n\
             [[principal]]\nid = \"spiffe://webinar.local/crm/demo\"\ntenants = [\"{DEMO_TENANT}\"]\n\n\
             # The operator (`webinarctl --identity admin tenant purge`).\n\
             [[principal]]\nid = \"spiffe://webinar.local/admin\"\ntenants = [\"{DEMO_TENANT}\"]\nadmin = true\n"
        ),
    )?;
    let config = dir.join("integrationservice.toml");
    let text = format!(
        "# Written by `cargo xtask up` on every start; see docs/integrationservice-config.md.\n\
         [listen]\ngrpc = \"127.0.0.1:{grpc}\"\nhealth = \"127.0.0.1:{health}\"\n\n\
         [tls]\ncert_file = {cert}\nkey_file = {key}\nclient_ca_file = {ca}\n\n\
         [auth]\npolicy_file = {policy}\n\n\
         [api]\npage_token_key_file = {page}\n\n\
         [database]\nurl = {db:?}\n\n\
         [keyservice]\nendpoint = \"https://127.0.0.1:{keyservice_port}\"\nserver_name = \"localhost\"\n\
         ca_file = {ca}\ncert_file = {icert}\nkey_file = {ikey}\n\n\
         [on24]\n# Development only: the local simulator listens on 127.0.0.1.\nallow_loopback = true\n\n\
         [limits]\n# One developer's stack, whose tests and examples put the demo credentials often; the\n\
         # production default is 10 a minute per tenant.\ncredential_puts_per_minute = 600\ncredential_put_burst = 100\n\n\
         [audit]\nsink = {audit:?}\nkey = {audit_key:?}\n",
        cert = toml_str(&layout.server_cert()),
        key = toml_str(&layout.server_key()),
        ca = toml_str(&layout.ca_cert()),
        policy = toml_str(&policy),
        page = toml_str(&dir.join("page-token.key")),
        db = database_url,
        icert = toml_str(&layout.client_cert("integrationservice")),
        ikey = toml_str(&layout.client_key("integrationservice")),
        audit = format!("file:{}", dir.join("audit.log").display()),
        audit_key = format!("file:{}", dir.join("audit.key").display()),
    );
    fs::write(&config, text)?;
    Ok(config)
}
