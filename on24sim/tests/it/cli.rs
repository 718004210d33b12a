//! The `on24sim` binary: accounts from flags or a config file (TOML or JSON), faults and quota
//! set at start, the listening line on stdout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use on24sim::SimConfig;

use crate::common::*;

struct Bin(Child);

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with its root URL (from the first stdout line).
fn start(args: &[&str]) -> (Bin, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_on24sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn on24sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read line");
    let url = line.trim().rsplit(' ').next().expect("url").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (Bin(child), url)
}

async fn get_events(root: &str, client: i64, key: &str, secret: &str) -> u16 {
    let r = http()
        .get(format!("{root}/v2/client/{client}/event"))
        .header("accessTokenKey", key)
        .header("accessTokenSecret", secret)
        .send()
        .await
        .expect("send");
    r.status().as_u16()
}

#[tokio::test]
async fn accounts_faults_and_quota_from_flags() {
    let (_bin, root) = start(&[
        "--client-id",
        "1",
        "--token-key",
        "k1",
        "--token-secret",
        "s1",
        "--client-id",
        "2",
        "--token-key",
        "k2",
        "--token-secret",
        "s2",
        "--quota-calls",
        "2",
    ]);
    on24sim::ControlClient::new(format!("{root}/_sim"))
        .health()
        .await
        .expect("health");
    assert_eq!(get_events(&root, 1, "k1", "s1").await, 200);
    assert_eq!(get_events(&root, 2, "k2", "s2").await, 200);
    assert_eq!(get_events(&root, 2, "k1", "s1").await, 403, "scoping");
    assert_eq!(get_events(&root, 1, "k1", "s1").await, 200);
    assert_eq!(
        get_events(&root, 1, "k1", "s1").await,
        403,
        "quota of 2 used up"
    );

    let (_bin, root) = start(&[
        "--client-id",
        "1",
        "--token-key",
        "k1",
        "--token-secret",
        "s1",
        "--error-rate",
        "1",
    ]);
    assert_eq!(get_events(&root, 1, "k1", "s1").await, 500);
}

#[tokio::test]
async fn accounts_from_toml_and_json_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("sim.toml");
    std::fs::write(&toml, "[[accounts]]\nclient_id = 5\ntoken_key = \"tk\"\ntoken_secret = \"ts\"\nelite = false\n\n[quota]\ncalls = 10\n").expect("write");
    let cfg = SimConfig::from_file(&toml).expect("toml config");
    assert_eq!(
        (
            cfg.accounts[0].client_id,
            cfg.accounts[0].elite,
            cfg.quota.calls
        ),
        (5, false, Some(10))
    );
    let (_bin, root) = start(&["--config", toml.to_str().expect("path")]);
    assert_eq!(get_events(&root, 5, "tk", "ts").await, 200);

    let json = dir.path().join("sim.json");
    std::fs::write(&json, r#"{"accounts":[{"client_id":6,"token_key":"jk","token_secret":"js"}],"faults":{"latency_ms":1}}"#).expect("write");
    let (_bin, root) = start(&["--config", json.to_str().expect("path")]);
    assert_eq!(get_events(&root, 6, "jk", "js").await, 200);

    std::fs::write(&toml, "accounts = 3\ntoken_secret = \"leak-me\"\n").expect("write");
    let e = SimConfig::from_file(&toml)
        .expect_err("invalid")
        .to_string();
    assert!(!e.contains("leak-me"), "{e}");
    let _ = (CLIENT, KEY);
}

#[tokio::test]
async fn state_file_keeps_the_world_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let mut cfg = SimConfig::with_account(CLIENT, KEY, SECRET);
    cfg.state_file = Some(state.clone());
    let env = Env::with(cfg.clone()).await;
    let ev = env.future_event().await;
    let uid = env.register(ev, "kept@example.com", "K").await;
    env.sim.shutdown().await;
    assert!(state.is_file());
    let env = Env::with(cfg).await;
    let v = ok(env
        .get(&format!("/registrant/kept@example.com?eventid={ev}"))
        .await)
    .await;
    assert_eq!(v["registrant"]["eventuserid"], uid);
    // Upsert by email still works after a reload (the email index is rebuilt).
    assert_eq!(env.register(ev, "KEPT@example.com", "K2").await, uid);
    assert!(
        env.future_event().await > ev,
        "ids continue after the reload"
    );
}
