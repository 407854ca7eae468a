//! RS256 signing keys: generation, storage encoding, JWS compact signing and the public JWK.
//!
//! Keys are parsed once into `aws_lc_rs` key pairs and reused; signing a token is one RSA
//! operation plus two base64 encodings. (JWT crates that keep the key as DER re-parse it on
//! every signature, which costs more than the signature itself.)

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

/// A parsed RSA-2048 signing key with its key ID.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    header_b64: String,
    /// The public modulus and exponent, base64url.
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the stored signing key could not be decoded")]
    Decode,
    #[error("the RSA operation failed")]
    Crypto,
    #[error("the claims could not be encoded as JSON")]
    Json,
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key; returns the key and its PKCS#8 encoding (base64) for storage.
    pub fn generate(kid: String) -> Result<(SigningKey, String), KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
        let der = pair.as_der().map_err(|_| KeyError::Crypto)?;
        let stored = STANDARD.encode(der.as_ref());
        Ok((SigningKey::from_pair(kid, pair), stored))
    }

    /// Parses a key stored by `generate`.
    pub fn from_stored(kid: String, stored: &str) -> Result<SigningKey, KeyError> {
        let der = STANDARD.decode(stored).map_err(|_| KeyError::Decode)?;
        let pair = KeyPair::from_pkcs8(&der).map_err(|_| KeyError::Decode)?;
        Ok(SigningKey::from_pair(kid, pair))
    }

    fn from_pair(kid: String, pair: KeyPair) -> SigningKey {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let n = URL_SAFE_NO_PAD.encode(&components.n);
        let e = URL_SAFE_NO_PAD.encode(&components.e);
        SigningKey { kid, pair, header_b64, n, e }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public modulus and exponent, base64url without padding.
    pub fn public_numbers(&self) -> (&str, &str) {
        (&self.n, &self.e)
    }

    /// The public key as a bare JWK (`kty`, `alg`, `use`, `kid`, `n`, `e`).
    pub fn public_jwk(&self) -> serde_json::Value {
        json!({ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e })
    }

    /// Signs `claims` as a compact JWS with header `{"alg":"RS256","typ":"JWT","kid":…}`.
    /// RSASSA-PKCS1-v1_5 is deterministic: the same claims give the same token.
    pub fn sign(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Json)?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), token.as_bytes(), &mut signature)
            .map_err(|_| KeyError::Crypto)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    #[test]
    fn signs_verifiable_deterministic_tokens() {
        let (key, stored) = SigningKey::generate("key_1".into()).unwrap();
        let again = SigningKey::from_stored("key_1".into(), &stored).unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), json!("user_1"));
        let token = key.sign(&claims).unwrap();
        assert_eq!(token, again.sign(&claims).unwrap(), "PKCS#1 v1.5 signing is deterministic");

        let parts: Vec<&str> = token.split('.').collect();
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "key_1"}));
        let der = key.pair.public_key().as_der().unwrap();
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_ref().to_vec());
        // aws-lc accepts SubjectPublicKeyInfo DER for RSA verification.
        let message = format!("{}.{}", parts[0], parts[1]);
        public.verify(message.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        assert_eq!(key.public_jwk()["e"], "AQAB");
    }
}
