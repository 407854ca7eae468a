//! The hosted sign-in flow over HTTP: authorize validation, the forms, PKCE code exchange,
//! code replay and expiry, CSRF, and sign-out redirects.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn authorize_url(app: &TestApp, extra: &str) -> String {
    let redirect = urlencode(REDIRECT_URI);
    app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri={redirect}&response_type=code&provider=authkit{extra}",
        app.client_id
    ))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Follows `/authorize` to the page it leads to; returns the page's URL and HTML.
pub(crate) async fn open(app: &TestApp, url: &str) -> (String, String) {
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let res = app.http.get(&page).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    (page, res.text().await.unwrap())
}

pub(crate) async fn submit(app: &TestApp, action: &str, html: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form =
        vec![("request".to_owned(), hidden(html, "request")), ("csrf_token".to_owned(), hidden(html, "csrf_token"))];
    form.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    app.http.post(app.at(action)).form(&form).send().await.unwrap()
}

pub(crate) fn code_and_state(location: &str) -> (String, Option<String>) {
    let url = url::Url::parse(location).unwrap();
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    (get("code").expect("code in redirect"), get("state"))
}

pub(crate) async fn sign_in_code(app: &TestApp, email: &str, extra: &str) -> (String, Option<String>) {
    let (_, html) = open(app, &authorize_url(app, extra)).await;
    let res = submit(app, "/authkit/sign-in", &html, &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI));
    code_and_state(&location)
}

async fn exchange(app: &TestApp, code: &str, verifier: Option<&str>, secret: Option<&str>) -> (u16, Value) {
    let mut body = json!({"grant_type": "authorization_code", "client_id": app.client_id, "code": code});
    if let Some(v) = verifier {
        body["code_verifier"] = json!(v);
    }
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
    }
    app.authenticate(body).await
}

