//! The audit trail (issue 10.4): every configuration change is a `gatehouse.*` event written
//! with the change, naming its actor (the API key, the CLI) and the values before and after,
//! never a secret; `GET /events` lists them only when asked for by type.

use gatehouse::domain::audit::Actor;
use gatehouse::service::events::EventFilter;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn events_of(app: &TestApp, types: &str) -> Vec<Value> {
    let (status, body) = app.api(Method::GET, &format!("/events?limit=100&events={types}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn configuration_changes_are_audited_with_their_actor_and_no_secret() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let key_id = app.core.list_api_keys(&env).await.unwrap()[0].id.clone();

    // Over the API: the key that authenticated is the actor.
    let (status, body) = app
        .api(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "https://app.example.com/cb"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let redirect_id = body["id"].as_str().unwrap().to_owned();
    // A refused change records nothing.
    let (status, _) = app
        .api(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "https://app.example.com/cb"})))
        .await;
    assert_eq!(status, 409);
    let (status, body) = app.api(Method::DELETE, &format!("/user_management/redirect_uris/{redirect_id}"), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app
        .api(Method::POST, "/user_management/cors_origins", Some(json!({"origin": "https://app.example.com"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        app.api(Method::PUT, "/user_management/jwt_template", Some(json!({"content": "{\"tier\": \"gold\"}"}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/providers",
            Some(json!({"name": "GitHubOAuth", "client_id": "cid", "client_secret": "very-secret"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .api(
            Method::PUT,
            "/user_management/providers/GitHubOAuth",
            Some(json!({"client_secret": "new-secret", "display_name": "GitHub"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // From the CLI.
    app.set(&[("sign_out_redirect_uris", "https://app.example.com/bye")]).await;
    let new_key = app.core.issue_api_key(&env, &Actor::Cli).await.unwrap();
    let keys = app.core.list_api_keys(&env).await.unwrap();
    assert!(app.core.revoke_api_key(&env, &keys[1].id, &Actor::Cli).await.unwrap());
    app.core.rotate_signing_key(&env, &Actor::Cli).await.unwrap();

    // GET /events leaves them out unless asked for by type (WorkOS's document lists its types).
    let (status, body) = app.api(Method::GET, "/events?limit=100", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"].as_array().unwrap().iter().all(|e| !e["event"].as_str().unwrap().starts_with("gatehouse.")),
        "{body}"
    );

    let redirects = events_of(&app, "gatehouse.redirect_uri.created,gatehouse.redirect_uri.deleted").await;
    assert_eq!(redirects.len(), 2, "{redirects:?}");
    let created = &redirects[0]["data"];
    assert_eq!(created["actor"], json!({"type": "api_key", "id": key_id}));
    assert_eq!(created["target"], json!({"type": "redirect_uri", "id": redirect_id}));
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["uri"], "https://app.example.com/cb");
    assert_eq!(redirects[1]["event"], "gatehouse.redirect_uri.deleted");
    assert_eq!(redirects[1]["data"]["before"]["uri"], "https://app.example.com/cb");

    let template = events_of(&app, "gatehouse.jwt_template.updated").await;
    assert_eq!(template.len(), 1);
    assert_eq!(template[0]["data"]["before"]["jwt_template"], env.settings.jwt_template.as_str());
    assert_eq!(template[0]["data"]["after"]["jwt_template"], "{\"tier\": \"gold\"}");

    let settings = events_of(&app, "gatehouse.environment.settings_updated").await;
    assert_eq!(settings.len(), 1);
    let data = &settings[0]["data"];
    assert_eq!(data["actor"], json!({"type": "cli"}));
    // Only what changed.
    assert_eq!(data["before"], json!({"sign_out_redirect_uris": []}));
    assert_eq!(data["after"], json!({"sign_out_redirect_uris": ["https://app.example.com/bye"]}));

    let providers = events_of(&app, "gatehouse.provider.created,gatehouse.provider.updated").await;
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[0]["data"]["after"]["client_secret"], "[redacted]");
    assert_eq!(providers[1]["data"]["after"], json!({"display_name": "GitHub", "secret_changed": true}));

    let keys =
        events_of(&app, "gatehouse.api_key.created,gatehouse.api_key.revoked,gatehouse.signing_key.created").await;
    assert_eq!(
        keys.iter().map(|e| e["event"].as_str().unwrap()).collect::<Vec<_>>(),
        // The first key came with the environment (TestApp's `ensure_environment`).
        [
            "gatehouse.api_key.created",
            "gatehouse.api_key.created",
            "gatehouse.api_key.revoked",
            "gatehouse.signing_key.created"
        ]
    );
    let everything = serde_json::to_string(&events_of(&app, &gatehouse_types()).await).unwrap();
    for secret in ["very-secret", "new-secret", new_key.as_str(), app.api_key.as_str()] {
        assert!(!everything.contains(secret), "a secret in the audit trail");
    }

    // `gatehouse events --actor`: one actor's changes, in order.
    let filter = |actor: &str| EventFilter { actor: Some(actor.to_owned()), limit: 100, ..EventFilter::default() };
    let (by_key, _) = app.core.list_events(&env, filter(&key_id)).await.unwrap();
    assert_eq!(
        by_key.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        [
            "gatehouse.redirect_uri.created",
            "gatehouse.redirect_uri.deleted",
            "gatehouse.cors_origin.created",
            "gatehouse.jwt_template.updated",
            "gatehouse.provider.created",
            "gatehouse.provider.updated",
        ]
    );
    let (by_cli, _) = app.core.list_events(&env, filter("cli")).await.unwrap();
    assert_eq!(by_cli.first().map(|e| e.event.as_str()), Some("gatehouse.environment.created"));
    assert_eq!(by_cli.len(), 6, "{:?}", by_cli.iter().map(|e| &e.event).collect::<Vec<_>>());
    let (audit, _) =
        app.core.list_events(&env, EventFilter { audit: true, limit: 100, ..EventFilter::default() }).await.unwrap();
    assert_eq!(audit.len(), by_key.len() + by_cli.len());
}

fn gatehouse_types() -> String {
    gatehouse::domain::audit::AUDIT_EVENT_TYPES.join(",")
}

#[tokio::test]
async fn webhook_endpoint_changes_are_audited_without_their_secret() {
    let app = TestApp::spawn_with(|config| config.events.webhooks_allow_private = true).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let key_id = app.core.list_api_keys(&env).await.unwrap()[0].id.clone();
    let (status, created) = app
        .api(
            Method::POST,
            "/webhook_endpoints",
            Some(json!({"endpoint_url": "http://127.0.0.1:9/hook", "events": ["user.created"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    // A refused change records nothing.
    let (status, _) =
        app.api(Method::PATCH, &format!("/webhook_endpoints/{id}"), Some(json!({"events": ["user.exploded"]}))).await;
    assert_eq!(status, 422);
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/webhook_endpoints/{id}"),
            Some(json!({"events": ["user.created", "user.deleted"], "status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let patch = gatehouse::service::webhooks::EndpointPatch { enabled: Some(true), ..Default::default() };
    app.core.update_webhook_endpoint(&env, &id, patch.clone(), &Actor::Cli).await.unwrap();
    // A change to nothing records nothing.
    app.core.update_webhook_endpoint(&env, &id, patch, &Actor::Cli).await.unwrap();
    let (status, _) = app.api(Method::DELETE, &format!("/webhook_endpoints/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.api(Method::DELETE, &format!("/webhook_endpoints/{id}"), None).await;
    assert_eq!(status, 404);

    let events = events_of(
        &app,
        "gatehouse.webhook_endpoint.created,gatehouse.webhook_endpoint.updated,gatehouse.webhook_endpoint.deleted",
    )
    .await;
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "gatehouse.webhook_endpoint.created",
            "gatehouse.webhook_endpoint.updated",
            "gatehouse.webhook_endpoint.updated",
            "gatehouse.webhook_endpoint.deleted"
        ]
    );
    let by_key = json!({"type": "api_key", "id": key_id});
    assert_eq!(events[0]["data"]["actor"], by_key);
    assert_eq!(events[0]["data"]["target"], json!({"type": "webhook_endpoint", "id": id}));
    assert_eq!(
        events[0]["data"]["after"],
        json!({"endpoint_url": "http://127.0.0.1:9/hook", "events": ["user.created"], "status": "enabled"})
    );
    assert_eq!(events[1]["data"]["before"], json!({"events": ["user.created"], "status": "enabled"}));
    assert_eq!(events[1]["data"]["after"], json!({"events": ["user.created", "user.deleted"], "status": "disabled"}));
    assert_eq!(events[2]["data"]["actor"], json!({"type": "cli"}));
    assert_eq!(events[2]["data"]["after"], json!({"status": "enabled"}));
    assert_eq!(events[3]["data"]["actor"], by_key);
    assert_eq!(events[3]["data"]["before"]["endpoint_url"], "http://127.0.0.1:9/hook");
    assert_eq!(events[3]["data"]["after"], Value::Null);
    assert!(!serde_json::to_string(&events).unwrap().contains(&secret), "the secret in the audit trail");
}

#[tokio::test]
async fn operator_changes_are_audited_with_their_actor() {
    use gatehouse::service::operators::OperatorRole;
    let app = TestApp::spawn().await;
    let admin = crate::console::operator(&app, "root@example.com", OperatorRole::Admin).await;
    let token = app.core.invite_operator(Some("look@example.com"), OperatorRole::Viewer, &Actor::Cli).await.unwrap();
    app.core.set_operator_role("root@example.com", OperatorRole::Admin, &Actor::Cli).await.unwrap();
    app.core.set_operator_two_factor_required(true, &Actor::Cli).await.unwrap();
    app.core.set_operator_two_factor_required(true, &Actor::Cli).await.unwrap(); // no change, no event
    app.core.set_operator_two_factor_required(false, &Actor::Cli).await.unwrap();
    let operators = app.core.list_operators().await.unwrap();
    let root = operators.iter().find(|o| o.user.email == "root@example.com").unwrap().user.id.clone();
    let root_actor = Actor::Operator { id: root.clone(), email: "root@example.com".into() };
    app.core.set_operator_role("root@example.com", OperatorRole::Viewer, &root_actor).await.unwrap();
    app.core.set_operator_role("root@example.com", OperatorRole::Admin, &Actor::Cli).await.unwrap();
    app.core.remove_operator("root@example.com", &Actor::Cli).await.unwrap();

    let filter = EventFilter { limit: 100, ..EventFilter::default() };
    let (events, _) = app.core.list_operator_events(filter).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(kinds.iter().all(|k| k.starts_with("gatehouse.")), "{kinds:?}");
    let operator_kinds: Vec<&str> = kinds.iter().copied().filter(|k| k.starts_with("gatehouse.operator.")).collect();
    assert_eq!(
        operator_kinds,
        [
            "gatehouse.operator.invited",
            "gatehouse.operator.created",
            "gatehouse.operator.invited",
            "gatehouse.operator.two_factor_updated",
            "gatehouse.operator.two_factor_updated",
            "gatehouse.operator.updated",
            "gatehouse.operator.updated",
            "gatehouse.operator.deleted",
        ]
    );
    let data = |i: usize| -> Value {
        let e = events.iter().filter(|e| e.event.starts_with("gatehouse.operator.")).nth(i).unwrap();
        serde_json::from_str(&e.data).unwrap()
    };
    assert_eq!(data(0)["actor"], json!({"type": "cli"}));
    assert_eq!(data(0)["after"]["email"], "root@example.com");
    assert_eq!(data(0)["after"]["role"], "admin");
    // The new operator is the actor of their own creation (they spent the link).
    assert_eq!(data(1)["actor"], json!({"type": "operator", "id": root, "email": "root@example.com"}));
    assert_eq!(data(1)["target"]["id"], root.as_str());
    // The unchanged role (admin to admin) and two-factor setting (on to on) recorded nothing.
    assert_eq!(data(3)["after"], json!({"two_factor_required": true}));
    assert_eq!(data(4)["after"], json!({"two_factor_required": false}));
    assert_eq!(data(5)["actor"]["email"], "root@example.com");
    assert_eq!(
        (data(5)["before"].clone(), data(5)["after"].clone()),
        (json!({"role": "admin"}), json!({"role": "viewer"}))
    );
    assert_eq!(data(7)["before"], json!({"email": "root@example.com", "role": "admin"}));
    // Never the link itself.
    let everything = serde_json::to_string(&events.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(!everything.contains(&token), "an operator link in the audit trail");
    // `gatehouse events --operators` narrows by actor as for environments.
    let filter = EventFilter { actor: Some(root.clone()), limit: 100, ..EventFilter::default() };
    let (by_root, _) = app.core.list_operator_events(filter).await.unwrap();
    assert_eq!(
        by_root.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["gatehouse.operator.created", "gatehouse.operator.updated"]
    );

    // The console's Activity page lists them (the removed operator's browser is signed out:
    // a new admin looks).
    drop(admin);
    let viewer = crate::console::operator(&app, "second@example.com", OperatorRole::Viewer).await;
    let page = viewer.get(app.at("/dashboard/activity?env=gatehouse-operators")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for kind in ["gatehouse.operator.deleted", "gatehouse.operator.two_factor_updated", "gatehouse.operator.invited"] {
        assert!(html.contains(&format!("<code>{kind}</code>")), "{kind} not on the Activity page");
    }
    let page = viewer.get(app.at("/dashboard/activity")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("<option>gatehouse-operators</option>"), "the operators' trail is a choice");
    assert!(!html.contains("<code>gatehouse.operator.deleted</code>"), "an environment's page lists its own");
}
