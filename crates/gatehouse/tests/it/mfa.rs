//! Two-factor authentication: the factor API, the 403 step-ups, the mfa-totp grant, TOTP time
//! steps and replay, attempt limits, expiry, and the hosted two-factor and security pages.

use gatehouse::clock::Clock as _;
use gatehouse::domain::totp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::hosted::hidden;
use crate::support::*;

const MFA_GRANT: &str = "urn:workos:oauth:grant-type:mfa-totp";

/// The code an authenticator app shows now (or `offset_steps` steps away) for a base32 secret.
fn code(app: &TestApp, secret: &str, offset_steps: i64) -> String {
    let bytes = totp::parse_secret_base32(secret).expect("base32 secret");
    let step = totp::step_at(app.clock.now_ms() / 1000) + offset_steps;
    totp::code_for_step(&bytes, step).unwrap()
}

/// A code that is none of the three accepted right now.
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let accepted: Vec<String> = (-1..=1).map(|o| code(app, secret, o)).collect();
    (0..1000).map(|n| format!("{:06}", 123_456 + n)).find(|c| !accepted.contains(c)).unwrap()
}

async fn enroll(app: &TestApp, user_id: &str) -> Value {
    let (status, body) = app
        .api(Method::POST, &format!("/user_management/users/{user_id}/auth_factors"), Some(json!({"type": "totp"})))
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn challenge(app: &TestApp, factor_id: &str) -> String {
    let (status, body) = app.api(Method::POST, &format!("/auth/factors/{factor_id}/challenge"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["object"], "authentication_challenge");
    body["id"].as_str().unwrap().to_owned()
}

async fn totp_grant(app: &TestApp, pending: &str, challenge_id: &str, code: &str) -> (u16, Value) {
    app.authenticate(json!({
        "grant_type": MFA_GRANT, "client_id": app.client_id, "client_secret": app.api_key,
        "pending_authentication_token": pending, "authentication_challenge_id": challenge_id, "code": code,
    }))
    .await
}

async fn set_setting(app: &TestApp, key: &str, value: &str) {
    let env = app.core.environment_by_name("development").await.unwrap();
    let mut settings = env.settings.clone();
    settings.set(key, value).unwrap();
    app.core.update_settings(&env, settings, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
}

#[tokio::test]
async fn enrol_challenge_and_sign_in_with_totp() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let enrolled = enroll(&app, user_id).await;
    let factor = &enrolled["authentication_factor"];
    assert_eq!(factor["object"], "authentication_factor");
    assert_eq!(factor["type"], "totp");
    assert_eq!(factor["user_id"], user_id);
    assert!(factor["id"].as_str().unwrap().starts_with("auth_factor_"));
    assert_eq!(factor["totp"]["user"], "ada@example.com");
    assert!(factor["totp"]["qr_code"].as_str().unwrap().starts_with("data:image/png;base64,"));
    assert!(factor["totp"]["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert_eq!(enrolled["authentication_challenge"]["authentication_factor_id"], factor["id"]);
    let secret = factor["totp"]["secret"].as_str().unwrap().to_owned();
    let factor_id = factor["id"].as_str().unwrap().to_owned();

    // The list and the single factor never show the secret again.
    let (status, list) = app.api(Method::GET, &format!("/user_management/users/{user_id}/auth_factors"), None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["list_metadata"]["after"], Value::Null);
    assert!(list["data"][0]["totp"].get("secret").is_none());
    assert_eq!(app.api(Method::GET, &format!("/auth/factors/{factor_id}"), None).await.0, 200);

    // A user with a factor is challenged even though the environment does not require it.
    let (status, step) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!(status, 403, "{step}");
    assert_eq!(step["code"], "mfa_challenge");
    assert_eq!(step["authentication_factors"], json!([{"id": factor_id, "type": "totp"}]));
    assert_eq!(step["user"]["id"], user_id);
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();

    let challenge_id = challenge(&app, &factor_id).await;
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &wrong_code(&app, &secret)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_one_time_code")), "{body}");
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await;
    assert_eq!(status, 200, "a wrong code leaves the pending token usable: {body}");
    assert_eq!(body["authentication_method"], "Password", "the first factor's method is kept");
    assert_eq!(body["user"]["id"], user_id);
    assert!(body["access_token"].as_str().is_some() && body["refresh_token"].as_str().is_some());

    // Pending token and challenge are spent.
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_pending_authentication_token")), "{body}");
    let (_, step) = app.password_login("ada@example.com", PASSWORD).await;
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("one_time_code_previously_used")));
    // The same code with a fresh challenge: refused (each code works once).
    let fresh = challenge(&app, &factor_id).await;
    let (status, body) = totp_grant(&app, &pending, &fresh, &code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_one_time_code")), "replay: {body}");
    // The next time step's code works.
    app.clock.advance_secs(30);
    let (status, body) = totp_grant(&app, &pending, &fresh, &code(&app, &secret, 0)).await;
    assert_eq!(status, 200, "{body}");

    // Deleting the factor ends the challenges.
    assert_eq!(app.api(Method::DELETE, &format!("/auth/factors/{factor_id}"), None).await.0, 204);
    assert_eq!(app.password_login("ada@example.com", PASSWORD).await.0, 200);
    assert_eq!(app.api(Method::GET, &format!("/auth/factors/{factor_id}"), None).await.0, 404);

    // Second factors are recorded as events (issue 10).
    let (_, events) = app
        .api(Method::GET, "/events?limit=100&events=authentication.mfa_succeeded,authentication.mfa_failed", None)
        .await;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["authentication.mfa_failed", "authentication.mfa_succeeded"], "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| k.ends_with("succeeded")).count(), 2, "{kinds:?}");
    assert_eq!(events["data"][1]["data"]["user_id"], user_id);
}

#[tokio::test]
async fn codes_are_accepted_one_step_either_way_only() {
    let app = TestApp::spawn().await;
    let user = app.create_user("steps@example.com").await;
    let enrolled = enroll(&app, user["id"].as_str().unwrap()).await;
    let secret = enrolled["authentication_factor"]["totp"]["secret"].as_str().unwrap().to_owned();
    let factor_id = enrolled["authentication_factor"]["id"].as_str().unwrap().to_owned();
    let verify = |challenge_id: String, code: String| {
        let app = &app;
        async move {
            app.api(Method::POST, &format!("/auth/challenges/{challenge_id}/verify"), Some(json!({"code": code}))).await
        }
    };
    // A code from the previous step is still fine; one from two steps ago is not.
    let old = code(&app, &secret, -2);
    let (status, body) = verify(challenge(&app, &factor_id).await, old).await;
    assert_eq!((status, body["valid"].as_bool()), (201, Some(false)), "{body}");
    let previous = code(&app, &secret, -1);
    let id = challenge(&app, &factor_id).await;
    let (status, body) = verify(id.clone(), previous).await;
    assert_eq!((status, body["valid"].as_bool()), (201, Some(true)), "{body}");
    assert_eq!(body["challenge"]["id"], id.as_str());
    // The challenge is spent.
    let (status, body) = verify(id, code(&app, &secret, 1)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("authentication_challenge_previously_verified")));
    // A code of the step before the last accepted one is a replay, even with a new challenge.
    let (_, body) = verify(challenge(&app, &factor_id).await, code(&app, &secret, -1)).await;
    assert_eq!(body["valid"], false);
    // Challenges expire after ten minutes.
    let id = challenge(&app, &factor_id).await;
    app.clock.advance_secs(601);
    let (status, body) = verify(id, code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("authentication_challenge_expired")));
    // Bad input is answered with the documented shapes.
    let (status, body) = app.api(Method::POST, "/auth/challenges/auth_challenge_nope/verify", Some(json!({}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")));
    let (status, body) =
        app.api(Method::POST, "/auth/challenges/auth_challenge_nope/verify", Some(json!({"code": "1"}))).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("entity_not_found")));
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/user_management/users/{}/auth_factors", user["id"].as_str().unwrap()),
            Some(json!({"type": "sms"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) =
        app.api(Method::POST, "/user_management/users/user_nope/auth_factors", Some(json!({"type": "totp"}))).await;
    assert_eq!(status, 404);
    let (status, _) = app.api(Method::GET, "/user_management/users/user_nope/auth_factors", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn required_two_factor_asks_for_enrolment_then_accepts_the_new_factor() {
    let app = TestApp::spawn().await;
    set_setting(&app, "mfa_required", "true").await;
    let user = app.create_user("req@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let (status, step) = app.password_login("req@example.com", PASSWORD).await;
    assert_eq!(status, 403, "{step}");
    assert_eq!(step["code"], "mfa_enrollment");
    assert_eq!(step["user"]["email"], "req@example.com");
    assert!(step.get("authentication_factors").is_none());
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let enrolled = enroll(&app, user_id).await;
    let secret = enrolled["authentication_factor"]["totp"]["secret"].as_str().unwrap();
    let challenge_id = enrolled["authentication_challenge"]["id"].as_str().unwrap();
    let (status, body) = totp_grant(&app, &pending, challenge_id, &code(&app, secret, 0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authentication_method"], "Password");
    // A challenge of another user's factor is refused.
    let other = app.create_user("other@example.com").await;
    let other_factor = enroll(&app, other["id"].as_str().unwrap()).await;
    let (_, step) = app.password_login("req@example.com", PASSWORD).await;
    assert_eq!(step["code"], "mfa_challenge");
    let pending = step["pending_authentication_token"].as_str().unwrap();
    let other_challenge = other_factor["authentication_challenge"]["id"].as_str().unwrap();
    let other_secret = other_factor["authentication_factor"]["totp"]["secret"].as_str().unwrap();
    let (status, body) = totp_grant(&app, pending, other_challenge, &code(&app, other_secret, 0)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn pending_tokens_expire_and_attempts_are_limited() {
    let app = TestApp::spawn().await;
    let user = app.create_user("limit@example.com").await;
    let enrolled = enroll(&app, user["id"].as_str().unwrap()).await;
    let secret = enrolled["authentication_factor"]["totp"]["secret"].as_str().unwrap().to_owned();
    let factor_id = enrolled["authentication_factor"]["id"].as_str().unwrap().to_owned();

    let (_, step) = app.password_login("limit@example.com", PASSWORD).await;
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let challenge_id = challenge(&app, &factor_id).await;
    app.clock.advance_secs(601);
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_pending_authentication_token")), "{body}");

    let (_, step) = app.password_login("limit@example.com", PASSWORD).await;
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let challenge_id = challenge(&app, &factor_id).await;
    let wrong = wrong_code(&app, &secret);
    for _ in 0..5 {
        assert_eq!(totp_grant(&app, &pending, &challenge_id, &wrong).await.1["code"], "invalid_one_time_code");
    }
    let (status, body) = totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")), "even the right code: {body}");
    app.clock.advance_secs(15 * 60);
    let (_, step) = app.password_login("limit@example.com", PASSWORD).await;
    let pending = step["pending_authentication_token"].as_str().unwrap().to_owned();
    let challenge_id = challenge(&app, &factor_id).await;
    assert_eq!(totp_grant(&app, &pending, &challenge_id, &code(&app, &secret, 0)).await.0, 200);

    // The grant needs the API key and all three fields.
    let (status, body) = app
        .authenticate(
            json!({"grant_type": MFA_GRANT, "client_id": app.client_id, "client_secret": app.api_key, "code": "1"}),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = app
        .authenticate(json!({"grant_type": MFA_GRANT, "client_id": app.client_id, "code": "1",
            "pending_authentication_token": "x", "authentication_challenge_id": "y"}))
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
}

// --- hosted pages ---------------------------------------------------------------------------------

fn authorize_url(app: &TestApp, extra: &str) -> String {
    let redirect: String = url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect();
    app.at(&format!(
        "/user_management/authorize?client_id={}&redirect_uri={redirect}&response_type=code{extra}",
        app.client_id
    ))
}

async fn get_page(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let url = if path.starts_with("http") { path.to_owned() } else { app.at(path) };
    let res = app.http.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.text().await.unwrap(), headers)
}

async fn post_form(app: &TestApp, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.http.post(app.at(action)).form(fields).send().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// Authorize → sign-in page → password; returns the 303 after the password.
async fn password_step(app: &TestApp, email: &str) -> reqwest::Response {
    let res = app.http.get(authorize_url(app, "")).send().await.unwrap();
    let page = location(&res);
    let (status, html, _) = get_page(app, &page).await;
    assert_eq!(status, 200);
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf_token"));
    let res = post_form(
        app,
        "/authkit/sign-in",
        &[("request", &request), ("csrf_token", &csrf), ("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    res
}

fn text_between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap_or_else(|| panic!("no {start} in {html}")) + start.len();
    html[from..].split(end).next().unwrap()
}

#[tokio::test]
async fn hosted_enrolment_challenge_and_recovery_codes() {
    let app = TestApp::spawn().await;
    set_setting(&app, "mfa_required", "true").await;
    app.create_user("hosted@example.com").await;

    // Required enrolment: QR code and key, confirmed with a first code.
    let res = password_step(&app, "hosted@example.com").await;
    let setup = location(&res);
    assert!(setup.starts_with("/authkit/two-factor/setup?request="), "{setup}");
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    let (status, html, _) = get_page(&app, &setup).await;
    assert_eq!(status, 200);
    assert!(html.contains("src=\"data:image"), "the QR code is inline");
    let secret = text_between(&html, "id=\"totp-secret\">", "<").replace(' ', "");
    let request = hidden(&html, "request");
    let csrf = hidden(&html, "csrf_token");
    let wrong = wrong_code(&app, &secret);
    let res =
        post_form(&app, "/authkit/two-factor/setup", &[("request", &request), ("csrf_token", &csrf), ("code", &wrong)])
            .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("didn&#x27;t work"));
    let first = code(&app, &secret, 0);
    let res =
        post_form(&app, "/authkit/two-factor/setup", &[("request", &request), ("csrf_token", &csrf), ("code", &first)])
            .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let codes: Vec<String> =
        html.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{html}");
    let res = post_form(&app, "/authkit/security/continue", &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(REDIRECT_URI), "{}", location(&res));

    // Next sign-in asks for a code; the same code again is refused, the next step's works.
    let res = password_step(&app, "hosted@example.com").await;
    let challenge_page = location(&res);
    assert!(challenge_page.starts_with("/authkit/two-factor?request="), "{challenge_page}");
    let (_, html, _) = get_page(&app, &challenge_page).await;
    let request = hidden(&html, "request");
    let submit = |value: String| {
        let (app, request, csrf) = (&app, request.clone(), csrf.clone());
        async move {
            post_form(app, "/authkit/two-factor", &[("request", &request), ("csrf_token", &csrf), ("code", &value)])
                .await
        }
    };
    let res = submit(first.clone()).await;
    assert_eq!(res.status(), 400, "replayed code refused");
    app.clock.advance_secs(30);
    let res = submit(code(&app, &secret, 0)).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(REDIRECT_URI), "{back}");
    let code_param = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let (status, body) = app
        .authenticate(json!({"grant_type": "authorization_code", "client_id": app.client_id, "client_secret": app.api_key, "code": code_param}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authentication_method"], "Password");
    // The hosted step's events name the browser's address.
    let (_, events) = app
        .api(Method::GET, "/events?limit=100&events=authentication.mfa_succeeded,authentication.mfa_failed", None)
        .await;
    let addresses: Vec<&str> =
        events["data"].as_array().unwrap().iter().map(|e| e["data"]["ip_address"].as_str().unwrap_or("-")).collect();
    assert_eq!(addresses, ["127.0.0.1", "127.0.0.1"], "the replayed code, then the next step's: {events}");

    // A recovery code works once.
    for expect in [303, 400] {
        let res = password_step(&app, "hosted@example.com").await;
        let (_, html, _) = get_page(&app, &location(&res)).await;
        let request = hidden(&html, "request");
        let res = post_form(
            &app,
            "/authkit/two-factor",
            &[("request", &request), ("csrf_token", &csrf), ("code", &codes[0].to_uppercase())],
        )
        .await;
        assert_eq!(res.status(), expect);
    }

    // The pending step expires with its cookie's sign-in.
    let res = password_step(&app, "hosted@example.com").await;
    let page = location(&res);
    app.clock.advance_secs(601);
    let (status, html, _) = get_page(&app, &page).await;
    assert_eq!(status, 400);
    assert!(html.contains("expired"));
}

#[tokio::test]
async fn hosted_security_page_after_a_fresh_sign_in() {
    let app = TestApp::spawn().await;
    app.create_user("sec@example.com").await;
    let res = app.http.get(authorize_url(&app, "")).send().await.unwrap();
    let (_, html, _) = get_page(&app, &location(&res)).await;
    let request = hidden(&html, "request");
    assert!(html.contains(&format!("/authkit/security/start?request={request}")));
    let res = app.http.get(app.at(&format!("/authkit/security/start?request={request}"))).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (_, html, _) = get_page(&app, &location(&res)).await;
    assert!(html.contains("manage your passkeys"));
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf_token"));
    let res = post_form(
        &app,
        "/authkit/sign-in",
        &[("request", &request), ("csrf_token", &csrf), ("email", "sec@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(location(&res), "/authkit/security");
    let (status, html, headers) = get_page(&app, "/authkit/security").await;
    assert_eq!(status, 200);
    assert!(html.contains("Account security") && html.contains("sec@example.com"));
    // This server's public URL is an IP address, so passkeys are off; the app can be set up.
    assert!(!html.contains("Add a passkey"));
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let (status, html, _) = get_page(&app, "/authkit/security/authenticator").await;
    assert_eq!(status, 200);
    let secret = text_between(&html, "id=\"totp-secret\">", "<").replace(' ', "");
    let res =
        post_form(&app, "/authkit/security/authenticator", &[("csrf_token", &csrf), ("code", &code(&app, &secret, 0))])
            .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Save your recovery codes"));
    let (_, html, _) = get_page(&app, "/authkit/security").await;
    assert!(html.contains("10 recovery codes left"), "{html}");
    let res = post_form(&app, "/authkit/security/continue", &[("csrf_token", &csrf)]).await;
    assert!(location(&res).starts_with(REDIRECT_URI));
    // The page is gone once the user continued, and the next sign-in asks for a code.
    assert_eq!(get_page(&app, "/authkit/security").await.0, 400);
    let res = password_step(&app, "sec@example.com").await;
    assert!(location(&res).starts_with("/authkit/two-factor?"));
    // Passkey endpoints answer JSON errors here, never a panic.
    let res = app
        .http
        .post(app.at("/authkit/passkey/options"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"request": request}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("Passkeys are off"), "{body}");
    let res = app.http.post(app.at("/authkit/passkey/sign-in")).body("nonsense").send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn legacy_enroll_endpoint_enrols_a_users_factor() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let (status, factor) = app
        .api(
            Method::POST,
            "/auth/factors/enroll",
            Some(json!({"type": "totp", "totp_issuer": "Acme", "totp_user": "ada@example.com", "user_id": user_id})),
        )
        .await;
    assert_eq!(status, 201, "{factor}");
    assert_eq!(factor["object"], "authentication_factor");
    assert_eq!(factor["user_id"], user_id);
    assert_eq!(factor["totp"]["issuer"], "Acme");
    assert!(factor["totp"]["secret"].is_string() && factor["totp"]["uri"].is_string());
    assert!(factor.get("authentication_challenge").is_none(), "the legacy answer is the factor alone");
    let factor_id = factor["id"].as_str().unwrap();
    assert_eq!(app.api(Method::GET, &format!("/auth/factors/{factor_id}"), None).await.0, 200);
}

/// `POST /auth/factors/enroll` as the SDKs' `mfa.enrollFactor` sends it, without `user_id`: a
/// factor of no user (as in WorkOS) that the app challenges and verifies, and that no user's
/// sign-in or factor list ever sees.
#[tokio::test]
async fn legacy_enroll_without_a_user_makes_a_factor_the_app_verifies() {
    let app = TestApp::spawn().await;
    let body = json!({"type": "totp", "totp_issuer": "Acme", "totp_user": "ada@example.com"});
    let (status, factor) = app.api(Method::POST, "/auth/factors/enroll", Some(body)).await;
    assert_eq!(status, 201, "{factor}");
    assert_eq!(factor["object"], "authentication_factor");
    assert!(factor.get("user_id").is_none(), "no user, no user_id: {factor}");
    assert_eq!(
        (factor["totp"]["issuer"].as_str(), factor["totp"]["user"].as_str()),
        (Some("Acme"), Some("ada@example.com"))
    );
    let secret = factor["totp"]["secret"].as_str().unwrap();
    let factor_id = factor["id"].as_str().unwrap();
    let (status, read) = app.api(Method::GET, &format!("/auth/factors/{factor_id}"), None).await;
    assert_eq!(status, 200);
    assert!(read.get("user_id").is_none() && read["totp"].get("secret").is_none(), "{read}");

    let verify = |id: String, code: String| {
        let app = &app;
        async move { app.api(Method::POST, &format!("/auth/challenges/{id}/verify"), Some(json!({"code": code}))).await }
    };
    let first = challenge(&app, factor_id).await;
    let (status, wrong) = verify(first.clone(), wrong_code(&app, secret)).await;
    assert_eq!((status, wrong["valid"].as_bool()), (201, Some(false)), "{wrong}");
    let (status, right) = verify(first.clone(), code(&app, secret, 0)).await;
    assert_eq!((status, right["valid"].as_bool()), (201, Some(true)), "{right}");
    assert_eq!(right["challenge"]["authentication_factor_id"], factor_id);
    // The code works once, and the challenge too.
    let (status, _) = verify(first, code(&app, secret, 0)).await;
    assert_eq!(status, 422, "a verified challenge is spent");
    let (status, replay) = verify(challenge(&app, factor_id).await, code(&app, secret, 0)).await;
    assert_eq!((status, replay["valid"].as_bool()), (201, Some(false)), "{replay}");
    // Wrong codes are limited per factor: past the limit, 429.
    let mut last = 0;
    for _ in 0..6 {
        last = verify(challenge(&app, factor_id).await, wrong_code(&app, secret)).await.0;
    }
    assert_eq!(last, 429);

    // No user's sign-in asks for it: a user signs in with a password alone.
    app.create_user("ada@example.com").await;
    let (status, body) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // Without an account name there is nothing for the authenticator app to show.
    let (status, body) =
        app.api(Method::POST, "/auth/factors/enroll", Some(json!({"type": "totp", "totp_issuer": "Acme"}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("totp_user"), "{body}");
    // Deleting it works like any factor.
    assert_eq!(app.api(Method::DELETE, &format!("/auth/factors/{factor_id}"), None).await.0, 204);
}
