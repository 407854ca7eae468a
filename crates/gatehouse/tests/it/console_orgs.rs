//! The console's organization pages (issue 16) over HTTP: an admin creates, renames and
//! deletes an organization; adds a domain, sees the TXT record to create, verifies it against a
//! local DNS server and removes it; changes a member's role, deactivates, reactivates and
//! removes them; sends and revokes invitations. A viewer sees the pages without the forms and
//! every POST of theirs is refused; a form without its CSRF token is refused.

use gatehouse::domain::listing::{Cursor, ListOrder, OrganizationQuery};
use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;
use reqwest::Method;
use serde_json::json;

use crate::console::{csrf_of, operator, unescaped};
use crate::dns_server::DnsServer;
use crate::support::TestApp;

const BASE: &str = "/dashboard/env/development";

async fn page(b: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = b.get(app.at(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, unescaped(&res.text().await.unwrap()))
}

async fn post(b: &reqwest::Client, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = b.post(app.at(path)).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, unescaped(&res.text().await.unwrap()))
}

#[tokio::test]
async fn an_admin_runs_an_organization_from_the_console() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = TestApp::spawn_with(|c| c.dns_server = Some(addr)).await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let admin = operator(&app, "admin@example.com", OperatorRole::Admin).await;
    let csrf = csrf_of(&admin, &app.at(&format!("{BASE}/organizations"))).await;
    let with = |extra: &[(&'static str, String)]| {
        let mut form = vec![("csrf_token", csrf.clone())];
        form.extend(extra.iter().cloned());
        form
    };
    let send = |path: String, form: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        let url = app.at(&path);
        async move {
            let res = admin.post(url).form(&form).send().await.unwrap();
            let status = res.status().as_u16();
            (status, unescaped(&res.text().await.unwrap()))
        }
    };

    // Create: a blank name is refused on the page; a name creates it.
    let (status, html) = send(format!("{BASE}/organizations"), with(&[("name", "  ".into())])).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
    let (status, _) = send(format!("{BASE}/organizations"), with(&[("name", "Acme".into())])).await;
    assert_eq!(status, 303);
    let cursor = Cursor { limit: 10, before: None, after: None, order: ListOrder::Desc };
    let orgs = app.core.list_organizations(&env, OrganizationQuery { search: None, cursor }).await.unwrap();
    assert_eq!(orgs.items.len(), 1);
    let org_id = orgs.items[0].id.clone();
    let base = format!("{BASE}/organizations/{org_id}");

    // The change is recorded with the operator who made it, and the Activity page names them.
    let operators = app.core.list_operators().await.unwrap();
    let admin_id = operators.iter().find(|o| o.user.email == "admin@example.com").unwrap().user.id.clone();
    let created = EventFilter { events: vec!["organization.created".into()], limit: 10, ..EventFilter::default() };
    let (events, _) = app.core.list_events(&env, created.clone()).await.unwrap();
    assert_eq!(events.iter().map(|e| e.actor.as_deref()).collect::<Vec<_>>(), [Some(admin_id.as_str())]);
    let (_, html) = page(&admin, &app, "/dashboard/activity?env=development&type=organization.created").await;
    assert!(html.contains("admin@example.com"), "{html}");
    // Through the API, the key is the actor.
    let (status, body) = app.api(Method::POST, "/organizations", Some(json!({"name": "Beta"}))).await;
    assert_eq!(status, 201, "{body}");
    let (events, _) = app.core.list_events(&env, created).await.unwrap();
    let key_actor = events.iter().find(|e| e.data.contains("\"Beta\"")).and_then(|e| e.actor.clone()).unwrap();
    assert!(key_actor.starts_with("api_key_"), "{key_actor}");
    app.api(Method::DELETE, &format!("/organizations/{}", body["id"].as_str().unwrap()), None).await;

    // Rename (and a refused one).
    assert_eq!(send(format!("{base}/rename"), with(&[("name", "Acme Inc".into())])).await.0, 303);
    assert_eq!(app.core.get_organization(&env, &org_id).await.unwrap().name, "Acme Inc");
    assert_eq!(send(format!("{base}/rename"), with(&[("name", "".into())])).await.0, 422);

    // A domain: the page shows the TXT record to create; verifying without it fails, with it succeeds.
    assert_eq!(send(format!("{base}/domains/add"), with(&[("domain", " Acme.TEST ".into())])).await.0, 303);
    let (status, html) = send(format!("{base}/domains/add"), with(&[("domain", "not a domain".into())])).await;
    assert_eq!(status, 422, "{html}");
    let d = app.core.list_domains(&env, &org_id).await.unwrap().remove(0);
    assert_eq!(d.domain, "acme.test");
    let (_, html) = page(&admin, &app, &base).await;
    assert!(html.contains(&d.txt_record_name()) && html.contains(&d.verification_token), "{html}");
    assert!(html.contains("data-copy=\"txt-value-"), "copy buttons");
    let (status, _) = send(format!("{base}/domains/verify"), with(&[("domain_id", d.id.clone())])).await;
    assert_eq!(status, 303);
    assert_eq!(app.core.get_domain(&env, &d.id).await.unwrap().state.as_str(), "failed");
    dns.set_txt(&d.txt_record_name(), &[&d.verification_token]);
    assert_eq!(send(format!("{base}/domains/verify"), with(&[("domain_id", d.id.clone())])).await.0, 303);
    assert_eq!(app.core.get_domain(&env, &d.id).await.unwrap().state.as_str(), "verified");

    // Members: role, deactivate (confirmed), reactivate, remove (confirmed).
    let user = app
        .core
        .create_user(&env, gatehouse::service::users::NewUser { email: "ada@acme.test".into(), ..Default::default() })
        .await
        .unwrap();
    let (status, m) = app
        .api(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": user.id, "organization_id": org_id})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    let mid = m["id"].as_str().unwrap().to_owned();
    let (_, html) = page(&admin, &app, &base).await;
    assert!(html.contains("ada@acme.test") && html.contains("Deactivate…"), "{html}");
    let member = |role: &str| with(&[("membership_id", mid.clone()), ("role_slug", role.into())]);
    assert_eq!(send(format!("{base}/members/role"), member("admin")).await.0, 303);
    assert_eq!(app.core.get_membership(&env, &mid).await.unwrap().membership.role_slugs, ["admin"]);
    assert_eq!(send(format!("{base}/members/role"), member("nope")).await.0, 422);
    let (status, html) = send(format!("{base}/members/deactivate"), member("admin")).await;
    assert_eq!(status, 200);
    assert!(html.contains("sessions in it end"), "a confirmation: {html}");
    assert_eq!(app.core.get_membership(&env, &mid).await.unwrap().membership.status.as_str(), "active");
    let mut confirmed = member("admin");
    confirmed.push(("confirm", "yes".into()));
    assert_eq!(send(format!("{base}/members/deactivate"), confirmed.clone()).await.0, 303);
    assert_eq!(app.core.get_membership(&env, &mid).await.unwrap().membership.status.as_str(), "inactive");
    assert_eq!(send(format!("{base}/members/reactivate"), member("admin")).await.0, 303);
    assert_eq!(app.core.get_membership(&env, &mid).await.unwrap().membership.status.as_str(), "active");
    assert_eq!(send(format!("{base}/members/remove"), member("admin")).await.0, 200);
    assert_eq!(send(format!("{base}/members/remove"), confirmed).await.0, 303);
    assert!(app.core.get_membership(&env, &mid).await.is_err());

    // Invitations: sent (the email goes out), a bad address refused, revoked after confirming.
    let invite = with(&[("email", "grace@acme.test".into()), ("role_slug", "member".into())]);
    assert_eq!(send(format!("{base}/invitations/send"), invite).await.0, 303);
    let (status, html) =
        send(format!("{base}/invitations/send"), with(&[("email", "nope".into()), ("role_slug", "member".into())]))
            .await;
    assert_eq!(status, 422);
    assert!(html.contains("not a valid email"), "{html}");
    let cursor = Cursor { limit: 10, before: None, after: None, order: ListOrder::Desc };
    let invitations = app.core.list_invitations(&env, Some(&org_id), None, cursor).await.unwrap();
    assert_eq!(invitations.items.len(), 1);
    let iid = invitations.items[0].invitation.id.clone();
    let (_, html) = page(&admin, &app, &base).await;
    assert!(html.contains("grace@acme.test") && html.contains("Revoke…"), "{html}");
    let revoke = with(&[("invitation_id", iid.clone()), ("confirm", "yes".into())]);
    assert_eq!(send(format!("{base}/invitations/revoke"), revoke).await.0, 303);
    assert_eq!(app.core.get_invitation(&env, &iid).await.unwrap().state.as_str(), "revoked");

    // An ID of another organization is not found here.
    let (status, other) = app.api(Method::POST, "/organizations", Some(json!({"name": "Other"}))).await;
    assert_eq!(status, 201);
    let other_base = format!("{BASE}/organizations/{}", other["id"].as_str().unwrap());
    let (status, _) =
        send(format!("{other_base}/domains/remove"), with(&[("domain_id", d.id.clone()), ("confirm", "yes".into())]))
            .await;
    assert_eq!(status, 404);

    // Remove the domain (confirmed), then delete the organization (the confirmation names what ends).
    assert_eq!(send(format!("{base}/domains/remove"), with(&[("domain_id", d.id.clone())])).await.0, 200);
    let remove = with(&[("domain_id", d.id.clone()), ("confirm", "yes".into())]);
    assert_eq!(send(format!("{base}/domains/remove"), remove).await.0, 303);
    assert!(app.core.list_domains(&env, &org_id).await.unwrap().is_empty());
    let (status, html) = send(format!("{base}/delete"), with(&[])).await;
    assert_eq!(status, 200);
    assert!(html.contains("every membership in it ends") && html.contains("every session"), "{html}");
    assert_eq!(send(format!("{base}/delete"), with(&[("confirm", "yes".into())])).await.0, 303);
    assert!(app.core.get_organization(&env, &org_id).await.is_err());
    assert_eq!(page(&admin, &app, &base).await.0, 404);
}

