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
    let user = app.create_user("c@example.com").await;
    let factors = format!("/user_management/users/{}/auth_factors", user["id"].as_str().unwrap());
    // Each answer carries a secret: a Magic Auth code, a reset token, a TOTP secret.
    for (path, body, secret) in [
        ("/user_management/magic_auth", json!({"email": "c@example.com"}), "code"),
        ("/user_management/password_reset", json!({"email": "c@example.com"}), "password_reset_token"),
        (factors.as_str(), json!({"type": "totp"}), "authentication_factor"),
    ] {
        let res = app.http.post(app.at(path)).bearer_auth(&app.api_key).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}: the answer carries a secret");
        let body: serde_json::Value = res.json().await.unwrap();
        let secret = if secret == "authentication_factor" { &body[secret]["totp"]["secret"] } else { &body[secret] };
        assert!(secret.is_string(), "{path}: {body}");
    }
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

#[tokio::test]
async fn a_redirect_uri_sent_at_exchange_must_be_the_codes() {
    use crate::hosted::{authorize_url, code_and_state, open, submit};
    let app = TestApp::spawn().await;
    app.create_user("r@example.com").await;
    let code = || async {
        let (_, html) = open(&app, &authorize_url(&app, "")).await;
        let res = submit(&app, "/authkit/sign-in", &html, &[("email", "r@example.com"), ("password", PASSWORD)]).await;
        code_and_state(res.headers()["location"].to_str().unwrap()).0
    };
    let exchange = |code: String, redirect_uri: &'static str| {
        app.authenticate(json!({
            "grant_type": "authorization_code", "client_id": app.client_id, "client_secret": app.api_key,
            "code": code, "redirect_uri": redirect_uri,
        }))
    };
    let (status, body) = exchange(code().await, "http://localhost:5173/elsewhere").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) = exchange(code().await, REDIRECT_URI).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn look_alike_addresses_with_invisible_characters_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("load1@x.com").await;
    for email in ["load1@x.com\u{200B}", "lo\u{200B}ad1@x.com", "\u{FEFF}load1@x.com", "load1\u{202E}@x.com"] {
        let (status, body) = app
            .api(
                Method::POST,
                "/user_management/users",
                Some(json!({"email": email, "password": PASSWORD, "first_name": "Eve"})),
            )
            .await;
        assert!(status == 400 || status == 422, "{email:?}: {status} {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (_, list) = app.api(Method::GET, "/user_management/users", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

/// Cyrillic ѕ с о р е: every letter a look-alike of Latin `scope`, all in one script.
const CYRILLIC_SCOPE: &str = "\u{0455}\u{0441}\u{043E}\u{0440}\u{0435}@x.com";

#[tokio::test]
async fn look_alike_addresses_are_refused_at_creation_and_email_change() {
    let app = TestApp::spawn().await;
    app.create_user("scope@x.com").await;
    app.create_user("bobl@x.com").await;
    let create = |email: &str| {
        app.api(Method::POST, "/user_management/users", Some(json!({"email": email, "password": PASSWORD})))
    };
    for email in [CYRILLIC_SCOPE, "bob1@x.com", "SCOPE@x.com"] {
        let (status, body) = create(email).await;
        assert_eq!(status, 409, "{email}: {body}");
        let expected = if email == "SCOPE@x.com" { "user_already_exists" } else { "email_look_alike" };
        assert_eq!(body["code"], expected, "{email}: {body}");
        assert!(expected == "user_already_exists" || body["message"].as_str().unwrap().contains("look"), "{body}");
    }
    // A Latin address with one Cyrillic letter (а) is refused even with no account beside it.
    let (status, body) = create("p\u{0430}ypal@x.com").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("scripts"), "{body}");
    // Changing an address to a look-alike is refused too; other changes go through.
    let other = app.create_user("other@x.com").await;
    let path = format!("/user_management/users/{}", other["id"].as_str().unwrap());
    let (status, body) = app.api(Method::PUT, &path, Some(json!({"email": CYRILLIC_SCOPE}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("email_look_alike")), "{body}");
    let (status, body) = app.api(Method::PUT, &path, Some(json!({"email": "other2@x.com"}))).await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = app.api(Method::GET, "/user_management/users", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn look_alikes_stored_before_the_check_are_backfilled_and_reported() {
    use sqlx::Connection as _;
    let app = TestApp::spawn().await;
    let latin = app.create_user("scope@x.com").await;
    let cyrillic = app.create_user("someone@x.com").await;
    let name_change = format!("/user_management/users/{}", latin["id"].as_str().unwrap());
    {
        // As a store from before migration 10 holds them: look-alikes, and no skeletons.
        let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
        sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(CYRILLIC_SCOPE)
            .bind(cyrillic["id"].as_str().unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("UPDATE users SET email_skeleton = NULL").execute(&mut conn).await.unwrap();
    }
    app.core.backfill_email_skeletons().await.unwrap();
    assert_eq!(app.core.count_email_look_alikes().await.unwrap(), 1, "one group at start-up");
    let groups = app.core.email_look_alikes().await.unwrap();
    let emails: Vec<&str> = groups[0].users.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(emails, ["scope@x.com", CYRILLIC_SCOPE]);
    // Either of the pair can still be changed in other ways.
    let (status, body) = app.api(Method::PUT, &name_change, Some(json!({"first_name": "Grace"}))).await;
    assert_eq!(status, 200, "{body}");
    // The operator's report.
    let report = users_report(&app, "look-alikes");
    assert_eq!(report["groups"][0]["environment"], "development", "{report}");
    assert_eq!(report["groups"][0]["users"][1]["email"], CYRILLIC_SCOPE, "{report}");
    // A server started on the store warns, naming the count and the command.
    let warned = start_up_warning(&app, "look alike");
    assert!(warned.contains("1 group") && warned.contains("gatehouse users look-alikes"), "{warned}");
}

/// Starts the real binary on the test's store and returns the first log line containing
/// `needle` (panics after 30 s without one).
fn start_up_warning(app: &TestApp, needle: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--data", app.config.data_dir.to_str().unwrap(), "serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("GATEHOUSE_DATABASE_URL", app.config.database_url())
        .env_remove("GATEHOUSE_SECRET_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let warned = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) if line.contains(needle) => break line,
            Ok(line) => log.push_str(&format!("{line}\n")),
            Err(_) => {
                let _ = server.kill();
                panic!("no start-up line with {needle:?}:\n{log}");
            }
        }
    };
    let _ = server.kill();
    let _ = server.wait();
    warned
}

/// `gatehouse --json users <report>` on the test's store.
fn users_report(app: &TestApp, report: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--data", app.config.data_dir.to_str().unwrap(), "--json", "users", report])
        .env("GATEHOUSE_DATABASE_URL", app.config.database_url())
        .env_remove("GATEHOUSE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Addresses stored before Gatehouse refused invisible characters, non-NFC forms and mixed
/// scripts, with no look-alike beside them, are reported too: by a start-up warning and by
/// `gatehouse users invalid-emails`.
#[tokio::test]
async fn invalid_addresses_stored_before_the_checks_are_reported() {
    use sqlx::Connection as _;
    let app = TestApp::spawn().await;
    app.create_user("fine@x.com").await;
    let bad = [
        ("lo\u{200B}ad@x.com", "invisible_characters"),
        ("ad\u{202E}a@x.com", "invisible_characters"),
        ("jose\u{0301}@x.com", "not_nfc"),
        ("p\u{0430}ypal@x.com", "mixed_scripts"),
    ];
    let mut ids = Vec::new();
    {
        let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
        for (i, (email, _)) in bad.iter().enumerate() {
            let user = app.create_user(&format!("placeholder{i}@x.com")).await;
            let id = user["id"].as_str().unwrap().to_owned();
            sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
                .bind(*email)
                .bind(&id)
                .execute(&mut conn)
                .await
                .unwrap();
            ids.push(id);
        }
    }
    let found = app.core.invalid_emails().await.unwrap();
    let mut listed: Vec<(&str, &str)> = found.iter().map(|u| (u.email.as_str(), u.problems[0])).collect();
    listed.sort_unstable();
    let mut expected = bad.to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let report = users_report(&app, "invalid-emails");
    let users = report["users"].as_array().unwrap();
    assert_eq!(users.len(), bad.len(), "{report}");
    for (id, (email, problem)) in ids.iter().zip(bad) {
        let user = users.iter().find(|u| u["id"] == id.as_str()).unwrap_or_else(|| panic!("{id} missing: {report}"));
        assert_eq!((user["email"].as_str(), user["environment"].as_str()), (Some(email), Some("development")));
        assert!(user["problems"].as_array().unwrap().iter().any(|p| p == problem), "{user}");
        assert!(user["escaped"].as_str().unwrap().is_ascii(), "{user}");
    }
    let warned = start_up_warning(&app, "would refuse today");
    assert!(warned.contains("4 user(s)") && warned.contains("gatehouse users invalid-emails"), "{warned}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--data", data.to_str().unwrap(), "init"])
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env_remove("GATEHOUSE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let files: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(files.iter().any(|f| f.ends_with("gatehouse.db")), "{files:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    // A folder made readable by others is reported at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--data", data.to_str().unwrap(), "env", "list"])
        .env_remove("GATEHOUSE_DATABASE_URL")
        .env_remove("GATEHOUSE_SECRET_KEY")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("other users can access"), "{log}");
}

#[tokio::test]
async fn sign_up_probing_is_throttled_per_address() {
    use crate::hosted::{authorize_url, open, submit};
    use gatehouse::service::throttle::SIGN_UPS_PER_ADDRESS;
    let app = TestApp::spawn().await;
    app.create_user("known@example.com").await;
    let (_, html) = open(&app, &authorize_url(&app, "&screen_hint=sign-up")).await;
    for _ in 0..SIGN_UPS_PER_ADDRESS.max {
        let res =
            submit(&app, "/authkit/sign-up", &html, &[("email", "known@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), 303, "on to the code page, as for a new address");
    }
    let res = submit(&app, "/authkit/sign-up", &html, &[("email", "known@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(!res.text().await.unwrap().contains("sign in instead"), "a refused probe learns nothing");
}

async fn stored_authorize_requests(app: &TestApp) -> i64 {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM authorization_requests").fetch_one(&mut conn).await.unwrap()
}

/// The bytes the saved requests hold (their parameters).
async fn stored_authorize_bytes(app: &TestApp) -> i64 {
    use sqlx::Connection as _;
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query_scalar("SELECT CAST(COALESCE(SUM(LENGTH(params)), 0) AS BIGINT) FROM authorization_requests")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The SQLite database's size (its pages, those still in the write-ahead log included: the file
/// it comes to once checkpointed; the log itself is a reused buffer the server's checkpoints
/// keep short); `None` on PostgreSQL.
async fn sqlite_bytes(app: &TestApp) -> Option<i64> {
    use sqlx::Connection as _;
    if app.config.database_url.is_some() {
        return None;
    }
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut conn).await.unwrap();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut conn).await.unwrap();
    Some(pages * page_size)
}

#[tokio::test]
async fn unauthenticated_authorize_requests_cannot_grow_the_database_without_bound() {
    use crate::hosted::authorize_url;
    use gatehouse::service::throttle::PENDING_STATE_PER_ADDRESS;
    const REQUESTS: usize = 3000;
    let app = TestApp::spawn().await;
    // Large `state`s are refused before anything is stored.
    let huge = "a".repeat(60_000);
    for _ in 0..50 {
        let res = app.http.get(authorize_url(&app, &format!("&state={huge}"))).send().await.unwrap();
        assert_eq!(res.status(), 414);
    }
    let res = app.http.get(authorize_url(&app, &format!("&state={}", "b".repeat(3000)))).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert!(res.headers()["location"].to_str().unwrap().contains("error=invalid_request"));
    assert_eq!(stored_authorize_requests(&app).await, 0);
    // 3,000 requests as large as allowed (a 2,048-character `state`, a 320-character
    // `login_hint`) from one address: stored up to the per-address limit, then refused.
    let before = sqlite_bytes(&app).await;
    let hint = format!("{}@example.com", "h".repeat(320 - "@example.com".len()));
    let url = authorize_url(&app, &format!("&state={}&login_hint={hint}", "s".repeat(2048)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let statuses = join_all((0..8).map(|_| async {
        let mut seen = Vec::new();
        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
            seen.push(app.http.get(&url).send().await.unwrap().status().as_u16());
        }
        seen
    }))
    .await;
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let max = usize::try_from(PENDING_STATE_PER_ADDRESS.max).unwrap();
    assert_eq!((statuses.len(), refused), (REQUESTS, REQUESTS - max), "every request past the limit is refused");
    assert!(statuses.iter().all(|s| *s == 302 || *s == 429), "{statuses:?}");
    assert_eq!(stored_authorize_requests(&app).await, PENDING_STATE_PER_ADDRESS.max);
    // Each stored request holds at most its query's worth (8 KiB), and here about 2.5 KB.
    let bytes = stored_authorize_bytes(&app).await;
    assert!(bytes <= PENDING_STATE_PER_ADDRESS.max * 8 * 1024, "{bytes} bytes stored");
    assert!(bytes >= PENDING_STATE_PER_ADDRESS.max * 2368, "the large parameters were stored: {bytes} bytes");
    if let (Some(before), Some(after)) = (before, sqlite_bytes(&app).await) {
        let grown = after - before;
        assert!(grown < 10 * 1024 * 1024, "the SQLite file grew by {grown} bytes");
        eprintln!("the SQLite file grew by {grown} bytes for {bytes} bytes of stored requests");
    }
}

async fn stored_refresh_key(app: &TestApp) -> String {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = 'refresh_rotation_key'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_refresh_rotation_key_is_sealed_and_old_stores_are_sealed_in_place() {
    use gatehouse::clock::FakeClock;
    use gatehouse::server::open_core;
    use gatehouse::service::auth::{ClientAuth, Grant, RequestInfo};
    use std::sync::Arc;
    let app = TestApp::spawn().await;
    assert!(stored_refresh_key(&app).await.starts_with("v1."), "sealed with the server key");
    app.create_user("k@example.com").await;
    // A store from before sealing: the key in clear.
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
        sqlx::query("UPDATE server_secrets SET value = 'legacy-clear-key' WHERE name = 'refresh_rotation_key'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let clock = || Arc::new(FakeClock::new(1_800_000_000_000));
    let second = open_core(&app.config, clock()).await.unwrap();
    let sealed = stored_refresh_key(&app).await;
    assert!(sealed.starts_with("v1.") && !sealed.contains("legacy-clear-key"), "{sealed}");
    // Tokens issued after the conversion rotate on another process that reads the sealed key:
    // the value survived sealing.
    let client = |secret: Option<String>| ClientAuth {
        client_id: app.client_id.clone(),
        client_secret: secret,
        stated_ip_address: None,
        stated_user_agent: None,
    };
    let info = RequestInfo::default();
    let grant = Grant::Password { email: "k@example.com".into(), password: PASSWORD.into(), invitation_token: None };
    let first = second.authenticate(&client(Some(app.api_key.clone())), grant, &info).await.unwrap();
    let rotated = second
        .authenticate(
            &client(None),
            Grant::RefreshToken { refresh_token: first.refresh_token.clone(), organization_id: None },
            &info,
        )
        .await
        .unwrap();
    let third = open_core(&app.config, clock()).await.unwrap();
    // A retry of the previous token within the grace window derives the same token again,
    // which only works with the same key.
    let retried = third
        .authenticate(
            &client(None),
            Grant::RefreshToken { refresh_token: first.refresh_token, organization_id: None },
            &info,
        )
        .await
        .unwrap();
    assert_eq!(retried.refresh_token, rotated.refresh_token);
    second.close().await;
    third.close().await;
}

#[tokio::test]
async fn signing_keys_are_sealed_and_old_stores_are_sealed_in_place() {
    use gatehouse::clock::FakeClock;
    use gatehouse::crypto::signing::SigningKey;
    use gatehouse::server::open_core;
    use sqlx::Connection as _;
    use std::sync::Arc;
    let app = TestApp::spawn().await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.config.database_url()).await.unwrap();
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT kid, private_key FROM signing_keys").fetch_all(&mut conn).await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|(_, k)| k.starts_with("v1.")), "sealed with the server key");
    // A store from before sealing: a key in clear.
    let kid = keys[0].0.clone();
    let (legacy, clear) = SigningKey::generate(kid.clone()).unwrap();
    sqlx::query("UPDATE signing_keys SET private_key = $1 WHERE kid = $2")
        .bind(&clear)
        .bind(&kid)
        .execute(&mut conn)
        .await
        .unwrap();
    let second = open_core(&app.config, Arc::new(FakeClock::new(1_800_000_000_000))).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT private_key FROM signing_keys WHERE kid = $1")
        .bind(&kid)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(stored.starts_with("v1.") && stored != clear);
    // The sealed key is the same key: a process reading it publishes its public half.
    let third = open_core(&app.config, Arc::new(FakeClock::new(1_800_000_000_000))).await.unwrap();
    let env = third.load_environment(&app.client_id).await.unwrap().unwrap();
    let jwks = third.jwks(&env).unwrap();
    let (n, e) = legacy.public_numbers();
    assert!(jwks.iter().any(|k| k.kid == kid && k.n == n && k.e == e), "{jwks:?}");
    second.close().await;
    third.close().await;
}

/// `gatehouse env show | head -1` (and `gatehouse --json backup FILE | head`): the reader goes
/// away before the output is written; the command stops quietly (exit 0) instead of panicking
/// on the closed pipe.
#[test]
fn output_to_a_closed_pipe_does_not_panic() {
    use std::process::{Command, Stdio};
    let data = tempfile::tempdir().unwrap();
    let cli = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        c.arg("--data").arg(data.path()).env_remove("GATEHOUSE_DATABASE_URL").env_remove("GATEHOUSE_SECRET_KEY");
        c
    };
    assert!(cli().arg("init").output().unwrap().status.success());
    let backup = data.path().join("closed-pipe-backup.db");
    let backup = backup.to_str().unwrap();
    for args in [&["env", "show", "development"][..], &["--json", "env", "list"][..], &["--json", "backup", backup][..]]
    {
        let mut child = cli().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(!log.contains("panicked"), "{args:?}: {log}");
        assert!(out.status.success(), "{args:?}: {:?} {log}", out.status);
    }
    // The backup was written before its report met the closed pipe.
    assert!(std::path::Path::new(backup).exists());
}