#[tokio::test]
async fn sign_in_with_pkce_echoes_state_and_issues_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let state = r#"{"returnTo":"/x y+z"}"#;
    let extra = format!("&state={}&code_challenge={CHALLENGE}&code_challenge_method=S256", urlencode(state));
    let (code, echoed) = sign_in_code(&app, "Ada@Example.com", &extra).await;
    assert_eq!(echoed.as_deref(), Some(state), "state comes back byte for byte");
    let (status, body) = exchange(&app, &code, Some(VERIFIER), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authentication_method"], "Password");
    assert_eq!(body["user"]["email"], "ada@example.com");
    // The same code again: refused, and the session it started is revoked.
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, replay) = exchange(&app, &code, Some(VERIFIER), None).await;
    assert_eq!((status, replay["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(app.refresh(&refresh).await.0, 400, "replay revokes what the code issued");
}

#[tokio::test]
async fn pkce_and_client_authentication_are_enforced() {
    let app = TestApp::spawn().await;
    app.create_user("p@example.com").await;
    let extra = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let (code, _) = sign_in_code(&app, "p@example.com", &extra).await;
    let (status, body) = exchange(&app, &code, Some("wrong-verifier-wrong-verifier-wrong-verifier-123"), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    // Confidential and PKCE together (authkit-nextjs): both are checked.
    let (code, _) = sign_in_code(&app, "p@example.com", &extra).await;
    let (status, body) = exchange(&app, &code, Some(VERIFIER), Some("sk_test_wrong")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
    let (code, _) = sign_in_code(&app, "p@example.com", &extra).await;
    assert_eq!(exchange(&app, &code, Some(VERIFIER), Some(&app.api_key.clone())).await.0, 200);
    let (code, _) = sign_in_code(&app, "p@example.com", &extra).await;
    assert_eq!(exchange(&app, &code, None, None).await.1["error"], "invalid_grant", "a PKCE code needs its verifier");
    // Without PKCE, only a confidential client may exchange the code.
    let (code, state) = sign_in_code(&app, "p@example.com", "").await;
    assert_eq!(state, None, "no state given, none returned");
    assert_eq!(exchange(&app, &code, None, None).await.1["error"], "invalid_client");
    let (code, _) = sign_in_code(&app, "p@example.com", "").await;
    assert_eq!(exchange(&app, &code, None, Some(&app.api_key.clone())).await.0, 200);
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let app = TestApp::spawn().await;
    app.create_user("x@example.com").await;
    let (code, _) = sign_in_code(&app, "x@example.com", "").await;
    app.clock.advance_secs(601);
    let (status, body) = exchange(&app, &code, None, Some(&app.api_key.clone())).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn bad_authorize_requests_never_redirect_to_unregistered_uris() {
    let app = TestApp::spawn().await;
    for url in [
        app.at("/user_management/authorize?client_id=client_nope&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback&response_type=code"),
        app.at(&format!("/user_management/authorize?client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code", app.client_id)),
        app.at(&format!("/user_management/authorize?client_id={}&response_type=code", app.client_id)),
        app.at("/user_management/authorize"),
    ] {
        let res = app.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{url}");
        assert!(res.headers().get("location").is_none());
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // With a good redirect URI, protocol errors go back to the app as OAuth errors.
    for extra in [
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain&state=s1",
        "&code_challenge=short&code_challenge_method=S256&state=s1",
        "&state=s1&provider=GoogleOAuth",
    ] {
        let url = authorize_url(&app, extra);
        let url = if extra.contains("GoogleOAuth") { url.replace("provider=authkit&", "") } else { url };
        let res = app.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 302);
        let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(q["error"], "invalid_request", "{extra}");
        assert_eq!(q["state"], "s1");
    }
}

#[tokio::test]
async fn sign_up_creates_the_user_and_explains_problems() {
    // With uniform sign-up off, the sign-up finishes at once (the uniform one: hosted_email.rs).
    let app = TestApp::spawn().await;
    app.set(&[("uniform_sign_up", "false")]).await;
    let (page, html) =
        open(&app, &authorize_url(&app, "&screen_hint=sign-up&login_hint=new%40example.com&state=st")).await;
    assert!(page.contains("/authkit/sign-up"));
    assert!(html.contains("value=\"new@example.com\""), "login_hint prefills the email");
    let res = submit(
        &app,
        "/authkit/sign-up",
        &html,
        &[("first_name", "Grace"), ("last_name", "Hopper"), ("email", "new@example.com"), ("password", "password")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("value=\"Grace\""), "typed values are kept");
    let res = submit(
        &app,
        "/authkit/sign-up",
        &html,
        &[("first_name", "Grace"), ("last_name", "Hopper"), ("email", "new@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (code, state) = code_and_state(res.headers()["location"].to_str().unwrap());
    assert_eq!(state.as_deref(), Some("st"));
    let (status, body) = exchange(&app, &code, None, Some(&app.api_key.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["first_name"], "Grace");
    // Signing up again with the same email does not say more than it must.
    let (_, html) = open(&app, &authorize_url(&app, "&screen_hint=sign-up")).await;
    let res = submit(&app, "/authkit/sign-up", &html, &[("email", "new@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("sign in instead"));
}

#[tokio::test]
async fn sign_in_errors_are_clear_and_csrf_is_checked() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let (_, html) = open(&app, &authorize_url(&app, "")).await;
    let res = submit(&app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", "nope")]).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Incorrect email or password."));
    let res = submit(&app, "/authkit/sign-in", &html, &[("email", "ghost@example.com"), ("password", "nope")]).await;
    assert!(res.text().await.unwrap().contains("Incorrect email or password."), "no hint that the account is missing");
    // A forged form (no matching CSRF cookie) is refused.
    let fresh = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = fresh
        .post(app.at("/authkit/sign-in"))
        .form(&[
            ("request", hidden(&html, "request")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("email", "ada@example.com".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("This form expired"));
    // Too many failures: 429 with Retry-After, on the page too.
    for _ in 0..gatehouse::service::throttle::PER_PAIR.max - 1 {
        submit(&app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", "nope")]).await;
    }
    let res = submit(&app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // An expired sign-in request.
    app.clock.advance_secs(3601);
    let res = submit(&app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn sign_out_redirects_only_where_allowed() {
    let app = TestApp::spawn().await;
    app.create_user("o@example.com").await;
    let tokens = app.login("o@example.com").await;
    let sid = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let logout =
        |sid: &str, return_to: &str| {
            app.http
                .get(app.at(&format!(
                    "/user_management/sessions/logout?session_id={sid}&return_to={}",
                    urlencode(return_to)
                )))
                .send()
        };
    let res = logout(&sid, "https://evil.example/").await.unwrap();
    assert_eq!(res.status(), 200, "not allowed: the signed-out page");
    assert!(res.text().await.unwrap().contains("Signed out"));
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 400, "the session ended");
    let tokens = app.login("o@example.com").await;
    let sid = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let res = logout(&sid, "http://localhost:5173/").await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "http://localhost:5173/");
    // Unknown sessions still go to an allowed return_to.
    let res = logout("session_unknown", "http://localhost:5173/").await.unwrap();
    assert_eq!(res.status(), 302);
    let env = app.core.environment_by_name("development").await.unwrap();
    let mut settings = env.settings.clone();
    settings.sign_out_redirect_uris = vec!["https://app.example.com/bye".into()];
    app.core.update_settings(&env, settings, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let res = logout("session_unknown", "https://app.example.com/bye").await.unwrap();
    assert_eq!(res.headers()["location"], "https://app.example.com/bye");
    let _ = Method::GET;
}

#[tokio::test]
async fn sign_out_without_return_to_uses_the_default_sign_out_url() {
    let app = TestApp::spawn().await;
    app.create_user("d@example.com").await;
    let tokens = app.login("d@example.com").await;
    let sid = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let res = app.http.get(app.at(&format!("/user_management/sessions/logout?session_id={sid}"))).send().await.unwrap();
    assert_eq!(res.status(), 200, "no default configured: the signed-out page");
    app.set(&[("sign_out_redirect_uris", "http://localhost:5173/")]).await;
    let tokens = app.login("d@example.com").await;
    let sid = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let res = app.http.get(app.at(&format!("/user_management/sessions/logout?session_id={sid}"))).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "http://localhost:5173/");
}

#[tokio::test]
async fn authorize_parameters_are_honoured_or_refused_never_ignored() {
    let app = TestApp::spawn().await;
    let bounced = |extra: &'static str| {
        let app = &app;
        async move {
            let res = app.http.get(authorize_url(app, extra)).send().await.unwrap();
            assert_eq!(res.status(), 302, "{extra}");
            let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
            let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
            assert_eq!(q.get("state").map(String::as_str), Some("s1"), "{extra}");
            (q["error"].clone(), q["error_description"].clone())
        }
    };
    let (error, why) = bounced("&state=s1&prompt=none").await;
    assert_eq!(error, "login_required", "{why}");
    for extra in [
        "&state=s1&prompt=sometimes",
        "&state=s1&max_age=soon",
        "&state=s1&connection_id=conn_1",
        "&state=s1&domain_hint=example.com",
    ] {
        let (error, why) = bounced(extra).await;
        assert_eq!(error, "invalid_request", "{extra}: {why}");
        assert!(!why.is_empty());
    }
    // prompt=login and max_age lead to the sign-in page: every sign-in here is a fresh one.
    for extra in ["&prompt=login", "&max_age=0", "&prompt=login&max_age=300"] {
        let (page, html) = open(&app, &authorize_url(&app, extra)).await;
        assert!(page.contains("/authkit/sign-in"), "{extra}: {page}");
        assert!(html.contains("password"), "{extra}");
    }
}

/// `password_reset_token` on `/authorize` (how the SDKs' `getAuthorizationUrl({ passwordResetToken })`
/// sends a reset link through AuthKit) opens the hosted page that sets a new password with it.
#[tokio::test]
async fn a_password_reset_token_on_authorize_opens_the_reset_page() {
    let app = TestApp::spawn().await;
    app.create_user("r@example.com").await;
    let (status, reset) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "r@example.com"}))).await;
    assert_eq!(status, 201, "{reset}");
    let token = reset["password_reset_token"].as_str().unwrap();
    let (page, html) = open(&app, &authorize_url(&app, &format!("&state=s1&password_reset_token={token}"))).await;
    assert_eq!(page, app.at(&format!("/authkit/reset-password?token={token}")));
    assert!(html.contains("Choose a new password") && html.contains("r@example.com"), "{html}");
    let res =
        submit(&app, "/authkit/reset-password", &html, &[("token", token), ("password", "a new long passphrase 42")])
            .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Password changed"));
    let (status, body) = app.password_login("r@example.com", "a new long passphrase 42").await;
    assert_eq!(status, 200, "the new password signs in: {body}");
    // A token that opens nothing still goes to that page, which says the link has expired.
    let res = app.http.get(authorize_url(&app, "&password_reset_token=nope")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/authkit/reset-password?token=nope");
}
