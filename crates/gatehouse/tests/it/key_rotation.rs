//! `gatehouse keys rotate` from another process (issue 13.5): a CLI process rotates the signing
//! key of the store a running server uses. The server reads keys through its environment cache
//! (2 s), so it publishes the new key within that; the key signs from one JWKS max-age after it
//! was published (the schedule is derived from stored timestamps alone, so every process agrees
//! without coordination), and tokens it signs verify against the published JWKS.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{Binary, Stopped, free_port, wait_healthy};

/// The JWKS max-age the server and the CLI run with: the new key signs this long after it is
/// published, so the test sees it published and not yet signing.
const MAX_AGE_SECS: u64 = 5;
/// The server's environment cache (`service/environments.rs` `CACHE_TTL_MS`), plus a margin.
const NOTICED_WITHIN: Duration = Duration::from_secs(4);

fn kid(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published(http: &reqwest::Client, jwks: &str) -> Vec<String> {
    let keys: Value = http.get(jwks).send().await.unwrap().json().await.unwrap();
    keys["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Refreshes `tokens` in place; returns the new access token.
async fn refresh(http: &reqwest::Client, base: &str, client_id: &str, api_key: &str, tokens: &mut Value) -> String {
    let res = http
        .post(format!("{base}/user_management/authenticate"))
        .json(&json!({"grant_type": "refresh_token", "client_id": client_id, "client_secret": api_key,
                      "refresh_token": tokens["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    *tokens = res.json().await.unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_by_the_cli_is_published_then_signs_on_a_running_server() {
    let root = tempfile::tempdir().unwrap();
    let binary = Binary::for_test(root.path()).await.with_env("GATEHOUSE_JWKS_MAX_AGE_SECS", "5");
    let out = binary.command().args(["--json", "init"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (api_key, client_id) = (init["api_key"].as_str().unwrap(), init["client_id"].as_str().unwrap());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Stopped(binary.serve(port));
    let http = reqwest::Client::new();
    wait_healthy(&http, &base).await;
    let jwks = format!("{base}/sso/jwks/{client_id}");

    let res = http
        .post(format!("{base}/user_management/users"))
        .bearer_auth(api_key)
        .json(&json!({"email": "rotate@example.com", "password": crate::support::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(format!("{base}/user_management/authenticate"))
        .json(&json!({"grant_type": "password", "client_id": client_id, "client_secret": api_key,
                      "email": "rotate@example.com", "password": crate::support::PASSWORD}))
        .send()
        .await
        .unwrap();
    let mut tokens: Value = res.json().await.unwrap();
    let old_kid = kid(tokens["access_token"].as_str().unwrap());
    assert_eq!(published(&http, &jwks).await, std::slice::from_ref(&old_kid));
    // Another process rotates.
    let out = binary.command().args(["--json", "keys", "rotate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rotated = Instant::now();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_kid = status["kid"].as_str().unwrap().to_owned();
    assert_eq!(status["state"], "next", "{status}");
    assert_ne!(new_kid, old_kid);

    // The server publishes it within its cache's lifetime, beside the old key, and does not
    // sign with it yet.
    loop {
        let kids = published(&http, &jwks).await;
        if kids.contains(&new_kid) {
            assert!(kids.contains(&old_kid), "the old key stays published: {kids:?}");
            break;
        }
        assert!(rotated.elapsed() < NOTICED_WITHIN, "the JWKS did not publish {new_kid}: {kids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A key signs only from one max-age after it was published (`signs_from`; `iat` is in
    // whole seconds, hence the second of slack), and here it is published well before that.
    let signs_from = status["signs_from"].as_i64().unwrap();
    let issued_ms = |jwt: &str| crate::support::claims(jwt)["iat"].as_i64().unwrap() * 1000;
    let access = refresh(&http, &base, client_id, api_key, &mut tokens).await;
    assert!(issued_ms(&access) + 1000 < signs_from, "the JWKS took a whole max-age to publish the key");
    assert_eq!(kid(&access), old_kid, "a key must not sign before one max-age after it is published");

    // From then on (plus the cache), new tokens are signed by it.
    let signed = loop {
        let access = refresh(&http, &base, client_id, api_key, &mut tokens).await;
        if kid(&access) == new_kid {
            assert!(issued_ms(&access) + 1000 >= signs_from, "signed by the new key too early");
            break access;
        }
        assert!(
            rotated.elapsed() < Duration::from_secs(MAX_AGE_SECS) + NOTICED_WITHIN,
            "the new key did not start signing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The token verifies against the published JWKS, as an app's backend would check it.
    use gatehouse_verify::{AuthConfig, Verifier, VerifierOptions};
    let config = json!({"providers": [{"type": "customJwt", "issuer": format!("{base}/user_management/{client_id}"),
                                       "algorithm": "RS256", "jwks": jwks}]});
    let verifier = Verifier::new(AuthConfig::from_json(&config.to_string()).unwrap(), VerifierOptions::default());
    let iat = crate::support::claims(&signed)["iat"].as_u64().unwrap();
    let now = std::time::UNIX_EPOCH + Duration::from_secs(iat);
    verifier.verify(&signed, now).await.expect("the new key's token verifies against the JWKS");
}
