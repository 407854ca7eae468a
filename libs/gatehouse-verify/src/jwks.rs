//! JWK sets: the strict whole-set parse Convex's customJwt path (biscuit) applies, the lenient
//! per-key parse of the OIDC path, and public keys parsed once into aws-lc-rs verifiers.

use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Algorithms biscuit knows as JWS signature algorithms (a JOSE header `alg` must be one of these).
pub(crate) const BISCUIT_SIGNATURE_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "none",
];

/// Every `alg` value biscuit's JWK `Algorithm` enum accepts (signature, key management, content encryption).
const BISCUIT_JWK_ALGS: &[&str] = &[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "none",
    "RSA1_5",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "A128KW",
    "A192KW",
    "A256KW",
    "dir",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
    "A128GCMKW",
    "A192GCMKW",
    "A256GCMKW",
    "PBES2-HS256+A128KW",
    "PBES2-HS384+A192KW",
    "PBES2-HS512+A256KW",
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
    "A128GCM",
    "A192GCM",
    "A256GCM",
];

/// openidconnect's JWK `alg` vocabulary: the JWS algorithms, EdDSA included.
const OIDC_JWK_ALGS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
    "EdDSA", "none",
];

/// The shape of a usable public key.
#[derive(Debug)]
pub(crate) enum KeyMaterial {
    /// RSA with modulus size in bits; `verifier` is None when aws-lc-rs refuses the key (e.g. < 2048 bits).
    Rsa { bits: usize, verifier: Option<ParsedPublicKey> },
    /// EC; `verifier` is set for P-256 only.
    Ec { crv: String, verifier: Option<ParsedPublicKey> },
    /// OKP; `verifier` is set for Ed25519 only.
    Okp { crv: String, verifier: Option<ParsedPublicKey> },
    /// A symmetric key: never usable for verification here.
    Oct,
}

impl KeyMaterial {
    pub(crate) fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec { .. } => "EC",
            KeyMaterial::Okp { .. } => "OKP",
            KeyMaterial::Oct => "oct",
        }
    }
}

/// One key of a set.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<String>,
    pub(crate) key_use: Option<String>,
    pub(crate) material: KeyMaterial,
}

/// A parsed JWK set. Built once per fetched body and shared.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    pub(crate) keys: Vec<Key>,
    /// Keys the lenient (OIDC) parse skipped, for diagnoses.
    pub(crate) skipped: usize,
}

impl KeySet {
    pub(crate) fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }
}

