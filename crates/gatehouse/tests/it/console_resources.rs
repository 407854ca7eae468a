//! The console's resource pages over HTTP: an organization's page lists its resources (the
//! parent's name beside a child); a resource's page shows its parent, its children and the role
//! assignments on it. An admin renames it (a refusal keeps what was typed), gives a member a
//! role on it (the check then says yes on the child too; a second time is refused on the form),
//! takes it away (confirmed) and deletes the resource (confirmed, with its child and the
//! assignments on them). Another organization's resource is not found under this one; a viewer
//! sees no forms and their posts are refused.
//! The Roles page adds and removes resource types (refused while a resource is of one), each an
//! audit event with the operator.

use gatehouse::domain::audit::Actor;
use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;
use reqwest::Method;
use serde_json::{Value, json};

use crate::console::{csrf_of, operator, unescaped};
use crate::support::TestApp;

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = app.api(Method::POST, path, Some(body)).await;
    assert_eq!(status, 201, "{path}: {created}");
    created
}

async fn resource(app: &TestApp, org: &str, kind: &str, external_id: &str, name: &str, parent: Option<&str>) -> String {
    let mut body =
        json!({"organization_id": org, "resource_type_slug": kind, "external_id": external_id, "name": name});
    if let Some(p) = parent {
        body["parent_resource_id"] = json!(p);
    }
    create(app, "/authorization/resources", body).await["id"].as_str().unwrap().to_owned()
}

async fn get(b: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = b.get(app.at(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, unescaped(&res.text().await.unwrap()))
}

/// Posts a form; (status, Location, body).
async fn post(b: &reqwest::Client, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = b.post(app.at(path)).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, unescaped(&res.text().await.unwrap()))
}

