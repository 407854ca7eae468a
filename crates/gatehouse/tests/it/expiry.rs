//! Codes and links that expire, with the fake clock: an email-verification code after ten
//! minutes, a password-reset link after one hour (over the API and on the hosted pages).

use gatehouse::service::codes::CodeKind;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn latest(app: &TestApp, kind: CodeKind, user_id: &str) -> String {
    let env = app.core.environment_by_name("development").await.unwrap();
    let code = app.core.store.latest_one_time_code(&env.id, kind.as_str(), user_id).await.unwrap().unwrap();
    app.core.reveal_code(&code, kind).unwrap()
}

async fn confirm_verification(app: &TestApp, user_id: &str, code: &str) -> (u16, Value) {
    let path = format!("/user_management/users/{user_id}/email_verification/confirm");
    app.api(Method::POST, &path, Some(json!({"code": code}))).await
}

#[tokio::test]
async fn an_email_verification_code_expires_after_ten_minutes() {
    let app = TestApp::spawn().await;
    let user = app.create_user("late@example.com").await;
    let id = user["id"].as_str().unwrap();
    let send = format!("/user_management/users/{id}/email_verification/send");
    assert_eq!(app.api(Method::POST, &send, None).await.0, 200);
    let code = latest(&app, CodeKind::EmailVerification, id).await;
    app.clock.advance_secs(601);
    let (status, body) = confirm_verification(&app, id, &code).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("email_verification_code_expired")), "{body}");
    assert_eq!(app.api(Method::GET, &format!("/user_management/users/{id}"), None).await.1["email_verified"], false);

    // A new code works for its ten minutes, to the second.
    assert_eq!(app.api(Method::POST, &send, None).await.0, 200);
    let code = latest(&app, CodeKind::EmailVerification, id).await;
    app.clock.advance_secs(599);
    let (status, body) = confirm_verification(&app, id, &code).await;
    assert_eq!((status, body["user"]["email_verified"].as_bool()), (200, Some(true)), "{body}");
}

#[tokio::test]
async fn a_password_reset_link_expires_after_an_hour() {
    let app = TestApp::spawn().await;
    app.create_user("slow@example.com").await;
    let (status, reset) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "slow@example.com"}))).await;
    assert_eq!(status, 201, "{reset}");
    let token = reset["password_reset_token"].as_str().unwrap().to_owned();
    let page = format!("/authkit/reset-password?token={token}");

    app.clock.advance_secs(3599);
    let res = app.http.get(app.at(&page)).send().await.unwrap();
    assert_eq!(res.status(), 200, "still open one second before the hour");
    app.clock.advance_secs(2);

    // The hosted page and its form say so...
    let res = app.http.get(app.at(&page)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("This link has expired"));
    let res = app
        .http
        .post(app.at("/authkit/reset-password"))
        .form(&[("token", token.as_str()), ("csrf_token", "x"), ("password", "a late new passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("This link has expired"));

    // ...and so does the API, and the old password still works.
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/password_reset/confirm",
            Some(json!({"token": token, "new_password": "a late new passphrase"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("password_reset_error")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
    assert_eq!(app.password_login("slow@example.com", PASSWORD).await.0, 200);
    assert_eq!(app.password_login("slow@example.com", "a late new passphrase").await.0, 400);
}
