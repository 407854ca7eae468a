//! Email features: Magic Auth, the email-verification step-up, password reset, the outbox and
//! its delivery over SMTP.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::smtp_sink::{Sink, find_code};
use crate::support::*;

async fn magic(app: &TestApp, email: &str) -> Value {
    let (status, body) = app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": email}))).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn redeem(app: &TestApp, email: &str, code: &str) -> (u16, Value) {
    app.authenticate(json!({
        "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id,
        "client_secret": app.api_key, "email": email, "code": code,
    }))
    .await
}

/// Waits (real time, bounded) until `check` holds, nudging the delivery worker.
async fn eventually(app: &TestApp, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        app.core.outbox_ready.notify_one();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 5 s");
}

#[tokio::test]
async fn magic_auth_signs_in_and_creates_verified_users() {
    let app = TestApp::spawn().await;
    let created = magic(&app, "New@Example.com").await;
    assert_eq!(created["object"], "magic_auth");
    assert_eq!(created["email"], "new@example.com");
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let (status, read) =
        app.api(Method::GET, &format!("/user_management/magic_auth/{}", created["id"].as_str().unwrap()), None).await;
    assert_eq!((status, read["code"].as_str()), (200, Some(code.as_str())));
    let (status, body) = redeem(&app, "new@example.com", &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authentication_method"], "MagicAuth");
    assert_eq!(body["user"]["email_verified"], true);
    let (status, again) = redeem(&app, "new@example.com", &code).await;
    assert_eq!((status, again["code"].as_str()), (400, Some("one_time_code_previously_used")));
}

#[tokio::test]
async fn magic_auth_codes_fail_clearly() {
    let app = TestApp::spawn().await;
    let code = magic(&app, "m@example.com").await["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        assert_eq!(redeem(&app, "m@example.com", wrong).await.1["code"], "invalid_one_time_code");
    }
    assert_eq!(redeem(&app, "m@example.com", wrong).await.1["code"], "one_time_code_too_many_attempts");
    assert_eq!(
        redeem(&app, "m@example.com", &code).await.1["code"],
        "one_time_code_too_many_attempts",
        "the code is void"
    );
    // Expiry.
    let code = magic(&app, "m@example.com").await["code"].as_str().unwrap().to_owned();
    app.clock.advance_secs(601);
    assert_eq!(redeem(&app, "m@example.com", &code).await.1["code"], "one_time_code_expired");
    // Unknown email and missing fields.
    assert_eq!(redeem(&app, "ghost@example.com", "123456").await.1["code"], "invalid_one_time_code");
    let (status, body) = app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "nope"}))).await;
    assert_eq!(status, 422, "{body}");
    // The grant needs the API key.
    let (status, body) = app
        .authenticate(json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id, "email": "m@example.com", "code": code}))
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
}

#[tokio::test]
async fn sending_is_rate_limited_per_address() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        magic(&app, "r@example.com").await;
    }
    let (status, body) =
        app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "r@example.com"}))).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")));
}