#[tokio::test]
async fn a_viewer_sees_organizations_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let env = app.core.environment_by_name("development").await.unwrap();
    let (status, org) = app.api(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    assert_eq!(status, 201);
    let org_id = org["id"].as_str().unwrap().to_owned();
    let d = app.core.create_domain(&env, &org_id, "acme.test").await.unwrap();
    let base = format!("{BASE}/organizations/{org_id}");
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let admin = operator(&app, "admin@example.com", OperatorRole::Admin).await;

    let (status, html) = page(&viewer, &app, &base).await;
    assert_eq!(status, 200);
    assert!(html.contains("acme.test") && html.contains(&d.verification_token), "the record is shown: {html}");
    for button in [
        "Add domain</button>",
        ">Verify</button>",
        "Send invitation</button>",
        "Delete organization…</button>",
        "<summary>Rename",
    ] {
        assert!(!html.contains(button), "a viewer sees no {button}");
    }
    let (_, list) = page(&viewer, &app, &format!("{BASE}/organizations")).await;
    assert!(!list.contains("Create organization"));
    let (_, html) = page(&admin, &app, &base).await;
    for button in [
        "Add domain</button>",
        ">Verify</button>",
        "Send invitation</button>",
        "Delete organization…</button>",
        "<summary>Rename",
    ] {
        assert!(html.contains(button), "an admin sees {button}");
    }

    let csrf = csrf_of(&viewer, &app.at(&base)).await;
    let paths = [
        format!("{BASE}/organizations"),
        format!("{base}/rename"),
        format!("{base}/delete"),
        format!("{base}/domains/add"),
        format!("{base}/domains/verify"),
        format!("{base}/domains/remove"),
        format!("{base}/members/role"),
        format!("{base}/members/deactivate"),
        format!("{base}/members/reactivate"),
        format!("{base}/members/remove"),
        format!("{base}/invitations/send"),
        format!("{base}/invitations/revoke"),
    ];
    let form = [
        ("csrf_token", csrf.as_str()),
        ("confirm", "yes"),
        ("name", "Mine"),
        ("domain", "x.test"),
        ("domain_id", d.id.as_str()),
        ("email", "x@x.test"),
    ];
    for path in &paths {
        assert_eq!(post(&viewer, &app, path, &form).await.0, 403, "viewer {path}");
    }
    // An admin without the form's token is refused too.
    for path in &paths {
        assert_eq!(post(&admin, &app, path, &form[1..]).await.0, 403, "no CSRF {path}");
    }
    let org = app.core.get_organization(&env, &org_id).await.unwrap();
    assert_eq!((org.name.as_str(), org.domains.len()), ("Acme", 1));
}
