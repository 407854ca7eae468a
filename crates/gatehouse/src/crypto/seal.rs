//! Sealing: AES-256-GCM encryption for the few stored values that must be readable again
//! (the SMTP password, outgoing email bodies until they are sent, one-time codes the API may
//! show to its key holder). Everything that only needs checking is hashed instead.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::secrets::fill_random;

/// A sealing key. Construct it once; it is cheap to share.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (wrong key or corrupt data)")]
pub struct SealError;

impl Sealer {
    /// A sealer from 32 bytes of key material given as base64 or as any string (hashed to 32 bytes).
    pub fn from_secret(secret: &str) -> Sealer {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let unbound = UnboundKey::new(&AES_256_GCM, digest.as_ref()).unwrap_or_else(|_| unreachable!("32-byte key"));
        Sealer { key: LessSafeKey::new(unbound) }
    }

    /// Encrypts `plain`; `context` binds the ciphertext to its purpose (it must match to open).
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut data = plain.as_bytes().to_vec();
        // Sealing only fails for inputs over 64 GiB.
        let _ = self.key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut data);
        let mut out = nonce.to_vec();
        out.extend(data);
        STANDARD.encode(out)
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<String, SealError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SealError)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut data = data.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context), &mut data).map_err(|_| SealError)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_context_binding() {
        let sealer = Sealer::from_secret("k");
        let sealed = sealer.seal("smtp", "hunter2");
        assert_ne!(sealed, sealer.seal("smtp", "hunter2"), "fresh nonce each time");
        assert_eq!(sealer.open("smtp", &sealed).unwrap(), "hunter2");
        assert!(sealer.open("other", &sealed).is_err());
        assert!(Sealer::from_secret("k2").open("smtp", &sealed).is_err());
        assert!(sealer.open("smtp", "garbage").is_err());
    }
}
