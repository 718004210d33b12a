//! `file:PATH` root key: 32 bytes (raw or base64) in a file only its owner may read.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use base64::Engine;
use rand::RngCore;
use zeroize::Zeroizing;

use super::{RootKey, RootKeyError, SoftwareRootKey, decode_key_material};

/// Root key read from a file at start.
#[derive(Debug)]
pub struct FileRootKey(SoftwareRootKey);

impl FileRootKey {
    /// Reads the key, refusing a file that group or others can read (or write).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RootKeyError> {
        Self::open_with(path, false)
    }

    /// Like [`Self::open`], but with `allow_group_read` a file its group may read (mode
    /// 0440 or 0640) is accepted: Kubernetes mounts Secrets for non-root pods that way, with
    /// the pod's own `fsGroup` as the group. Write or execute for the group, and any access
    /// for others, are still refused.
    pub fn open_with(path: impl AsRef<Path>, allow_group_read: bool) -> Result<Self, RootKeyError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let io = |source| RootKeyError::Io {
            path: shown.clone(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        let forbidden = if allow_group_read { 0o037 } else { 0o077 };
        if meta.permissions().mode() & forbidden != 0 {
            return Err(RootKeyError::InsecurePermissions(shown));
        }
        let raw = Zeroizing::new(fs::read(path).map_err(io)?);
        let key = decode_key_material(&raw, &shown)?;
        Ok(Self(SoftwareRootKey::new(key, format!("file:{shown}"))))
    }
}

impl RootKey for FileRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RootKeyError> {
        self.0.seal(aad, plaintext)
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
        self.0.unseal(aad, sealed)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn audit_key(&self) -> Result<servicekit::audit::AuditKey, RootKeyError> {
        self.0.audit_key()
    }
}

/// Writes a new random root key, base64 with a trailing newline, to `path` with mode 0600.
/// Refuses to overwrite an existing file (losing a root key loses every key it sealed).
pub fn generate_root_key_file(path: impl AsRef<Path>) -> Result<(), RootKeyError> {
    let path = path.as_ref();
    let io = |source| RootKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(key.as_mut());
    let mut text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.as_ref()));
    text.push('\n');
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    // The umask can only remove bits, but be explicit in case the file system ignored mode.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_file_opens_and_seals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        generate_root_key_file(&path).expect("generates");
        assert!(generate_root_key_file(&path).is_err(), "never overwrites");
        let root = FileRootKey::open(&path).expect("opens");
        let sealed = root.seal(b"aad", b"kek").expect("seals");
        assert_eq!(
            root.unseal(b"aad", &sealed).expect("unseals").as_slice(),
            b"kek"
        );
        // Same file, second process: same key.
        let again = FileRootKey::open(&path).expect("opens");
        assert_eq!(
            again.unseal(b"aad", &sealed).expect("unseals").as_slice(),
            b"kek"
        );
    }

    #[test]
    fn raw_bytes_accepted_and_bad_lengths_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = dir.path().join("raw.key");
        fs::write(&raw, [5u8; 32]).expect("write");
        fs::set_permissions(&raw, fs::Permissions::from_mode(0o400)).expect("chmod");
        FileRootKey::open(&raw).expect("raw 32 bytes");
        let short = dir.path().join("short.key");
        fs::write(&short, [5u8; 31]).expect("write");
        fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(
            FileRootKey::open(&short),
            Err(RootKeyError::BadLength(_))
        ));
    }

    #[test]
    fn group_read_only_when_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        generate_root_key_file(&path).expect("generates");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o440)).expect("chmod");
        assert!(matches!(
            FileRootKey::open(&path),
            Err(RootKeyError::InsecurePermissions(_))
        ));
        FileRootKey::open_with(&path, true).expect("group read allowed on request");
        for mode in [0o460, 0o450, 0o444, 0o404] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            assert!(
                matches!(
                    FileRootKey::open_with(&path, true),
                    Err(RootKeyError::InsecurePermissions(_))
                ),
                "mode {mode:o}"
            );
        }
    }

    #[test]
    fn group_or_world_readable_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.key");
        generate_root_key_file(&path).expect("generates");
        for mode in [0o640, 0o604, 0o660, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            assert!(
                matches!(
                    FileRootKey::open(&path),
                    Err(RootKeyError::InsecurePermissions(_))
                ),
                "mode {mode:o}"
            );
        }
    }
}
