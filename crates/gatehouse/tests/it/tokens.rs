//! Tokens: the password and refresh grants, rotation with a grace window, signatures against
//! the JWKS, key rotation, throttling and CORS.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use gatehouse::service::throttle::PER_PAIR;

use crate::support::*;

async fn jwks(app: &TestApp) -> (Value, String) {
    let res = app.http.get(app.at(&format!("/sso/jwks/{}", app.client_id))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    (res.json().await.unwrap(), cache)
}

/// Verifies an RS256 JWT against a JWKS; returns the header.
fn verify(jwt: &str, keys: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let key = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid is published");
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let public = RsaPublicKeyComponents { n: &n, e: &e };
    let message = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(&RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("signature verifies");
    header
}

#[tokio::test]
async fn password_grant_issues_verifiable_tokens() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let tokens = app.login("ADA@example.com").await;
    assert_eq!(tokens.body["authentication_method"], "Password");
    assert_eq!(tokens.body["user"]["email"], "ada@example.com");
    assert!(tokens.body["user"]["last_sign_in_at"].is_string());
    let (keys, cache) = jwks(&app).await;
    assert_eq!(cache, "public, max-age=300");
    let header = verify(&tokens.access_token, &keys);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("RS256"), Some("JWT")));
    let c = claims(&tokens.access_token);
    assert_eq!(c["iss"], format!("{}/user_management/{}", app.url, app.client_id));
    assert_eq!(c["aud"], app.client_id.as_str());
    assert!(c["sub"].as_str().unwrap().starts_with("user_"));
    assert!(c["sid"].as_str().unwrap().starts_with("session_"));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    assert!(c["jti"].is_string());

    let (status, body) = app.password_login("ada@example.com", "wrong password").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_credentials")));
    let (status, body) = app.password_login("nobody@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_credentials")), "unknown emails look the same");
    // The password grant needs the API key.
    let (status, body) = app
        .authenticate(json!({"grant_type": "password", "client_id": app.client_id, "email": "ada@example.com", "password": PASSWORD}))
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
    let (status, body) = app
        .authenticate(json!({"grant_type": "password", "client_id": "client_unknown", "client_secret": app.api_key, "email": "a@b.co", "password": "x"}))
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client")));
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_address() {
    let app = TestApp::spawn().await;
    app.create_user("t@example.com").await;
    for _ in 0..PER_PAIR.max {
        let (status, _) = app.password_login("t@example.com", "wrong password").await;
        assert_eq!(status, 400);
    }
    let res = app
        .http
        .post(app.at("/user_management/authenticate"))
        .json(&json!({"grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key, "email": "t@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "even the right password waits out the window");
    let retry: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limit_exceeded");
    // Other accounts are unaffected, and the window ends.
    app.create_user("u@example.com").await;
    assert_eq!(app.password_login("u@example.com", PASSWORD).await.0, 200);
    app.clock.advance_secs(901);
    assert_eq!(app.password_login("t@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_limit() {
    let app = TestApp::spawn().await;
    app.create_user("p@example.com").await;
    let attempts = (0..20).map(|_| app.password_login("p@example.com", "wrong password"));
    let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(|(s, _)| s).collect();
    let limit = PER_PAIR.max as usize;
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), limit, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20 - limit);
}

#[tokio::test]
async fn refresh_tokens_rotate_with_a_grace_window_then_reuse_revokes() {
    let app = TestApp::spawn().await;
    app.create_user("r@example.com").await;
    let first = app.login("r@example.com").await;
    let (status, second) = app.refresh(&first.refresh_token).await;
    assert_eq!(status, 200, "{second}");
    let second = tokens(second);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.body["authentication_method"], "Password");
    assert_eq!(claims(&second.access_token)["sid"], claims(&first.access_token)["sid"]);

    // Two tabs racing: the previous token, within the grace window, gets the same pair.
    app.clock.advance_secs(2);
    let (status, again) = app.refresh(&first.refresh_token).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refresh_token"], second.refresh_token.as_str());
    assert_eq!(again["access_token"], second.access_token.as_str());

    // The current token still works and rotates.
    let (status, third) = app.refresh(&second.refresh_token).await;
    assert_eq!(status, 200);
    let third = tokens(third);
    // Now `first` is two generations old: reuse is theft, and the session ends.
    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = app.refresh(&third.refresh_token).await;
    assert_eq!(status, 400, "the whole session is revoked");
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_session() {
    let app = TestApp::spawn().await;
    app.create_user("g@example.com").await;
    let first = app.login("g@example.com").await;
    let second = tokens(app.refresh(&first.refresh_token).await.1);
    app.clock.advance_secs(6);
    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("revoked"));
    assert_eq!(app.refresh(&second.refresh_token).await.0, 400);
    // Garbage and empty tokens are plain invalid_grant.
    assert_eq!(app.refresh("nope").await.1["error"], "invalid_grant");
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_all_get_the_same_pair() {
    let app = TestApp::spawn().await;
    app.create_user("c@example.com").await;
    let first = app.login("c@example.com").await;
    let results = join_all((0..6).map(|_| app.refresh(&first.refresh_token))).await;
    let tokens: Vec<&str> = results
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 200, "{b}");
            b["refresh_token"].as_str().unwrap()
        })
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "{tokens:?}");
}

