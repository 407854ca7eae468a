//! Organization domains (issue 12): the API, `domain_data` on organizations, DNS TXT
//! verification against a local DNS server (`--dns-server`), a domain verified in one
//! organization only, auto-join by a verified domain at sign-in (and its refusals), and the
//! organization events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::dns_server::DnsServer;
use crate::support::*;

async fn spawn_with_dns() -> (TestApp, DnsServer) {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = TestApp::spawn_with(|c| c.dns_server = Some(addr)).await;
    (app, dns)
}

async fn create_org(app: &TestApp, body: Value) -> Value {
    let (status, org) = app.api(Method::POST, "/organizations", Some(body)).await;
    assert_eq!(status, 201, "{org}");
    org
}

async fn add_domain(app: &TestApp, org: &Value, domain: &str) -> Value {
    let (status, d) = app
        .api(Method::POST, "/organization_domains", Some(json!({"organization_id": org["id"], "domain": domain})))
        .await;
    assert_eq!(status, 201, "{d}");
    d
}

async fn verify(app: &TestApp, d: &Value) -> (u16, Value) {
    app.api(Method::POST, &format!("/organization_domains/{}/verify", d["id"].as_str().unwrap()), None).await
}

fn txt_name(d: &Value) -> String {
    format!("{}.{}", d["verification_prefix"].as_str().unwrap(), d["domain"].as_str().unwrap())
}

