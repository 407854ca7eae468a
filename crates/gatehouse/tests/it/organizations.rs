//! Organizations (issue 12): the management API, the users list filtered by membership,
//! sessions in an organization (claims, switching on refresh, the selection step), and what
//! ends them (a deactivated or deleted membership, a deleted organization).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn create_org(app: &TestApp, name: &str) -> Value {
    let (status, body) = app.api(Method::POST, "/organizations", Some(json!({"name": name}))).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn add_member(app: &TestApp, user: &Value, org: &Value, role: Option<&str>) -> Value {
    let mut body = json!({"user_id": user["id"], "organization_id": org["id"]});
    if let Some(role) = role {
        body["role_slug"] = json!(role);
    }
    let (status, body) = app.api(Method::POST, "/user_management/organization_memberships", Some(body)).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn refresh_into(app: &TestApp, refresh_token: &str, org: &str) -> (u16, Value) {
    app.authenticate(json!({
        "grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": refresh_token,
        "organization_id": org,
    }))
    .await
}

#[tokio::test]
async fn organizations_crud_pagination_and_external_id() {
    let app = TestApp::spawn().await;
    let (status, org) = app
        .api(
            Method::POST,
            "/organizations",
            Some(json!({"name": "Acme", "external_id": "acme-1", "metadata": {"tier": "gold"}})),
        )
        .await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(org["object"], "organization");
    assert!(org["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(org["domains"], json!([]));
    assert_eq!(org["metadata"]["tier"], "gold");
    let id = org["id"].as_str().unwrap();

    let (status, same) = app.api(Method::GET, "/organizations/external_id/acme-1", None).await;
    assert_eq!((status, &same["id"]), (200, &org["id"]));
    let (status, dup) =
        app.api(Method::POST, "/organizations", Some(json!({"name": "Other", "external_id": "acme-1"}))).await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("external_id_already_exists")));

    let (status, updated) = app
        .api(
            Method::PUT,
            &format!("/organizations/{id}"),
            Some(json!({"name": "Acme Inc", "metadata": {"tier": null, "region": "eu"}, "external_id": null})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Acme Inc");
    assert_eq!(updated["metadata"], json!({"region": "eu"}));
    assert_eq!(updated["external_id"], Value::Null);

    for i in 0..4 {
        create_org(&app, &format!("Org {i}")).await;
    }
    let (_, page) = app.api(Method::GET, "/organizations?limit=2", None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let after = page["list_metadata"]["after"].as_str().unwrap().to_owned();
    let (_, next) = app.api(Method::GET, &format!("/organizations?limit=10&after={after}"), None).await;
    assert_eq!(next["data"].as_array().unwrap().len(), 3);
    assert_eq!(next["list_metadata"]["after"], Value::Null);
    let (_, found) = app.api(Method::GET, "/organizations?search=acme", None).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let (status, _) = app.api(Method::DELETE, &format!("/organizations/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = app.api(Method::GET, &format!("/organizations/{id}"), None).await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("entity_not_found")));
}

#[tokio::test]
async fn malformed_requests_are_clear_4xx() {
    let app = TestApp::spawn().await;
    for (method, path, body) in [
        (Method::POST, "/organizations", json!({})),
        (Method::POST, "/organizations", json!({"name": 5})),
        (Method::POST, "/organizations", json!({"name": "A", "metadata": "x"})),
        (Method::POST, "/organizations", json!({"name": "A", "domains": ["not a domain"]})),
        (Method::POST, "/user_management/organization_memberships", json!({"user_id": "user_x"})),
        (Method::POST, "/authorization/roles", json!({"slug": "Bad Slug", "name": "x"})),
        (Method::POST, "/authorization/permissions", json!({"slug": "", "name": "x"})),
    ] {
        let (status, answer) = app.api(method, path, Some(body.clone())).await;
        assert_eq!(status, 422, "{path} {body}: {answer}");
        assert_eq!(answer["code"], "invalid_request_parameters");
    }
    for path in
        ["/organizations/nope", "/user_management/organization_memberships/om_nope", "/authorization/roles/nope"]
    {
        let (status, _) = app.api(Method::GET, path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app.api(Method::GET, "/user_management/organization_memberships", None).await;
    assert_eq!(status, 422);
    let (status, _) =
        app.api(Method::GET, "/user_management/organization_memberships?user_id=u&statuses=gone", None).await;
    assert_eq!(status, 422);
    let res = app
        .http
        .post(app.at("/organizations"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn memberships_roles_and_the_users_filter() {
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let globex = create_org(&app, "Globex").await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let m = add_member(&app, &ada, &acme, None).await;
    assert_eq!(m["object"], "organization_membership");
    assert_eq!(m["status"], "active");
    assert_eq!(m["role"], json!({"slug": "member"}));
    assert_eq!(m["organization_name"], "Acme");
    assert_eq!(m["user"]["email"], "ada@example.com");
    add_member(&app, &bob, &globex, Some("admin")).await;

    // Inviting an existing member again is a conflict.
    let (status, dup) = app
        .api(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": ada["id"], "organization_id": acme["id"]})),
        )
        .await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("organization_membership_already_exists")));
    // An unknown role is refused.
    let (status, _) = app
        .api(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": bob["id"], "organization_id": acme["id"], "role_slug": "owner"})),
        )
        .await;
    assert_eq!(status, 422);

    // The users list filters by membership (it used to ignore the parameter).
    let (_, users) = app
        .api(Method::GET, &format!("/user_management/users?organization_id={}", acme["id"].as_str().unwrap()), None)
        .await;
    let emails: Vec<&str> = users["data"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec!["ada@example.com"]);

    let (_, by_org) = app
        .api(
            Method::GET,
            &format!("/user_management/organization_memberships?organization_id={}", acme["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(by_org["data"].as_array().unwrap().len(), 1);
    let id = m["id"].as_str().unwrap();
    let (status, deactivated) =
        app.api(Method::PUT, &format!("/user_management/organization_memberships/{id}/deactivate"), None).await;
    assert_eq!((status, deactivated["status"].as_str()), (200, Some("inactive")));
    let (_, active) = app
        .api(
            Method::GET,
            &format!(
                "/user_management/organization_memberships?user_id={}&statuses=active",
                ada["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(active["data"].as_array().unwrap().len(), 0);
    let (_, reactivated) =
        app.api(Method::PUT, &format!("/user_management/organization_memberships/{id}/reactivate"), None).await;
    assert_eq!(reactivated["status"], "active");
    let (status, updated) = app
        .api(
            Method::PUT,
            &format!("/user_management/organization_memberships/{id}"),
            Some(json!({"role_slugs": ["admin", "member"]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["role"]["slug"], "admin");
    assert_eq!(updated["roles"], json!([{"slug": "admin"}, {"slug": "member"}]));

    // Roles and permissions.
    let (_, roles) = app.api(Method::GET, "/authorization/roles", None).await;
    let slugs: Vec<&str> = roles["data"].as_array().unwrap().iter().map(|r| r["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, vec!["admin", "member"]);
    let (status, _) = app
        .api(Method::POST, "/authorization/permissions", Some(json!({"slug": "posts:write", "name": "Write posts"})))
        .await;
    assert_eq!(status, 201);
    let (status, admin) = app
        .api(Method::PUT, "/authorization/roles/admin/permissions", Some(json!({"permissions": ["posts:write"]})))
        .await;
    assert_eq!((status, &admin["permissions"]), (200, &json!(["posts:write"])));
    let (status, _) =
        app.api(Method::PUT, "/authorization/roles/admin/permissions", Some(json!({"permissions": ["nope"]}))).await;
    assert_eq!(status, 422);
    let org_roles = format!("/authorization/organizations/{}/roles", acme["id"].as_str().unwrap());
    let (status, billing) =
        app.api(Method::POST, &org_roles, Some(json!({"slug": "org-billing", "name": "Billing"}))).await;
    assert_eq!((status, billing["type"].as_str()), (201, Some("OrganizationRole")));
    let (_, listed) = app.api(Method::GET, &org_roles, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let (status, _) = app.api(Method::POST, &org_roles, Some(json!({"slug": "billing", "name": "Billing"}))).await;
    assert_eq!(status, 422);

    let (status, _) = app.api(Method::DELETE, &format!("/user_management/organization_memberships/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.api(Method::GET, &format!("/user_management/organization_memberships/{id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sessions_carry_the_organization_and_switch_on_refresh() {
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let globex = create_org(&app, "Globex").await;
    let other = create_org(&app, "Other").await;
    let ada = app.create_user("ada@example.com").await;
    app.api(Method::POST, "/authorization/permissions", Some(json!({"slug": "posts:write", "name": "Write"}))).await;
    app.api(Method::PUT, "/authorization/roles/admin/permissions", Some(json!({"permissions": ["posts:write"]}))).await;

    // No membership: no organization.
    let plain = app.login("ada@example.com").await;
    assert!(plain.body.get("organization_id").is_none());
    assert!(claims(&plain.access_token).get("org_id").is_none());

    // One membership: the session enters it.
    add_member(&app, &ada, &acme, None).await;
    let one = app.login("ada@example.com").await;
    assert_eq!(one.body["organization_id"], acme["id"]);
    let c = claims(&one.access_token);
    assert_eq!(c["org_id"], acme["id"]);
    assert_eq!(c["role"], "member");
    assert_eq!(c["roles"], json!(["member"]));
    assert_eq!(c["permissions"], json!([]));
    assert_eq!(c["entitlements"], json!([]));
    assert_eq!(c["feature_flags"], json!([]));

    // Several: 403 organization_selection_required, finished by the selection grant.
    add_member(&app, &ada, &globex, Some("admin")).await;
    let (status, body) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("organization_selection_required")), "{body}");
    let orgs: Vec<&str> =
        body["organizations"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(orgs, vec!["Acme", "Globex"]);
    let pending = body["pending_authentication_token"].as_str().unwrap();
    let select = |org: &Value, token: &str| {
        json!({
            "grant_type": "urn:workos:oauth:grant-type:organization-selection", "client_id": app.client_id,
            "client_secret": app.api_key, "pending_authentication_token": token, "organization_id": org["id"],
        })
    };
    let (status, refused) = app.authenticate(select(&other, pending)).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("organization_membership_not_found")));
    let (status, chosen) = app.authenticate(select(&globex, pending)).await;
    assert_eq!(status, 200, "{chosen}");
    assert_eq!(chosen["organization_id"], globex["id"]);
    let c = claims(chosen["access_token"].as_str().unwrap());
    assert_eq!((c["role"].as_str(), &c["permissions"]), (Some("admin"), &json!(["posts:write"])));
    let (status, _) = app.authenticate(select(&globex, pending)).await;
    assert_eq!(status, 400, "a pending token is spent once");

    // Switching on refresh.
    let t = tokens(chosen);
    let (status, switched) = refresh_into(&app, &t.refresh_token, acme["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{switched}");
    assert_eq!(switched["organization_id"], acme["id"]);
    let c = claims(switched["access_token"].as_str().unwrap());
    assert_eq!((c["org_id"].as_str(), c["role"].as_str()), (acme["id"].as_str(), Some("member")));
    let t = tokens(switched);
    // A plain refresh stays in the organization.
    let (status, stayed) = app.refresh(&t.refresh_token).await;
    assert_eq!(status, 200);
    assert_eq!(claims(stayed["access_token"].as_str().unwrap())["org_id"], acme["id"]);
    let t = tokens(stayed);
    // Not a member, or no such organization: a clear error, and the token still works.
    let (status, refused) = refresh_into(&app, &t.refresh_token, other["id"].as_str().unwrap()).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("organization_membership_not_found")));
    let (status, refused) = refresh_into(&app, &t.refresh_token, "org_nope").await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("organization_not_found")));
    let (status, _) = app.refresh(&t.refresh_token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn leaving_or_deleting_the_organization_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let globex = create_org(&app, "Globex").await;
    let ada = app.create_user("ada@example.com").await;
    let m = add_member(&app, &ada, &acme, None).await;

    // Deactivated: the session in it ends, and it cannot be entered.
    let t = app.login("ada@example.com").await;
    let id = m["id"].as_str().unwrap();
    app.api(Method::PUT, &format!("/user_management/organization_memberships/{id}/deactivate"), None).await;
    let (status, _) = app.refresh(&t.refresh_token).await;
    assert_eq!(status, 400);
    let plain = app.login("ada@example.com").await;
    assert!(plain.body.get("organization_id").is_none(), "an inactive membership is not entered");
    let (status, refused) = refresh_into(&app, &plain.refresh_token, acme["id"].as_str().unwrap()).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("organization_membership_not_found")));

    // Switching to an organization the user left.
    app.api(Method::PUT, &format!("/user_management/organization_memberships/{id}/reactivate"), None).await;
    add_member(&app, &ada, &globex, None).await;
    let (_, body) = app.password_login("ada@example.com", PASSWORD).await;
    let (status, chosen) = app
        .authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:organization-selection", "client_id": app.client_id,
            "client_secret": app.api_key, "pending_authentication_token": body["pending_authentication_token"],
            "organization_id": globex["id"],
        }))
        .await;
    assert_eq!(status, 200, "{chosen}");
    let t = tokens(chosen);
    app.api(Method::DELETE, &format!("/user_management/organization_memberships/{id}"), None).await;
    let (status, refused) = refresh_into(&app, &t.refresh_token, acme["id"].as_str().unwrap()).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("organization_membership_not_found")));

    // Deleting the organization a session is in ends the session.
    let (status, _) = app.refresh(&t.refresh_token).await;
    assert_eq!(status, 200);
    let t2 = app.login("ada@example.com").await;
    assert_eq!(t2.body["organization_id"], globex["id"]);
    app.api(Method::DELETE, &format!("/organizations/{}", globex["id"].as_str().unwrap()), None).await;
    let (status, _) = app.refresh(&t2.refresh_token).await;
    assert_eq!(status, 400);
    let (_, memberships) = app
        .api(
            Method::GET,
            &format!("/user_management/organization_memberships?user_id={}", ada["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(memberships["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_selection_grant_takes_only_selection_tokens() {
    let app = TestApp::spawn().await;
    app.set(&[("email_verification_required", "true")]).await;
    let acme = create_org(&app, "Acme").await;
    let (_, user) = app
        .api(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "eve@example.com", "password": PASSWORD, "email_verified": false})),
        )
        .await;
    add_member(&app, &user, &acme, None).await;
    let (status, body) = app.password_login("eve@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("email_verification_required")), "{body}");
    let (status, refused) = app
        .authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:organization-selection", "client_id": app.client_id,
            "client_secret": app.api_key, "pending_authentication_token": body["pending_authentication_token"],
            "organization_id": acme["id"],
        }))
        .await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_pending_authentication_token")));
}

mod hosted {
    use super::*;
    use crate::hosted::{CHALLENGE, VERIFIER, authorize_url, code_and_state, hidden, open, submit};

    async fn exchange(app: &TestApp, code: &str) -> (u16, Value) {
        app.authenticate(json!({
            "grant_type": "authorization_code", "client_id": app.client_id, "code": code, "code_verifier": VERIFIER,
        }))
        .await
    }

    #[tokio::test]
    async fn the_picker_chooses_among_several_organizations() {
        let app = TestApp::spawn().await;
        let acme = create_org(&app, "Acme <&>").await;
        let globex = create_org(&app, "Globex").await;
        let other = create_org(&app, "Other").await;
        let ada = app.create_user("ada@example.com").await;
        add_member(&app, &ada, &acme, None).await;
        add_member(&app, &ada, &globex, Some("admin")).await;

        let extra = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let (_, html) = open(&app, &authorize_url(&app, &extra)).await;
        let res =
            submit(&app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        let picker = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(picker.starts_with("/authkit/organization?request="), "{picker}");
        let res = app.http.get(app.at(&picker)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains("Acme &lt;&amp;&gt;") && page.contains("Globex"), "{page}");
        assert!(!page.contains("Other"));

        // Not a member: the page again.
        let refused =
            submit(&app, "/authkit/organization", &page, &[("organization_id", other["id"].as_str().unwrap())]).await;
        assert_eq!(refused.status(), 400);
        // A forged CSRF token: the page again.
        let form = [
            ("request", hidden(&page, "request")),
            ("csrf_token", "forged".to_owned()),
            ("organization_id", globex["id"].as_str().unwrap().to_owned()),
        ];
        let forged = app.http.post(app.at("/authkit/organization")).form(&form).send().await.unwrap();
        assert_eq!(forged.status(), 400);

        let res =
            submit(&app, "/authkit/organization", &page, &[("organization_id", globex["id"].as_str().unwrap())]).await;
        assert_eq!(res.status(), 303);
        let (code, _) = code_and_state(res.headers()["location"].to_str().unwrap());
        let (status, body) = exchange(&app, &code).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["organization_id"], globex["id"]);
        assert_eq!(claims(body["access_token"].as_str().unwrap())["role"], "admin");

        // The pending sign-in was spent: the picker cannot be used twice.
        let again =
            submit(&app, "/authkit/organization", &page, &[("organization_id", acme["id"].as_str().unwrap())]).await;
        assert_ne!(again.status(), 303);
    }

    #[tokio::test]
    async fn authorize_with_organization_id_signs_in_to_it() {
        let app = TestApp::spawn().await;
        let acme = create_org(&app, "Acme").await;
        let globex = create_org(&app, "Globex").await;
        let other = create_org(&app, "Other").await;
        let ada = app.create_user("ada@example.com").await;
        add_member(&app, &ada, &acme, None).await;
        add_member(&app, &ada, &globex, None).await;
        let sign_in = |org: &Value| {
            let org = org["id"].as_str().unwrap().to_owned();
            let app = &app;
            async move {
                let extra = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256&organization_id={org}");
                let (_, html) = open(app, &authorize_url(app, &extra)).await;
                submit(app, "/authkit/sign-in", &html, &[("email", "ada@example.com"), ("password", PASSWORD)]).await
            }
        };
        let res = sign_in(&acme).await;
        assert_eq!(res.status(), 303);
        let (code, _) = code_and_state(res.headers()["location"].to_str().unwrap());
        let (status, body) = exchange(&app, &code).await;
        assert_eq!((status, &body["organization_id"]), (200, &acme["id"]));

        // An organization the user is not in: refused, never a code for it.
        let res = sign_in(&other).await;
        assert_eq!(res.status(), 400);
        // An unknown organization on /authorize goes back to the app as invalid_request.
        let res = app.http.get(authorize_url(&app, "&organization_id=org_nope")).send().await.unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("error=invalid_request"), "{location}");
    }
}

/// The CLI on the test server's own store (`--data`, or its PostgreSQL database).
fn cli(app: &TestApp, args: &[&str]) -> Value {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.arg("--data").arg(&app.config.data_dir).arg("--database-url").arg(app.config.database_url());
    for var in ["GATEHOUSE_PUBLIC_URL", "GATEHOUSE_LISTEN", "GATEHOUSE_LOG", "GATEHOUSE_SECRET_KEY"] {
        command.env_remove(var);
    }
    let out = command.args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn the_cli_manages_organizations_members_and_roles() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com").await;
    let org = cli(&app, &["orgs", "create", "Acme", "--external-id", "acme-cli"]);
    assert_eq!(org["object"], "organization");
    let id = org["id"].as_str().unwrap();
    let listed = cli(&app, &["orgs", "list"]);
    assert_eq!(listed[0]["id"], org["id"]);
    cli(&app, &["roles", "create-permission", "billing:read", "--name", "Read billing"]);
    let role = cli(&app, &["roles", "create", "org-billing", "--name", "Billing", "--org", id]);
    assert_eq!(role["type"], "OrganizationRole");
    let role = cli(&app, &["roles", "set-permissions", "org-billing", "billing:read", "--org", id]);
    assert_eq!(role["permissions"], json!(["billing:read"]));
    let member = cli(&app, &["members", "add", "--org", id, "--user", "ada@example.com", "--role", "org-billing"]);
    assert_eq!(member["role"]["slug"], "org-billing");
    let t = app.login("ada@example.com").await;
    let c = claims(&t.access_token);
    assert_eq!((c["org_id"].as_str(), c["role"].as_str()), (Some(id), Some("org-billing")));
    assert_eq!(c["permissions"], json!(["billing:read"]));
    let m = member["id"].as_str().unwrap();
    assert_eq!(cli(&app, &["members", "deactivate", m])["status"], "inactive");
    assert_eq!(cli(&app, &["members", "list", "--org", id])[0]["status"], "inactive");
    let roles = cli(&app, &["roles", "list", "--org", id]);
    assert_eq!(roles.as_array().unwrap().len(), 3);
    cli(&app, &["orgs", "delete", id]);
    assert_eq!(cli(&app, &["orgs", "list"]), json!([]));
}

#[tokio::test]
async fn invitations_are_created_listed_revoked_and_accepted() {
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let ada = app.create_user("ada@example.com").await;
    add_member(&app, &ada, &acme, None).await;
    let invite = |body: Value| {
        let app = &app;
        async move { app.api(Method::POST, "/user_management/invitations", Some(body)).await }
    };
    // Inviting an existing member, an unknown role, bad lifetimes.
    let (status, refused) = invite(json!({"email": "ada@example.com", "organization_id": acme["id"]})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("user_already_organization_member")));
    let (status, refused) =
        invite(json!({"email": "bob@example.com", "organization_id": acme["id"], "role_slug": "owner"})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_role")));
    let (status, refused) = invite(json!({"email": "bob@example.com", "expires_in_days": 31})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("expires_in_days_too_long")));
    let (status, _) = invite(json!({"email": "not an email"})).await;
    assert_eq!(status, 422);

    let (status, inv) = invite(json!({
        "email": "Bob@Example.com", "organization_id": acme["id"], "role_slug": "admin", "inviter_user_id": ada["id"],
    }))
    .await;
    assert_eq!(status, 201, "{inv}");
    assert_eq!((inv["object"].as_str(), inv["state"].as_str()), (Some("invitation"), Some("pending")));
    assert_eq!(inv["email"], "bob@example.com");
    let token = inv["token"].as_str().unwrap();
    assert!(inv["accept_invitation_url"].as_str().unwrap().contains(token));
    let (status, again) = invite(json!({"email": "bob@example.com", "organization_id": acme["id"]})).await;
    assert_eq!((status, again["code"].as_str()), (400, Some("email_already_invited_to_organization")));
    let (_, by_token) = app.api(Method::GET, &format!("/user_management/invitations/by_token/{token}"), None).await;
    assert_eq!(by_token["id"], inv["id"]);
    let (_, listed) = app
        .api(
            Method::GET,
            &format!("/user_management/invitations?organization_id={}", acme["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let emails = app.core.list_emails(None, 10).await.unwrap();
    assert!(emails.iter().any(|e| e.kind == "invitation" && e.to_address == "bob@example.com"));

    // Accepting through a grant: another user's password with Bob's invitation is refused.
    let grant = |email: &str, token: &str| {
        json!({
            "grant_type": "password", "client_id": app.client_id, "client_secret": app.api_key,
            "email": email, "password": PASSWORD, "invitation_token": token,
        })
    };
    let (status, refused) = app.authenticate(grant("ada@example.com", token)).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invitation_cannot_be_used_for_email")));
    app.create_user("bob@example.com").await;
    let (status, signed_in) = app.authenticate(grant("bob@example.com", token)).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["organization_id"], acme["id"]);
    assert_eq!(claims(signed_in["access_token"].as_str().unwrap())["role"], "admin");
    let id = inv["id"].as_str().unwrap();
    let (_, accepted) = app.api(Method::GET, &format!("/user_management/invitations/{id}"), None).await;
    assert_eq!(accepted["state"], "accepted");
    assert_eq!(accepted["accepted_user_id"], signed_in["user"]["id"]);
    // A spent invitation cannot be used, revoked or resent.
    let (status, refused) = app.authenticate(grant("bob@example.com", token)).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invitation_invalid")));
    let (status, refused) = app.api(Method::POST, &format!("/user_management/invitations/{id}/revoke"), None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invite_not_pending")));
    let (status, refused) = app.api(Method::POST, &format!("/user_management/invitations/{id}/resend"), None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invite_accepted")));

    // Revoked, then expired invitations cannot be accepted.
    let (_, carol) = invite(json!({"email": "carol@example.com", "organization_id": acme["id"]})).await;
    let carol_id = carol["id"].as_str().unwrap();
    let (status, revoked) =
        app.api(Method::POST, &format!("/user_management/invitations/{carol_id}/revoke"), None).await;
    assert_eq!((status, revoked["state"].as_str()), (200, Some("revoked")));
    app.create_user("carol@example.com").await;
    let (status, refused) = app.authenticate(grant("carol@example.com", carol["token"].as_str().unwrap())).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invitation_invalid")));
    let (status, refused) =
        app.api(Method::POST, &format!("/user_management/invitations/{carol_id}/accept"), None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invite_not_pending")));

    let (_, dave) = invite(json!({"email": "dave@example.com", "expires_in_days": 1})).await;
    app.clock.advance_secs(2 * 86_400);
    let dave_id = dave["id"].as_str().unwrap();
    let (_, expired) = app.api(Method::GET, &format!("/user_management/invitations/{dave_id}"), None).await;
    assert_eq!(expired["state"], "expired");
    let (status, refused) =
        app.api(Method::POST, &format!("/user_management/invitations/{dave_id}/resend"), None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invite_expired")));

    // The accept endpoint for an account that exists.
    let (_, erin) = invite(json!({"email": "erin@example.com", "organization_id": acme["id"]})).await;
    let erin_id = erin["id"].as_str().unwrap();
    let (status, refused) =
        app.api(Method::POST, &format!("/user_management/invitations/{erin_id}/accept"), None).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_invite")));
    app.create_user("erin@example.com").await;
    let (status, done) = app.api(Method::POST, &format!("/user_management/invitations/{erin_id}/accept"), None).await;
    assert_eq!((status, done["state"].as_str()), (200, Some("accepted")));
    let (_, members) = app
        .api(
            Method::GET,
            &format!("/user_management/organization_memberships?organization_id={}", acme["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(members["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_hosted_sign_up_accepts_an_invitation() {
    use crate::hosted::{CHALLENGE, VERIFIER, code_and_state, hidden};
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let (_, inv) = app
        .api(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "new@example.com", "organization_id": acme["id"], "role_slug": "admin"})),
        )
        .await;
    // The email's link leads to the sign-up page, the address filled in and locked.
    let link = inv["accept_invitation_url"].as_str().unwrap();
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.contains("invitation_token="), "{authorize}");
    let extra = format!("{authorize}&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let res = app.http.get(app.at(&extra)).send().await.unwrap();
    let page = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(page.starts_with("/authkit/sign-up"), "{page}");
    let html = app.http.get(app.at(&page)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("value=\"new@example.com\" readonly"), "{html}");
    let form = |email: &str| {
        vec![
            ("request".to_owned(), hidden(&html, "request")),
            ("csrf_token".to_owned(), hidden(&html, "csrf_token")),
            ("email".to_owned(), email.to_owned()),
            ("password".to_owned(), PASSWORD.to_owned()),
        ]
    };
    // Another address is refused.
    let res = app.http.post(app.at("/authkit/sign-up")).form(&form("other@example.com")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("sent to new@example.com"));
    let res = app.http.post(app.at("/authkit/sign-up")).form(&form("new@example.com")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let (code, _) = code_and_state(res.headers()["location"].to_str().unwrap());
    let (status, body) = app
        .authenticate(json!({
            "grant_type": "authorization_code", "client_id": app.client_id, "code": code, "code_verifier": VERIFIER,
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["organization_id"], acme["id"]);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(claims(body["access_token"].as_str().unwrap())["role"], "admin");
    let (_, accepted) =
        app.api(Method::GET, &format!("/user_management/invitations/{}", inv["id"].as_str().unwrap()), None).await;
    assert_eq!(accepted["state"], "accepted");
    // The link is spent.
    let res = app.http.get(link).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn an_organization_can_require_two_factor_of_its_members() {
    let app = TestApp::spawn().await;
    let acme = create_org(&app, "Acme").await;
    let ada = app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let m = add_member(&app, &ada, &acme, None).await;
    let id = acme["id"].as_str().unwrap();
    assert_eq!(cli(&app, &["orgs", "require-mfa", id, "true"])["require_mfa"], true);
    let (status, body) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("mfa_enrollment")), "{body}");
    // Users outside it are not affected, nor is a member whose membership is inactive.
    app.login("bob@example.com").await;
    let m = m["id"].as_str().unwrap();
    app.api(Method::PUT, &format!("/user_management/organization_memberships/{m}/deactivate"), None).await;
    app.login("ada@example.com").await;
    app.api(Method::PUT, &format!("/user_management/organization_memberships/{m}/reactivate"), None).await;
    cli(&app, &["orgs", "require-mfa", id, "false"]);
    let t = app.login("ada@example.com").await;
    assert_eq!(t.body["organization_id"], acme["id"]);
}