/// `<session>.<generation>.<secret>` with one part replaced.
fn tampered(token: &str, generation: Option<&str>, secret: Option<&str>) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    format!("{}.{}.{}", parts[0], generation.unwrap_or(parts[1]), secret.unwrap_or(parts[2]))
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_and_does_not_end_the_session() {
    let app = TestApp::spawn().await;
    app.create_user("w@example.com").await;
    let first = app.login("w@example.com").await;
    let second = tokens(app.refresh(&first.refresh_token).await.1);
    let guess = "A".repeat(43);
    // Someone who knows the session ID (it is in every access token's `sid`) guesses secrets:
    // for the current generation, an earlier one, and a future one.
    for generation in ["1", "0", "2", "7"] {
        let forged = tampered(&second.refresh_token, Some(generation), Some(&guess));
        let (status, body) = app.refresh(&forged).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{generation}: {body}");
        assert!(!body["error_description"].as_str().unwrap().contains("revoked"));
    }
    // The real token was untouched by all that.
    let (status, third) = app.refresh(&second.refresh_token).await;
    assert_eq!(status, 200, "{third}");
}

#[tokio::test]
async fn a_rotation_sees_user_changes_and_revocations_made_since_the_last_one() {
    let app = TestApp::spawn().await;
    let user = app.create_user("u@example.com").await;
    let id = user["id"].as_str().unwrap();
    let first = app.login("u@example.com").await;
    // This rotation leaves the session's context in the server's memory for the next one.
    let second = tokens(app.refresh(&first.refresh_token).await.1);
    let (status, _) =
        app.api(Method::PUT, &format!("/user_management/users/{id}"), Some(json!({"first_name": "Ada"}))).await;
    assert_eq!(status, 200);
    let (status, third) = app.refresh(&second.refresh_token).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["user"]["first_name"], "Ada", "the remembered user was stale, so it was read again");
    let third = tokens(third);

    let sid = claims(&third.access_token)["sid"].as_str().unwrap().to_owned();
    app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": sid}))).await;
    let (status, body) = app.refresh(&third.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn long_chains_rotate_and_old_tokens_still_revoke() {
    let app = TestApp::spawn().await;
    app.create_user("l@example.com").await;
    let first = app.login("l@example.com").await;
    let mut current = first.refresh_token.clone();
    for _ in 0..20 {
        let (status, body) = app.refresh(&current).await;
        assert_eq!(status, 200, "{body}");
        current = tokens(body).refresh_token;
    }
    assert!(current.split('.').nth(1) == Some("20"), "{current}");
    // The very first token, twenty generations back, is recognised as this chain's.
    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("revoked"), "{body}");
    assert_eq!(app.refresh(&current).await.0, 400, "the session ended");
}

#[tokio::test]
async fn sessions_expire() {
    let app = TestApp::spawn().await;
    app.create_user("e@example.com").await;
    let first = app.login("e@example.com").await;
    app.clock.advance_secs(30 * 24 * 3600 + 1);
    assert_eq!(app.refresh(&first.refresh_token).await.0, 400);
}

