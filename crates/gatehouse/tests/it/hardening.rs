//! Smaller leaks of issue 17.7: HSTS on https, `no-store` on answers that carry secrets (and
//! only public material cached), a `return_to` with a line break refused before any redirect.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn https_gets_hsts_and_secrets_are_never_cached() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://auth.example.com".into()).await;
    let res = app.http.get(app.at("/health")).send().await.unwrap();
    assert_eq!(res.headers()["strict-transport-security"], "max-age=31536000");
    app.create_user("c@example.com").await;
    let res = app
        .http
        .post(app.at("/user_management/magic_auth"))
        .bearer_auth(&app.api_key)
        .json(&json!({"email": "c@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store", "the answer carries the code");
    let res = app.http.get(app.at(&format!("/sso/jwks/{}", app.client_id))).send().await.unwrap();
    assert_ne!(res.headers()["cache-control"], "no-store", "the JWKS stays cacheable");
    let plain = TestApp::spawn().await;
    let res = plain.http.get(plain.at("/health")).send().await.unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"), "no HSTS over http");
    let (status, _) = plain.api(Method::GET, "/user_management/users", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn return_to_with_a_line_break_is_refused_before_any_redirect() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(app.at("/user_management/sessions/logout?session_id=x&return_to=http%3A%2F%2Flocalhost%3A5173%2F%0d%0aSet-Cookie%3A%20a%3D1"))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 302);
    assert!(
        !res.headers().contains_key("set-cookie") || !res.headers()["set-cookie"].to_str().unwrap().starts_with("a=")
    );
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}
