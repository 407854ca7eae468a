//! Secrets Gatehouse must read back (upstream providers' client secrets), sealed at rest with
//! AES-256-GCM under a server key.
//!
//! The key comes from `GATEHOUSE_SECRET_KEY` (32 bytes as 64 hex digits or base64url) or, when
//! that is unset, from `secret.key` in the data folder, created with mode 0600 on first use.
//! A sealed value is `v1.<key id>.<nonce>.<ciphertext>` (base64url); the key ID is the first
//! eight hex digits of SHA-256 of the key, so a server holding the wrong key says so instead of
//! failing obscurely. The value's purpose is bound as associated data.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::secrets::{fill_random, hex};

/// Where the server key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// The value of `GATEHOUSE_SECRET_KEY`.
    Value(String),
    /// A key file, created (0600) with a random key if absent.
    File(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Value(_) => f.write_str("KeySource::Value(<redacted>)"),
            KeySource::File(path) => f.debug_tuple("KeySource::File").field(path).finish(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("GATEHOUSE_SECRET_KEY must be 32 bytes written as 64 hex digits or 43 base64url characters")]
    BadKey,
    #[error("cannot read or create the server key file {path}: {cause}")]
    KeyFile { path: String, cause: String },
    #[error(
        "this secret was sealed with another server key (key ID {stored}, this server has {current}); \
         give every server and CLI the same GATEHOUSE_SECRET_KEY"
    )]
    WrongKey { stored: String, current: String },
    #[error("the sealed secret is corrupt or was tampered with")]
    Corrupt,
}

struct LoadedKey {
    key: LessSafeKey,
    id: String,
}

/// Seals and opens secrets. The key is loaded on first use and kept for the process.
#[derive(Clone)]
pub struct SecretBox {
    source: KeySource,
    loaded: Arc<Mutex<Option<Arc<LoadedKey>>>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox").field("source", &self.source).finish_non_exhaustive()
    }
}

impl SecretBox {
    pub fn new(source: KeySource) -> SecretBox {
        SecretBox { source, loaded: Arc::new(Mutex::new(None)) }
    }

    fn key(&self) -> Result<Arc<LoadedKey>, SealError> {
        let mut slot = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let bytes = match &self.source {
            KeySource::Value(value) => parse_key(value)?,
            KeySource::File(path) => key_from_file(path)?,
        };
        let id = hex(&digest::digest(&digest::SHA256, &bytes).as_ref()[..4]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError::BadKey)?);
        let loaded = Arc::new(LoadedKey { key, id });
        *slot = Some(loaded.clone());
        Ok(loaded)
    }

    /// Encrypts `plaintext` for storage; `purpose` (e.g. `provider:<id>`) must be given again to open it.
    pub fn seal(&self, purpose: &str, plaintext: &str) -> Result<String, SealError> {
        let key = self.key()?;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut data = plaintext.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut data)
            .map_err(|_| SealError::Corrupt)?;
        Ok(format!("v1.{}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(nonce), URL_SAFE_NO_PAD.encode(data)))
    }

    /// Decrypts a value made by `seal` with the same `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, SealError> {
        let key = self.key()?;
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(key_id), Some(nonce), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Corrupt);
        };
        if key_id != key.id {
            return Err(SealError::WrongKey { stored: key_id.to_owned(), current: key.id.clone() });
        }
        let nonce: [u8; NONCE_LEN] =
            URL_SAFE_NO_PAD.decode(nonce).ok().and_then(|n| n.try_into().ok()).ok_or(SealError::Corrupt)?;
        let mut data = URL_SAFE_NO_PAD.decode(data).map_err(|_| SealError::Corrupt)?;
        let plain = key
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut data)
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Corrupt)
    }
}

/// Parses a 32-byte key written as hex or base64url (padding and whitespace tolerated).
fn parse_key(value: &str) -> Result<Vec<u8>, SealError> {
    let value = value.trim();
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..32)
            .map(|i| u8::from_str_radix(&value[2 * i..2 * i + 2], 16).map_err(|_| SealError::BadKey))
            .collect();
    }
    let bytes = URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).map_err(|_| SealError::BadKey)?;
    if bytes.len() != 32 {
        return Err(SealError::BadKey);
    }
    Ok(bytes)
}

fn key_from_file(path: &std::path::Path) -> Result<Vec<u8>, SealError> {
    let fail = |e: std::io::Error| SealError::KeyFile { path: path.display().to_string(), cause: e.to_string() };
    match std::fs::read_to_string(path) {
        Ok(text) => return parse_key(&text),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let text = format!("{}\n", hex(&bytes));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write as _;
            file.write_all(text.as_bytes()).map_err(fail)?;
            file.sync_all().map_err(fail)?;
            Ok(bytes.to_vec())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            parse_key(&std::fs::read_to_string(path).map_err(fail)?)
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_tampering() {
        let sealer = SecretBox::new(KeySource::Value("00".repeat(32)));
        let sealed = sealer.seal("provider:p1", "s3cret").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("s3cret"));
        assert_eq!(sealer.open("provider:p1", &sealed).unwrap(), "s3cret");
        assert!(matches!(sealer.open("provider:p2", &sealed), Err(SealError::Corrupt)), "purpose is bound");
        let other = SecretBox::new(KeySource::Value(URL_SAFE_NO_PAD.encode([7u8; 32])));
        assert!(matches!(other.open("provider:p1", &sealed), Err(SealError::WrongKey { .. })));
        assert!(matches!(SecretBox::new(KeySource::Value("short".into())).seal("p", "x"), Err(SealError::BadKey)));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let sealed = SecretBox::new(KeySource::File(path.clone())).seal("p", "x").unwrap();
        assert_eq!(SecretBox::new(KeySource::File(path.clone())).open("p", &sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