async fn event_types(app: &TestApp, filter: &str) -> Vec<Value> {
    let (status, body) = app.api(Method::GET, &format!("/events?limit=100&events={filter}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn domains_are_added_read_verified_by_dns_and_removed() {
    let (app, dns) = spawn_with_dns().await;
    let org = create_org(&app, json!({"name": "Foo Corp"})).await;
    let d = add_domain(&app, &org, " Foo-Corp.COM ").await;
    assert_eq!(d["object"], "organization_domain");
    assert!(d["id"].as_str().unwrap().starts_with("org_domain_"));
    assert_eq!(d["domain"], "foo-corp.com");
    assert_eq!(d["state"], "pending");
    assert_eq!(d["verification_strategy"], "dns");
    assert!(d["verification_prefix"].as_str().unwrap().starts_with("gatehouse-domain-verification-"));
    assert!(d["verification_token"].as_str().unwrap().len() >= 20);

    let (status, read) =
        app.api(Method::GET, &format!("/organization_domains/{}", d["id"].as_str().unwrap()), None).await;
    assert_eq!((status, &read["id"]), (200, &d["id"]));
    let (_, org_now) = app.api(Method::GET, &format!("/organizations/{}", org["id"].as_str().unwrap()), None).await;
    assert_eq!(org_now["domains"][0]["id"], d["id"]);

    // Missing record: failed, with the reason.
    let (status, failed) = verify(&app, &d).await;
    assert_eq!(status, 201, "{failed}");
    assert_eq!(failed["state"], "failed");
    let reason = failed["verification_failure_reason"].as_str().unwrap();
    assert!(reason.starts_with("No TXT record found at gatehouse-domain-verification-"), "{reason}");

    // A record without the token: failed.
    dns.set_txt(&txt_name(&d), &["something-else"]);
    let (_, failed) = verify(&app, &d).await;
    assert_eq!(failed["state"], "failed");
    assert!(failed["verification_failure_reason"].as_str().unwrap().contains("does not hold the verification token"));

    // The right record: verified, and verifying again is refused.
    dns.set_txt(&txt_name(&d), &["something-else", d["verification_token"].as_str().unwrap()]);
    let (status, verified) = verify(&app, &d).await;
    assert_eq!((status, verified["state"].as_str()), (201, Some("verified")), "{verified}");
    assert!(verified.get("verification_failure_reason").is_none());
    let (status, again) = verify(&app, &d).await;
    assert_eq!((status, again["code"].as_str()), (400, Some("domain_already_verified")));

    // The same domain twice in one organization: 409.
    let (status, dup) = app
        .api(
            Method::POST,
            "/organization_domains",
            Some(json!({"organization_id": org["id"], "domain": "foo-corp.com"})),
        )
        .await;
    assert_eq!((status, dup["code"].as_str()), (409, Some("domain_already_exists")));

    let path = format!("/organization_domains/{}", d["id"].as_str().unwrap());
    let (status, _) = app.api(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, gone) = app.api(Method::GET, &path, None).await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("entity_not_found")));
    let (status, _) = app.api(Method::DELETE, &path, None).await;
    assert_eq!(status, 404);

    let types: Vec<String> = event_types(&app, "organization_domain.created,organization_domain.verified,organization_domain.verification_failed,organization_domain.deleted")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "organization_domain.created",
            "organization_domain.verification_failed",
            "organization_domain.verification_failed",
            "organization_domain.verified",
            "organization_domain.deleted"
        ]
    );
    let failed_event = &event_types(&app, "organization_domain.verification_failed").await[0];
    assert_eq!(failed_event["data"]["reason"], "domain_verification_period_expired");
    assert_eq!(failed_event["data"]["organization_domain"]["id"], d["id"]);
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx() {
    let (app, _dns) = spawn_with_dns().await;
    let org = create_org(&app, json!({"name": "Foo"})).await;
    for (body, status, code) in [
        (json!({"organization_id": org["id"], "domain": "not a domain"}), 422, "invalid_request_parameters"),
        (json!({"organization_id": org["id"], "domain": "localhost"}), 422, "invalid_request_parameters"),
        (json!({"organization_id": org["id"], "domain": "10.0.0.1"}), 422, "invalid_request_parameters"),
        (json!({"organization_id": org["id"]}), 422, "invalid_request_parameters"),
        (json!({"domain": "foo.com"}), 422, "invalid_request_parameters"),
        (json!({"organization_id": 5, "domain": "foo.com"}), 422, "invalid_request_parameters"),
        (json!({"organization_id": "org_nope", "domain": "foo.com"}), 404, "entity_not_found"),
    ] {
        let (got, answer) = app.api(Method::POST, "/organization_domains", Some(body.clone())).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body} → {answer}");
    }
    for path in ["/organization_domains/nope", "/organization_domains/%ff%00"] {
        // Unknown: 404; undecodable: 400.
        let (status, _) = app.api(Method::GET, path, None).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
        let (status, _) = app.api(Method::POST, &format!("{path}/verify"), None).await;
        assert!(status == 404 || status == 400, "{path}: {status}");
    }
    let res = app
        .http
        .post(app.at("/organization_domains"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    for bad in [
        json!({"name": "X", "domain_data": [{"domain": "x.com", "state": "maybe"}]}),
        json!({"name": "X", "domain_data": [{"domain": "x.com"}]}),
        json!({"name": "X", "domain_data": "x.com"}),
        json!({"name": "X", "domain_data": [{"domain": "-x.com", "state": "pending"}]}),
        json!({"name": "X", "domains": [5]}),
    ] {
        let (status, answer) = app.api(Method::POST, "/organizations", Some(bad.clone())).await;
        assert_eq!((status, answer["code"].as_str()), (422, Some("invalid_request_parameters")), "{bad} → {answer}");
    }
}

#[tokio::test]
async fn domain_data_on_create_and_update_and_one_verified_owner_per_domain() {
    let (app, dns) = spawn_with_dns().await;
    let org = create_org(
        &app,
        json!({"name": "Foo", "domain_data": [
            {"domain": "foo.com", "state": "verified"}, {"domain": "foo.org", "state": "pending"}
        ], "domains": ["foo.net"]}),
    )
    .await;
    let states: Vec<(String, String, String)> = org["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
                d["verification_strategy"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("foo.com".into(), "verified".into(), "manual".into()),
            ("foo.net".into(), "pending".into(), "dns".into()),
            ("foo.org".into(), "pending".into(), "dns".into())
        ]
    );

    // Another organization cannot have foo.com verified: not by domain_data, not by DNS.
    let (status, refused) = app
        .api(
            Method::POST,
            "/organizations",
            Some(json!({"name": "Bar", "domain_data": [{"domain": "foo.com", "state": "verified"}]})),
        )
        .await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("domain_verified_by_other_organization")), "{refused}");
    let bar = create_org(&app, json!({"name": "Bar"})).await;
    let claim = add_domain(&app, &bar, "foo.com").await;
    dns.set_txt(&txt_name(&claim), &[claim["verification_token"].as_str().unwrap()]);
    let (status, failed) = verify(&app, &claim).await;
    assert_eq!((status, failed["state"].as_str()), (201, Some("failed")));
    assert!(failed["verification_failure_reason"].as_str().unwrap().contains("another organization"));
    let events = event_types(&app, "organization_domain.verification_failed").await;
    assert_eq!(events.last().unwrap()["data"]["reason"], "domain_verified_by_other_organization");

    // Update: the list replaces the domains; a pending one can be set verified.
    let id = org["id"].as_str().unwrap();
    let (status, updated) = app
        .api(
            Method::PUT,
            &format!("/organizations/{id}"),
            Some(json!({"domain_data": [{"domain": "foo.com", "state": "pending"}, {"domain": "foo.org", "state": "verified"}]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let names: Vec<(&str, &str)> = updated["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["domain"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("foo.com", "verified"), ("foo.org", "verified")]);

    // Deleting the organization frees the domain for Bar.
    let (status, _) = app.api(Method::DELETE, &format!("/organizations/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, verified) = verify(&app, &claim).await;
    assert_eq!((status, verified["state"].as_str()), (201, Some("verified")), "{verified}");

    let types: Vec<String> = event_types(&app, "organization.created,organization.updated,organization.deleted")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["organization.created", "organization.created", "organization.updated", "organization.deleted"]);
    let created = &event_types(&app, "organization.created").await[0];
    assert_eq!(created["data"]["object"], "organization");
    assert_eq!(created["data"]["id"], org["id"]);
    assert_eq!(created["data"]["domains"].as_array().unwrap().len(), 3);
}

async fn verified_user(app: &TestApp, email: &str, verified: bool) -> Value {
    let (status, body) = app
        .api(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": email, "password": PASSWORD, "email_verified": verified})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn auto_join_by_verified_domain_at_sign_in_and_its_refusals() {
    let (app, _dns) = spawn_with_dns().await;
    let org = create_org(
        &app,
        json!({"name": "Foo", "domain_auto_join": true, "domain_data": [
            {"domain": "foo.com", "state": "verified"}, {"domain": "pending-foo.com", "state": "pending"}
        ]}),
    )
    .await;
    assert_eq!(org["domain_auto_join"], true);
    let org_id = org["id"].as_str().unwrap();

    // A verified email at the verified domain: joins with the default role, in the token.
    let ann = verified_user(&app, "ann@Foo.com", true).await;
    let tokens = app.login("ann@foo.com").await;
    assert_eq!(tokens.body["organization_id"], org["id"]);
    let c = claims(&tokens.access_token);
    assert_eq!(c["org_id"], org["id"]);
    assert_eq!(c["role"], "member");
    let (_, members) = app
        .api(Method::GET, &format!("/user_management/organization_memberships?organization_id={org_id}"), None)
        .await;
    let members = members["data"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["user_id"], ann["id"]);
    assert_eq!(members[0]["status"], "active");
    let joined = event_types(&app, "organization_membership.created").await;
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["data"]["user_id"], ann["id"]);
    // Signing in again does not join twice.
    let again = app.login("ann@foo.com").await;
    assert_eq!(again.body["organization_id"], org["id"]);

    // Refusals: an unverified email, a pending domain, the policy off, an inactive membership.
    verified_user(&app, "bob@foo.com", false).await;
    let bob = app.login("bob@foo.com").await;
    assert_eq!(bob.body.get("organization_id").cloned().unwrap_or(Value::Null), Value::Null, "{}", bob.body);
    verified_user(&app, "cat@pending-foo.com", true).await;
    let cat = app.login("cat@pending-foo.com").await;
    assert_eq!(cat.body.get("organization_id").cloned().unwrap_or(Value::Null), Value::Null);
    let (_, members) = app
        .api(Method::GET, &format!("/user_management/organization_memberships?organization_id={org_id}"), None)
        .await;
    assert_eq!(members["data"].as_array().unwrap().len(), 1);

    let membership = members["data"][0]["id"].as_str().unwrap();
    let (status, _) =
        app.api(Method::PUT, &format!("/user_management/organization_memberships/{membership}/deactivate"), None).await;
    assert_eq!(status, 200);
    let ann_again = app.login("ann@foo.com").await;
    assert_eq!(ann_again.body.get("organization_id").cloned().unwrap_or(Value::Null), Value::Null);

    let (status, _) =
        app.api(Method::PUT, &format!("/organizations/{org_id}"), Some(json!({"domain_auto_join": false}))).await;
    assert_eq!(status, 200);
    verified_user(&app, "dan@foo.com", true).await;
    let dan = app.login("dan@foo.com").await;
    assert_eq!(dan.body.get("organization_id").cloned().unwrap_or(Value::Null), Value::Null);
}

#[tokio::test]
async fn auto_join_beside_another_membership_asks_which_organization() {
    let (app, _dns) = spawn_with_dns().await;
    let foo = create_org(
        &app,
        json!({"name": "Foo", "domain_auto_join": true, "domain_data": [{"domain": "foo.com", "state": "verified"}]}),
    )
    .await;
    let other = create_org(&app, json!({"name": "Other"})).await;
    let eve = verified_user(&app, "eve@foo.com", true).await;
    let (status, _) = app
        .api(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": eve["id"], "organization_id": other["id"]})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app.password_login("eve@foo.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("organization_selection_required")), "{body}");
    let offered: Vec<&str> =
        body["organizations"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert!(offered.contains(&foo["id"].as_str().unwrap()), "{body}");
    let (status, chosen) = app
        .authenticate(json!({
            "grant_type": "urn:workos:oauth:grant-type:organization-selection",
            "client_id": app.client_id, "client_secret": app.api_key,
            "pending_authentication_token": body["pending_authentication_token"],
            "organization_id": foo["id"],
        }))
        .await;
    assert_eq!(status, 200, "{chosen}");
    assert_eq!(claims(chosen["access_token"].as_str().unwrap())["org_id"], foo["id"]);
}

/// Runs the CLI against the test's store and DNS server; returns success and the JSON printed.
async fn cli(app: &TestApp, dns: &DnsServer, args: &[&str]) -> (bool, Value) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.arg("--data").arg(&app.config.data_dir).arg("--database-url").arg(app.config.database_url());
    command.arg("--dns-server").arg(dns.addr.to_string());
    for var in
        ["GATEHOUSE_PUBLIC_URL", "GATEHOUSE_LISTEN", "GATEHOUSE_LOG", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_DNS_SERVER"]
    {
        command.env_remove(var);
    }
    let out = command.args(args).arg("--json").output().await.unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), value)
}

#[tokio::test]
async fn the_cli_adds_lists_verifies_and_removes_domains() {
    let (app, dns) = spawn_with_dns().await;
    let org = create_org(&app, json!({"name": "Cli Corp"})).await;
    let id = org["id"].as_str().unwrap();
    let (ok, d) = cli(&app, &dns, &["orgs", "domains", "add", "--org", id, "cli-corp.com"]).await;
    assert!(ok, "{d}");
    assert_eq!(d["state"], "pending");
    let domain_id = d["id"].as_str().unwrap();
    let (ok, failed) = cli(&app, &dns, &["orgs", "domains", "verify", domain_id]).await;
    assert!(!ok, "an unverified domain exits non-zero");
    assert_eq!(failed["state"], "failed");
    dns.set_txt(&txt_name(&d), &[d["verification_token"].as_str().unwrap()]);
    let (ok, verified) = cli(&app, &dns, &["orgs", "domains", "verify", domain_id]).await;
    assert!(ok, "{verified}");
    assert_eq!(verified["state"], "verified");
    let (ok, manual) =
        cli(&app, &dns, &["orgs", "domains", "add", "--org", id, "other.cli-corp.com", "--verified"]).await;
    assert!(ok, "{manual}");
    assert_eq!(
        (manual["state"].as_str(), manual["verification_strategy"].as_str()),
        (Some("verified"), Some("manual"))
    );
    let (_, listed) = cli(&app, &dns, &["orgs", "domains", "list", "--org", id]).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (ok, policy) = cli(&app, &dns, &["orgs", "auto-join", id, "true"]).await;
    assert!(ok);
    assert_eq!(policy["domain_auto_join"], true);
    let (ok, _) = cli(&app, &dns, &["orgs", "domains", "remove", domain_id]).await;
    assert!(ok);
    let (_, listed) = cli(&app, &dns, &["orgs", "domains", "list", "--org", id]).await;
    assert_eq!(listed[0]["domain"], "other.cli-corp.com");
}
