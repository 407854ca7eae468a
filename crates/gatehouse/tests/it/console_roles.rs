//! The console's roles and permissions pages over HTTP: an admin adds a permission and a role
//! (the API's checks and messages on the forms, what was typed kept), renames the permission,
//! grants and withdraws permissions with checkboxes, renames the role, removes a permission
//! (confirmed: it leaves every role) and removes roles (confirmed; refused for the default role
//! and for a role a membership holds). The API sees each change; tokens of a member carry what
//! the role grants. A viewer sees the pages without the forms and every POST of theirs is
//! refused. An organization's own roles are added on its page and kept there.

use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;
use reqwest::Method;
use serde_json::json;

use crate::console::{csrf_of, operator, unescaped};
use crate::support::{PASSWORD, TestApp, claims};

const ROLES: &str = "/dashboard/env/development/roles";

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

#[tokio::test]
async fn an_admin_manages_roles_and_permissions_in_the_console() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let (status, html) = get(&admin, &app, ROLES).await;
    assert_eq!(status, 200);
    assert!(html.contains("<code>member</code>") && html.contains("<code>admin</code>"), "the built-in roles: {html}");
    assert!(html.contains("badge on\">default</span>") && html.contains("No permissions yet"), "{html}");
    let csrf = csrf_of(&admin, &app.at(ROLES)).await;
    let permissions = "/dashboard/env/development/permissions";

    // A permission: a bad slug is refused on its form, what was typed kept; then added.
    let form = [("csrf_token", csrf.as_str()), ("slug", "Invoices Read"), ("name", "Read invoices")];
    let (status, _, html) = post(&admin, &app, permissions, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"permission-error\"") && html.contains("slug must be"), "{html}");
    assert!(html.contains("value=\"Invoices Read\"") && html.contains("value=\"Read invoices\""), "{html}");
    assert!(!html.contains("id=\"role-error\""), "only the form that was posted shows the error");
    let form = [("csrf_token", csrf.as_str()), ("slug", "invoices:read"), ("name", "Read invoices")];
    let (status, location, _) = post(&admin, &app, permissions, &form).await;
    assert_eq!((status, location.as_str()), (303, "/dashboard/env/development/roles#permissions"));
    let form = [("csrf_token", csrf.as_str()), ("slug", "invoices:pay"), ("name", "Pay invoices")];
    assert_eq!(post(&admin, &app, permissions, &form).await.0, 303);

    // A permission renamed: an empty name is refused in its own row; then saved.
    let edit_permission = "/dashboard/env/development/permissions/edit";
    let form = [("csrf_token", csrf.as_str()), ("permission", "invoices:pay"), ("name", " ")];
    let (status, _, html) = post(&admin, &app, edit_permission, &form).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("id=\"permission-edit-error\"") && html.contains("<details class=\"snippet\" open>"),
        "{html}"
    );
    let form = [
        ("csrf_token", csrf.as_str()),
        ("permission", "invoices:pay"),
        ("name", "Pay invoices now"),
        ("description", "Money out"),
    ];
    assert_eq!(post(&admin, &app, edit_permission, &form).await.0, 303);
    let (_, p) = app.api(Method::GET, "/authorization/permissions/invoices:pay", None).await;
    assert_eq!((p["name"].clone(), p["description"].clone()), (json!("Pay invoices now"), json!("Money out")));
    let form = [("csrf_token", csrf.as_str()), ("permission", "nope:nope"), ("name", "X")];
    assert_eq!(post(&admin, &app, edit_permission, &form).await.0, 404);

    // A role: a slug already taken is refused; then added, and on to its page.
    let form = [("csrf_token", csrf.as_str()), ("slug", "admin"), ("name", "Another admin")];
    let (status, _, html) = post(&admin, &app, ROLES, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"role-error\"") && html.contains("value=\"Another admin\""), "{html}");
    let form = [("csrf_token", csrf.as_str()), ("slug", "billing"), ("name", "Billing"), ("description", "Pays")];
    let (status, location, _) = post(&admin, &app, ROLES, &form).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/dashboard/env/development/roles/role_"), "{location}");
    let (_, html) = get(&admin, &app, &location).await;
    assert!(html.contains("Role billing added") && html.contains("name=\"permission:invoices:read\""), "{html}");

    // Permissions granted with checkboxes, as the API then reads them.
    let grant = format!("{location}/permissions");
    let form = [("csrf_token", csrf.as_str()), ("permission:invoices:read", "on"), ("permission:invoices:pay", "on")];
    let (status, back, _) = post(&admin, &app, &grant, &form).await;
    assert_eq!((status, back.as_str()), (303, location.as_str()));
    let (_, role) = app.api(Method::GET, "/authorization/roles/billing", None).await;
    assert_eq!(role["permissions"], json!(["invoices:read", "invoices:pay"]), "{role}");
    assert!(get(&admin, &app, &location).await.1.contains("billing now grants 2 permissions."));
    let (_, html) = get(&admin, &app, ROLES).await;
    assert!(html.contains("<code>invoices:read</code> <code>invoices:pay</code>"), "the list shows them: {html}");

    // A member holding the role gets its permissions in their tokens.
    app.create_user("ada@example.com").await;
    let (_, org) = app.api(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    let (_, users) = app.api(Method::GET, "/user_management/users?email=ada@example.com", None).await;
    let body = json!({"user_id": users["data"][0]["id"], "organization_id": org["id"], "role_slug": "billing"});
    let (status, m) = app.api(Method::POST, "/user_management/organization_memberships", Some(body)).await;
    assert_eq!(status, 201, "{m}");
    // The organization's page lists the role, linked to its page here.
    let (_, html) =
        get(&admin, &app, &format!("/dashboard/env/development/organizations/{}", org["id"].as_str().unwrap())).await;
    assert!(html.contains(&format!("<a href=\"{location}\"><b>Billing</b></a>")), "{html}");
    // One membership: the sign-in enters its organization.
    let (status, signed_in) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, &signed_in["organization_id"]), (200, &org["id"]), "{signed_in}");
    let token = claims(signed_in["access_token"].as_str().unwrap());
    assert_eq!(
        (token["role"].clone(), token["permissions"].clone()),
        (json!("billing"), json!(["invoices:read", "invoices:pay"]))
    );

    // Renamed; an empty name is refused on its form.
    let edit = format!("{location}/edit");
    let (status, _, html) = post(&admin, &app, &edit, &[("csrf_token", &csrf), ("name", " ")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"details-error\"") && html.contains("aria-invalid=\"true\""), "{html}");
    let form = [("csrf_token", csrf.as_str()), ("name", "Billing team"), ("description", "")];
    assert_eq!(post(&admin, &app, &edit, &form).await.0, 303);
    let (_, role) = app.api(Method::GET, "/authorization/roles/billing", None).await;
    assert_eq!((role["name"].clone(), role["description"].clone()), (json!("Billing team"), json!(null)));

    // Unticking withdraws; a permission removed (confirmed) leaves every role.
    let form = [("csrf_token", csrf.as_str()), ("permission:invoices:read", "on")];
    assert_eq!(post(&admin, &app, &grant, &form).await.0, 303);
    let remove_permission = format!("{permissions}/remove");
    let form = [("csrf_token", csrf.as_str()), ("permission", "invoices:read")];
    let (status, _, html) = post(&admin, &app, &remove_permission, &form).await;
    assert_eq!(status, 200);
    assert!(html.contains("Remove the permission invoices:read?") && html.contains("name=\"confirm\""), "{html}");
    assert_eq!(
        app.api(Method::GET, "/authorization/roles/billing", None).await.1["permissions"],
        json!(["invoices:read"])
    );
    let form = [("csrf_token", csrf.as_str()), ("permission", "invoices:read"), ("confirm", "yes")];
    assert_eq!(post(&admin, &app, &remove_permission, &form).await.0, 303);
    assert_eq!(app.api(Method::GET, "/authorization/roles/billing", None).await.1["permissions"], json!([]));
    let (_, html) = get(&admin, &app, ROLES).await;
    assert!(html.contains("Permission invoices:read removed."), "{html}");
    assert!(!html.contains("<code>invoices:read</code>") && html.contains("<code>invoices:pay</code>"), "{html}");

    // Removing: refused while a membership holds the role, and for the default role.
    let remove = format!("{location}/remove");
    let (status, _, html) = post(&admin, &app, &remove, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"remove-error\"") && html.contains("held by 1 organization membership"), "{html}");
    let member_id = role_id_of(&app, "member").await;
    let (_, html) = get(&admin, &app, &format!("{ROLES}/{member_id}")).await;
    assert!(html.contains("The default role cannot be removed") && !html.contains("Remove role…"), "{html}");
    let (status, _, html) =
        post(&admin, &app, &format!("{ROLES}/{member_id}/remove"), &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("is the default role"), "{html}");

    // An unused role goes after a confirmation; its page is then not found.
    let form = [("csrf_token", csrf.as_str()), ("slug", "auditor"), ("name", "Auditor")];
    let (_, auditor, _) = post(&admin, &app, ROLES, &form).await;
    let (status, _, html) = post(&admin, &app, &format!("{auditor}/remove"), &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Remove the role auditor?"), "{html}");
    let (status, back, _) =
        post(&admin, &app, &format!("{auditor}/remove"), &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!((status, back.as_str()), (303, ROLES));
    assert_eq!(app.api(Method::GET, "/authorization/roles/auditor", None).await.0, 404);
    assert_eq!(get(&admin, &app, &auditor).await.0, 404);
    assert_eq!(get(&admin, &app, &format!("{ROLES}/role_nope")).await.0, 404);

    // A viewer: the lists, no forms; a POST is refused.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let (_, html) = get(&viewer, &app, ROLES).await;
    assert!(html.contains("Billing team") && html.contains("invoices:pay"), "{html}");
    assert!(!html.contains("Add a role") && !html.contains("Remove…"), "{html}");
    let (_, html) = get(&viewer, &app, &location).await;
    assert!(!html.contains("Save permissions") && !html.contains("Remove role"), "{html}");
    let viewer_csrf = csrf_of(&viewer, &app.at(ROLES)).await;
    let form = [("csrf_token", viewer_csrf.as_str()), ("slug", "x"), ("name", "X")];
    assert_eq!(post(&viewer, &app, ROLES, &form).await.0, 403);
    assert_eq!(post(&viewer, &app, &grant, &[("csrf_token", &viewer_csrf)]).await.0, 403);

    // The events of the changes, as the API's would be, and the removal's audit trail.
    let env = app.core.environment_by_name("development").await.unwrap();
    let filter = EventFilter {
        events: vec!["role.created".into(), "role.updated".into(), "role.deleted".into()],
        limit: 50,
        ..Default::default()
    };
    let (events, _) = app.core.list_events(&env, filter).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "role.created").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "role.deleted").count(), 1, "{kinds:?}");
    // Each names the operator who made the change.
    let operators = app.core.list_operators().await.unwrap();
    let root = operators.iter().find(|o| o.user.email == "root@example.com").unwrap().user.id.clone();
    assert!(events.iter().all(|e| e.actor.as_deref() == Some(root.as_str())), "{events:?}");
    let filter = EventFilter {
        events: vec!["permission.created".into(), "permission.updated".into(), "permission.deleted".into()],
        limit: 10,
        ..Default::default()
    };
    let (events, _) = app.core.list_events(&env, filter).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["permission.created", "permission.created", "permission.updated", "permission.deleted"]);
    assert!(events.iter().all(|e| e.actor.as_deref() == Some(root.as_str())), "{events:?}");
    let filter = EventFilter { events: vec!["gatehouse.role.deleted".into()], limit: 5, ..Default::default() };
    let (trail, _) = app.core.list_events(&env, filter).await.unwrap();
    let data: serde_json::Value = serde_json::from_str(&trail[0].data).unwrap();
    assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
}

