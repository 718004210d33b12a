//! Root-key providers that need a process environment of their own: PKCS#11 with SoftHSM2
//! and `env:`.

use super::*;

const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// SoftHSM2 reads its configuration from `SOFTHSM2_CONF` when the module initialises, and
/// setting environment variables in a running multi-threaded test is unsound, so the real
/// work runs in a child process of this test binary with the variable set from the start.
#[test]
fn pkcs11_root_key_with_softhsm() {
    if !Path::new(SOFTHSM_LIB).exists() {
        testkit::skip(&format!(
            "{SOFTHSM_LIB} is missing (apt-get install softhsm2)"
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token dir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let status = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "keyservice-test",
            "--so-pin",
            "87654321",
            "--pin",
            "12345678",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("softhsm2-util runs");
    assert!(status.success(), "token initialised");
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "12345678\n").expect("pin file");
    let sqlite = TestSqlite::new().expect("sqlite");
    let spec = format!(
        "pkcs11:token=keyservice-test;object=root?module-path={SOFTHSM_LIB}&pin-source=file:{}",
        pin.display()
    );
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "domain::root_keys::pkcs11_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("KEYSERVICE_TEST_PKCS11_SPEC", &spec)
        .env("KEYSERVICE_TEST_DB", &sqlite.url)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by pkcs11_root_key_with_softhsm in a child process"]
fn pkcs11_child() {
    use keyservice::rootkey::{self, Pkcs11Config, Pkcs11RootKey, create_pkcs11_root_key};
    let (Ok(spec), Ok(db)) = (
        std::env::var("KEYSERVICE_TEST_PKCS11_SPEC"),
        std::env::var("KEYSERVICE_TEST_DB"),
    ) else {
        return;
    };
    let config = Pkcs11Config::parse(&spec).expect("spec parses");
    create_pkcs11_root_key(&config).expect("key created in the token");
    assert!(
        create_pkcs11_root_key(&config).is_err(),
        "never a second key with the label"
    );

    let root = Pkcs11RootKey::open(&config).expect("opens");
    let sealed = root.seal(b"aad", b"kek material").expect("seals");
    assert_eq!(
        root.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek material"
    );
    assert!(root.unseal(b"other", &sealed).is_err());
    assert!(!contains(&sealed, b"kek material"));

    // Log the token out behind the provider's back (as an HSM restart would): the provider
    // notices the lost login, logs in again and carries on.
    {
        let ctx = cryptoki::context::Pkcs11::new(&config.module_path).expect("module");
        let slot = ctx
            .get_slots_with_initialized_token()
            .expect("slots")
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|i| i.label().trim_end() == config.token_label)
            })
            .expect("slot");
        ctx.open_ro_session(slot)
            .expect("session")
            .logout()
            .expect("logs out");
    }
    let again = root
        .seal(b"aad", b"after logout")
        .expect("seals after logging in again");
    assert_eq!(
        root.unseal(b"aad", &again).expect("unseals").as_slice(),
        b"after logout"
    );
    assert_eq!(
        root.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek material"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let root = rootkey::open(&spec).expect("opens through the spec");
        let km = manager(&db, root).await;
        km.create_key(new_key("hsm-backed")).await.expect("creates");
        let w = km.wrap("hsm-backed", b"dek", b"ctx").await.expect("wraps");
        km.rotate_key("hsm-backed").await.expect("rotates");
        drop(km);
        // A fresh manager (as after a restart) unseals the KEKs through the HSM again.
        let km = manager(&db, rootkey::open(&spec).expect("opens")).await;
        let (plain, _) = km
            .unwrap(&w.wrapped_key, b"ctx")
            .await
            .expect("unwraps after restart");
        assert_eq!(plain.as_slice(), b"dek");
        // A different token key cannot open the stored KEKs: opening must fail loudly.
        let other = Pkcs11Config {
            key_label: "other".into(),
            ..config.clone()
        };
        create_pkcs11_root_key(&other).expect("second key");
        let store = Store::open(&db, 2).expect("store");
        let wrong: Arc<dyn RootKey> = Arc::new(Pkcs11RootKey::open(&other).expect("opens"));
        assert!(KeyManager::open(store, wrong, settings()).await.is_err());
    });
}

/// The `env:` provider, in a child process so the variable is set before anything runs
/// (setting variables inside a multi-threaded test is unsound) and sits in the start-up
/// environment that `/proc/<pid>/environ` shows, from which it must be erased once read.
#[test]
fn env_root_key_from_variable() {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "domain::root_keys::env_root_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "KEYSERVICE_TEST_ENV_ROOT",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("KEYSERVICE_TEST_ENV_SHORT", "AAECAw==")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by env_root_key_from_variable in a child process"]
fn env_root_child() {
    use keyservice::rootkey::{self, RootKeyError};
    if std::env::var_os("KEYSERVICE_TEST_ENV_ROOT").is_none() {
        return;
    }
    let environ = || std::fs::read("/proc/self/environ").expect("/proc/self/environ");
    let value = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let shows =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    assert!(
        shows(&environ(), value),
        "control: the kernel shows the start environment"
    );
    let root = rootkey::open("env:KEYSERVICE_TEST_ENV_ROOT").expect("opens");
    // Read once, then gone: from the process's variables and from /proc/<pid>/environ.
    assert!(std::env::var_os("KEYSERVICE_TEST_ENV_ROOT").is_none());
    let after = environ();
    assert!(
        !shows(&after, value),
        "the root key is still in /proc/self/environ"
    );
    assert!(!shows(&after, b"KEYSERVICE_TEST_ENV_ROOT"));
    assert!(
        shows(&after, b"KEYSERVICE_TEST_ENV_SHORT="),
        "other variables are kept"
    );
    let sealed = root.seal(b"aad", b"kek").expect("seals");
    // The same variable gives the same key (bytes 0..32, as in the vector file).
    let same = SoftwareRootKey::new(Zeroizing::new(std::array::from_fn(|i| i as u8)), "same");
    assert_eq!(
        same.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek"
    );
    assert!(matches!(
        rootkey::open("env:KEYSERVICE_TEST_ENV_SHORT"),
        Err(RootKeyError::BadLength(_))
    ));
    assert!(matches!(
        rootkey::open("env:KEYSERVICE_TEST_ENV_UNSET"),
        Err(RootKeyError::InvalidSpec(_))
    ));
    assert!(matches!(
        rootkey::open("vault:x"),
        Err(RootKeyError::InvalidSpec(_))
    ));
}
