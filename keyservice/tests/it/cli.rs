//! The operator CLI as a process: `root-key generate`, `init`, `serve` configured by a file
//! plus `KEYSERVICE_*` environment overrides, and a clean exit on SIGTERM.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use tonic::transport::Endpoint;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use xtask::pki::CertificateAuthority;

use crate::support::POLICY;

fn keyservice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyservice"))
}

fn free_port() -> u16 {
    xtask::ports::free_port().expect("free loopback port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_serve_and_sigterm_as_a_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = d.join("root.key");
    let ok = keyservice()
        .args(["root-key", "generate", "--out"])
        .arg(&root)
        .status()
        .expect("run");
    assert!(ok.success());
    let again = keyservice()
        .args(["root-key", "generate", "--out"])
        .arg(&root)
        .status()
        .expect("run");
    assert!(
        !again.success(),
        "an existing root key must never be overwritten"
    );

    let ca = CertificateAuthority::new("cli test CA").expect("ca");
    ca.server_cert(&["localhost"])
        .expect("cert")
        .write(d, "server")
        .expect("write");
    ca.write_cert(&d.join("ca.crt")).expect("write ca");
    std::fs::write(d.join("policy.toml"), POLICY).expect("policy");
    let (main, health) = (free_port(), free_port());
    let config = d.join("keyservice.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\nmain = \"127.0.0.1:{main}\"\n\
             [tls]\ncert = \"{p}/server.crt\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.crt\"\n\
             [root_key]\nsource = \"file:{p}/root.key\"\n[database]\nurl = \"{p}/ks.sqlite\"\n\
             [policy]\nfile = \"{p}/policy.toml\"\n[audit]\nsink = \"file:{p}/audit.log\"\n\
             [hardening]\nlock_memory = false\n",
            p = d.display()
        ),
    )
    .expect("config");
    let health_addr = format!("127.0.0.1:{health}");

    let init = keyservice()
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .expect("init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(String::from_utf8_lossy(&init.stdout).contains("created keys/on24-credentials"));
    let twice = keyservice()
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .expect("init");
    assert!(String::from_utf8_lossy(&twice.stdout).contains("already exists"));

    let bad = keyservice()
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("KEYSERVICE_AUDIT__SINK", "syslog")
        .output()
        .expect("serve with a bad value");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("audit.sink"),
        "the error names the key"
    );

    let mut server = keyservice()
        .arg("--config")
        .arg(&config)
        .arg("serve")
        // the environment overrides the file (and the default 0.0.0.0:7080)
        .env("KEYSERVICE_LISTEN__HEALTH", &health_addr)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let serving = testkit::wait_for(Duration::from_secs(10), || async {
        let channel = Endpoint::from_shared(format!("http://{health_addr}"))
            .expect("endpoint")
            .connect()
            .await
            .ok()?;
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        (status.ok() == Some(ServingStatus::Serving as i32)).then_some(())
    })
    .await
    .is_ok();
    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let exit = testkit::wait_for(Duration::from_secs(10), || {
        std::future::ready(server.try_wait().expect("wait"))
    })
    .await
    .ok();
    let _ = server.kill();
    assert!(
        serving,
        "serve answered SERVING on the health port from the environment"
    );
    assert!(
        exit.is_some_and(|s| s.success()),
        "SIGTERM ends serve cleanly: {exit:?}"
    );
}
