//! WorkOS's resource-based authorization (issue 12): resource types (the CLI's), resources in a
//! hierarchy, role assignments, `…/check` with inheritance from ancestors and the
//! organization-level role, the resource-scoped listings, and removing an environment role
//! with `role.deleted`.

use gatehouse::domain::audit::Actor;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn setup_types(app: &TestApp) {
    let env = app.core.environment_by_name("development").await.unwrap();
    for slug in ["workspace", "project"] {
        app.core.add_resource_type(&env, slug, None, &Actor::Cli).await.unwrap();
    }
}

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = app.api(Method::POST, path, Some(body)).await;
    assert_eq!(status, 201, "{path}: {created}");
    created
}

async fn org(app: &TestApp, name: &str) -> String {
    create(app, "/organizations", json!({"name": name})).await["id"].as_str().unwrap().to_owned()
}

async fn resource(app: &TestApp, org: &str, kind: &str, external_id: &str, parent: Option<&str>) -> Value {
    let mut body = json!({"organization_id": org, "resource_type_slug": kind, "external_id": external_id,
        "name": external_id.to_uppercase()});
    if let Some(p) = parent {
        body["parent_resource_id"] = json!(p);
    }
    create(app, "/authorization/resources", body).await
}

async fn member(app: &TestApp, email: &str, org: &str, role: &str) -> String {
    let user = app.create_user(email).await;
    let body = json!({"user_id": user["id"], "organization_id": org, "role_slug": role});
    create(app, "/user_management/organization_memberships", body).await["id"].as_str().unwrap().to_owned()
}

