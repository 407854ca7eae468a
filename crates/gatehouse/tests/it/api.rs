//! The management API: users, sessions, configuration, and error shapes.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn users_crud_and_pagination() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let user = app.create_user(&format!("user{i}@example.com")).await;
        assert_eq!(user["object"], "user");
        assert_eq!(user["email_verified"], false);
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    // Default order is newest first; walk pages of 2 until `after` is null.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..5 {
        let path = match &after {
            Some(a) => format!("/user_management/users?limit=2&after={a}"),
            None => "/user_management/users?limit=2".to_owned(),
        };
        let (status, page) = app.api(Method::GET, &path, None).await;
        assert_eq!(status, 200);
        assert_eq!(page["object"], "list");
        seen.extend(page["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        after = page["list_metadata"]["after"].as_str().map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // Ascending, and walking back with `before`.
    let (_, page) = app.api(Method::GET, "/user_management/users?limit=2&order=asc", None).await;
    assert_eq!(page["data"][0]["id"], ids[0]);
    let (_, back) =
        app.api(Method::GET, &format!("/user_management/users?limit=2&order=asc&before={}", ids[3]), None).await;
    let back_ids: Vec<&str> = back["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(back_ids, vec![ids[1].as_str(), ids[2].as_str()]);
    // Email filter is case-insensitive.
    let (_, found) = app.api(Method::GET, "/user_management/users?email=USER3%40example.com", None).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let (status, updated) = app
        .api(
            Method::PUT,
            &format!("/user_management/users/{}", ids[0]),
            Some(
                json!({"first_name": "Grace", "last_name": null, "external_id": "ext-1", "metadata": {"plan": "pro"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["first_name"], "Grace");
    assert_eq!(updated["metadata"]["plan"], "pro");
    let (status, by_ext) = app.api(Method::GET, "/user_management/users/external_id/ext-1", None).await;
    assert_eq!((status, by_ext["id"].as_str().unwrap()), (200, ids[0].as_str()));
    let (status, _) = app.api(Method::DELETE, &format!("/user_management/users/{}", ids[0]), None).await;
    assert_eq!(status, 204);
    let (status, missing) = app.api(Method::GET, &format!("/user_management/users/{}", ids[0]), None).await;
    assert_eq!(status, 404);
    assert_eq!(missing["code"], "entity_not_found");
}

#[tokio::test]
async fn create_user_validates_input() {
    let app = TestApp::spawn().await;
    let (status, body) = app.api(Method::POST, "/user_management/users", Some(json!({"email": "not-an-email"}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")), "{body}");
    let (status, body) = app
        .api(Method::POST, "/user_management/users", Some(json!({"email": "a@example.com", "password": "password"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("password_strength_error")), "{body}");
    app.create_user("dup@example.com").await;
    let (status, body) =
        app.api(Method::POST, "/user_management/users", Some(json!({"email": "DUP@example.com"}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("user_already_exists")));
    let (status, body) = app
        .api(Method::POST, "/user_management/users", Some(json!({"email": "m@example.com", "metadata": {"n": 1}})))
        .await;
    assert_eq!(status, 422, "{body}");
    // Unknown fields are ignored; an Idempotency-Key header is accepted.
    let res = app
        .http
        .post(app.at("/user_management/users"))
        .bearer_auth(&app.api_key)
        .header("Idempotency-Key", "retry-1")
        .json(&json!({"email": "extra@example.com", "signals_id": "x", "ip_address": "1.2.3.4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn imported_bcrypt_hash_signs_in_and_is_upgraded() {
    let app = TestApp::spawn().await;
    let hash = bcrypt::hash("imported password 42", 4).unwrap();
    let (status, user) = app
        .api(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "old@example.com", "password_hash": hash, "password_hash_type": "bcrypt"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, _) = app.password_login("old@example.com", "imported password 42").await;
    assert_eq!(status, 200);
    let stored = app
        .core
        .store
        .find_user_by_email(&app.core.store.list_environments().await.unwrap()[0].id, "old@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "x@example.com", "password_hash": "nope", "password_hash_type": "md5"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn api_key_is_required_and_checked() {
    let app = TestApp::spawn().await;
    for auth in [None, Some("sk_test_wrong"), Some("garbage")] {
        let mut req = app.http.get(app.at("/user_management/users"));
        if let Some(key) = auth {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    }
    // A revoked key stops working.
    let env = app.core.environment_by_name("development").await.unwrap();
    let keys = app.core.store.list_api_keys(&env.id).await.unwrap();
    app.core.store.revoke_api_key(&env.id, &keys[0].id, app.core.now(), &[]).await.unwrap();
    let (status, _) = app.api(Method::GET, "/user_management/users", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn malformed_bodies_get_a_json_error() {
    let app = TestApp::spawn().await;
    // The token endpoint answers OAuth's shape; management endpoints WorkOS's 422.
    for (path, body, status, code) in [
        ("/user_management/authenticate", "{not json", 400, "invalid_request"),
        ("/user_management/authenticate", "[1,2]", 400, "invalid_request"),
        ("/user_management/users", "{\"email\": 5}", 422, "invalid_request_parameters"),
        ("/user_management/cors_origins", "{not json", 422, "invalid_request_parameters"),
    ] {
        let res = app
            .http
            .post(app.at(path))
            .bearer_auth(&app.api_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path} {body}");
        let json: serde_json::Value = res.json().await.unwrap();
        let key = if status == 400 { "error" } else { "code" };
        assert_eq!(json[key], code, "{path} {body}: {json}");
        if status == 422 {
            assert!(json["message"].is_string() && json["errors"].is_array(), "{json}");
        }
    }
    let (status, body) = app.authenticate(json!({"client_id": app.client_id})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = app.authenticate(json!({"client_id": app.client_id, "grant_type": "magic"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let res = app.http.get(app.at("/no/such/thing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn configuration_api() {
    let app = TestApp::spawn().await;
    let (status, r) = app
        .api(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "http://localhost:4000/callback"})))
        .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!((r["object"].as_str(), r["default"].as_bool()), (Some("redirect_uri"), Some(false)));
    let (status, _) = app
        .api(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "http://localhost:4000/callback"})))
        .await;
    assert_eq!(status, 409);
    let (status, _) = app.api(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "not a url"}))).await;
    assert_eq!(status, 422);
    let (_, list) = app.api(Method::GET, "/user_management/redirect_uris", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3, "the two development defaults and the new one");

    let (status, c) = app
        .api(Method::POST, "/user_management/cors_origins", Some(json!({"origin": "https://app.example.com"})))
        .await;
    assert_eq!((status, c["object"].as_str()), (201, Some("cors_origin")));
    let (status, _) = app.api(Method::POST, "/user_management/cors_origins", Some(json!({"origin": "*"}))).await;
    assert_eq!(status, 422);

    let (status, t) = app.api(Method::GET, "/user_management/jwt_template", None).await;
    assert_eq!(status, 200);
    assert_eq!(t["content"], format!("{{\"aud\": \"{}\"}}", app.client_id));
    let template = format!(
        "{{\"aud\": \"{}\", \"email\": {{{{ user.email }}}}, \"name\": \"{{{{ user.first_name }}}}\"}}",
        app.client_id
    );
    let (status, t) = app.api(Method::PUT, "/user_management/jwt_template", Some(json!({"content": template}))).await;
    assert_eq!(status, 200, "{t}");
    let (status, bad) =
        app.api(Method::PUT, "/user_management/jwt_template", Some(json!({"content": "{\"sub\": \"x\"}"}))).await;
    assert_eq!(status, 422, "reserved claims cannot be overridden: {bad}");
    app.create_user("tpl@example.com").await;
    let tokens = app.login("tpl@example.com").await;
    let c = claims(&tokens.access_token);
    assert_eq!(c["email"], "tpl@example.com");
    assert_eq!(c["name"], "Ada");
    assert_eq!(c["aud"], app.client_id.as_str());
}

#[tokio::test]
async fn sessions_list_revoke_and_password_change() {
    let app = TestApp::spawn().await;
    let user = app.create_user("s@example.com").await;
    let id = user["id"].as_str().unwrap();
    let first = app.login("s@example.com").await;
    let second = app.login("s@example.com").await;
    let (status, list) = app.api(Method::GET, &format!("/user_management/users/{id}/sessions"), None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(list["data"][0]["status"], "active");
    assert_eq!(list["data"][0]["auth_method"], "password");

    let sid = claims(&first.access_token)["sid"].as_str().unwrap().to_owned();
    let (status, _) = app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": sid}))).await;
    assert_eq!(status, 200);
    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) =
        app.api(Method::POST, "/user_management/sessions/revoke", Some(json!({"session_id": "session_nope"}))).await;
    assert_eq!(status, 404);

    // Changing the password ends every session.
    let (status, _) = app
        .api(
            Method::PUT,
            &format!("/user_management/users/{id}"),
            Some(json!({"password": "another long passphrase here"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.refresh(&second.refresh_token).await;
    assert_eq!(status, 400);
    let (status, _) = app.password_login("s@example.com", "another long passphrase here").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions() {
    let app = TestApp::spawn().await;
    let user = app.create_user("d@example.com").await;
    let tokens = app.login("d@example.com").await;
    app.api(Method::DELETE, &format!("/user_management/users/{}", user["id"].as_str().unwrap()), None).await;
    let (status, body) = app.refresh(&tokens.refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn framework_rejections_are_json_too() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::PATCH, "/user_management/users"),
        (Method::GET, "/user_management/users?limit=2&limit=3"),
        (Method::DELETE, "/sso/jwks/x"),
    ] {
        let res = app.http.request(method.clone(), app.at(path)).bearer_auth(&app.api_key).send().await.unwrap();
        assert!(res.status().is_client_error(), "{method} {path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{method} {path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["message"].is_string());
    }
}
