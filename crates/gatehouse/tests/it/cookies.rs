//! Cookie-mode refresh for browser apps (issue 11): which requests get and may use the
//! refresh cookie, rotation through it, switching organizations through it, reuse detection,
//! sign-out, the CORS answers, and the real binary's log (at trace level) holding no token.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::binary::{Binary, free_port, wait_healthy};
use crate::hosted::{CHALLENGE, VERIFIER, code_and_state, hidden, sign_in_code};
use crate::support::*;

const APP: &str = "http://app.example.test";

/// A server whose public URL is `http://auth.example.test:<port>` (reached on 127.0.0.1),
/// with a user and the app's origin allowed.
async fn setup() -> TestApp {
    let app = TestApp::spawn_with(|c| c.public_url = c.public_url.replace("127.0.0.1", "auth.example.test")).await;
    app.create_user("ada@example.com").await;
    let (status, body) = app.api(Method::POST, "/user_management/cors_origins", Some(json!({"origin": APP}))).await;
    assert_eq!(status, 201, "{body}");
    app
}

/// A bare client: no cookie jar, every header explicit.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The value a `Set-Cookie` gives `name` (`Some("")` when it deletes it).
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(|v| v.split(';').next().unwrap().to_owned()))
    }
}

/// POST /authenticate as a browser would: JSON unless `form`, with an Origin and cookies.
async fn post(app: &TestApp, body: Value, origin: Option<&str>, cookie: Option<&str>, form: bool) -> Answer {
    let mut req = browser().post(app.at("/user_management/authenticate"));
    req = if form {
        let pairs: Vec<(String, String)> =
            body.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
        req.form(&pairs)
    } else {
        req.json(&body)
    };
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    Answer { status, headers, body: res.json().await.unwrap_or(Value::Null) }
}

