//! Account takeover and guessing defences found in review: claiming an unverified account,
//! guess limits across code resends, and what the outbox keeps in clear.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

async fn magic(app: &TestApp, email: &str) -> String {
    let (status, body) = app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": email}))).await;
    assert_eq!(status, 201, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

async fn redeem(app: &TestApp, email: &str, code: &str) -> (u16, serde_json::Value) {
    app.authenticate(json!({
        "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id,
        "client_secret": app.api_key, "email": email, "code": code,
    }))
    .await
}

#[tokio::test]
async fn proving_an_unverified_address_takes_the_account_from_whoever_registered_it() {
    let app = TestApp::spawn().await;
    // The attacker registers the victim's address with a password and sets up a second factor.
    let user = app.create_user("victim@example.com").await;
    let id = user["id"].as_str().unwrap();
    let attacker = app.login("victim@example.com").await;
    let (status, _) = app
        .api(Method::POST, &format!("/user_management/users/{id}/auth_factors"), Some(json!({"type": "totp"})))
        .await;
    assert_eq!(status, 201);
    // The owner of the address signs in with an emailed code.
    let code = magic(&app, "victim@example.com").await;
    let (status, body) = redeem(&app, "victim@example.com", &code).await;
    assert!(status == 200 || status == 403, "{body}");
    assert_eq!(app.refresh(&attacker.refresh_token).await.0, 400, "the attacker's session ended");
    assert_eq!(app.password_login("victim@example.com", PASSWORD).await.1["code"], "invalid_credentials");
    let (_, factors) = app.api(Method::GET, &format!("/user_management/users/{id}/auth_factors"), None).await;
    assert_eq!(factors["data"].as_array().unwrap().len(), 0, "the attacker's factor is gone");
    // With no factor left, the owner's sign-in completes.
    let code = magic(&app, "victim@example.com").await;
    assert_eq!(redeem(&app, "victim@example.com", &code).await.0, 200);
}

#[tokio::test]
async fn a_reset_link_on_an_unverified_account_also_ends_the_earlier_holders_access() {
    let app = TestApp::spawn().await;
    app.create_user("r@example.com").await;
    let attacker = app.login("r@example.com").await;
    let (_, reset) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "r@example.com"}))).await;
    let token = reset["password_reset_token"].as_str().unwrap();
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/password_reset/confirm",
            Some(json!({"token": token, "new_password": "owner's own passphrase"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(app.refresh(&attacker.refresh_token).await.0, 400);
    assert_eq!(app.password_login("r@example.com", "owner's own passphrase").await.0, 200);
}

#[tokio::test]
async fn resending_codes_does_not_buy_more_guesses() {
    let app = TestApp::spawn().await;
    let mut guesses = 0;
    for _ in 0..3 {
        let code = magic(&app, "g@example.com").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..4 {
            if guesses < 10 {
                redeem(&app, "g@example.com", wrong).await;
                guesses += 1;
            }
        }
    }
    let code = magic(&app, "g@example.com").await;
    let (status, body) = redeem(&app, "g@example.com", &code).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")), "{body}");
    app.clock.advance_secs(3601);
    let code = magic(&app, "g@example.com").await;
    assert_eq!(redeem(&app, "g@example.com", &code).await.0, 200, "the limit lifts after an hour");
}

#[tokio::test]
async fn the_outbox_keeps_no_code_in_clear() {
    let app = TestApp::spawn().await;
    let code = magic(&app, "o@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let emails = app.core.store.list_emails(Some(&env.id), 5).await.unwrap();
    assert!(!emails[0].subject.contains(&code), "{}", emails[0].subject);
    assert!(emails[0].subject.contains("••••••"));
}
