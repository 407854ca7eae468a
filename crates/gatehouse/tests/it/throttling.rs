//! Throttling that stops guessing without locking owners out (issue 13.1, 13.2): client
//! addresses from trusted proxies and API-key callers only, counters per (account, address)
//! pair and per address, the emailed-code step-up for an account under attack, device cookies,
//! IPv6 per /64, and the limits holding across several `Core`s on one database (several real
//! processes: `throttle_processes.rs`).

use std::sync::Arc;

use gatehouse::clock::FakeClock;
use gatehouse::domain::client_address::{ClientAddress, TrustedProxies};
use gatehouse::server::open_core;
use gatehouse::service::Error;
use gatehouse::service::auth::RequestInfo;
use gatehouse::service::throttle::{
    ACCOUNT_STEP_UP_AFTER, CODE_GUESSES_PER_ACCOUNT, CODE_GUESSES_PER_PAIR, PER_ADDRESS, PER_PAIR, SENDS_PER_ACCOUNT,
    SENDS_PER_ADDRESS, SENDS_PER_PAIR,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::hosted::{authorize_url, code_and_state, open, submit};
use crate::support::*;

/// A password sign-in by a backend that states its end user's address.
async fn backend_login(app: &TestApp, email: &str, password: &str, ip: &str) -> (u16, Value) {
    app.authenticate(json!({
        "grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key,
        "email": email, "password": password, "ip_address": ip, "user_agent": "Backend/1",
    }))
    .await
}

/// A password sign-in straight from this machine with a forwarding header.
async fn forwarded_login(app: &TestApp, email: &str, password: &str, xff: &str) -> (u16, Value) {
    let res = app
        .http
        .post(app.at("/user_management/authenticate"))
        .header("x-forwarded-for", xff)
        .json(&json!({
            "grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key,
            "email": email, "password": password,
        }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Signs in through the hosted page with `client`; returns the response to the password form.
async fn hosted_sign_in(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let res = client.get(authorize_url(app, "")).send().await.unwrap();
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let html = client.get(&page).send().await.unwrap().text().await.unwrap();
    let mut form = vec![
        ("request".to_owned(), crate::hosted::hidden(&html, "request")),
        ("csrf_token".to_owned(), crate::hosted::hidden(&html, "csrf_token")),
    ];
    form.push(("email".into(), email.into()));
    form.push(("password".into(), PASSWORD.into()));
    client.post(app.at("/authkit/sign-in")).form(&form).send().await.unwrap()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

async fn session_ip(app: &TestApp, user_id: &str) -> Value {
    let (status, body) = app.api(Method::GET, &format!("/user_management/users/{user_id}/sessions"), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"][0].clone()
}

#[tokio::test]
async fn attackers_on_many_addresses_never_stop_the_owner_on_a_known_device() {
    let app = TestApp::spawn().await;
    app.create_user("owner@example.com").await;
    let owners_browser = browser();
    let res = hosted_sign_in(&app, &owners_browser, "owner@example.com").await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with(REDIRECT_URI));
    let mut failures = 0;
    for target in [5, 50] {
        while failures < target {
            let ip = format!("198.51.100.{}", failures % 250);
            let (status, body) = backend_login(&app, "owner@example.com", "wrong guess", &ip).await;
            assert_eq!(status, 400, "each address is still under its own limit: {body}");
            failures += 1;
        }
        let res = hosted_sign_in(&app, &owners_browser, "owner@example.com").await;
        assert_eq!(res.status(), 303, "after {failures} failures");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT_URI), "the known device goes straight back to the app: {location}");
        code_and_state(&location);
    }
    // A browser that never signed in, with the right password, is asked for an emailed code,
    // not refused; so is a backend signing the owner in from a new address.
    assert!(failures > ACCOUNT_STEP_UP_AFTER as usize);
    let res = hosted_sign_in(&app, &browser(), "owner@example.com").await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/authkit/verify-email"));
    let (status, body) = backend_login(&app, "owner@example.com", PASSWORD, "192.0.2.1").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("email_verification_required")), "{body}");
    // A forged device cookie is no device.
    let forged = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client_with_cookie(&app, &forged, "gatehouse_device=AAAAAAAAAAAAAAAA.forged").await;
    assert!(res.starts_with("/authkit/verify-email"), "{res}");
}

/// The hosted sign-in with an explicit cookie header; returns where it leads.
async fn client_with_cookie(app: &TestApp, client: &reqwest::Client, cookie: &str) -> String {
    let res = client.get(authorize_url(app, "")).send().await.unwrap();
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let res = client.get(&page).send().await.unwrap();
    let csrf_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let html = res.text().await.unwrap();
    let form = [
        ("request", crate::hosted::hidden(&html, "request")),
        ("csrf_token", crate::hosted::hidden(&html, "csrf_token")),
        ("email", "owner@example.com".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = client
        .post(app.at("/authkit/sign-in"))
        .header("cookie", format!("{csrf_cookie}; {cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn guesses_per_account_and_address_are_limited_and_ipv6_counts_per_64() {
    let app = TestApp::spawn().await;
    app.create_user("v6@example.com").await;
    for i in 0..PER_PAIR.max {
        let (status, _) = backend_login(&app, "v6@example.com", "wrong", &format!("2001:db8:1:2::{:x}", i + 1)).await;
        assert_eq!(status, 400);
    }
    let (status, body) = backend_login(&app, "v6@example.com", PASSWORD, "2001:db8:1:2:ffff::1").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")), "same /64: {body}");
    let (status, body) = backend_login(&app, "v6@example.com", PASSWORD, "2001:db8:1:3::1").await;
    assert_eq!(status, 200, "another /64: {body}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_noisy_client_does_not_block_the_others() {
    let app = TestApp::spawn_with(|c| {
        c.web.client_addresses.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    let user = app.create_user("calm@example.com").await;
    for i in 0..PER_ADDRESS.max {
        let (status, _) = forwarded_login(&app, &format!("nobody{i}@example.com"), "wrong", "203.0.113.7").await;
        assert_eq!(status, 400, "attempt {i}");
    }
    let (status, _) = forwarded_login(&app, "nobody@example.com", "wrong", "203.0.113.7").await;
    assert_eq!(status, 429, "the noisy client is stopped");
    // A client appending a spoofed hop cannot escape: the proxy's entry (rightmost) counts.
    let (status, _) = forwarded_login(&app, "nobody@example.com", "wrong", "10.9.9.9, 203.0.113.7").await;
    assert_eq!(status, 429);
    let (status, body) = forwarded_login(&app, "calm@example.com", PASSWORD, "203.0.113.8").await;
    assert_eq!(status, 200, "another client behind the proxy: {body}");
    assert_eq!(session_ip(&app, user["id"].as_str().unwrap()).await["ip_address"], "203.0.113.8");
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::spawn().await;
    let user = app.create_user("spoof@example.com").await;
    for i in 0..PER_ADDRESS.max {
        let (status, _) =
            forwarded_login(&app, &format!("n{i}@example.com"), "wrong", &format!("198.51.100.{}", i % 250)).await;
        assert_eq!(status, 400);
    }
    let (status, _) = forwarded_login(&app, "spoof@example.com", PASSWORD, "192.0.2.200").await;
    assert_eq!(status, 429, "every attempt counted against the real peer");
    app.clock.advance_secs(PER_ADDRESS.window_ms / 1000 + 1);
    let (status, _) = forwarded_login(&app, "spoof@example.com", PASSWORD, "192.0.2.200").await;
    assert_eq!(status, 200);
    assert_eq!(session_ip(&app, user["id"].as_str().unwrap()).await["ip_address"], "127.0.0.1");
}

#[tokio::test]
async fn ip_address_is_believed_from_an_api_key_caller_only() {
    let app = TestApp::spawn().await;
    let user = app.create_user("meta@example.com").await;
    let id = user["id"].as_str().unwrap();
    let (status, body) = backend_login(&app, "meta@example.com", PASSWORD, "203.0.113.50").await;
    assert_eq!(status, 200, "{body}");
    let session = session_ip(&app, id).await;
    assert_eq!(
        (session["ip_address"].as_str(), session["user_agent"].as_str()),
        (Some("203.0.113.50"), Some("Backend/1"))
    );
    // A public client (PKCE, no key) exchanging a code cannot choose its recorded address.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let (_, html) =
        open(&app, &authorize_url(&app, &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"))).await;
    let res = submit(&app, "/authkit/sign-in", &html, &[("email", "meta@example.com"), ("password", PASSWORD)]).await;
    let (code, _) = code_and_state(res.headers()["location"].to_str().unwrap());
    let (status, body) = app
        .authenticate(json!({
            "grant_type": "authorization_code", "client_id": app.client_id, "code": code,
            "code_verifier": VERIFIER, "ip_address": "203.0.113.99",
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = app.api(Method::GET, &format!("/user_management/users/{id}/sessions"), None).await;
    let ips: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|s| s["ip_address"].as_str()).collect();
    assert!(ips.contains(&"127.0.0.1") && !ips.contains(&"203.0.113.99"), "{ips:?}");
}

#[tokio::test]
async fn parallel_guesses_on_several_cores_sharing_a_database_never_exceed_the_policy() {
    let app = TestApp::spawn().await;
    app.create_user("race@example.com").await;
    // Three more `Core`s on the same database, as three more server processes would have (real
    // processes: `throttle_processes.rs`).
    let mut cores = Vec::new();
    for _ in 0..3 {
        cores.push(open_core(&app.config, Arc::new(FakeClock::new(1_800_000_000_000))).await.unwrap());
    }
    let env = cores[0].load_environment(&app.client_id).await.unwrap().unwrap();
    let info = RequestInfo { address: Some(ClientAddress::direct("192.0.2.77".parse().unwrap())), user_agent: None };
    let attempts = cores.iter().flat_map(|core| {
        let (env, info) = (env.clone(), info.clone());
        (0..10).map(move |_| {
            let (env, info) = (env.clone(), info.clone());
            async move { core.verify_password_sign_in(&env, "race@example.com", "wrong", &info, None).await }
        })
    });
    let results = join_all(attempts).await;
    let evaluated = results.iter().filter(|r| matches!(r, Err(Error::InvalidCredentials { .. }))).count();
    let refused = results.iter().filter(|r| matches!(r, Err(Error::RateLimited { .. }))).count();
    assert_eq!(evaluated, PER_PAIR.max as usize, "{results:?}");
    assert_eq!(evaluated + refused, 30);
    for core in cores {
        core.close().await;
    }
}

/// The verification codes emailed to `email` so far.
async fn codes_sent_to(app: &TestApp, email: &str) -> usize {
    let env = app.core.environment_by_name("development").await.unwrap();
    let emails = app.core.store.list_emails(Some(&env.id), 500).await.unwrap();
    emails.iter().filter(|e| e.to_address == email && e.kind == "email_verification").count()
}

#[tokio::test]
async fn sends_without_a_client_address_never_share_one_budget_for_the_whole_server() {
    let app = TestApp::spawn().await;
    app.set(&[("email_verification_required", "true")]).await;
    let count = SENDS_PER_ADDRESS.max as usize + 10;
    for i in 0..count {
        app.create_user(&format!("member{i}@example.com")).await;
    }
    // An app's backend signs everyone in (no `ip_address`): each owner reaches the step-up and
    // gets a code, however many sign in.
    for i in 0..count {
        let email = format!("member{i}@example.com");
        let (status, body) = app.password_login(&email, PASSWORD).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("email_verification_required")), "{i}: {body}");
        assert_eq!(codes_sent_to(&app, &email).await, 1, "{email}");
    }
    // Password resets and Magic Auth codes the backend asks for, one per user.
    for i in 0..count {
        let body = json!({ "email": format!("member{i}@example.com") });
        let (status, reset) = app.api(Method::POST, "/user_management/password_reset", Some(body.clone())).await;
        assert_eq!(status, 201, "reset {i}: {reset}");
        let (status, magic) = app.api(Method::POST, "/user_management/magic_auth", Some(body)).await;
        assert_eq!(status, 201, "magic auth {i}: {magic}");
    }
    // The recipient's own limit still holds.
    let body = json!({ "email": "member0@example.com" });
    let mut refused = false;
    for _ in 0..SENDS_PER_ACCOUNT.max {
        let (status, _) = app.api(Method::POST, "/user_management/password_reset", Some(body.clone())).await;
        refused |= status == 429;
    }
    assert!(refused, "one recipient is still limited");
    // A backend stating its users' addresses has them counted per address.
    for i in 0..SENDS_PER_ADDRESS.max {
        let body = json!({ "email": format!("stated{i}@example.com"), "ip_address": "203.0.113.5" });
        assert_eq!(app.api(Method::POST, "/user_management/magic_auth", Some(body)).await.0, 201);
    }
    let body = json!({ "email": "stated-last@example.com", "ip_address": "203.0.113.5" });
    assert_eq!(app.api(Method::POST, "/user_management/magic_auth", Some(body)).await.0, 429);
}

/// A hosted sign-up with `email` from a browser behind the trusted proxy at `client`.
async fn sign_up_from(app: &TestApp, email: &str, client: &str) -> u16 {
    let http = browser();
    let res =
        http.get(authorize_url(app, "&screen_hint=sign-up")).header("x-forwarded-for", client).send().await.unwrap();
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let html = http.get(&page).header("x-forwarded-for", client).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request", crate::hosted::hidden(&html, "request")),
        ("csrf_token", crate::hosted::hidden(&html, "csrf_token")),
        ("email", email.to_owned()),
        ("password", "a decoy's own passphrase".to_owned()),
    ];
    let res = http.post(app.at("/authkit/sign-up")).header("x-forwarded-for", client).form(&form).send().await.unwrap();
    res.status().as_u16()
}

#[tokio::test]
async fn decoy_sign_ups_for_an_address_never_stop_its_owner_getting_a_code() {
    let app = TestApp::spawn_with(|c| {
        c.web.client_addresses.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    app.set(&[("email_verification_required", "true")]).await;
    app.create_user("owner@example.com").await;
    // Sign-ups with the owner's address from several addresses: each gets the uniform answer
    // (a decoy), more than the recipient's send limit in all.
    let decoys = SENDS_PER_ACCOUNT.max + 10;
    for i in 0..decoys {
        let client = format!("198.51.100.{}", i / SENDS_PER_PAIR.max);
        assert_eq!(sign_up_from(&app, "owner@example.com", &client).await, 303, "decoy {i}");
    }
    // The owner signs in and gets a verification code.
    let (status, body) = backend_login(&app, "owner@example.com", PASSWORD, "192.0.2.10").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("email_verification_required")), "{body}");
    assert_eq!(codes_sent_to(&app, "owner@example.com").await, 1);
}

/// The Magic Auth grant from a backend stating its user's address.
async fn backend_magic(app: &TestApp, email: &str, code: &str, ip: &str) -> (u16, Value) {
    app.authenticate(json!({
        "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": app.client_id,
        "client_secret": app.api_key, "email": email, "code": code, "ip_address": ip,
    }))
    .await
}

/// A fresh Magic Auth code for `email`, asked for by the backend.
async fn magic_code(app: &TestApp, email: &str) -> String {
    let (status, body) = app.api(Method::POST, "/user_management/magic_auth", Some(json!({ "email": email }))).await;
    assert_eq!(status, 201, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn wrong_codes_from_other_addresses_never_lock_the_owner_out_of_emailed_codes() {
    let app = TestApp::spawn().await;
    app.create_user("owner@example.com").await;
    let owners_browser = browser();
    assert_eq!(hosted_sign_in(&app, &owners_browser, "owner@example.com").await.status(), 303);
    let code = magic_code(&app, "owner@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let guess = |i: usize| format!("198.51.100.{}", i % 20);
    for i in 0..20 {
        let (status, body) = backend_magic(&app, "owner@example.com", wrong, &guess(i)).await;
        assert_eq!(status, 400, "{body}");
    }
    // Each refused code is an event naming the client that sent it.
    let (_, events) = app.api(Method::GET, "/events?events=authentication.magic_auth_failed&limit=100", None).await;
    let addresses: Vec<&str> =
        events["data"].as_array().unwrap().iter().map(|e| e["data"]["ip_address"].as_str().unwrap_or("-")).collect();
    assert_eq!(addresses.len(), 20, "{events}");
    assert!(addresses.iter().enumerate().all(|(i, a)| *a == guess(i)), "{addresses:?}");
    // The owner asks for a fresh code and redeems it from their own address.
    let code = magic_code(&app, "owner@example.com").await;
    let (status, body) = backend_magic(&app, "owner@example.com", &code, "192.0.2.10").await;
    assert_eq!(status, 200, "after 20 wrong codes from other addresses: {body}");
    // One address still gets only its own share of guesses.
    magic_code(&app, "owner@example.com").await;
    for _ in 0..CODE_GUESSES_PER_PAIR.max {
        backend_magic(&app, "owner@example.com", wrong, "203.0.113.1").await;
    }
    let code = magic_code(&app, "owner@example.com").await;
    let (status, body) = backend_magic(&app, "owner@example.com", &code, "203.0.113.1").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")), "{body}");
    // Past the account's ceiling, a new address is refused too, but the owner's known device
    // is not.
    for i in 0..CODE_GUESSES_PER_ACCOUNT.max as usize {
        backend_magic(&app, "owner@example.com", wrong, &guess(i)).await;
    }
    let code = magic_code(&app, "owner@example.com").await;
    let (status, body) = backend_magic(&app, "owner@example.com", &code, "192.0.2.11").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limit_exceeded")), "{body}");
    let location = hosted_magic_auth(&app, &owners_browser, "owner@example.com").await;
    assert!(location.starts_with(REDIRECT_URI), "the known device signs in with a code: {location}");
}

/// Signs in through the hosted "Email me a code" pages with `client`; returns where the right
/// code leads.
async fn hosted_magic_auth(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let res = client.get(authorize_url(app, "")).send().await.unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let request = location.split("request=").nth(1).unwrap().to_owned();
    let html = client
        .get(app.at(&format!("/authkit/magic-auth?request={request}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::hosted::hidden(&html, "csrf_token");
    let form = [("request", request.as_str()), ("csrf_token", &csrf), ("email", email)];
    let res = client.post(app.at("/authkit/magic-auth")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let env = app.core.environment_by_name("development").await.unwrap();
    let user = app.core.store.find_user_by_email(&env.id, email).await.unwrap().unwrap();
    let kind = gatehouse::service::codes::CodeKind::MagicAuth;
    let code = app.core.store.latest_one_time_code(&env.id, kind.as_str(), &user.id).await.unwrap().unwrap();
    let code = app.core.reveal_code(&code, kind).unwrap();
    let form = [("request", request.as_str()), ("csrf_token", &csrf), ("email", email), ("code", &code)];
    let res = client.post(app.at("/authkit/magic-auth/verify")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_forwarded_header_from_a_trusted_proxy_names_the_client() {
    use gatehouse::web::client::ForwardedHeader;
    let app = TestApp::spawn_with(|c| {
        c.web.client_addresses.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
        c.web.client_addresses.header = ForwardedHeader::Forwarded;
    })
    .await;
    let user = app.create_user("fwd@example.com").await;
    let login = |forwarded: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let res = app
                .http
                .post(app.at("/user_management/authenticate"))
                .header("forwarded", forwarded)
                .header("x-forwarded-for", "192.0.2.99")
                .json(&json!({
                    "grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key,
                    "email": "fwd@example.com", "password": password,
                }))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    for _ in 0..PER_PAIR.max {
        assert_eq!(login("for=\"[2001:db8::7]:4711\";proto=https", "wrong").await, 400);
    }
    assert_eq!(login("for=\"[2001:db8::7]:4711\";proto=https", PASSWORD).await, 429, "the pair is counted");
    // Another client behind the proxy; X-Forwarded-For is not the configured header.
    assert_eq!(login("for=203.0.113.60", PASSWORD).await, 200);
    assert_eq!(session_ip(&app, user["id"].as_str().unwrap()).await["ip_address"], "203.0.113.60");
}
