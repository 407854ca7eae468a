//! Encryption at rest for secrets that must stay usable (TOTP secrets): AES-256-GCM with a
//! random 96-bit nonce per value and the owning record's ID as associated data, so a sealed
//! value copied into another row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::secrets::fill_random;

const VERSION: &str = "v1.";

/// An AES-256-GCM key derived from a server secret.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (wrong key, wrong record or corrupt)")]
pub struct OpenError;

impl SealingKey {
    /// Derives the key from a server secret (HMAC-SHA256 with a fixed label, so the same
    /// secret could serve other purposes without sharing key material).
    pub fn derive(server_secret: &str, purpose: &str) -> SealingKey {
        let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, server_secret.as_bytes()), purpose.as_bytes());
        // 32 bytes is exactly an AES-256 key, so this cannot fail.
        let key = UnboundKey::new(&AES_256_GCM, mac.as_ref()).unwrap_or_else(|_| std::process::abort());
        SealingKey(LessSafeKey::new(key))
    }

    /// Encrypts `plain`, bound to `context` (the record ID).
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut buf = plain.to_vec();
        // Sealing with a fresh key and nonce only fails on absurd input sizes.
        if self.0.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut buf).is_err() {
            std::process::abort();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, OpenError> {
        let raw = sealed.strip_prefix(VERSION).ok_or(OpenError)?;
        let mut bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let mut body = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| OpenError)?;
        let plain = self.0.open_in_place(nonce, Aad::from(context), &mut body).map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_context() {
        let key = SealingKey::derive("server secret", "mfa");
        let sealed = key.seal(b"totp secret", "auth_factor_1");
        assert!(sealed.starts_with("v1."));
        assert_ne!(sealed, key.seal(b"totp secret", "auth_factor_1"), "fresh nonce each time");
        assert_eq!(key.open(&sealed, "auth_factor_1").unwrap(), b"totp secret");
        assert!(key.open(&sealed, "auth_factor_2").is_err());
        assert!(SealingKey::derive("other", "mfa").open(&sealed, "auth_factor_1").is_err());
        assert!(key.open("v1.AAAA", "auth_factor_1").is_err());
        assert!(key.open("garbage", "auth_factor_1").is_err());
    }
}
