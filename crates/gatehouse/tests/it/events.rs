//! The event log (issue 10): events are written with their change and only with it, `GET
//! /events` pages through them in order with filters, a reader paging while several `Core`s
//! write concurrently neither skips nor repeats one, and old events are purged.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gatehouse::clock::FakeClock;
use gatehouse::server::open_core;
use gatehouse::service::users::NewUser;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, claims, join_all};

/// Every event (type, id) in log order, paging `limit` at a time with `query` added.
async fn all_events(app: &TestApp, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/events?limit={limit}{query}");
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let (status, body) = app.api(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap().clone();
        let next = body["list_metadata"]["after"].as_str().map(str::to_owned);
        out.extend(data);
        match next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn changes_and_sign_ins_are_recorded_in_order_with_workos_payloads() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let tokens = app.login("ada@example.com").await;
    let (status, _) = app.password_login("ada@example.com", "wrong password").await;
    assert_eq!(status, 400);
    let (status, body) =
        app.api(Method::PUT, &format!("/user_management/users/{id}"), Some(json!({"last_name": "Lovelace"}))).await;
    assert_eq!(status, 200, "{body}");
    let sid = claims(&tokens.access_token)["sid"].as_str().unwrap().to_owned();
    let (status, body) =
        app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": sid}))).await;
    assert!(status < 300, "{body}");
    // A refresh that only rotates writes no event (WorkOS sends none).
    let fresh = app.login("ada@example.com").await;
    let (status, body) = app.refresh(&fresh.refresh_token).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.api(Method::DELETE, &format!("/user_management/users/{id}"), None).await;
    assert_eq!(status, 204);

    let events = all_events(&app, "", 3).await;
    assert_eq!(
        types(&events),
        [
            "user.created",
            "authentication.password_succeeded",
            "session.created",
            "authentication.password_failed",
            "user.updated",
            "session.revoked",
            "authentication.password_succeeded",
            "session.created",
            "user.deleted",
        ]
    );
    for e in &events {
        assert_eq!(e["object"], "event");
        assert!(e["id"].as_str().unwrap().starts_with("event_"), "{e}");
        assert!(e["created_at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    // Payloads as WorkOS sends them: the user object, the session object, the attempt.
    assert_eq!(events[0]["data"], user);
    assert_eq!(events[1]["data"]["type"], "password");
    assert_eq!(events[1]["data"]["status"], "succeeded");
    assert_eq!(events[1]["data"]["user_id"], id);
    assert_eq!(events[2]["data"]["object"], "session");
    assert_eq!(events[2]["data"]["id"], sid.as_str());
    assert_eq!(events[2]["data"]["auth_method"], "password");
    assert_eq!(events[2]["data"]["status"], "active");
    assert_eq!(events[3]["data"]["status"], "failed");
    assert_eq!(events[3]["data"]["error"]["code"], "invalid_credentials");
    assert_eq!(events[4]["data"]["last_name"], "Lovelace");
    assert_eq!(events[5]["data"]["status"], "revoked");
    assert_eq!(events[8]["data"]["email"], "ada@example.com");

    // Filters: types (comma-separated as the node SDK sends them, or repeated), and ranges.
    let sessions = all_events(&app, "&events=session.created,session.revoked", 10).await;
    assert_eq!(types(&sessions), ["session.created", "session.revoked", "session.created"]);
    let repeated = all_events(&app, "&events[]=user.created&events[]=user.deleted", 10).await;
    assert_eq!(types(&repeated), ["user.created", "user.deleted"]);
    let (_, body) = app.api(Method::GET, "/events?range_end=2020-01-01T00:00:00Z", None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    let (_, body) = app.api(Method::GET, "/events?range_start=2020-01-01&limit=100", None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), events.len());
    let (_, body) = app.api(Method::GET, "/events?organization_id=org_01H0000000000000000000000", None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0);
    // Backwards from a cursor.
    let last = events.last().unwrap()["id"].as_str().unwrap();
    let (_, body) = app.api(Method::GET, &format!("/events?order=desc&limit=2&after={last}"), None).await;
    assert_eq!(types(body["data"].as_array().unwrap()), ["session.created", "authentication.password_succeeded"]);
}

#[tokio::test]
async fn codes_and_resets_are_recorded_without_their_secrets() {
    let app = TestApp::spawn().await;
    let user = app.create_user("grace@example.com").await;
    let id = user["id"].as_str().unwrap();
    let (status, body) =
        app.api(Method::POST, &format!("/user_management/users/{id}/email_verification/send"), Some(json!({}))).await;
    assert!(status < 300, "{status} {body}");

    let (status, magic) =
        app.api(Method::POST, "/user_management/magic_auth", Some(json!({"email": "grace@example.com"}))).await;
    assert_eq!(status, 201, "{magic}");
    let (status, reset) =
        app.api(Method::POST, "/user_management/password_reset", Some(json!({"email": "grace@example.com"}))).await;
    assert_eq!(status, 201, "{reset}");
    let token = reset["password_reset_token"].as_str().unwrap();
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/password_reset/confirm",
            Some(json!({"token": token, "new_password": "another correct horse battery"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events = all_events(
        &app,
        "&events=magic_auth.created,password_reset.created,password_reset.succeeded,email_verification.created",
        10,
    )
    .await;
    assert_eq!(
        types(&events),
        ["email_verification.created", "magic_auth.created", "password_reset.created", "password_reset.succeeded"]
    );
    let events = &events[1..];
    assert_eq!(events[0]["data"]["id"], magic["id"]);
    assert_eq!(events[0]["data"]["object"], "magic_auth");
    assert!(events[0]["data"].get("code").is_none(), "no code in events");
    assert_eq!(events[1]["data"]["id"], reset["id"]);
    assert!(events[1]["data"].get("password_reset_token").is_none(), "no token in events");
    assert_eq!(events[2]["data"]["id"], reset["id"]);
}

#[tokio::test]
async fn a_password_change_records_the_sessions_it_ends() {
    let app = TestApp::spawn().await;
    let user = app.create_user("sessions@example.com").await;
    let id = user["id"].as_str().unwrap();
    let one = app.login("sessions@example.com").await;
    let two = app.login("sessions@example.com").await;
    let (status, body) = app
        .api(
            Method::PUT,
            &format!("/user_management/users/{id}"),
            Some(json!({"password": "an entirely new battery staple"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let revoked = all_events(&app, "&events=session.revoked,user.updated", 10).await;
    assert_eq!(types(&revoked), ["session.revoked", "session.revoked", "user.updated"]);
    let mut sids: Vec<&str> = revoked[..2].iter().map(|e| e["data"]["id"].as_str().unwrap()).collect();
    sids.sort_unstable();
    let mut expected = [
        claims(&one.access_token)["sid"].as_str().unwrap().to_owned(),
        claims(&two.access_token)["sid"].as_str().unwrap().to_owned(),
    ];
    expected.sort_unstable();
    assert_eq!(sids, expected);
    assert!(revoked[..2].iter().all(|e| e["data"]["status"] == "revoked"));
}

#[tokio::test]
async fn an_event_exists_only_if_its_change_committed() {
    let app = TestApp::spawn().await;
    app.create_user("once@example.com").await;
    let (status, _) = app
        .api(Method::POST, "/user_management/users", Some(json!({"email": "once@example.com", "password": PASSWORD})))
        .await;
    assert_eq!(status, 409);
    let (status, _) = app.api(Method::DELETE, "/user_management/users/user_01H00000000000000000000000", None).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .api(
            Method::POST,
            "/user_management/sessions/revoke",
            Some(json!({"session_id": "session_01H00000000000000000000000"})),
        )
        .await;
    assert_eq!(status, 404);
    let events = all_events(&app, "", 100).await;
    assert_eq!(types(&events), ["user.created"]);
}

#[tokio::test]
async fn bad_filters_are_422_in_the_documented_shape() {
    let app = TestApp::spawn().await;
    for query in [
        "events=user.exploded",
        "range_start=yesterday",
        "range_start=2026-02-01&range_end=2026-01-01",
        "limit=0",
        "limit=101",
        "order=sideways",
        "after=event_01H00000000000000000000000",
    ] {
        let (status, body) = app.api(Method::GET, &format!("/events?{query}"), None).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body["message"].is_string(), "{query}: {body}");
        assert!(body["errors"][0]["code"].is_string(), "{query}: {body}");
    }
    let res = app.http.get(app.at("/events")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// Several `Core`s on one database (several processes on one PostgreSQL) write users while a
/// reader pages with `after`: the reader's walk is exactly the final log, nothing skipped or
/// repeated.
#[tokio::test]
async fn a_reader_paging_during_concurrent_writes_misses_and_repeats_nothing() {
    let app = TestApp::spawn().await;
    let clock = || Arc::new(FakeClock::new(1_800_000_000_000));
    let second = open_core(&app.config, clock()).await.unwrap();
    let third = open_core(&app.config, clock()).await.unwrap();
    let cores = [app.core.clone_core(), second, third];
    let env = app.core.environment_by_name("development").await.unwrap();
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 60;
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let done = done.clone();
        let http = app.http.clone();
        let (url, key) = (app.url.clone(), app.api_key.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let mut path = format!("{url}/events?limit=7");
                if let Some(a) = &after {
                    path.push_str(&format!("&after={a}"));
                }
                let body: Value = http.get(&path).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
                let data = body["data"].as_array().unwrap();
                for e in data {
                    seen.push(e["id"].as_str().unwrap().to_owned());
                }
                if let Some(last) = seen.last() {
                    after = Some(last.clone());
                }
                if data.is_empty() && finished {
                    return seen;
                }
            }
        })
    };

    let writes = (0..WRITERS).map(|w| {
        let core = cores[w % cores.len()].clone();
        let env = env.clone();
        async move {
            for i in 0..PER_WRITER {
                let new = NewUser { email: format!("w{w}-{i}@example.com"), ..NewUser::default() };
                core.create_user(&env, new).await.unwrap();
            }
        }
    });
    join_all(writes).await;
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was listed twice");
    let all: Vec<String> =
        all_events(&app, "", 100).await.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(all.len(), WRITERS * PER_WRITER);
    assert_eq!(seen, all, "the paging reader saw exactly the log, in its order");
}

#[tokio::test]
async fn events_older_than_the_retention_are_purged() {
    let app = TestApp::spawn_with(|config| config.events.kept_days = 2).await;
    app.create_user("old@example.com").await;
    let old = all_events(&app, "", 10).await;
    app.clock.advance_secs(24 * 3600);
    app.create_user("new@example.com").await;
    app.core.purge_expired().await;
    assert_eq!(all_events(&app, "", 10).await.len(), 2, "both kept within the retention");
    app.clock.advance_secs(36 * 3600);
    app.core.purge_expired().await;
    let left = all_events(&app, "", 10).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["data"]["email"], "new@example.com");
    // A cursor that was purged is refused with a reason rather than restarting the walk.
    let gone = old[0]["id"].as_str().unwrap();
    let (status, body) = app.api(Method::GET, &format!("/events?after={gone}"), None).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn a_refused_passkey_is_a_passkey_failed_event() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let client = gatehouse::service::auth::RequestInfo {
        address: Some(gatehouse::domain::client_address::ClientAddress::direct("192.0.2.44".parse().unwrap())),
        user_agent: Some("Passkey Browser/1.0".into()),
    };
    assert!(app.core.finish_passkey_sign_in(&env, "no-such-ceremony", json!({}), &client).await.is_err());
    let events = all_events(&app, "&events=authentication.passkey_failed", 10).await;
    assert_eq!(events.len(), 1);
    let data = &events[0]["data"];
    assert_eq!((data["type"].as_str(), data["status"].as_str()), (Some("passkey"), Some("failed")));
    assert_eq!(data["error"]["code"], "passkey_failed");
    assert_eq!(
        (data["ip_address"].as_str(), data["user_agent"].as_str()),
        (Some("192.0.2.44"), Some("Passkey Browser/1.0"))
    );
}

#[tokio::test]
async fn permission_changes_are_events_and_a_removed_permission_updates_the_roles_that_granted_it() {
    let app = TestApp::spawn().await;
    let (status, created) = app
        .api(Method::POST, "/authorization/permissions", Some(json!({"slug": "posts:write", "name": "Write"})))
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) =
        app.api(Method::PATCH, "/authorization/permissions/posts:write", Some(json!({"name": "Write posts"}))).await;
    assert_eq!(status, 200);
    let grant = json!({"permissions": ["posts:write"]});
    assert_eq!(app.api(Method::PUT, "/authorization/roles/admin/permissions", Some(grant.clone())).await.0, 200);
    let (_, org) = app.api(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    let org_roles = format!("/authorization/organizations/{}/roles", org["id"].as_str().unwrap());
    let (status, _) = app.api(Method::POST, &org_roles, Some(json!({"slug": "org-editor", "name": "Editor"}))).await;
    assert_eq!(status, 201);
    let (status, _) = app.api(Method::PUT, &format!("{org_roles}/org-editor/permissions"), Some(grant)).await;
    assert_eq!(status, 200);
    let (status, _) = app.api(Method::DELETE, "/authorization/permissions/posts:write", None).await;
    assert!(status < 300, "{status}");

    let types = "permission.created,permission.updated,permission.deleted,role.updated,organization_role.updated";
    let events = all_events(&app, &format!("&events={types}"), 100).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds[..4], ["permission.created", "permission.updated", "role.updated", "organization_role.updated"]);
    // The removal: the permission, then each role that granted it (in no set order).
    let mut roles_updated = kinds[5..].to_vec();
    roles_updated.sort();
    assert_eq!((kinds[4], roles_updated), ("permission.deleted", vec!["organization_role.updated", "role.updated"]));
    // The payload is the permission as the API showed it.
    assert_eq!(events[0]["data"], created);
    assert_eq!(events[1]["data"]["name"], "Write posts");
    assert_eq!(events[4]["data"]["slug"], "posts:write");
    // The roles no longer grant it.
    for e in &events[5..] {
        assert_eq!(e["data"]["permissions"], json!([]), "{e}");
    }
    let (_, org_events) = app
        .api(
            Method::GET,
            &format!("/events?events=organization_role.updated&organization_id={}", org["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(org_events["data"].as_array().unwrap().len(), 2, "{org_events}");
    // The role itself agrees.
    let (_, admin) = app.api(Method::GET, "/authorization/roles/admin", None).await;
    assert_eq!(admin["permissions"], json!([]));
}