async fn can_edit(app: &TestApp, membership: &str, resource: &str) -> bool {
    let path = format!("/authorization/organization_memberships/{membership}/check");
    let body = json!({"permission_slug": "projects:edit", "resource_id": resource});
    let (status, answer) = app.api(Method::POST, &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer["authorized"].as_bool().unwrap()
}

#[tokio::test]
async fn an_admin_sees_resources_and_gives_roles_on_them_in_the_console() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    for slug in ["workspace", "project"] {
        app.core.add_resource_type(&env, slug, None, &Actor::Cli).await.unwrap();
    }
    create(&app, "/authorization/permissions", json!({"slug": "projects:edit", "name": "Edit projects"})).await;
    create(&app, "/authorization/roles", json!({"slug": "editor", "name": "Editor"})).await;
    let (status, _) = app
        .api(Method::PUT, "/authorization/roles/editor/permissions", Some(json!({"permissions": ["projects:edit"]})))
        .await;
    assert_eq!(status, 200);
    let acme = create(&app, "/organizations", json!({"name": "Acme"})).await["id"].as_str().unwrap().to_owned();
    let ws = resource(&app, &acme, "workspace", "ws-1", "Design", None).await;
    let project = resource(&app, &acme, "project", "p-7", "Website", Some(&ws)).await;
    let user = app.create_user("ada@example.com").await;
    let body = json!({"user_id": user["id"], "organization_id": acme, "role_slug": "member"});
    let ada = create(&app, "/user_management/organization_memberships", body).await["id"].as_str().unwrap().to_owned();
    let other = create(&app, "/organizations", json!({"name": "Other"})).await["id"].as_str().unwrap().to_owned();
    let foreign = resource(&app, &other, "workspace", "ws-1", "Theirs", None).await;

    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let org_page = format!("/dashboard/env/development/organizations/{acme}");
    let (status, html) = get(&admin, &app, &org_page).await;
    assert_eq!(status, 200);
    let ws_page = format!("{org_page}/resources/{ws}");
    let project_page = format!("{org_page}/resources/{project}");
    assert!(html.contains(&format!("<a href=\"{ws_page}\">Design</a>")), "{html}");
    assert!(html.contains(&format!("<a href=\"{project_page}\">Website</a>")), "{html}");
    assert!(html.contains("<code>p-7</code>") && html.contains(">Design</td>"), "the child names its parent: {html}");
    assert!(!html.contains("Theirs"), "only this organization's resources");

    // The workspace's page: its child, no assignments yet, the form to give one.
    let (status, html) = get(&admin, &app, &ws_page).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<a href=\"{project_page}\">Website</a>")), "{html}");
    assert!(html.contains("the organization (top level)") && html.contains("No roles given"), "{html}");
    assert!(html.contains(&format!("<option value=\"{ada}\">ada@example.com</option>")), "{html}");
    let (status, html) = get(&admin, &app, &project_page).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<a href=\"{ws_page}\">Design</a>")), "the parent: {html}");
    // Another organization's resource, or one that does not exist, is not found here.
    assert_eq!(get(&admin, &app, &format!("{org_page}/resources/{foreign}")).await.0, 404);
    assert_eq!(get(&admin, &app, &format!("{org_page}/resources/authz_resource_nope")).await.0, 404);

    // Give Ada the editor role on the workspace: it counts on the project inside it.
    assert!(!can_edit(&app, &ada, &project).await);
    let csrf = csrf_of(&admin, &app.at(&ws_page)).await;

    // Renamed: a name over 48 characters is refused on its form, what was typed kept; then saved,
    // as the API reads it (the description cleared when left empty).
    let long = "D".repeat(49);
    let form = [("csrf_token", csrf.as_str()), ("name", long.as_str()), ("description", "Kept")];
    let (status, _, html) = post(&admin, &app, &format!("{ws_page}/edit"), &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"details-error\"") && html.contains("name must be 1 to 48"), "{html}");
    assert!(html.contains(&format!("value=\"{long}\"")) && html.contains("value=\"Kept\""), "{html}");
    let form = [("csrf_token", csrf.as_str()), ("name", "Design team"), ("description", "The designers")];
    let (status, location, _) = post(&admin, &app, &format!("{ws_page}/edit"), &form).await;
    assert_eq!((status, location.as_str()), (303, ws_page.as_str()));
    let (_, read) = app.api(Method::GET, &format!("/authorization/resources/{ws}"), None).await;
    assert_eq!((read["name"].as_str(), read["description"].as_str()), (Some("Design team"), Some("The designers")));
    let form = [("csrf_token", csrf.as_str()), ("name", "Design"), ("description", "")];
    assert_eq!(post(&admin, &app, &format!("{ws_page}/edit"), &form).await.0, 303);
    let (_, read) = app.api(Method::GET, &format!("/authorization/resources/{ws}"), None).await;
    assert_eq!((read["name"].as_str(), &read["description"]), (Some("Design"), &Value::Null));

    let give = [("csrf_token", csrf.as_str()), ("membership_id", ada.as_str()), ("role_slug", "editor")];
    let (status, location, _) = post(&admin, &app, &format!("{ws_page}/assign"), &give).await;
    assert_eq!((status, location.as_str()), (303, ws_page.as_str()));
    assert!(can_edit(&app, &ada, &project).await && can_edit(&app, &ada, &ws).await);
    let (_, html) = get(&admin, &app, &ws_page).await;
    assert!(html.contains("ada@example.com</a>") && html.contains("<code>editor</code>"), "{html}");
    // Twice, or a role that does not exist: refused on the form, with the API's message.
    let (status, _, html) = post(&admin, &app, &format!("{ws_page}/assign"), &give).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"assign-error\""), "{html}");
    let ghost = [("csrf_token", csrf.as_str()), ("membership_id", ada.as_str()), ("role_slug", "ghost")];
    let (status, _, html) = post(&admin, &app, &format!("{ws_page}/assign"), &ghost).await;
    assert_eq!(status, 422);
    assert!(html.contains("There is no role 'ghost'."), "{html}");

    // A viewer sees the assignment, without forms, and cannot change anything.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let (status, html) = get(&viewer, &app, &ws_page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<code>editor</code>") && !html.contains("/assign\"") && !html.contains("/delete\""),
        "{html}"
    );
    let viewer_csrf = csrf_of(&viewer, &app.at(&ws_page)).await;
    let (status, _, _) =
        post(&viewer, &app, &format!("{ws_page}/delete"), &[("csrf_token", &viewer_csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 403);

    // Taking it away asks first, then the check says no again.
    let (_, assignments) =
        app.api(Method::GET, &format!("/authorization/organization_memberships/{ada}/role_assignments"), None).await;
    let assignment = assignments["data"][0]["id"].as_str().unwrap().to_owned();
    let take = [("csrf_token", csrf.as_str()), ("assignment_id", assignment.as_str()), ("membership_id", ada.as_str())];
    let (status, _, html) = post(&admin, &app, &format!("{ws_page}/unassign"), &take).await;
    assert_eq!(status, 200);
    assert!(html.contains("Take the role editor on Design away?"), "{html}");
    assert!(can_edit(&app, &ada, &project).await, "nothing changes before the confirmation");
    let confirmed = [
        ("csrf_token", csrf.as_str()),
        ("assignment_id", assignment.as_str()),
        ("membership_id", &ada),
        ("confirm", "yes"),
    ];
    let (status, location, _) = post(&admin, &app, &format!("{ws_page}/unassign"), &confirmed).await;
    assert_eq!((status, location.as_str()), (303, ws_page.as_str()));
    assert!(!can_edit(&app, &ada, &project).await);
    let (status, _, _) = post(&admin, &app, &format!("{ws_page}/unassign"), &confirmed).await;
    assert_eq!(status, 404, "an assignment that is gone");
    let stranger =
        [("csrf_token", csrf.as_str()), ("assignment_id", assignment.as_str()), ("membership_id", "om_nope")];
    assert_eq!(post(&admin, &app, &format!("{ws_page}/unassign"), &stranger).await.0, 404, "a membership unknown");

    // Deleting asks first, then takes the project inside it and its assignment too.
    let on_project = [("csrf_token", csrf.as_str()), ("membership_id", ada.as_str()), ("role_slug", "editor")];
    assert_eq!(post(&admin, &app, &format!("{project_page}/assign"), &on_project).await.0, 303);
    let (status, _, html) = post(&admin, &app, &format!("{ws_page}/delete"), &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete the resource Design?") && html.contains("every resource under it"), "{html}");
    assert_eq!(get(&admin, &app, &project_page).await.0, 200, "nothing is deleted before the confirmation");
    let confirmed = [("csrf_token", csrf.as_str()), ("confirm", "yes")];
    let (status, location, _) = post(&admin, &app, &format!("{ws_page}/delete"), &confirmed).await;
    assert_eq!((status, location), (303, format!("{org_page}#resources")));
    for id in [&ws, &project] {
        let (status, _) = app.api(Method::GET, &format!("/authorization/resources/{id}"), None).await;
        assert_eq!(status, 404, "{id} is gone");
    }
    let (_, assignments) =
        app.api(Method::GET, &format!("/authorization/organization_memberships/{ada}/role_assignments"), None).await;
    assert_eq!(assignments["data"], json!([]), "the assignments went with the resources");
    let (_, html) = get(&admin, &app, &org_page).await;
    assert!(html.contains("No resources.") && !html.contains("Website"), "{html}");
}

#[tokio::test]
async fn an_admin_adds_and_removes_resource_types_on_the_roles_page() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let roles = "/dashboard/env/development/roles";
    let types = "/dashboard/env/development/resource-types";
    let (status, html) = get(&admin, &app, roles).await;
    assert_eq!(status, 200);
    assert!(html.contains("No resource types yet"), "{html}");
    let csrf = csrf_of(&admin, &app.at(roles)).await;

    // A bad slug is refused on its form, what was typed kept; then two are added.
    let form = [("csrf_token", csrf.as_str()), ("slug", "Work Space"), ("name", "Workspace")];
    let (status, _, html) = post(&admin, &app, types, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"resource-type-error\"") && html.contains("lower-case letters"), "{html}");
    assert!(html.contains("value=\"Work Space\"") && !html.contains("id=\"permission-error\""), "{html}");
    let form = [("csrf_token", csrf.as_str()), ("slug", "workspace"), ("name", "Workspace")];
    let (status, location, _) = post(&admin, &app, types, &form).await;
    assert_eq!((status, location.as_str()), (303, "/dashboard/env/development/roles#resource-types"));
    let form = [("csrf_token", csrf.as_str()), ("slug", "project"), ("name", "")];
    assert_eq!(post(&admin, &app, types, &form).await.0, 303);
    let (status, _, html) = post(&admin, &app, types, &form).await;
    assert_eq!(status, 422, "a slug taken: {html}");
    let (_, html) = get(&admin, &app, roles).await;
    assert!(html.contains("<code>workspace</code> <span class=\"small\">Workspace</span>"), "{html}");
    assert!(
        html.contains("<code>project</code> <span class=\"small\">project</span>"),
        "the name defaults to the slug"
    );

    // The app can create resources of it; while one is, removing it is refused on the page.
    let acme = create(&app, "/organizations", json!({"name": "Acme"})).await["id"].as_str().unwrap().to_owned();
    resource(&app, &acme, "workspace", "ws-1", "Design", None).await;
    let remove = format!("{types}/remove");
    let confirmed = [("csrf_token", csrf.as_str()), ("resource_type", "workspace"), ("confirm", "yes")];
    let (status, _, html) = post(&admin, &app, &remove, &confirmed).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"resource-types-error\"") && html.contains("used by 1 resource"), "{html}");

    // A viewer sees the types without forms; their posts are refused.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let (_, html) = get(&viewer, &app, roles).await;
    assert!(html.contains("<code>workspace</code>") && !html.contains("resource-types/remove"), "{html}");
    let viewer_csrf = csrf_of(&viewer, &app.at(roles)).await;
    let form = [("csrf_token", viewer_csrf.as_str()), ("slug", "folder")];
    assert_eq!(post(&viewer, &app, types, &form).await.0, 403);

    // An unused type: asked first, then removed; the app can no longer use it.
    let ask = [("csrf_token", csrf.as_str()), ("resource_type", "project")];
    let (status, _, html) = post(&admin, &app, &remove, &ask).await;
    assert_eq!(status, 200);
    assert!(html.contains("Remove the resource type project?"), "{html}");
    let confirmed = [("csrf_token", csrf.as_str()), ("resource_type", "project"), ("confirm", "yes")];
    let (status, location, _) = post(&admin, &app, &remove, &confirmed).await;
    assert_eq!((status, location.as_str()), (303, "/dashboard/env/development/roles#resource-types"));
    assert_eq!(post(&admin, &app, &remove, &confirmed).await.0, 404, "gone");
    let body = json!({"organization_id": acme, "resource_type_slug": "project", "external_id": "p", "name": "P"});
    let (status, refused) = app.api(Method::POST, "/authorization/resources", Some(body)).await;
    assert_eq!(status, 422, "{refused}");

    // Each change is an audit event with the operator, nothing for the refusals.
    let filter = EventFilter {
        events: vec!["gatehouse.resource_type.created".into(), "gatehouse.resource_type.deleted".into()],
        limit: 10,
        ..Default::default()
    };
    let (trail, _) = app.core.list_events(&env, filter).await.unwrap();
    let seen: Vec<(String, Value)> = trail
        .iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
            (e.event.clone(), data["target"]["id"].clone())
        })
        .collect();
    let mut seen: Vec<(&str, &str)> = seen.iter().map(|(k, t)| (k.as_str(), t.as_str().unwrap())).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("gatehouse.resource_type.created", "project"),
            ("gatehouse.resource_type.created", "workspace"),
            ("gatehouse.resource_type.deleted", "project"),
        ]
    );
}