async fn check(app: &TestApp, om: &str, permission: &str, resource: Value) -> bool {
    let mut body = resource;
    body["permission_slug"] = json!(permission);
    let path = format!("/authorization/organization_memberships/{om}/check");
    let (status, answer) = app.api(Method::POST, &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["authorized"].as_bool().unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

fn slugs(list: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|v| v["slug"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn resources_crud_hierarchy_and_validation() {
    let app = TestApp::spawn().await;
    setup_types(&app).await;
    let acme = org(&app, "Acme").await;

    let ws = resource(&app, &acme, "workspace", "ws-1", None).await;
    assert_eq!(ws["object"], "authorization_resource");
    assert!(ws["id"].as_str().unwrap().starts_with("authz_resource_"));
    assert_eq!((&ws["parent_resource_id"], &ws["description"]), (&Value::Null, &Value::Null));
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let project = create(
        &app,
        "/authorization/resources",
        json!({"organization_id": acme, "resource_type_slug": "project", "external_id": "p-1", "name": "P1",
            "description": "First", "parent_resource_external_id": "ws-1", "parent_resource_type_slug": "workspace"}),
    )
    .await;
    assert_eq!(project["parent_resource_id"], ws["id"]);
    resource(&app, &acme, "project", "p-2", Some(&ws_id)).await;

    // Bad input: 4xx with the documented codes, never 500.
    let post = |body: Value| {
        let app = &app;
        async move { app.api(Method::POST, "/authorization/resources", Some(body)).await }
    };
    let (status, dup) =
        post(json!({"organization_id": acme, "resource_type_slug": "project", "external_id": "p-1", "name": "X"}))
            .await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("authorization_resource_external_id_conflict")));
    let (status, unknown) =
        post(json!({"organization_id": acme, "resource_type_slug": "folder", "external_id": "f", "name": "X"})).await;
    assert_eq!((status, unknown["code"].as_str()), (422, Some("invalid_request_parameters")), "{unknown}");
    assert!(unknown["message"].as_str().unwrap().contains("resource-types add folder"));
    let (status, _) = post(
        json!({"organization_id": "org_missing", "resource_type_slug": "project", "external_id": "x", "name": "X"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(
        json!({"organization_id": acme, "resource_type_slug": "project", "external_id": "x", "name": "x".repeat(49)}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = post(json!({"organization_id": acme, "resource_type_slug": "project", "name": "X"})).await;
    assert_eq!(status, 422);
    let (status, both) = post(json!({"organization_id": acme, "resource_type_slug": "project", "external_id": "x",
        "name": "X", "parent_resource_id": ws_id, "parent_resource_external_id": "ws-1"}))
    .await;
    assert_eq!(status, 422, "{both}");
    let other = org(&app, "Other").await;
    let (status, _) = post(json!({"organization_id": other, "resource_type_slug": "project", "external_id": "x",
        "name": "X", "parent_resource_id": ws_id}))
    .await;
    assert_eq!(status, 404, "a parent in another organization is not found");
    let (status, _) = app.api(Method::POST, "/authorization/resources", Some(json!([1, 2]))).await;
    assert!((400..500).contains(&status));

    // Read, by ID and by external ID; update.
    let (status, read) = app.api(Method::GET, &format!("/authorization/resources/{ws_id}"), None).await;
    assert_eq!((status, &read), (200, &ws));
    let by_external = format!("/authorization/organizations/{acme}/resources/project/p-1");
    let (status, read) = app.api(Method::GET, &by_external, None).await;
    assert_eq!((status, &read["id"]), (200, &project["id"]));
    let (status, _) =
        app.api(Method::GET, &format!("/authorization/organizations/{other}/resources/project/p-1"), None).await;
    assert_eq!(status, 404);
    let (status, updated) =
        app.api(Method::PATCH, &by_external, Some(json!({"name": "Renamed", "description": null}))).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!((&updated["name"], &updated["description"]), (&json!("Renamed"), &Value::Null));
    let (status, _) =
        app.api(Method::PATCH, &format!("/authorization/resources/{ws_id}"), Some(json!({"name": ""}))).await;
    assert_eq!(status, 422);
    let (status, _) = app.api(Method::PATCH, &by_external, Some(json!({"parent_resource_id": project["id"]}))).await;
    assert_eq!(status, 422, "moving a resource is refused");

    // Lists: filters and pages.
    let (_, all) = app.api(Method::GET, &format!("/authorization/resources?organization_id={acme}"), None).await;
    assert_eq!(ids(&all).len(), 3);
    let (_, projects) = app
        .api(
            Method::GET,
            &format!("/authorization/resources?resource_type_slug=project&parent_resource_id={ws_id}"),
            None,
        )
        .await;
    assert_eq!(ids(&projects).len(), 2);
    let by_parent = format!(
        "/authorization/resources?organization_id={acme}&parent_external_id=ws-1&parent_resource_type_slug=workspace"
    );
    let (_, by_parent_external) = app.api(Method::GET, &by_parent, None).await;
    assert_eq!(ids(&by_parent_external), ids(&projects));
    let (_, found) = app.api(Method::GET, "/authorization/resources?search=renam", None).await;
    assert_eq!(ids(&found), [project["id"].as_str().unwrap()]);
    let (_, first) = app.api(Method::GET, "/authorization/resources?limit=2", None).await;
    assert_eq!(ids(&first).len(), 2);
    let after = first["list_metadata"]["after"].as_str().unwrap().to_owned();
    let (_, rest) = app.api(Method::GET, &format!("/authorization/resources?limit=2&after={after}"), None).await;
    assert_eq!(ids(&rest).len(), 1);
    assert_eq!(rest["list_metadata"]["after"], Value::Null);

    // Delete: refused with children unless cascading; the type is then free to remove.
    let env = app.core.environment_by_name("development").await.unwrap();
    assert!(
        app.core
            .remove_resource_type(&env, "project", &Actor::Cli)
            .await
            .unwrap_err()
            .to_string()
            .contains("2 resource")
    );
    let (status, refused) = app.api(Method::DELETE, &format!("/authorization/resources/{ws_id}"), None).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("resource_has_dependents")));
    let (status, _) =
        app.api(Method::DELETE, &format!("/authorization/resources/{ws_id}?cascade_delete=maybe"), None).await;
    assert_eq!(status, 422);
    let (status, _) =
        app.api(Method::DELETE, &format!("/authorization/resources/{ws_id}?cascade_delete=true"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.api(Method::GET, &by_external, None).await;
    assert_eq!(status, 404, "descendants go with it");
    app.core.remove_resource_type(&env, "project", &Actor::Cli).await.unwrap();
    let types = app.core.list_resource_types(&env).await.unwrap();
    assert_eq!(types.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(), ["workspace"]);
    // The CLI's changes are in the audit trail, with the CLI as actor; the refused removal is not.
    let (_, trail) = app.api(Method::GET, "/events?events=gatehouse.resource_type.deleted&limit=10", None).await;
    let trail = trail["data"].as_array().unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0]["data"]["actor"]["type"], "cli");
    assert_eq!(trail[0]["data"]["before"], json!({"slug": "project", "name": "project"}));
}

#[tokio::test]
async fn role_assignments_checks_and_listings() {
    let app = TestApp::spawn().await;
    setup_types(&app).await;
    for p in ["doc:read", "doc:write", "doc:delete"] {
        create(&app, "/authorization/permissions", json!({"slug": p, "name": p})).await;
    }
    create(&app, "/authorization/roles", json!({"slug": "viewer", "name": "Viewer"})).await;
    create(&app, "/authorization/roles", json!({"slug": "editor", "name": "Editor"})).await;
    let grants = [
        ("viewer", json!(["doc:read"])),
        ("editor", json!(["doc:read", "doc:write"])),
        ("admin", json!(["doc:delete"])),
    ];
    for (role, perms) in grants {
        let path = format!("/authorization/roles/{role}/permissions");
        let (status, _) = app.api(Method::PUT, &path, Some(json!({"permissions": perms}))).await;
        assert_eq!(status, 200);
    }
    let acme = org(&app, "Acme").await;
    let ws = resource(&app, &acme, "workspace", "ws", None).await;
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let p1 = resource(&app, &acme, "project", "p1", Some(&ws_id)).await;
    let p2 = resource(&app, &acme, "project", "p2", Some(&ws_id)).await;
    let p1_id = p1["id"].as_str().unwrap().to_owned();
    let alice = member(&app, "alice@example.com", &acme, "member").await;
    let bob = member(&app, "bob@example.com", &acme, "admin").await;
    let by_id = |id: &str| json!({"resource_id": id});
    let by_ext = |kind: &str, ext: &str| json!({"resource_type_slug": kind, "resource_external_id": ext});

    assert!(!check(&app, &alice, "doc:read", by_id(&p1_id)).await);
    let assignments = format!("/authorization/organization_memberships/{alice}/role_assignments");
    let viewer = create(&app, &assignments, json!({"role_slug": "viewer", "resource_id": ws_id})).await;
    assert_eq!(viewer["object"], "role_assignment");
    assert_eq!(viewer["role"], json!({"slug": "viewer"}));
    assert_eq!(viewer["resource"], json!({"id": ws_id, "external_id": "ws", "resource_type_slug": "workspace"}));
    assert_eq!(viewer["organization_membership_id"], json!(alice));
    // Inherited from the workspace, by ID or external ID.
    assert!(check(&app, &alice, "doc:read", by_id(&p1_id)).await);
    assert!(check(&app, &alice, "doc:read", by_ext("project", "p2")).await);
    assert!(!check(&app, &alice, "doc:write", by_id(&p1_id)).await);
    let editor = json!({"role_slug": "editor", "resource_type_slug": "project", "resource_external_id": "p1"});
    create(&app, &assignments, editor).await;
    assert!(check(&app, &alice, "doc:write", by_id(&p1_id)).await);
    assert!(!check(&app, &alice, "doc:write", by_ext("project", "p2")).await);
    assert!(!check(&app, &alice, "doc:write", by_id(&ws_id)).await, "no inheritance upwards");
    // The organization-level role counts on every resource.
    assert!(check(&app, &bob, "doc:delete", by_id(&p1_id)).await);
    assert!(!check(&app, &bob, "doc:read", by_id(&p1_id)).await);

    // Failure paths.
    let (status, dup) =
        app.api(Method::POST, &assignments, Some(json!({"role_slug": "viewer", "resource_id": ws_id}))).await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("role_assignment_already_exists")));
    let (status, _) =
        app.api(Method::POST, &assignments, Some(json!({"role_slug": "ghost", "resource_id": ws_id}))).await;
    assert_eq!(status, 422);
    let other = org(&app, "Other").await;
    let foreign = resource(&app, &other, "workspace", "ws", None).await;
    let (status, _) =
        app.api(Method::POST, &assignments, Some(json!({"role_slug": "viewer", "resource_id": foreign["id"]}))).await;
    assert_eq!(status, 404, "a resource of another organization");
    let check_path = format!("/authorization/organization_memberships/{alice}/check");
    for body in [
        json!({"resource_id": ws_id}),
        json!({"permission_slug": "doc:read"}),
        json!({"permission_slug": "doc:read", "resource_id": ws_id, "resource_external_id": "ws",
            "resource_type_slug": "workspace"}),
        json!({"permission_slug": "doc:read", "resource_external_id": "ws"}),
        json!({"permission_slug": 5, "resource_id": ws_id}),
    ] {
        let (status, answer) = app.api(Method::POST, &check_path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body} → {answer}");
    }
    for resource_id in ["authz_resource_nope", foreign["id"].as_str().unwrap()] {
        let body = json!({"permission_slug": "doc:read", "resource_id": resource_id});
        let (status, _) = app.api(Method::POST, &check_path, Some(body)).await;
        assert_eq!(status, 404, "{resource_id}");
    }
    let (status, _) = app
        .api(
            Method::POST,
            "/authorization/organization_memberships/om_nope/check",
            Some(json!({"permission_slug": "doc:read", "resource_id": ws_id})),
        )
        .await;
    assert_eq!(status, 404);

    // Listings.
    let (_, listed) = app.api(Method::GET, &format!("{assignments}?limit=1&order=asc"), None).await;
    assert_eq!(ids(&listed), [viewer["id"].as_str().unwrap()]);
    let after = listed["list_metadata"]["after"].as_str().unwrap().to_owned();
    let (_, next) = app.api(Method::GET, &format!("{assignments}?limit=1&order=asc&after={after}"), None).await;
    assert_eq!(next["data"][0]["role"]["slug"], "editor");
    assert_eq!(next["list_metadata"]["after"], Value::Null);

    let filtered = |query: String| {
        let app = &app;
        async move {
            let (status, list) = app.api(Method::GET, &query, None).await;
            assert_eq!(status, 200, "{list}");
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["role"]["slug"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(filtered(format!("{assignments}?resource_id={ws_id}")).await, ["viewer"]);
    assert_eq!(filtered(format!("{assignments}?resource_type_slug=project")).await, ["editor"]);
    assert_eq!(filtered(format!("{assignments}?resource_external_id=p1&resource_type_slug=project")).await, ["editor"]);
    assert!(filtered(format!("{assignments}?resource_external_id=p2")).await.is_empty());
    let on_p1 = format!("/authorization/resources/{p1_id}/role_assignments");
    assert_eq!(filtered(on_p1.clone()).await, ["editor"]);
    assert!(filtered(format!("{on_p1}?role_slug=viewer")).await.is_empty());
    let on_ws = format!("/authorization/organizations/{acme}/resources/workspace/ws/role_assignments");
    assert_eq!(filtered(on_ws).await, ["viewer"]);

    let om_resources = format!("/authorization/organization_memberships/{alice}/resources");
    let perms_path = format!("{om_resources}/{p1_id}/permissions");
    let (status, perms) = app.api(Method::GET, &perms_path, None).await;
    assert_eq!(status, 200, "{perms}");
    assert_eq!(slugs(&perms), ["doc:read", "doc:write"]);
    assert_eq!(perms["data"][0]["object"], "permission");
    let sdk_path = format!("/authorization/resources/{p1_id}/organization_memberships/{alice}/permissions");
    let (_, sdk_perms) = app.api(Method::GET, &sdk_path, None).await;
    assert_eq!(slugs(&sdk_perms), ["doc:read", "doc:write"]);
    let (_, perms_ext) = app.api(Method::GET, &format!("{om_resources}/project/p2/permissions"), None).await;
    assert_eq!(slugs(&perms_ext), ["doc:read"]);
    let (_, page) = app.api(Method::GET, &format!("{perms_path}?limit=1"), None).await;
    assert_eq!(ids(&page).len(), 1);
    assert!(page["list_metadata"]["after"].is_string());

    let writable = format!("{om_resources}?permission_slug=doc:write&parent_resource_id={ws_id}");
    let (_, writable) = app.api(Method::GET, &writable, None).await;
    assert_eq!(ids(&writable), [p1_id.as_str()]);
    let readable = format!(
        "{om_resources}?permission_slug=doc:read&parent_resource_type_slug=workspace&parent_resource_external_id=ws"
    );
    let (_, readable) = app.api(Method::GET, &readable, None).await;
    let mut expected = vec![p1_id.clone(), p2["id"].as_str().unwrap().to_owned()];
    expected.sort();
    expected.reverse();
    assert_eq!(ids(&readable), expected, "newest first");
    let (_, roots) = app.api(Method::GET, &format!("{om_resources}?permission_slug=doc:read"), None).await;
    assert_eq!(ids(&roots), [ws_id.as_str()]);
    let (status, _) = app.api(Method::GET, &om_resources, None).await;
    assert_eq!(status, 422, "permission_slug is required");

    let who = |path: String| {
        let app = &app;
        async move {
            let (status, list) = app.api(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{list}");
            list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let members = format!("/authorization/resources/{p1_id}/organization_memberships");
    assert_eq!(who(format!("{members}?permission_slug=doc:read")).await, [alice.as_str()]);
    let p2_members = format!("/authorization/resources/{}/organization_memberships", p2["id"].as_str().unwrap());
    assert_eq!(who(format!("{p2_members}?permission_slug=doc:read")).await, [alice.as_str()], "inherited");
    assert!(who(format!("{p2_members}?permission_slug=doc:read&assignment=direct")).await.is_empty());
    assert_eq!(who(format!("{members}?permission_slug=doc:write&assignment=direct")).await, [alice.as_str()]);
    assert_eq!(who(format!("{members}?permission_slug=doc:delete")).await, [bob.as_str()]);
    let ext_members = format!("/authorization/organizations/{acme}/resources/project/p1/organization_memberships");
    let (_, full) = app.api(Method::GET, &format!("{ext_members}?permission_slug=doc:read"), None).await;
    assert_eq!(full["data"][0]["user"]["email"], "alice@example.com");
    let (status, _) =
        app.api(Method::GET, &format!("{members}?permission_slug=doc:read&assignment=sideways"), None).await;
    assert_eq!(status, 422);

    // An inactive membership is never authorized, and is not listed.
    let membership = format!("/user_management/organization_memberships/{alice}");
    let (status, _) = app.api(Method::PUT, &format!("{membership}/deactivate"), None).await;
    assert_eq!(status, 200);
    assert!(!check(&app, &alice, "doc:read", by_id(&p1_id)).await);
    assert!(who(format!("{members}?permission_slug=doc:read")).await.is_empty());
    let (_, none) = app.api(Method::GET, &perms_path, None).await;
    assert!(ids(&none).is_empty());
    let (status, _) = app.api(Method::PUT, &format!("{membership}/reactivate"), None).await;
    assert_eq!(status, 200);

    // Removing assignments: by role and resource, and by ID.
    let editor = json!({"role_slug": "editor", "resource_type_slug": "project", "resource_external_id": "p1"});
    let (status, _) = app.api(Method::DELETE, &assignments, Some(editor.clone())).await;
    assert_eq!(status, 204);
    assert!(!check(&app, &alice, "doc:write", by_id(&p1_id)).await);
    let (status, _) = app.api(Method::DELETE, &assignments, Some(editor)).await;
    assert_eq!(status, 404);
    let viewer_id = viewer["id"].as_str().unwrap();
    let bobs = format!("/authorization/organization_memberships/{bob}/role_assignments/{viewer_id}");
    let (status, _) = app.api(Method::DELETE, &bobs, None).await;
    assert_eq!(status, 404, "another membership's assignment");
    let (status, _) = app.api(Method::DELETE, &format!("{assignments}/{viewer_id}"), None).await;
    assert_eq!(status, 204);
    assert!(!check(&app, &alice, "doc:read", by_id(&p1_id)).await);

    // Deleting a membership deletes its assignments with it.
    let p2_id = p2["id"].as_str().unwrap().to_owned();
    create(&app, &assignments, json!({"role_slug": "viewer", "resource_id": p2_id})).await;
    let (status, _) = app.api(Method::DELETE, &membership, None).await;
    assert_eq!(status, 204);
    let (status, _) = app.api(Method::DELETE, &format!("/authorization/resources/{p2_id}"), None).await;
    assert_eq!(status, 204, "no assignment left on it");
    let (status, _) = app.api(Method::DELETE, &format!("/authorization/resources/{ws_id}"), None).await;
    assert_eq!(status, 409, "still has a child");

    // Deleting the organization deletes its resources.
    let (status, _) = app.api(Method::DELETE, &format!("/organizations/{acme}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.api(Method::GET, &format!("/authorization/resources/{ws_id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn removing_an_environment_role_records_role_deleted() {
    let app = TestApp::spawn().await;
    setup_types(&app).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    for slug in ["temp", "held", "assigned"] {
        create(&app, "/authorization/roles", json!({"slug": slug, "name": slug})).await;
    }
    let acme = org(&app, "Acme").await;
    member(&app, "held@example.com", &acme, "held").await;
    let om = member(&app, "plain@example.com", &acme, "member").await;
    let ws = resource(&app, &acme, "workspace", "ws", None).await;
    create(
        &app,
        &format!("/authorization/organization_memberships/{om}/role_assignments"),
        json!({"role_slug": "assigned", "resource_id": ws["id"]}),
    )
    .await;

    let refused = app.core.delete_environment_role(&env, "member", &Actor::Cli).await.unwrap_err().to_string();
    assert!(refused.contains("default role"), "{refused}");
    let refused = app.core.delete_environment_role(&env, "held", &Actor::Cli).await.unwrap_err().to_string();
    assert!(refused.contains("1 organization membership"), "{refused}");
    let refused = app.core.delete_environment_role(&env, "assigned", &Actor::Cli).await.unwrap_err().to_string();
    assert!(refused.contains("1 role assignment"), "{refused}");
    let missing = app.core.delete_environment_role(&env, "ghost", &Actor::Cli).await.unwrap_err().to_string();
    assert!(missing.contains("not found"), "{missing}");
    // A deleted user's memberships take their role assignments with them.
    let gone = member(&app, "gone@example.com", &acme, "member").await;
    let gone_assignments = format!("/authorization/organization_memberships/{gone}/role_assignments");
    create(&app, &gone_assignments, json!({"role_slug": "temp", "resource_id": ws["id"]})).await;
    let (_, gone_membership) =
        app.api(Method::GET, &format!("/user_management/organization_memberships/{gone}"), None).await;
    let user = gone_membership["user_id"].as_str().unwrap();
    let (status, _) = app.api(Method::DELETE, &format!("/user_management/users/{user}"), None).await;
    assert_eq!(status, 204);
    assert!(missing.contains("not found"), "{missing}");

    app.core.delete_environment_role(&env, "temp", &Actor::Cli).await.unwrap();
    let (status, _) = app.api(Method::GET, "/authorization/roles/temp", None).await;
    assert_eq!(status, 404);
    let (_, events) = app.api(Method::GET, "/events?events=role.deleted,gatehouse.role.deleted&limit=10", None).await;
    let data = events["data"].as_array().unwrap();
    let deleted = data.iter().find(|e| e["event"] == "role.deleted").expect("role.deleted");
    assert_eq!(deleted["data"]["slug"], "temp");
    assert_eq!(deleted["data"]["object"], "role");
    let audit = data.iter().find(|e| e["event"] == "gatehouse.role.deleted").expect("audit event");
    assert_eq!(audit["data"]["actor"]["type"], "cli");
    assert_eq!(audit["data"]["target"], json!({"type": "role", "id": "temp"}));
    assert_eq!(audit["data"]["before"]["slug"], "temp");

    // An organization's own role takes its assignments with it when deleted.
    create(&app, "/authorization/permissions", json!({"slug": "doc:read", "name": "Read"})).await;
    let org_roles = format!("/authorization/organizations/{acme}/roles");
    create(&app, &org_roles, json!({"slug": "org-reader", "name": "Reader"})).await;
    let (status, _) = app
        .api(Method::PUT, &format!("{org_roles}/org-reader/permissions"), Some(json!({"permissions": ["doc:read"]})))
        .await;
    assert_eq!(status, 200);
    let assignments = format!("/authorization/organization_memberships/{om}/role_assignments");
    create(&app, &assignments, json!({"role_slug": "org-reader", "resource_id": ws["id"]})).await;
    let check = format!("/authorization/organization_memberships/{om}/check");
    let body = json!({"permission_slug": "doc:read", "resource_id": ws["id"]});
    let (_, answer) = app.api(Method::POST, &check, Some(body.clone())).await;
    assert_eq!(answer["authorized"], true);
    let (status, _) = app.api(Method::DELETE, &format!("{org_roles}/org-reader"), None).await;
    assert_eq!(status, 204);
    create(&app, &org_roles, json!({"slug": "org-reader", "name": "Reader again"})).await;
    let (status, _) = app
        .api(Method::PUT, &format!("{org_roles}/org-reader/permissions"), Some(json!({"permissions": ["doc:read"]})))
        .await;
    assert_eq!(status, 200);
    let (_, answer) = app.api(Method::POST, &check, Some(body)).await;
    assert_eq!(answer["authorized"], false, "the old assignment went with the deleted role");
    let (_, listed) = app.api(Method::GET, &assignments, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "only the `assigned` role's");
}
