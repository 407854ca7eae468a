//! Test helpers: key generation, token minting, a JWKS/discovery server on 127.0.0.1:0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse_verify::{AuthConfig, UserIdentity, Verifier, VerifierOptions, VerifyError};
use serde_json::{Value, json};

pub const NOW: u64 = 1_800_000_000;

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

pub fn at(offset: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs((NOW as i64 + offset) as u64)
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub enum Signer {
    Rsa(&'static RsaKeyPair),
    Ec(&'static EcdsaKeyPair),
    EcDer(&'static EcdsaKeyPair),
    Ed(&'static Ed25519KeyPair),
    Hmac(Vec<u8>),
    None,
}

pub fn rsa() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
}

pub fn rsa2() -> &'static RsaKeyPair {
    static K: OnceLock<RsaKeyPair> = OnceLock::new();
    K.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
}

pub fn ec() -> &'static EcdsaKeyPair {
    static K: OnceLock<EcdsaKeyPair> = OnceLock::new();
    K.get_or_init(|| EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
}

pub fn ec_der() -> &'static EcdsaKeyPair {
    static K: OnceLock<EcdsaKeyPair> = OnceLock::new();
    K.get_or_init(|| EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
}

pub fn ed() -> &'static Ed25519KeyPair {
    static K: OnceLock<Ed25519KeyPair> = OnceLock::new();
    K.get_or_init(|| Ed25519KeyPair::generate().unwrap())
}

pub fn rsa_jwk_of(kp: &RsaKeyPair, kid: &str, alg: Option<&str>) -> Value {
    let c: PublicKeyComponents<Vec<u8>> = kp.public_key().into();
    let mut j = json!({"kty":"RSA","kid":kid,"n":b64(&c.n),"e":b64(&c.e),"use":"sig"});
    if let Some(a) = alg {
        j["alg"] = json!(a);
    }
    j
}

pub fn rsa_jwk(kid: &str) -> Value {
    rsa_jwk_of(rsa(), kid, Some("RS256"))
}

pub fn ec_jwk_of(kp: &EcdsaKeyPair, kid: &str) -> Value {
    let p = kp.public_key().as_ref();
    json!({"kty":"EC","crv":"P-256","kid":kid,"alg":"ES256","x":b64(&p[1..33]),"y":b64(&p[33..65])})
}

pub fn ed_jwk(kid: &str, alg: Option<&str>) -> Value {
    let mut j = json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64(ed().public_key().as_ref())});
    if let Some(a) = alg {
        j["alg"] = json!(a);
    }
    j
}

pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

pub fn data_url(body: &str) -> String {
    format!("data:text/plain;charset=utf-8;base64,{}", STANDARD.encode(body))
}

pub fn sign_raw(header: &Value, payload_b64: &str, signer: &Signer) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), payload_b64);
    let rng = SystemRandom::new();
    let sig: Vec<u8> = match signer {
        Signer::Rsa(k) => {
            let mut s = vec![0; k.public_modulus_len()];
            k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut s).unwrap();
            s
        }
        Signer::Ec(k) | Signer::EcDer(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        Signer::Hmac(secret) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
            aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::None => vec![],
    };
    format!("{input}.{}", b64(&sig))
}

pub fn mint(header: Value, payload: Value, signer: &Signer) -> String {
    sign_raw(&header, &b64(payload.to_string().as_bytes()), signer)
}

pub const ISS: &str = "https://auth.example.com";

/// A valid RS256 token for [`ISS`] with kid `k1`, plus `extra` claims merged in (null removes).
pub fn rs_token(extra: Value) -> String {
    mint(json!({"alg":"RS256","kid":"k1","typ":"JWT"}), claims(extra), &Signer::Rsa(rsa()))
}

pub fn claims(extra: Value) -> Value {
    let mut c = json!({"iss":ISS,"sub":"user_1","aud":"client_1","iat":NOW,"exp":NOW + 300});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(&k);
            } else {
                c[k] = v;
            }
        }
    }
    c
}