async fn role_id_of(app: &TestApp, slug: &str) -> String {
    let (_, role) = app.api(Method::GET, &format!("/authorization/roles/{slug}"), None).await;
    role["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_gives_an_organization_a_role_of_its_own() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let (_, org) = app.api(Method::POST, "/organizations", Some(json!({"name": "Globex"}))).await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let org_page = format!("/dashboard/env/development/organizations/{org_id}");
    let csrf = csrf_of(&admin, &app.at(&org_page)).await;
    let (_, html) = get(&admin, &app, &org_page).await;
    assert!(html.contains("Add a role of this organization's own"), "{html}");
    let add = format!("{org_page}/roles");

    // A slug that does not start with org- is refused on the organization's page.
    let form = [("csrf_token", csrf.as_str()), ("name", "Billing admin"), ("slug", "billing")];
    let (status, _, html) = post(&admin, &app, &add, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"org-role-error\"") && html.contains("start with 'org-'"), "{html}");
    // Without a slug, one is made from the name; on to the role's page under the organization.
    let (status, location, _) = post(&admin, &app, &add, &[("csrf_token", &csrf), ("name", "Billing admin")]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with(&format!("{org_page}/roles/role_")), "{location}");
    let (_, html) = get(&admin, &app, &location).await;
    assert!(html.contains("added to the organization") && html.contains("this organization's own role"), "{html}");
    assert!(html.contains(&format!("<a href=\"{org_page}\">← Globex</a>")), "back to its organization: {html}");
    let slug = html.split("<code class=\"wrap\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(slug.starts_with("org-billing-admin-"), "{slug}");

    // Its permissions, as the API reads them, and in a member's token.
    let (status, _) =
        app.api(Method::POST, "/authorization/permissions", Some(json!({"slug": "invoices:pay", "name": "Pay"}))).await;
    assert_eq!(status, 201);
    let form = [("csrf_token", csrf.as_str()), ("permission:invoices:pay", "on")];
    let (status, back, _) = post(&admin, &app, &format!("{location}/permissions"), &form).await;
    assert_eq!((status, back.as_str()), (303, location.as_str()));
    let api_role = format!("/authorization/organizations/{org_id}/roles/{slug}");
    assert_eq!(app.api(Method::GET, &api_role, None).await.1["permissions"], json!(["invoices:pay"]));
    app.create_user("grace@example.com").await;
    let (_, users) = app.api(Method::GET, "/user_management/users?email=grace@example.com", None).await;
    let body = json!({"user_id": users["data"][0]["id"], "organization_id": org_id, "role_slug": slug});
    assert_eq!(app.api(Method::POST, "/user_management/organization_memberships", Some(body)).await.0, 201);
    let (status, signed_in) = app.password_login("grace@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(claims(signed_in["access_token"].as_str().unwrap())["permissions"], json!(["invoices:pay"]));

    // Each role is found only where it belongs.
    let role_id = location.rsplit('/').next().unwrap();
    assert_eq!(get(&admin, &app, &format!("{ROLES}/{role_id}")).await.0, 404, "not under the environment's roles");
    let member_id = role_id_of(&app, "member").await;
    assert_eq!(get(&admin, &app, &format!("{org_page}/roles/{member_id}")).await.0, 404, "nor the reverse");
    assert_eq!(
        get(&admin, &app, &format!("/dashboard/env/development/organizations/org_nope/roles/{role_id}")).await.0,
        404
    );
    let (_, html) = get(&admin, &app, ROLES).await;
    assert!(!html.contains(&format!("<code>{slug}</code>")), "the environment's list leaves it out: {html}");

    // A viewer sees it without the forms, and cannot add one.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let (_, html) = get(&viewer, &app, &org_page).await;
    assert!(html.contains(&slug) && !html.contains("Add a role of this organization's own"), "{html}");
    let viewer_csrf = csrf_of(&viewer, &app.at(&org_page)).await;
    assert_eq!(post(&viewer, &app, &add, &[("csrf_token", &viewer_csrf), ("name", "Sneaky")]).await.0, 403);

    // Removed after a confirmation that names the organization; back to it.
    let remove = format!("{location}/remove");
    let (status, _, html) = post(&admin, &app, &remove, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("Remove the role {slug}?")) && html.contains("The role goes from Globex"), "{html}");
    let (status, back, _) = post(&admin, &app, &remove, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!((status, back.as_str()), (303, org_page.as_str()));
    assert_eq!(app.api(Method::GET, &api_role, None).await.0, 404);

    // The organization's role events, each with the operator.
    let env = app.core.environment_by_name("development").await.unwrap();
    let types = ["created", "updated", "deleted"].map(|c| format!("organization_role.{c}")).to_vec();
    let (events, _) =
        app.core.list_events(&env, EventFilter { events: types, limit: 10, ..Default::default() }).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["organization_role.created", "organization_role.updated", "organization_role.deleted"]);
    let operators = app.core.list_operators().await.unwrap();
    let root = operators.iter().find(|o| o.user.email == "root@example.com").unwrap().user.id.clone();
    assert!(events.iter().all(|e| e.actor.as_deref() == Some(root.as_str())), "{events:?}");
}
