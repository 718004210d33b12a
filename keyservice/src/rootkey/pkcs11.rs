//! `pkcs11:` root key: an AES-256 key inside an HSM, used through the `cryptoki` crate.
//! The root key never leaves the token: KEKs are sealed and unsealed with `CKM_AES_GCM`
//! inside it. Tested against SoftHSM2.
//! Which token and key to use is a [`Pkcs11Config`].

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    mechanism::{Mechanism, aead::GcmParams},
    object::{Attribute, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    types::Ulong,
};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{
    Pkcs11Config, RootKey, RootKeyError,
    software::{SEAL_NONCE_LEN, SEALED_V1, split_sealed},
};

/// One initialised context per module for the whole process: `C_Finalize` (run when a
/// context drops) would end every other session on the same module.
fn context(module: &Path) -> Result<Pkcs11, RootKeyError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(ck)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck(e)),
    }
    contexts.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

fn ck(e: CkError) -> RootKeyError {
    RootKeyError::Pkcs11(e.to_string())
}

/// Opens a logged-in read/write session on the token with `config.token_label`.
fn login(config: &Pkcs11Config) -> Result<Session, RootKeyError> {
    let ctx = context(&config.module_path)?;
    let slot = ctx
        .get_slots_with_initialized_token()
        .map_err(ck)?
        .into_iter()
        .find(|slot| {
            ctx.get_token_info(*slot)
                .is_ok_and(|info| info.label().trim_end() == config.token_label)
        })
        .ok_or_else(|| {
            RootKeyError::Pkcs11(format!("no token labelled {:?}", config.token_label))
        })?;
    let session = ctx.open_rw_session(slot).map_err(ck)?;
    match session.login(UserType::User, Some(&config.read_pin()?)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(e) => Err(ck(e)),
    }
}

fn find_key(session: &Session, label: &str) -> Result<Option<ObjectHandle>, RootKeyError> {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(ck)?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(RootKeyError::Pkcs11(format!(
            "several keys labelled {label:?}"
        ))),
    }
}

/// Creates the AES-256 root key in the token (sensitive, not extractable, persistent).
/// Refuses if a key with that label already exists. Used by `init` and by tests.
pub fn create_pkcs11_root_key(config: &Pkcs11Config) -> Result<(), RootKeyError> {
    let session = login(config)?;
    if find_key(&session, &config.key_label)?.is_some() {
        return Err(RootKeyError::Pkcs11(format!(
            "a key labelled {:?} already exists",
            config.key_label
        )));
    }
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(Ulong::from(32u64)),
                Attribute::Label(config.key_label.as_bytes().to_vec()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .map_err(ck)?;
    Ok(())
}

/// A logged-in session and the root key's handle in it.
struct Connected {
    session: Session,
    key: ObjectHandle,
}

fn connect(config: &Pkcs11Config) -> Result<Connected, RootKeyError> {
    let session = login(config)?;
    let key = find_key(&session, &config.key_label)?
        .ok_or_else(|| RootKeyError::Pkcs11(format!("no key labelled {:?}", config.key_label)))?;
    Ok(Connected { session, key })
}

/// Errors after which a new session may succeed (HSM restarted, session or login lost).
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

/// Root key inside a PKCS#11 token.
pub struct Pkcs11RootKey {
    config: Pkcs11Config,
    // A PKCS#11 session is not safe for concurrent use; sealing is rare (rotation, cache
    // loads), so one session behind a mutex is enough.
    connected: Mutex<Connected>,
    description: String,
}

impl std::fmt::Debug for Pkcs11RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11RootKey")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Pkcs11RootKey {
    /// Logs in to the token and finds the key by label.
    pub fn open(config: &Pkcs11Config) -> Result<Self, RootKeyError> {
        Ok(Self {
            connected: Mutex::new(connect(config)?),
            config: config.clone(),
            description: format!(
                "pkcs11:token={};object={}",
                config.token_label, config.key_label
            ),
        })
    }

    /// Runs `op` on the session; if the session was lost, logs in again once and retries.
    fn with_session<T>(
        &self,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, CkError>,
    ) -> Result<Result<T, CkError>, RootKeyError> {
        let mut connected = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        match op(&connected.session, connected.key) {
            Err(e) if session_lost(&e) => {
                tracing::warn!(root = %self.description, error = %e, "HSM session lost; logging in again");
                *connected = connect(&self.config)?;
                Ok(op(&connected.session, connected.key))
            }
            other => Ok(other),
        }
    }
}

impl RootKey for Pkcs11RootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RootKeyError> {
        let mut nonce = [0u8; SEAL_NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .with_session(|session, key| {
                let mut iv = nonce;
                let params = GcmParams::new(&mut iv, aad, Ulong::from(128u64))?;
                session.encrypt(&Mechanism::AesGcm(params), key, plaintext)
            })?
            .map_err(ck)?;
        let mut out = Vec::with_capacity(1 + SEAL_NONCE_LEN + ciphertext.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
        let (nonce, ciphertext) = split_sealed(sealed)?;
        self.with_session(|session, key| {
            let mut iv = [0u8; SEAL_NONCE_LEN];
            iv.copy_from_slice(nonce);
            let params = GcmParams::new(&mut iv, aad, Ulong::from(128u64))?;
            session.decrypt(&Mechanism::AesGcm(params), key, ciphertext)
        })?
        .map(Zeroizing::new)
        // A tag mismatch is the expected failure; do not pass HSM detail upward.
        .map_err(|_| RootKeyError::Unseal)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
