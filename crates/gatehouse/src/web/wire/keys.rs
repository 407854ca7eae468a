//! `GET /sso/jwks/{client_id}` (`JwksResponse`) and the OpenID discovery document.

use serde::Serialize;

use crate::domain::public_key::PublicKey;

#[derive(Serialize)]
pub struct Jwks<'a> {
    keys: Vec<Jwk<'a>>,
}

impl<'a> Jwks<'a> {
    pub fn new(keys: &'a [PublicKey]) -> Jwks<'a> {
        Jwks { keys: keys.iter().map(Jwk::from).collect() }
    }
}

#[derive(Serialize)]
pub struct Jwk<'a> {
    kty: &'static str,
    alg: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    kid: &'a str,
    n: &'a str,
    e: &'a str,
    /// The key's self-signed certificate (RFC 7517 §4.7), which WorkOS's schema requires.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    x5c: Vec<&'a str>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<&'a str>,
}

impl<'a> From<&'a PublicKey> for Jwk<'a> {
    fn from(k: &'a PublicKey) -> Jwk<'a> {
        Jwk {
            kty: "RSA",
            alg: "RS256",
            use_: "sig",
            kid: &k.kid,
            n: &k.n,
            e: &k.e,
            x5c: k.certificate.as_deref().into_iter().collect(),
            x5t_s256: k.certificate_sha256.as_deref(),
        }
    }
}

/// OpenID Provider metadata, enough for generic JWT verifiers to find the keys (Gatehouse's own:
/// WorkOS serves it but does not describe it).
#[derive(Serialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub response_types_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 3],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: [&'static str; 1],
    pub code_challenge_methods_supported: [&'static str; 1],
}

impl Discovery {
    pub fn new(issuer: String, jwks_uri: String, public_url: &str) -> Discovery {
        Discovery {
            issuer,
            jwks_uri,
            authorization_endpoint: format!("{public_url}/user_management/authorize"),
            token_endpoint: format!("{public_url}/user_management/authenticate"),
            response_types_supported: ["code"],
            grant_types_supported: ["authorization_code", "refresh_token", "password"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: ["RS256"],
            code_challenge_methods_supported: ["S256"],
        }
    }
}