#[tokio::test]
async fn email_verification_gate_and_grant() {
    let app = TestApp::spawn().await;
    app.set(&[("email_verification_required", "true")]).await;
    app.create_user("v@example.com").await;
    let (status, gate) = app.password_login("v@example.com", PASSWORD).await;
    assert_eq!(status, 403, "{gate}");
    assert_eq!(gate["code"], "email_verification_required");
    assert_eq!(gate["email"], "v@example.com");
    let pending = gate["pending_authentication_token"].as_str().unwrap().to_owned();
    let id = gate["email_verification_id"].as_str().unwrap();
    let (_, verification) = app.api(Method::GET, &format!("/user_management/email_verification/{id}"), None).await;
    assert_eq!(verification["object"], "email_verification");
    let code = verification["code"].as_str().unwrap().to_owned();
    let grant = |code: &str, pending: &str| {
        app.authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:email-verification:code", "client_id": app.client_id,
            "client_secret": app.api_key, "code": code, "pending_authentication_token": pending,
        }))
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = grant(wrong, &pending).await;
    // On the grant a wrong code is `invalid_one_time_code` (the confirm endpoint has its own codes).
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_one_time_code")));
    let (status, body) = grant(&code, &pending).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["authentication_method"], "Password");
    let (status, body) = grant(&code, &pending).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_pending_authentication_token")));
    // Now verified: no gate.
    assert_eq!(app.password_login("v@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn verification_api_send_and_confirm() {
    let app = TestApp::spawn().await;
    let user = app.create_user("c@example.com").await;
    let id = user["id"].as_str().unwrap();
    let (status, sent) =
        app.api(Method::POST, &format!("/user_management/users/{id}/email_verification/send"), Some(json!({}))).await;
    assert_eq!((status, sent["user"]["id"].as_str()), (200, Some(id)));
    let env = app.core.environment_by_name("development").await.unwrap();
    let code = app.core.store.latest_one_time_code(&env.id, "email_verification", id).await.unwrap().unwrap();
    let code = app.core.reveal_code(&code, gatehouse::service::codes::CodeKind::EmailVerification).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/user_management/users/{id}/email_verification/confirm"),
            Some(json!({"code": wrong})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .api(
            Method::POST,
            &format!("/user_management/users/{id}/email_verification/confirm"),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!((status, body["user"]["email_verified"].as_bool()), (200, Some(true)), "{body}");
    // Both outcomes are events; the success goes with the user's update.
    let (status, events) = app
        .api(
            Method::GET,
            "/events?events=authentication.email_verification_failed,authentication.email_verification_succeeded,user.updated",
            None,
        )
        .await;
    assert_eq!(status, 200, "{events}");
    let events = events["data"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["authentication.email_verification_failed", "authentication.email_verification_succeeded", "user.updated"]
    );
    assert_eq!(events[0]["data"]["error"]["code"], "invalid_one_time_code");
    assert_eq!(events[1]["data"]["user_id"], id);
    assert_eq!(events[1]["data"]["type"], "email_verification");
    let (status, body) =
        app.api(Method::POST, &format!("/user_management/users/{id}/email_verification/send"), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("email_already_verified")));
}

#[tokio::test]
async fn password_reset_over_the_api_revokes_sessions() {
    let app = TestApp::spawn().await;
    app.create_user("p@example.com").await;
    let tokens = app.login("p@example.com").await;
    let (status, reset) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "p@example.com"}))).await;
    assert_eq!(status, 201, "{reset}");
    assert_eq!(reset["object"], "password_reset");
    let token = reset["password_reset_token"].as_str().unwrap().to_owned();
    assert!(
        reset["password_reset_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/authkit/reset-password?token=", app.url))
    );
    let confirm = |password: &str| {
        app.api(
            Method::POST,
            "/user_management/password_reset/confirm",
            Some(json!({"token": token, "new_password": password})),
        )
    };
    let (status, body) = confirm("password").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("password_reset_error")), "weak passwords keep the token");
    assert_eq!(body["errors"][0]["code"], "password_too_weak", "{body}");
    let (status, body) = confirm("a brand new passphrase").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "p@example.com");
    assert_eq!(app.refresh(&tokens.refresh_token).await.0, 400, "sessions revoked");
    assert_eq!(app.password_login("p@example.com", "a brand new passphrase").await.0, 200);
    let (status, body) = confirm("another brand new passphrase").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("password_reset_error")));
    assert_eq!(body["errors"][0]["code"], "invalid_password_reset_token", "{body}");
    let (status, _) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "ghost@example.com"}))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn development_without_smtp_logs_and_shows_the_outbox() {
    let app = TestApp::spawn_with(|c| c.web.dev_emails = true).await;
    magic(&app, "dev@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let mut status = String::new();
    for _ in 0..100 {
        status = app.core.store.list_emails(Some(&env.id), 1).await.unwrap()[0].status.clone();
        if status == "logged" {
            break;
        }
        app.core.outbox_ready.notify_one();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "logged");
    let page = app.http.get(app.at("/dev/emails")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("dev@example.com") && page.contains("sign-in code"), "{page}");
}

#[tokio::test]
async fn production_without_smtp_refuses_email_features() {
    let app = TestApp::spawn().await;
    let prod = app.core.ensure_environment("production", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let res = app
        .http
        .post(app.at("/user_management/magic_auth"))
        .bearer_auth(&prod.api_key)
        .json(&json!({"email": "a@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "email_not_configured");
    assert!(body["message"].as_str().unwrap().contains("GATEHOUSE_SMTP_URL"));
}

#[tokio::test]
async fn smtp_delivery_survives_an_outage() {
    // Reserve a port, then leave it closed: the SMTP server is "down".
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let app = TestApp::spawn_with(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.email_from = Some("Gatehouse <no-reply@example.com>".into());
    })
    .await;
    magic(&app, "o@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let first = || async { app.core.store.list_emails(Some(&env.id), 1).await.unwrap().remove(0) };
    for _ in 0..100 {
        if first().await.last_error.is_some() {
            break;
        }
        app.core.outbox_ready.notify_one();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = first().await;
    assert_eq!(failed.status, "pending", "kept for a retry");
    assert!(failed.last_error.unwrap().contains("SMTP"));
    // The server comes back; after the backoff the message arrives, once.
    let sink = Sink::start(tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    app.clock.advance_secs(10);
    eventually(&app, || sink.count() == 1).await;
    let message = sink.last().unwrap();
    assert!(message.contains("To: o@example.com"), "{message}");
    assert!(message.contains("multipart/alternative"), "text and HTML parts");
    let code = find_code(&message).expect("the code is in the subject");
    assert_eq!(redeem(&app, "o@example.com", &code).await.0, 200);
    assert_eq!(first().await.status, "sent");
    assert!(first().await.sealed_body.is_none(), "bodies are dropped once sent");
}

#[tokio::test]
async fn the_development_outbox_is_off_by_default_and_never_through_a_proxy() {
    // Off unless asked for.
    let app = TestApp::spawn().await;
    let res = app.http.get(app.at("/dev/emails")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("--dev-emails"));
    // Enabled: a same-host proxy (any forwarding header, trusted or not) gets nothing.
    let app = TestApp::spawn_with(|c| {
        c.web.dev_emails = true;
        c.web.client_addresses.trusted_proxies =
            gatehouse::domain::client_address::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    for (name, value) in [
        ("x-forwarded-for", "127.0.0.1"),
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=127.0.0.1"),
        ("x-real-ip", "127.0.0.1"),
    ] {
        let res = app.http.get(app.at("/dev/emails")).header(name, value).send().await.unwrap();
        assert_eq!(res.status(), 404, "{name}: {value}");
    }
    assert_eq!(app.http.get(app.at("/dev/emails")).send().await.unwrap().status(), 200);
    // Never for a public URL that is not this machine.
    let app = TestApp::spawn_with(|c| {
        c.web.dev_emails = true;
        c.public_url = "https://auth.example.com".into();
    })
    .await;
    assert_eq!(app.http.get(app.at("/dev/emails")).send().await.unwrap().status(), 404);
}