async fn code(app: &TestApp) -> String {
    sign_in_code(app, "ada@example.com", &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256")).await.0
}

fn code_body(app: &TestApp, code: &str) -> Value {
    json!({"grant_type": "authorization_code", "client_id": app.client_id, "code": code, "code_verifier": VERIFIER})
}

fn refresh_body(app: &TestApp) -> Value {
    json!({"grant_type": "refresh_token", "client_id": app.client_id})
}

fn refresh_name(app: &TestApp) -> String {
    format!("gatehouse_refresh_{}", app.client_id)
}

/// Signs in from the app; returns the refresh cookie's value.
async fn sign_in(app: &TestApp) -> String {
    let a = post(app, code_body(app, &code(app).await), Some(APP), None, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let token = a.cookie(&refresh_name(app)).unwrap();
    assert_eq!(token, a.body["refresh_token"].as_str().unwrap());
    token
}

#[tokio::test]
async fn a_browser_sign_in_sets_both_cookies_and_credentialed_cors() {
    let app = setup().await;
    let a = post(&app, code_body(&app, &code(&app).await), Some(APP), None, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookies = a.set_cookies();
    let refresh = cookies.iter().find(|c| c.starts_with("gatehouse_refresh_")).unwrap();
    assert!(refresh.contains("; HttpOnly; Path=/; SameSite=Lax; Max-Age="), "{refresh}");
    assert!(!refresh.contains("Domain="), "host-only: {refresh}");
    let has = cookies.iter().find(|c| c.starts_with("workos-has-session=")).unwrap();
    assert_eq!(a.cookie("workos-has-session").unwrap(), app.client_id);
    assert!(has.contains("; Domain=example.test; Path=/; SameSite=Lax") && !has.contains("HttpOnly"), "{has}");
    // The session lasts its lifetime; the cookie as long.
    let max_age: i64 = refresh.split("Max-Age=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!(max_age > 86_400, "{max_age}");
    assert_eq!(a.headers["access-control-allow-origin"], APP);
    assert_eq!(a.headers["access-control-allow-credentials"], "true");

    // Another client ID already listed on the site stays listed.
    let other = "client_01OTHER";
    let a =
        post(&app, code_body(&app, &code(&app).await), Some(APP), Some(&format!("workos-has-session={other}")), false)
            .await;
    assert_eq!(a.cookie("workos-has-session").unwrap(), format!("{other}.{}", app.client_id));

    // No cookies for server-side exchanges, other origins, or confidential clients.
    let a = post(&app, code_body(&app, &code(&app).await), None, None, false).await;
    assert_eq!((a.status, a.set_cookies().len()), (200, 0));
    let a = post(&app, code_body(&app, &code(&app).await), Some("http://evil.example.test"), None, false).await;
    assert_eq!((a.status, a.set_cookies().len()), (200, 0));
    assert!(a.headers.get("access-control-allow-origin").is_none());
    let mut body = code_body(&app, &code(&app).await);
    body["client_secret"] = json!(app.api_key);
    let a = post(&app, body, Some(APP), None, false).await;
    assert_eq!((a.status, a.set_cookies().len()), (200, 0));
}

#[tokio::test]
async fn preflight_answers_allowed_origins_with_credentials_only() {
    let app = setup().await;
    let preflight = |origin: &'static str| {
        browser()
            .request(Method::OPTIONS, app.at("/user_management/authenticate"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let res = preflight(APP).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = preflight("http://evil.example.test").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn a_refresh_without_a_body_token_uses_the_cookie_and_replaces_it() {
    let app = setup().await;
    let first = sign_in(&app).await;
    let name = refresh_name(&app);
    let jar = |token: &str| format!("{name}={token}; workos-has-session={}", app.client_id);
    let a = post(&app, refresh_body(&app), Some(APP), Some(&jar(&first)), false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let second = a.cookie(&name).unwrap();
    assert_ne!(second, first);
    assert_eq!(second, a.body["refresh_token"].as_str().unwrap());
    assert_eq!(a.cookie("workos-has-session").unwrap(), app.client_id);
    let a = post(&app, refresh_body(&app), Some(APP), Some(&jar(&second)), false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A token in the body still wins (devMode), and its answer sets the cookie too.
    let third = a.cookie(&name).unwrap();
    let mut body = refresh_body(&app);
    body["refresh_token"] = json!(third);
    let a = post(&app, body, Some(APP), Some(&jar("session_x.0.nonsense")), false).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn the_cookie_is_refused_to_forms_other_origins_and_other_clients_and_nothing_changes() {
    let app = setup().await;
    let token = sign_in(&app).await;
    let jar = format!("{}={token}", refresh_name(&app));
    // A form post (a simple request any site can send) cannot use the cookie.
    let a = post(&app, refresh_body(&app), Some(APP), Some(&jar), true).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.set_cookies().is_empty());
    // Nor another site, nor a request without an Origin.
    for origin in [Some("http://evil.example.test"), Some("https://app.example.test"), None] {
        let a = post(&app, refresh_body(&app), origin, Some(&jar), false).await;
        assert_eq!(a.status, 400, "{origin:?}: {}", a.body);
        assert!(a.set_cookies().is_empty());
        assert!(a.body.get("access_token").is_none());
    }
    // Another environment with the same origin allowed: its client ID names another cookie,
    // and a planted cookie of its name holding this client's token is invalid for it.
    let other = app.core.ensure_environment("production", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let env = app.core.environment_by_name("production").await.unwrap();
    app.core.add_cors_origin(&env, APP, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let body = json!({"grant_type": "refresh_token", "client_id": other.client_id});
    let a = post(&app, body.clone(), Some(APP), Some(&jar), false).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let planted = format!("gatehouse_refresh_{}={token}", other.client_id);
    let a = post(&app, body, Some(APP), Some(&planted), false).await;
    assert_eq!((a.status, a.body["error"].as_str()), (400, Some("invalid_grant")), "{}", a.body);
    // None of that rotated or revoked anything: the first token is still the current one.
    app.clock.advance_secs(3600);
    let a = post(&app, refresh_body(&app), Some(APP), Some(&jar), false).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn two_tabs_racing_share_the_grace_window_and_an_old_cookie_later_is_theft() {
    let app = setup().await;
    let first = sign_in(&app).await;
    let name = refresh_name(&app);
    let jar = |token: &str| format!("{name}={token}");
    let a = post(&app, refresh_body(&app), Some(APP), Some(&jar(&first)), false).await;
    assert_eq!(a.status, 200);
    let second = a.cookie(&name).unwrap();
    // The other tab's request, sent with the same cookie a moment later: the same answer.
    let b = post(&app, refresh_body(&app), Some(APP), Some(&jar(&first)), false).await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.cookie(&name).unwrap(), second);
    // After the grace window the old cookie is reuse: the session ends, the cookies go.
    app.clock.advance_secs(3600);
    let c = post(
        &app,
        refresh_body(&app),
        Some(APP),
        Some(&format!("{}; workos-has-session={}", jar(&first), app.client_id)),
        false,
    )
    .await;
    assert_eq!((c.status, c.body["error"].as_str()), (400, Some("invalid_grant")), "{}", c.body);
    assert_eq!(c.cookie(&name).as_deref(), Some(""));
    assert_eq!(c.cookie("workos-has-session").as_deref(), Some(""));
    let d = post(&app, refresh_body(&app), Some(APP), Some(&jar(&second)), false).await;
    assert_eq!(d.status, 400, "the session was revoked: {}", d.body);
}

/// Creates an organization, with `user_id` as a member when given; returns its ID.
async fn organization_with(app: &TestApp, name: &str, user_id: Option<&str>) -> String {
    let (status, org) = app.api(Method::POST, "/organizations", Some(json!({"name": name}))).await;
    assert_eq!(status, 201, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    if let Some(user_id) = user_id {
        let body = json!({"organization_id": org_id, "user_id": user_id});
        let (status, m) = app.api(Method::POST, "/user_management/organization_memberships", Some(body)).await;
        assert_eq!(status, 201, "{m}");
    }
    org_id
}

#[tokio::test]
async fn switching_organizations_through_the_cookie_rotates_it_and_a_foreign_one_changes_nothing() {
    let app = setup().await;
    let first = sign_in(&app).await;
    let (status, users) = app.api(Method::GET, "/user_management/users?email=ada@example.com", None).await;
    assert_eq!(status, 200, "{users}");
    let user_id = users["data"][0]["id"].as_str().unwrap().to_owned();
    let member_of = organization_with(&app, "Acme", Some(&user_id)).await;
    let foreign = organization_with(&app, "Globex", None).await;
    let name = refresh_name(&app);
    let jar = |token: &str| format!("{name}={token}; workos-has-session={}", app.client_id);
    let switch = |org: &str| {
        let mut body = refresh_body(&app);
        body["organization_id"] = json!(org);
        body
    };

    // An organization the user belongs to: the session moves there, the cookie rotates.
    let a = post(&app, switch(&member_of), Some(APP), Some(&jar(&first)), false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["organization_id"], member_of.as_str());
    let second = a.cookie(&name).unwrap();
    assert_ne!(second, first);
    assert_eq!(second, a.body["refresh_token"].as_str().unwrap());
    assert_eq!(claims(a.body["access_token"].as_str().unwrap())["org_id"], member_of.as_str());

    // One the user is not in: refused, and the cookies are neither rotated nor cleared.
    let b = post(&app, switch(&foreign), Some(APP), Some(&jar(&second)), false).await;
    assert_eq!((b.status, b.body["error"].as_str()), (400, Some("organization_membership_not_found")), "{}", b.body);
    assert!(b.body.get("access_token").is_none(), "{}", b.body);
    assert!(b.set_cookies().is_empty(), "{:?}", b.set_cookies());
    // The session, its organization and the current cookie are as before.
    let c = post(&app, refresh_body(&app), Some(APP), Some(&jar(&second)), false).await;
    assert_eq!(c.status, 200, "the refused switch left the session alone: {}", c.body);
    assert_eq!(c.body["organization_id"], member_of.as_str());
    assert_ne!(c.cookie(&name).unwrap(), second);
}

#[tokio::test]
async fn sign_out_clears_the_sessions_cookies() {
    let app = setup().await;
    let token = sign_in(&app).await;
    let session_id = token.split('.').next().unwrap();
    let jar = format!(
        "{}={token}; gatehouse_refresh_client_01OTHER=session_other.0.x; workos-has-session=client_01OTHER.{}",
        refresh_name(&app),
        app.client_id
    );
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&jar).unwrap());
    let res = browser()
        .get(app.at(&format!("/user_management/sessions/logout?session_id={session_id}")))
        .headers(headers)
        .send()
        .await
        .unwrap();
    let a = Answer { status: res.status().as_u16(), headers: res.headers().clone(), body: Value::Null };
    assert!(a.status < 400, "{}", a.status);
    assert_eq!(a.cookie(&refresh_name(&app)).as_deref(), Some(""));
    assert!(a.cookie("gatehouse_refresh_client_01OTHER").is_none(), "another session's cookie stays");
    assert_eq!(a.cookie("workos-has-session").as_deref(), Some("client_01OTHER"));
    let r = post(&app, refresh_body(&app), Some(APP), Some(&format!("{}={token}", refresh_name(&app))), false).await;
    assert_eq!(r.status, 400, "the session ended: {}", r.body);
}

#[tokio::test]
async fn over_https_the_cookies_are_secure_and_host_only() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://auth.example.com".into()).await;
    app.create_user("ada@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    app.core.add_cors_origin(&env, "https://app.example.com", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let a = post(&app, code_body(&app, &code(&app).await), Some("https://app.example.com"), None, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let name = format!("__Host-{}", refresh_name(&app));
    let token = a.cookie(&name).unwrap();
    let cookies = a.set_cookies();
    assert!(cookies.iter().all(|c| c.ends_with("; Secure")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("workos-has-session=") && c.contains("; Domain=example.com;")));
    // Only the __Host- cookie counts: one without the prefix may come from a sibling host.
    let planted = format!("{}={token}", refresh_name(&app));
    let r = post(&app, refresh_body(&app), Some("https://app.example.com"), Some(&planted), false).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r =
        post(&app, refresh_body(&app), Some("https://app.example.com"), Some(&format!("{name}={token}")), false).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn origins_that_cannot_use_the_cookies_are_reported() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://auth.example.com".into()).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    for origin in
        ["https://app.example.com", "https://app.other.com", "http://app.example.com", "http://localhost:5173"]
    {
        app.core.add_cors_origin(&env, origin, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    }
    let mut warnings = app.core.cookie_warnings().await.unwrap();
    warnings.sort();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("environment development: http://app.example.com is http while Gatehouse is https")
    );
    assert!(warnings[1].starts_with("environment development: https://app.other.com is not on Gatehouse's site"));
}

/// The secret parts of `tokens` worth looking for in a log: each whole token, a refresh token's
/// secret and an access token's signature (the last `.`-separated part).
fn secrets_of(tokens: &[String]) -> Vec<String> {
    tokens
        .iter()
        .flat_map(|t| [t.clone(), t.rsplit('.').next().unwrap().to_owned()])
        .filter(|s| s.len() >= 16)
        .collect()
}

#[tokio::test]
async fn the_real_binary_logs_no_token_even_at_trace_level() {
    let root = tempfile::tempdir().unwrap();
    let binary = Binary::for_test(root.path()).await.with_env("GATEHOUSE_LOG", "trace").with_env("NO_COLOR", "1");
    let out = binary.command().args(["--json", "init"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (client_id, api_key) = (init["client_id"].as_str().unwrap(), init["api_key"].as_str().unwrap());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = root.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = binary
        .command()
        .args(["--public-url", &base, "serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pages =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    wait_healthy(&pages, &base).await;
    let api = |path: &str, body: Value| pages.post(format!("{base}{path}")).bearer_auth(api_key).json(&body).send();
    // `init` registers REDIRECT_URI (the React example's); its origin is allowed here.
    let app_origin = "http://localhost:5173";
    let user = json!({"email": "ada@example.com", "password": PASSWORD, "first_name": "Ada"});
    for (path, body) in
        [("/user_management/users", user), ("/user_management/cors_origins", json!({"origin": app_origin}))]
    {
        let res = api(path, body).await.unwrap();
        assert_eq!(res.status(), 201, "{path}: {}", res.text().await.unwrap());
    }

    // The hosted sign-in, then the browser's code exchange, cookie refreshes and sign-out.
    let redirect: String = url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect();
    let authorize = format!(
        "{base}/user_management/authorize?client_id={client_id}&redirect_uri={redirect}&response_type=code\
         &provider=authkit&code_challenge={CHALLENGE}&code_challenge_method=S256"
    );
    let res = pages.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let page = format!("{base}{}", res.headers()["location"].to_str().unwrap());
    let html = pages.get(&page).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request", hidden(&html, "request")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", "ada@example.com".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = pages.post(format!("{base}/authkit/sign-in")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (code, _) = code_and_state(res.headers()["location"].to_str().unwrap());
    let name = format!("gatehouse_refresh_{client_id}");
    let authenticate = |body: Value, cookie: Option<String>| {
        let mut req = browser().post(format!("{base}/user_management/authenticate")).header("origin", app_origin);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.json(&body).send()
    };
    let mut tokens = vec![api_key.to_owned(), PASSWORD.to_owned(), code.clone()];
    let body =
        json!({"grant_type": "authorization_code", "client_id": client_id, "code": code, "code_verifier": VERIFIER});
    let res = authenticate(body, None).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut answer: Value = res.json().await.unwrap();
    for _ in 0..2 {
        let current = answer["refresh_token"].as_str().unwrap().to_owned();
        tokens.extend([current.clone(), answer["access_token"].as_str().unwrap().to_owned()]);
        let body = json!({"grant_type": "refresh_token", "client_id": client_id});
        let res = authenticate(body, Some(format!("{name}={current}"))).await.unwrap();
        assert_eq!(res.status(), 200);
        answer = res.json().await.unwrap();
    }
    let current = answer["refresh_token"].as_str().unwrap().to_owned();
    tokens.extend([current.clone(), answer["access_token"].as_str().unwrap().to_owned()]);
    // A forged cookie (the session's ID, a wrong secret) is refused; its secret is not logged either.
    let session_id = current.split('.').next().unwrap();
    let forged = format!("{session_id}.7.forgedsecretforgedsecretforgedsecret");
    let body = json!({"grant_type": "refresh_token", "client_id": client_id});
    assert_eq!(authenticate(body, Some(format!("{name}={forged}"))).await.unwrap().status(), 400);
    tokens.push(forged);
    let res = browser()
        .get(format!("{base}/user_management/sessions/logout?session_id={session_id}"))
        .header("cookie", format!("{name}={current}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 400, "{}", res.status());

    server.kill().unwrap();
    server.wait().unwrap();
    let output = std::fs::read_to_string(&log_path).unwrap();
    assert!(output.contains("/user_management/authenticate"), "requests are logged at trace level:\n{output}");
    let leaked: Vec<String> = secrets_of(&tokens).into_iter().filter(|s| output.contains(s.as_str())).collect();
    assert!(leaked.is_empty(), "secrets in the log: {leaked:?}\n{output}");
    assert!(!output.contains(&format!("{name}=")), "a Cookie header in the log:\n{output}");
}
