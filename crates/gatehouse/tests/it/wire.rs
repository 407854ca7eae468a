//! The wire contract end to end: `auth_time` in access tokens (kept across refreshes) and the
//! JWKS keys' certificates (`x5c`, `x5t#S256`), including keys made before keys had one.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gatehouse::clock::Clock as _;
use gatehouse::crypto::signing::SigningKey;
use gatehouse::domain::environment::StoredSigningKey;
use serde_json::Value;

use crate::support::*;

async fn jwks(app: &TestApp) -> Value {
    let res = app.http.get(app.at(&format!("/sso/jwks/{}", app.client_id))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every key has one certificate whose SHA-256 is its `x5t#S256` and which holds its modulus.
fn check_certificates(keys: &Value) {
    let keys = keys["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        let chain = key["x5c"].as_array().unwrap_or_else(|| panic!("no x5c: {key}"));
        assert_eq!(chain.len(), 1, "{key}");
        let der = STANDARD.decode(chain[0].as_str().unwrap()).unwrap();
        assert_eq!(key["x5t#S256"], URL_SAFE_NO_PAD.encode(digest(&SHA256, &der).as_ref()), "{key}");
        let modulus = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        assert!(der.windows(modulus.len()).any(|w| w == modulus.as_slice()), "the certificate holds the key");
        assert_eq!(
            (key["use"].as_str(), key["alg"].as_str(), key["kty"].as_str()),
            (Some("sig"), Some("RS256"), Some("RSA"))
        );
    }
}

#[tokio::test]
async fn auth_time_is_the_sign_in_and_survives_refreshes() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let signed_in_at = app.clock.now_ms() / 1000;
    let signed_in = app.login("ada@example.com").await;
    let first = claims(&signed_in.access_token);
    assert_eq!(first["auth_time"].as_i64(), Some(signed_in_at), "{first}");
    assert!(first["sid"].is_string());
    let mut refresh_token = signed_in.refresh_token;
    for _ in 0..3 {
        app.clock.advance_secs(200);
        let (status, body) = app.refresh(&refresh_token).await;
        assert_eq!(status, 200, "{body}");
        let next = tokens(body);
        let c = claims(&next.access_token);
        assert_eq!(c["auth_time"].as_i64(), Some(signed_in_at), "kept across refreshes: {c}");
        assert!(c["iat"].as_i64().unwrap() > signed_in_at);
        refresh_token = next.refresh_token;
    }
    // A new sign-in is a new auth_time.
    app.clock.advance_secs(60);
    let again = claims(&app.login("ada@example.com").await.access_token);
    assert_eq!(again["auth_time"].as_i64(), Some(app.clock.now_ms() / 1000));
}

#[tokio::test]
async fn jwks_keys_carry_their_certificates_old_keys_included() {
    let app = TestApp::spawn().await;
    let before = jwks(&app).await;
    check_certificates(&before);
    // The certificate is stored, not made per request.
    assert_eq!(jwks(&app).await, before);

    // A key stored before keys had certificates gets one when the environment is next loaded.
    let env = app.core.environment_by_name("development").await.unwrap();
    let now = app.clock.now_ms();
    let (_, private_key) = SigningKey::generate("key_legacy".into()).unwrap();
    let legacy = StoredSigningKey {
        kid: "key_legacy".into(),
        private_key,
        published_at: now,
        created_at: now,
        certificate: None,
    };
    app.core.store.insert_signing_key(&env.id, &legacy, &[]).await.unwrap();
    app.core.rotate_signing_key(&env, &gatehouse::domain::audit::Actor::Cli).await.unwrap(); // forgets the cached environment
    let after = jwks(&app).await;
    check_certificates(&after);
    let kids: Vec<&str> = after["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&"key_legacy") && kids.len() == 3, "{kids:?}");
    let stored = app.core.store.list_signing_keys(&env.id).await.unwrap();
    assert!(stored.iter().all(|k| k.certificate.is_some()));
}

#[tokio::test]
async fn access_token_lifetimes_the_sdks_would_refresh_in_a_loop_are_refused() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let mut settings = env.settings.clone();
    let err = settings.set("access_token_ttl_secs", "20").unwrap_err();
    assert!(err.contains("refreshed on every request") && err.contains("at least 40"), "{err}");
    // The service refuses it too (the CLI's and any API's path), with the same reason.
    settings.access_token_ttl_secs = 30;
    match app.core.update_settings(&env, settings.clone(), &gatehouse::domain::audit::Actor::Cli).await {
        Err(gatehouse::service::Error::Validation { message, .. }) => {
            assert!(message.contains("30 s left"), "{message}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    settings.access_token_ttl_secs = 40;
    app.core.update_settings(&env, settings, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    app.create_user("ada@example.com").await;
    let c = claims(&app.login("ada@example.com").await.access_token);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 40);
}