fn b64(v: Option<&Value>) -> Result<Vec<u8>, String> {
    match v {
        Some(Value::String(s)) => URL_SAFE_NO_PAD.decode(s).map_err(|e| format!("bad base64url: {e}")),
        Some(_) => Err("expected a base64url string".into()),
        None => Err("missing member".into()),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().position(|&x| x != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_uint(out: &mut Vec<u8>, v: &[u8]) {
    let v = strip_zeros(v);
    let pad = v.first().is_none_or(|&b| b & 0x80 != 0);
    out.push(0x02);
    der_len(out, v.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (PKCS#1).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_uint(&mut body, n);
    der_uint(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0x30);
    der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn parse_key(v: &Value, known_algs: &[&str]) -> Result<Key, String> {
    let Value::Object(obj) = v else { return Err("a key is not a JSON object".into()) };
    let kid = opt_str(obj, "kid")?.map(str::to_owned);
    let alg = opt_str(obj, "alg")?.map(str::to_owned);
    if let Some(a) = &alg
        && !known_algs.contains(&a.as_str())
    {
        return Err(format!("unknown `alg` \"{a}\""));
    }
    let key_use = opt_str(obj, "use")?.map(str::to_owned);
    for name in ["x5u", "x5t"] {
        opt_str(obj, name)?;
    }
    for name in ["key_ops", "x5c"] {
        match obj.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => return Err(format!("`{name}` must be an array of strings")),
        }
    }
    let material = match opt_str(obj, "kty")? {
        Some("RSA") => {
            let n = b64(obj.get("n")).map_err(|e| format!("`n`: {e}"))?;
            let e = b64(obj.get("e")).map_err(|e| format!("`e`: {e}"))?;
            let significant = strip_zeros(&n);
            let bits =
                significant.first().map_or(0, |b| (significant.len() - 1) * 8 + (8 - b.leading_zeros() as usize));
            let verifier = if (2048..=8192).contains(&bits) {
                ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(&n, &e)).ok()
            } else {
                None
            };
            KeyMaterial::Rsa { bits, verifier }
        }
        Some("EC") => {
            let crv = opt_str(obj, "crv")?.ok_or("`crv` missing")?.to_owned();
            if !["P-256", "P-384", "P-521"].contains(&crv.as_str()) {
                return Err(format!("unknown `crv` \"{crv}\""));
            }
            let x = b64(obj.get("x")).map_err(|e| format!("`x`: {e}"))?;
            let y = b64(obj.get("y")).map_err(|e| format!("`y`: {e}"))?;
            let verifier = if crv == "P-256" && x.len() == 32 && y.len() == 32 {
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).ok()
            } else {
                None
            };
            KeyMaterial::Ec { crv, verifier }
        }
        Some("OKP") => {
            let crv = opt_str(obj, "crv")?.ok_or("`crv` missing")?.to_owned();
            let x = b64(obj.get("x")).map_err(|e| format!("`x`: {e}"))?;
            let verifier = if crv == "Ed25519" { ParsedPublicKey::new(&signature::ED25519, x).ok() } else { None };
            KeyMaterial::Okp { crv, verifier }
        }
        Some("oct") => {
            b64(obj.get("k")).map_err(|e| format!("`k`: {e}"))?;
            KeyMaterial::Oct
        }
        Some(other) => return Err(format!("unknown `kty` \"{other}\"")),
        None => return Err("`kty` missing".into()),
    };
    Ok(Key { kid, alg, key_use, material })
}

/// The customJwt (biscuit) parse: every key must parse, or the whole set is rejected.
pub(crate) fn parse_strict(body: &[u8]) -> Result<Arc<KeySet>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = match v.as_object().and_then(|o| o.get("keys")) {
        Some(Value::Array(keys)) => keys,
        Some(_) => return Err("`keys` is not an array".into()),
        None => return Err("no `keys` member (is this a JWK set?)".into()),
    };
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        out.push(parse_key(k, BISCUIT_JWK_ALGS).map_err(|e| format!("key {i}: {e}"))?);
    }
    Ok(Arc::new(KeySet { keys: out, skipped: 0 }))
}

/// The OIDC (openidconnect) parse: keys that do not parse are skipped.
pub(crate) fn parse_lenient(body: &[u8]) -> Result<Arc<KeySet>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = match v.as_object().and_then(|o| o.get("keys")) {
        Some(Value::Array(keys)) => keys,
        _ => return Err("no `keys` array".into()),
    };
    let mut set = KeySet::default();
    for k in keys {
        match parse_key(k, OIDC_JWK_ALGS) {
            Ok(key) => set.keys.push(key),
            Err(_) => set.skipped += 1,
        }
    }
    Ok(Arc::new(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integer_padding() {
        let mut out = vec![];
        der_uint(&mut out, &[0x00, 0x80]);
        assert_eq!(out, vec![0x02, 0x02, 0x00, 0x80]);
        let mut out = vec![];
        der_uint(&mut out, &[0x01, 0x00, 0x01]);
        assert_eq!(out, vec![0x02, 0x03, 0x01, 0x00, 0x01]);
    }

    #[test]
    fn long_der_length() {
        let mut out = vec![];
        der_len(&mut out, 300);
        assert_eq!(out, vec![0x82, 0x01, 0x2c]);
    }
}
