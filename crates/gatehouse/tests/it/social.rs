//! Social login against fake upstream providers served by the test on 127.0.0.1:0: an OpenID
//! Connect provider that mints ID tokens with aws-lc-rs RSA keys (and, on request, bad ones),
//! and a GitHub-style OAuth 2.0 provider. Covers `provider=` with scopes, hints and PKCE,
//! linking rules, the identities API, the provider API, and every failure path that must end
//! in a page or an OAuth error redirect, never a 500.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse::crypto::secrets::pkce_s256;
use gatehouse::crypto::signing::SigningKey;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "test-secret";
const GOOD_CODE: &str = "good-code";

/// How the fake provider misbehaves in its next token response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    WrongKey,
    Expired,
    WrongNonce,
    TokenServerError,
}

struct Upstream {
    issuer: String,
    key: SigningKey,
    wrong_key: SigningKey,
    mode: Mode,
    sub: String,
    email: String,
    email_verified: bool,
    /// The nonce and PKCE challenge of the last authorize redirect (set by the test).
    nonce: String,
    challenge: String,
    /// GitHub: `(email, primary, verified)`.
    github_emails: Vec<(String, bool, bool)>,
    /// Seconds since the epoch of Gatehouse's fake clock.
    now_secs: i64,
}

type Shared = Arc<Mutex<Upstream>>;

struct Fake {
    url: String,
    state: Shared,
}

impl Fake {
    fn set(&self, f: impl FnOnce(&mut Upstream)) {
        f(&mut self.state.lock().unwrap());
    }
}

async fn spawn_fake(app: &TestApp) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(Upstream {
        issuer: url.clone(),
        key: SigningKey::generate("k1".into()).unwrap().0,
        wrong_key: SigningKey::generate("k1".into()).unwrap().0,
        mode: Mode::Normal,
        sub: "upstream-sub-1".into(),
        email: "ada@example.com".into(),
        email_verified: true,
        nonce: String::new(),
        challenge: String::new(),
        github_emails: vec![],
        now_secs: app.core.now() / 1000,
    }));
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .route("/gh/token", post(github_token))
        .route("/user", get(github_user))
        .route("/user/emails", get(github_emails))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Fake { url, state }
}

async fn discovery(State(s): State<Shared>) -> axum::Json<Value> {
    let issuer = s.lock().unwrap().issuer.clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(s): State<Shared>) -> axum::Json<Value> {
    axum::Json(json!({ "keys": [s.lock().unwrap().key.public_jwk().clone()] }))
}