pub fn verifier(config: Value) -> Verifier {
    verifier_with(config, VerifierOptions::default())
}

pub fn verifier_with(config: Value, opts: VerifierOptions) -> Verifier {
    Verifier::new(AuthConfig::from_json_with_env(&config.to_string(), |_| None).unwrap(), opts)
}

/// One customJwt provider on [`ISS`] with applicationID `client_1` and a data: JWKS holding `k1`.
pub fn default_verifier() -> Verifier {
    verifier(custom_provider_config(&jwks(&[rsa_jwk("k1")]), "RS256", Some("client_1")))
}

pub fn custom_provider_config(jwks_body: &str, alg: &str, app: Option<&str>) -> Value {
    let mut p = json!({"type":"customJwt","issuer":ISS,"jwks":data_url(jwks_body),"algorithm":alg});
    if let Some(a) = app {
        p["applicationID"] = json!(a);
    }
    json!({ "providers": [p] })
}

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

pub fn verify(v: &Verifier, token: &str) -> Result<UserIdentity, VerifyError> {
    run(v.verify(token, now()))
}

#[track_caller]
pub fn rejects(v: &Verifier, token: &str, code: &str, message: &str) -> VerifyError {
    let err = verify(v, token).expect_err("token must be rejected");
    assert_eq!(err.code().as_str(), code, "code; diagnosis: {}", err.diagnosis());
    assert_eq!(err.message(), message, "message; diagnosis: {}", err.diagnosis());
    err
}

pub fn kid_msg(kid: &str) -> String {
    format!(
        "Could not decode token. The JWT's 'kid' (key ID) header is '{kid}', does this key match any key in the provider's JWKS?"
    )
}

pub const NO_KID_MSG: &str = "Could not decode token. JWT may be missing a 'kid' (key ID) header.";
pub const PARSE_MSG: &str = "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.";
pub const CLAIM_MSG: &str = "Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider configuration.";

// ---- a tiny configurable HTTP server ----

#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Route {
    pub fn json(body: &str) -> Route {
        Route { status: 200, headers: vec![("content-type".into(), "application/json".into())], body: body.into() }
    }
    pub fn with(mut self, k: &str, v: &str) -> Route {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn without(mut self, k: &str) -> Route {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        self
    }
    pub fn status(mut self, s: u16) -> Route {
        self.status = s;
        self
    }
}

/// (path, If-None-Match) of every request.
pub type Hits = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[derive(Clone, Default)]
pub struct ServerState {
    pub routes: Arc<Mutex<HashMap<String, Route>>>,
    pub hits: Hits,
}

pub struct Server {
    pub base: String,
    pub state: ServerState,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    pub fn start() -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let state = ServerState::default();
        let st = state.clone();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                let st = st.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let inm = req.headers().get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    st.hits.lock().unwrap().push((path.clone(), inm.clone()));
                    let route = st.routes.lock().unwrap().get(&path).cloned();
                    let Some(route) = route else {
                        return axum::http::Response::builder()
                            .status(404)
                            .body(axum::body::Body::from("no such route"))
                            .unwrap();
                    };
                    let etag = route.headers.iter().find(|(k, _)| k == "etag").map(|(_, v)| v.clone());
                    if inm.is_some() && inm == etag {
                        let mut b = axum::http::Response::builder().status(304);
                        for (k, v) in &route.headers {
                            if k != "content-type" {
                                b = b.header(k, v);
                            }
                        }
                        return b.body(axum::body::Body::empty()).unwrap();
                    }
                    let mut b = axum::http::Response::builder().status(route.status);
                    for (k, v) in &route.headers {
                        b = b.header(k, v);
                    }
                    b.body(axum::body::Body::from(route.body)).unwrap()
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
        Server { base: format!("http://{addr}"), state, _rt: rt }
    }

    pub fn set(&self, path: &str, route: Route) {
        self.state.routes.lock().unwrap().insert(path.into(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().iter().filter(|(p, _)| p == path).count()
    }

    pub fn conditional_hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().iter().filter(|(p, inm)| p == path && inm.is_some()).count()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}
