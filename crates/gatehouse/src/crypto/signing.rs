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

/// A self-signed X.509 certificate for a stored key (`generate`'s encoding), for the JWKS `x5c`:
/// subject and issuer `CN=<kid>`, valid from `now` for 20 years (verifiers of JWTs ignore the
/// dates; the key's life is the JWKS schedule). Returns the DER in standard base64 (`x5c`) and
/// its SHA-256 in base64url (`x5t#S256`, RFC 7517 §4.9).
pub fn self_signed_certificate(kid: &str, stored: &str, now_ms: i64) -> Result<(String, String), KeyError> {
    let der = STANDARD.decode(stored).map_err(|_| KeyError::Decode)?;
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_slice());
    let key =
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).map_err(|_| KeyError::Decode)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| KeyError::Crypto)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, kid);
    let start = time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000)).map_err(|_| KeyError::Crypto)?;
    params.not_before = start;
    params.not_after = start + time::Duration::days(20 * 365);
    let cert = params.self_signed(&key).map_err(|_| KeyError::Crypto)?;
    let der = cert.der().as_ref();
    let thumbprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    Ok((STANDARD.encode(der), URL_SAFE_NO_PAD.encode(thumbprint.as_ref())))
}

/// The `x5t#S256` of a certificate given as `x5c` (standard base64 DER), if it decodes.
pub fn certificate_thumbprint(certificate: &str) -> Option<String> {
    let der = STANDARD.decode(certificate).ok()?;
    Some(URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref()))
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

    #[test]
    fn certificates_carry_the_key_and_its_thumbprint() {
        let (key, stored) = SigningKey::generate("key_1".into()).unwrap();
        let (cert, thumb) = self_signed_certificate("key_1", &stored, 1_767_225_600_000).unwrap();
        let der = STANDARD.decode(&cert).unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        assert_eq!(thumb, URL_SAFE_NO_PAD.encode(digest.as_ref()));
        assert_eq!(certificate_thumbprint(&cert).as_deref(), Some(thumb.as_str()));
        // The certificate holds the key's modulus (as a DER INTEGER inside its public key).
        let (n, _) = key.public_numbers();
        let modulus = URL_SAFE_NO_PAD.decode(n).unwrap();
        assert!(der.windows(modulus.len()).any(|w| w == modulus.as_slice()));
    }
}