#[tokio::test]
async fn key_rotation_publishes_before_signing_and_keeps_the_old_key() {
    let app = TestApp::spawn().await;
    app.create_user("k@example.com").await;
    let old = app.login("k@example.com").await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let status = app.core.rotate_signing_key(&env, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    let (keys, _) = jwks(&app).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2, "the next key is published at once");
    let still_old = app.login("k@example.com").await;
    assert_eq!(
        verify(&still_old.access_token, &keys)["kid"],
        verify(&old.access_token, &keys)["kid"],
        "not signing with it yet"
    );

    app.clock.advance_secs(301);
    let new = app.login("k@example.com").await;
    let (keys, _) = jwks(&app).await;
    assert_eq!(verify(&new.access_token, &keys)["kid"], status.kid.as_str());
    verify(&old.access_token, &keys);
    // Once the old key's last tokens have expired, it leaves the JWKS.
    app.clock.advance_secs(300 + 61);
    let (keys, _) = jwks(&app).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["kid"], status.kid.as_str());

    let res = app.http.get(app.at("/sso/jwks/client_unknown")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn cors_for_browser_clients() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, app.at("/user_management/authenticate"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    // Development allows localhost origins by default.
    let res = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(res.headers()["access-control-allow-headers"], "content-type");
    let res = preflight("https://evil.example").await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    app.api(Method::POST, "/user_management/cors_origins", Some(json!({"origin": "https://app.example.com"}))).await;
    let res = preflight("https://app.example.com").await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    // The real request carries the headers too, also on errors, never `*`.
    let res = app
        .http
        .post(app.at("/user_management/authenticate"))
        .header("Origin", "https://app.example.com")
        .json(&json!({"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
}

#[tokio::test]
async fn tokens_verify_under_convex_recommended_providers() {
    use gatehouse_verify::{AuthConfig, Verifier, VerifierOptions};
    let app = TestApp::spawn().await;
    app.create_user("convex@example.com").await;
    let tokens = app.login("convex@example.com").await;
    // The seed's `convex/auth.config.ts`, pointed at Gatehouse.
    let config = json!({"providers": [
        {"type": "customJwt", "issuer": format!("{}/", app.url), "algorithm": "RS256",
         "jwks": format!("{}/sso/jwks/{}", app.url, app.client_id), "applicationID": app.client_id},
        {"type": "customJwt", "issuer": format!("{}/user_management/{}", app.url, app.client_id), "algorithm": "RS256",
         "jwks": format!("{}/sso/jwks/{}", app.url, app.client_id)},
    ]});
    let verifier = Verifier::new(AuthConfig::from_json(&config.to_string()).unwrap(), VerifierOptions::default());
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_millis(app.core.now() as u64);
    let identity = verifier.verify(&tokens.access_token, now).await.expect("Convex accepts Gatehouse's token");
    let c = claims(&tokens.access_token);
    assert_eq!(identity.subject(), c["sub"].as_str().unwrap());
    assert_eq!(identity.issuer(), format!("{}/user_management/{}", app.url, app.client_id));
    // Expired tokens are refused the way Convex refuses them.
    let later = now + std::time::Duration::from_secs(301 + 5);
    let err = verifier.verify(&tokens.access_token, later).await.unwrap_err();
    assert!(err.message().to_lowercase().contains("expired"), "{}", err.message());
}

#[tokio::test]
async fn concurrent_refreshes_of_many_sessions_are_batched_correctly() {
    let app = TestApp::spawn().await;
    let mut firsts = Vec::new();
    for i in 0..8 {
        app.create_user(&format!("b{i}@example.com")).await;
        firsts.push(app.login(&format!("b{i}@example.com")).await);
    }
    // Revoke one session: its rotation must be refused inside the same batch as the others.
    let revoked = claims(&firsts[3].access_token)["sid"].as_str().unwrap().to_owned();
    app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": revoked}))).await;
    let results = join_all(firsts.iter().map(|t| app.refresh(&t.refresh_token))).await;
    for (i, (status, body)) in results.iter().enumerate() {
        if i == 3 {
            assert_eq!(*status, 400, "{body}");
        } else {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(claims(body["access_token"].as_str().unwrap())["sid"], claims(&firsts[i].access_token)["sid"]);
        }
    }
    let next: std::collections::HashSet<&str> =
        results.iter().filter_map(|(_, b)| b["refresh_token"].as_str()).collect();
    assert_eq!(next.len(), 7, "every session got its own successor");
}