fn form(body: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

/// Checks the code, the PKCE verifier and the client's Basic credentials like a real provider.
fn check_exchange(
    s: &Upstream,
    headers: &HeaderMap,
    f: &std::collections::HashMap<String, String>,
) -> Option<Response> {
    use base64::Engine as _;
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    let auth_ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(basic.as_str())
        || (f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET));
    if !auth_ok {
        return Some((StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response());
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if f.get("code").map(String::as_str) != Some(GOOD_CODE) || pkce_s256(&verifier) != s.challenge {
        return Some((StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response());
    }
    None
}

async fn token(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let s = s.lock().unwrap();
    if s.mode == Mode::TokenServerError {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response();
    }
    if let Some(refusal) = check_exchange(&s, &headers, &form(&body)) {
        return refusal;
    }
    let (exp, key) = match s.mode {
        Mode::Expired => (s.now_secs - 600, &s.key),
        Mode::WrongKey => (s.now_secs + 300, &s.wrong_key),
        _ => (s.now_secs + 300, &s.key),
    };
    let nonce = if s.mode == Mode::WrongNonce { "another-nonce".to_owned() } else { s.nonce.clone() };
    let claims = json!({
        "iss": s.issuer, "aud": CLIENT_ID, "sub": s.sub, "iat": s.now_secs, "exp": exp, "nonce": nonce,
        "email": s.email, "email_verified": s.email_verified, "given_name": "Ada", "family_name": "Lovelace",
    });
    let id_token = key.sign(claims.as_object().unwrap()).unwrap();
    axum::Json(json!({"access_token": "upstream-at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

async fn userinfo(State(s): State<Shared>) -> axum::Json<Value> {
    let s = s.lock().unwrap();
    axum::Json(json!({"sub": s.sub, "email": s.email, "email_verified": s.email_verified}))
}

async fn github_token(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let s = s.lock().unwrap();
    if let Some(_refusal) = check_exchange(&s, &headers, &form(&body)) {
        // GitHub answers errors with HTTP 200.
        return axum::Json(json!({"error": "bad_verification_code", "error_description": "The code is wrong."}))
            .into_response();
    }
    axum::Json(json!({"access_token": "gh-at", "token_type": "bearer", "scope": "read:user,user:email"}))
        .into_response()
}

async fn github_user(headers: HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gh-at") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"id": 4242, "login": "octo", "name": "Octo Cat", "email": null, "avatar_url": "https://avatars.example/4242"}))
        .into_response()
}

async fn github_emails(State(s): State<Shared>) -> axum::Json<Value> {
    let s = s.lock().unwrap();
    let list: Vec<Value> = s
        .github_emails
        .iter()
        .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified, "visibility": null}))
        .collect();
    axum::Json(Value::Array(list))
}

// --- Gatehouse side -------------------------------------------------------------------------

async fn add_oidc(app: &TestApp, fake: &Fake, name: &str) {
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/providers",
            Some(json!({"name": name, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "issuer": fake.url})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn add_github(app: &TestApp, fake: &Fake) {
    let u = &fake.url;
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/providers",
            Some(json!({
                "name": "GitHubOAuth", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "authorize_url": format!("{u}/login/oauth/authorize"), "token_url": format!("{u}/gh/token"),
                "userinfo_url": format!("{u}/user"), "emails_url": format!("{u}/user/emails"),
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn authorize(app: &TestApp, provider: &str, extra: &str) -> String {
    let redirect: String = url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect();
    app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri={redirect}&response_type=code&provider={provider}\
         &state=app-state&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        app.client_id
    ))
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Follows `/authorize?provider=…` to the upstream; records the nonce and challenge there.
/// Returns the upstream authorize URL's query.
async fn start(app: &TestApp, fake: &Fake, provider: &str, extra: &str) -> std::collections::HashMap<String, String> {
    let res = app.http.get(authorize(app, provider, extra)).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&fake.url), "{location}");
    let q = query(&location);
    fake.set(|s| {
        s.nonce = q.get("nonce").cloned().unwrap_or_default();
        s.challenge = q["code_challenge"].clone();
    });
    q
}

async fn callback(app: &TestApp, provider: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    app.http.get(app.at(&format!("/authkit/callback/{provider}?{q}"))).send().await.unwrap()
}

async fn page(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    res.text().await.unwrap()
}

/// The app's side: the redirect back with `code` and `state`, exchanged with the PKCE verifier.
async fn exchange(app: &TestApp, res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let q = query(&location);
    assert_eq!(q["state"], "app-state");
    let (status, body) = app
        .authenticate(json!({"grant_type": "authorization_code", "client_id": app.client_id, "code": q["code"], "code_verifier": VERIFIER}))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn sign_in(app: &TestApp, fake: &Fake, provider: &str) -> reqwest::Response {
    let q = start(app, fake, provider, "").await;
    callback(app, provider, &[("code", GOOD_CODE), ("state", &q["state"])]).await
}

async fn identities(app: &TestApp, user_id: &str) -> Value {
    let (status, body) = app.api(Method::GET, &format!("/user_management/users/{user_id}/identities"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The `/metrics` counter of provider callbacks of this kind (`google`, `oidc`…) and outcome.
fn oauth_sign_ins(app: &TestApp, kind: &str, outcome: &str) -> u64 {
    let counts = app.core.counters().sign_ins();
    counts.iter().find(|c| c.method == "oauth" && c.provider == Some(kind) && c.outcome == outcome).unwrap().value
}

#[tokio::test]
async fn provider_param_goes_upstream_and_creates_a_verified_user() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    let extra = "&provider_scopes=calendar&provider_scopes=drive,contacts&login_hint=ada%40example.com\
                 &provider_query_params%5Bhd%5D=example.com&provider_query_params%5Bstate%5D=evil";
    let q = start(&app, &fake, "GoogleOAuth", extra).await;
    assert_eq!(q["scope"], "openid email profile calendar drive contacts");
    assert_eq!(q["login_hint"], "ada@example.com");
    assert_eq!(q["hd"], "example.com");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_ne!(q["code_challenge"], CHALLENGE, "Gatehouse runs its own PKCE with the provider");
    assert_ne!(q["state"], "evil", "provider_query_params cannot override state");
    assert!(q["nonce"].len() >= 32);
    assert_eq!(q["redirect_uri"], app.at("/authkit/callback/GoogleOAuth"));

    let res = callback(&app, "GoogleOAuth", &[("code", GOOD_CODE), ("state", &q["state"])]).await;
    let body = exchange(&app, res).await;
    assert_eq!(body["authentication_method"], "GoogleOAuth");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["first_name"], "Ada");
    let user_id = body["user"]["id"].as_str().unwrap();
    assert_eq!(
        identities(&app, user_id).await,
        json!([{"idp_id": "upstream-sub-1", "type": "OAuth", "provider": "GoogleOAuth"}])
    );

    // The same account again signs in the same user; the callback cannot be replayed.
    let again = exchange(&app, sign_in(&app, &fake, "GoogleOAuth").await).await;
    assert_eq!(again["user"]["id"], user_id);
    let replay = callback(&app, "GoogleOAuth", &[("code", GOOD_CODE), ("state", &q["state"])]).await;
    assert!(page(replay, 400).await.contains("expired or was already used"));
    assert_eq!((oauth_sign_ins(&app, "google", "succeeded"), oauth_sign_ins(&app, "google", "failed")), (2, 1));
}

#[tokio::test]
async fn verified_email_links_and_a_second_provider_links_to_the_same_user() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    add_oidc(&app, &fake, "acme").await;
    let (_, existing) = app
        .api(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "ada@example.com", "password": PASSWORD, "email_verified": true})),
        )
        .await;
    let body = exchange(&app, sign_in(&app, &fake, "GoogleOAuth").await).await;
    assert_eq!(body["user"]["id"], existing["id"]);
    fake.set(|s| s.sub = "acme-sub".into());
    let body = exchange(&app, sign_in(&app, &fake, "acme").await).await;
    assert_eq!(body["user"]["id"], existing["id"]);
    assert_eq!(body["authentication_method"], "acme");
    let list = identities(&app, existing["id"].as_str().unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[1], json!({"idp_id": "acme-sub", "type": "OAuth", "provider": "acme"}));
    assert_eq!(oauth_sign_ins(&app, "oidc", "succeeded"), 1, "a custom provider counts as oidc");
    // The password still works: the account was verified, nothing was taken over.
    assert_eq!(app.password_login("ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn unverified_email_never_links_or_creates() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    let user = app.create_user("ada@example.com").await;
    fake.set(|s| s.email_verified = false);
    let html = page(sign_in(&app, &fake, "GoogleOAuth").await, 403).await;
    assert!(html.contains("needs to be verified") && html.contains("did not link"), "{html}");
    assert_eq!(identities(&app, user["id"].as_str().unwrap()).await, json!([]));
    fake.set(|s| s.email = "new@example.com".into());
    page(sign_in(&app, &fake, "GoogleOAuth").await, 403).await;
    let (_, list) = app.api(Method::GET, "/user_management/users?email=new%40example.com", None).await;
    assert_eq!(list["data"], json!([]), "no user created from an unverified email");
}

#[tokio::test]
async fn linking_an_unverified_account_verifies_it_and_drops_its_password() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    // Someone pre-registered the address with a password but never verified it.
    let squatter = app.create_user("ada@example.com").await;
    assert_eq!(squatter["email_verified"], false);
    let body = exchange(&app, sign_in(&app, &fake, "GoogleOAuth").await).await;
    assert_eq!(body["user"]["id"], squatter["id"]);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(app.password_login("ada@example.com", PASSWORD).await.0, 400, "the unverified password is gone");
}

#[tokio::test]
async fn bad_id_tokens_and_upstream_failures_show_pages() {
    let app = TestApp::spawn_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    for (mode, status, text) in [
        (Mode::WrongNonce, 400, "nonce"),
        (Mode::WrongKey, 400, "ID token is not valid"),
        (Mode::Expired, 400, "xpired"),
        (Mode::TokenServerError, 502, "is not responding"),
    ] {
        fake.set(|s| s.mode = mode);
        let html = page(sign_in(&app, &fake, "GoogleOAuth").await, status).await;
        assert!(html.contains(text), "{mode:?}: {html}");
        assert!(html.contains("sign-in?request="), "{mode:?}: a way back");
    }
    let (_, list) = app.api(Method::GET, "/user_management/users", None).await;
    assert_eq!(list["data"], json!([]), "no failure created a user");
    assert_eq!((oauth_sign_ins(&app, "google", "succeeded"), oauth_sign_ins(&app, "google", "failed")), (0, 4));
    // The three refusals are tagged for the request log, which writes them at info with the
    // client address and counts them by reason (the upstream outage is not a refusal).
    let metrics = reqwest::get(app.metrics_url.clone().unwrap()).await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l == "gatehouse_sign_ins_refused_total{reason=\"social_sign_in_refused\"} 3"),
        "{metrics}"
    );

    // The provider goes away entirely: a page, not a 500.
    fake.set(|s| s.mode = Mode::Normal);
    let (status, _) = app
        .api(Method::PUT, "/user_management/providers/GoogleOAuth", Some(json!({"issuer": "http://127.0.0.1:9"})))
        .await;
    assert_eq!(status, 200);
    let res = app.http.get(authorize(&app, "GoogleOAuth", "")).send().await.unwrap();
    assert!(page(res, 502).await.contains("is not responding"));
}

#[tokio::test]
async fn state_browser_and_consent_are_checked() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;

    // A tampered state matches no sign-in.
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let tampered = format!("{}x", q["state"]);
    let res = callback(&app, "GoogleOAuth", &[("code", GOOD_CODE), ("state", &tampered)]).await;
    assert!(page(res, 400).await.contains("expired or was already used"));
    let res = callback(&app, "GoogleOAuth", &[("code", GOOD_CODE)]).await;
    page(res, 400).await;

    // Another browser (no binding cookie) cannot finish it.
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let stranger = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = stranger
        .get(app.at(&format!("/authkit/callback/GoogleOAuth?code={GOOD_CODE}&state={}", q["state"])))
        .send()
        .await
        .unwrap();
    assert!(page(res, 400).await.contains("another browser"));

    // The person declines: back to the app with access_denied and the app's state.
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let res = callback(&app, "GoogleOAuth", &[("error", "access_denied"), ("state", &q["state"])]).await;
    assert_eq!(res.status(), 302);
    let back = query(res.headers()["location"].to_str().unwrap());
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "app-state");
    assert!(!back["error_description"].is_empty());

    // A callback on another provider's URL is refused.
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let res = callback(&app, "acme", &[("code", GOOD_CODE), ("state", &q["state"])]).await;
    page(res, 400).await;

    // Apple-style form_post is turned into a GET that carries the cookie.
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let res = app
        .http
        .post(app.at("/authkit/callback/GoogleOAuth"))
        .form(&[("code", GOOD_CODE), ("state", q["state"].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let next = app.at(res.headers()["location"].to_str().unwrap());
    let res = app.http.get(next).send().await.unwrap();
    exchange(&app, res).await;

    // Unknown or disabled providers and bad scopes bounce to the app as invalid_request.
    let (status, _) =
        app.api(Method::PUT, "/user_management/providers/GoogleOAuth", Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200);
    for (provider, extra) in [("GoogleOAuth", ""), ("GitHubOAuth", ""), ("acme", "&provider_scopes=a%22b")] {
        let res = app.http.get(authorize(&app, provider, extra)).send().await.unwrap();
        assert_eq!(res.status(), 302, "{provider}");
        let back = query(res.headers()["location"].to_str().unwrap());
        assert_eq!((back["error"].as_str(), back["state"].as_str()), ("invalid_request", "app-state"), "{provider}");
    }
}

#[tokio::test]
async fn github_uses_the_primary_verified_email() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_github(&app, &fake).await;
    fake.set(|s| {
        s.github_emails = vec![
            ("other@example.com".into(), false, true),
            ("octo@example.com".into(), true, true),
            ("old@example.com".into(), false, false),
        ]
    });
    let q = start(&app, &fake, "GitHubOAuth", "&login_hint=octo").await;
    assert_eq!(q["login"], "octo");
    assert_eq!(q["scope"], "read:user user:email");
    assert!(!q.contains_key("nonce"), "plain OAuth 2.0 has no nonce");
    let res = callback(&app, "GitHubOAuth", &[("code", GOOD_CODE), ("state", &q["state"])]).await;
    let body = exchange(&app, res).await;
    assert_eq!(body["authentication_method"], "GitHubOAuth");
    assert_eq!(body["user"]["email"], "octo@example.com");
    assert_eq!(body["user"]["first_name"], "Octo");
    assert_eq!(body["user"]["last_name"], "Cat");
    assert_eq!(body["user"]["profile_picture_url"], "https://avatars.example/4242");
    let list = identities(&app, body["user"]["id"].as_str().unwrap()).await;
    // WorkOS spells GitHub `GithubOAuth` in identities only.
    assert_eq!(list, json!([{"idp_id": "4242", "type": "OAuth", "provider": "GithubOAuth"}]));

    // A primary address GitHub has not verified does not sign in a new account.
    fake.set(|s| s.github_emails = vec![("fresh@example.com".into(), true, false)]);
    let res = app.http.get(authorize(&app, "GitHubOAuth", "")).send().await.unwrap();
    let q = query(res.headers()["location"].to_str().unwrap());
    fake.set(|s| s.challenge = q["code_challenge"].clone());
    // The linked account (same GitHub ID) still signs in, whatever its email now says.
    let res = callback(&app, "GitHubOAuth", &[("code", GOOD_CODE), ("state", &q["state"])]).await;
    exchange(&app, res).await;
    // A wrong code: GitHub's 200-with-error is a refusal page.
    let q = start(&app, &fake, "GitHubOAuth", "").await;
    let res = callback(&app, "GitHubOAuth", &[("code", "bad"), ("state", &q["state"])]).await;
    assert!(page(res, 400).await.contains("bad_verification_code"));
}

#[tokio::test]
async fn provider_api_validates_and_never_shows_secrets() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/providers",
            Some(json!({"name": "GitHubOAuth", "client_id": "cid", "client_secret": "very-secret", "display_name": "GitHub"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains("very-secret"));
    assert_eq!(body["callback_url"], app.at("/authkit/callback/GitHubOAuth"));
    assert_eq!(body["scopes"], json!(["read:user", "user:email"]));
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/providers",
            Some(json!({"name": "GitHubOAuth", "client_id": "c", "client_secret": "s"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("provider_already_exists")));
    for bad in [
        json!({"name": "acme", "client_id": "c", "client_secret": "s"}),
        json!({"name": "LinkedInOAuth", "client_id": "c", "client_secret": "s"}),
        json!({"name": "acme", "client_id": "c", "client_secret": "s", "issuer": "ftp://x"}),
        json!({"name": "acme", "client_id": "c", "issuer": "https://idp.example"}),
        json!({"name": "acme", "client_id": "c", "client_secret": "s", "issuer": "https://idp.example", "scopes": ["email"]}),
        json!({"name": "acme", "client_id": "c", "client_secret": "s", "issuer": "https://idp.example", "icon_url": "http://x/i.png"}),
    ] {
        let (status, body) = app.api(Method::POST, "/user_management/providers", Some(bad.clone())).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")), "{bad}: {body}");
    }
    let (status, list) = app.api(Method::GET, "/user_management/providers", None).await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 1));
    assert_eq!(app.api(Method::DELETE, "/user_management/providers/GitHubOAuth", None).await.0, 204);
    assert_eq!(app.api(Method::GET, "/user_management/providers/GitHubOAuth", None).await.0, 404);
    assert_eq!(app.api(Method::GET, "/user_management/users/user_nope/identities", None).await.0, 404);
    let res = app.http.get(app.at("/user_management/providers")).send().await.unwrap();
    assert_eq!(res.status(), 401, "the API key is required");
}

#[tokio::test]
async fn sign_in_page_shows_a_button_per_enabled_provider() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    add_github(&app, &fake).await;
    let (status, _) =
        app.api(Method::PUT, "/user_management/providers/GitHubOAuth", Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200);
    let res = app.http.get(authorize(&app, "authkit", "")).send().await.unwrap();
    let page_url = app.at(res.headers()["location"].to_str().unwrap());
    let html = app.http.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Continue with Google"), "{html}");
    assert!(!html.contains("Continue with GitHub"), "disabled providers have no button");
    let request = query(&page_url)["request"].clone();
    let href = format!("/authkit/social/GoogleOAuth?request={request}");
    assert!(html.contains(&href));
    // The button starts the same flow.
    let res = app.http.get(app.at(&href)).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert!(res.headers()["location"].to_str().unwrap().starts_with(&fake.url));
}

#[tokio::test]
async fn a_provider_refusal_is_an_oauth_failed_event() {
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    let q = start(&app, &fake, "GoogleOAuth", "").await;
    let res = callback(&app, "GoogleOAuth", &[("code", "not-the-code"), ("state", &q["state"])]).await;
    assert!(res.status().is_client_error() || res.status().is_server_error() || res.status().is_success());
    let (status, body) = app.api(Method::GET, "/events?events=authentication.oauth_failed", None).await;
    assert_eq!(status, 200, "{body}");
    let events = body["data"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    let data = &events[0]["data"];
    assert_eq!((data["type"].as_str(), data["status"].as_str()), (Some("oauth"), Some("failed")));
    assert_eq!(data["error"]["code"], "oauth_failed");
    assert!(data["user_id"].is_null());
    assert_eq!(data["ip_address"], "127.0.0.1", "the browser's address: {data}");
}

async fn stored_social_logins(app: &TestApp) -> i64 {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM social_logins").fetch_one(&mut conn).await.unwrap()
}

/// Spends `n` of this test client's (127.0.0.1's) pending-state budget, as `n` saved requests
/// would, without sending them.
async fn spend_pending_state(app: &TestApp, n: i64) {
    let me = gatehouse::domain::client_address::ClientAddress::direct([127, 0, 0, 1].into());
    for _ in 0..n {
        app.core.admit_pending_state(Some(&me)).await.unwrap();
    }
}

/// Each press of a provider button stores a social sign-in's state, so one saved request
/// pressed over and over counts against its address's pending-state limit like `/authorize`.
#[tokio::test]
async fn the_provider_button_counts_against_the_pending_state_limit() {
    use gatehouse::service::throttle::PENDING_STATE_PER_ADDRESS;
    let app = TestApp::spawn().await;
    let fake = spawn_fake(&app).await;
    add_oidc(&app, &fake, "GoogleOAuth").await;
    let res = app.http.get(authorize(&app, "authkit", "")).send().await.unwrap();
    let request = query(&app.at(res.headers()["location"].to_str().unwrap()))["request"].clone();
    let button = app.at(&format!("/authkit/social/GoogleOAuth?request={request}"));
    // The saved request took one; all but five more are spent.
    spend_pending_state(&app, PENDING_STATE_PER_ADDRESS.max - 6).await;
    let (mut started, mut refused) = (0, 0);
    for _ in 0..15 {
        let res = app.http.get(&button).send().await.unwrap();
        match res.status().as_u16() {
            302 => started += 1,
            429 => {
                refused += 1;
                assert!(res.headers().contains_key("retry-after"));
                assert!(res.text().await.unwrap().contains("Too many sign-in requests"));
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!((started, refused), (5, 10));
    assert_eq!(stored_social_logins(&app).await, 5, "refused presses store nothing");
}

/// Passkey sign-in ceremonies are server-side state too: past the limit, 429.
#[tokio::test]
async fn passkey_ceremonies_count_against_the_pending_state_limit() {
    use gatehouse::service::throttle::PENDING_STATE_PER_ADDRESS;
    let app = TestApp::spawn().await;
    let res = app.http.get(authorize(&app, "authkit", "")).send().await.unwrap();
    let page_url = app.at(res.headers()["location"].to_str().unwrap());
    let html = app.http.get(&page_url).send().await.unwrap().text().await.unwrap();
    let (request, csrf) = (query(&page_url)["request"].clone(), crate::hosted::hidden(&html, "csrf_token"));
    let options = || async {
        app.http
            .post(app.at("/authkit/passkey/options"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"request": request}))
            .send()
            .await
            .unwrap()
    };
    // Below the limit the ceremony is refused for another reason (passkeys are off on an IP
    // address), but it is counted.
    assert_eq!(options().await.status(), 400);
    spend_pending_state(&app, PENDING_STATE_PER_ADDRESS.max - 2).await;
    let res = options().await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("Too many"), "{body}");
    assert_eq!(options().await.status(), 429);
}
