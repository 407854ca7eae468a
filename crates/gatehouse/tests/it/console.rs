//! The console (`/dashboard`): operators sign in through the hosted pages of the hidden
//! operator realm; sign-in is required, CSRF and roles are enforced on every POST; API keys,
//! app users' tokens and app sessions never open it; the realm is invisible to the API; every
//! page answers 200 to an admin.

use reqwest::redirect::Policy;
use serde_json::json;

use crate::hosted::{hidden, open};
use crate::support::*;
use gatehouse::domain::audit::Actor;
use gatehouse::service::operators::OperatorRole;

const OPERATOR_PASSWORD: &str = "operator horse battery staple";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .user_agent("console-test-browser")
        .build()
        .unwrap()
}

/// Creates an operator through a one-time link (the core call the CLI makes, then the setup
/// page) and returns a browser signed in to the console.
pub async fn operator(app: &TestApp, email: &str, role: OperatorRole) -> reqwest::Client {
    let token = app.core.invite_operator(Some(email), role, &Actor::Cli).await.unwrap();
    let b = browser();
    let page = b.get(app.at(&format!("/dashboard/setup?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = [
        ("csrf_token", hidden(&html, "csrf_token")),
        ("token", token.clone()),
        ("password", OPERATOR_PASSWORD.to_owned()),
        ("password_confirmation", OPERATOR_PASSWORD.to_owned()),
    ];
    let res = b.post(app.at("/dashboard/setup")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    sign_in(app, &b, email).await;
    b
}

/// Signs `b` in to the console through the hosted sign-in page.
async fn sign_in(app: &TestApp, b: &reqwest::Client, email: &str) {
    let res = b.get(app.at("/dashboard/sign-in?next=/dashboard/environments")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    let res = b.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let html = b.get(&page).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request", hidden(&html, "request")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", email.to_owned()),
        ("password", OPERATOR_PASSWORD.to_owned()),
    ];
    let res = b.post(app.at("/authkit/sign-in")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&app.at("/dashboard/callback?")), "{callback}");
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> =
        res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("gatehouse_console=") && c.contains("HttpOnly; SameSite=Strict")),
        "{cookies:?}"
    );
    assert!(res.text().await.unwrap().contains("url=&#x2f;dashboard&#x2f;environments"));
}

/// A page's HTML with minijinja's escapes of `/`, quotes and `&` undone, to search in.
pub fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&quot;", "\"").replace("&#x27;", "'").replace("&amp;", "&")
}

pub async fn csrf_of(b: &reqwest::Client, url: &str) -> String {
    let res = b.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    hidden(&res.text().await.unwrap(), "csrf_token")
}

#[tokio::test]
async fn sign_in_is_required_and_foreign_credentials_never_open_the_console() {
    let app = TestApp::spawn().await;
    let anonymous = browser();
    let res = anonymous.get(app.at("/dashboard/env/development")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/dashboard/sign-in?next=%2Fdashboard%2Fenv%2Fdevelopment");
    let res = anonymous
        .post(app.at("/dashboard/env/development/cors/add"))
        .form(&[("value", "http://a.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // The API key, an app user's access token, and an app user's hosted session cookie.
    let res = anonymous.get(app.at("/dashboard/environments")).bearer_auth(&app.api_key).send().await.unwrap();
    assert_eq!(res.status(), 302, "an API key does not open the console");
    app.create_user("ada@example.com").await;
    let tokens = app.login("ada@example.com").await;
    let res = anonymous.get(app.at("/dashboard/environments")).bearer_auth(&tokens.access_token).send().await.unwrap();
    assert_eq!(res.status(), 302, "an app user's token does not open the console");
    let (_, _) = open(&app, &crate::hosted::authorize_url(&app, "")).await;
    let res = app.http.get(app.at("/dashboard/environments")).send().await.unwrap();
    assert_eq!(res.status(), 302, "an app's hosted-page cookies do not open the console");

    // An app user cannot sign in to the console: the realm has its own users.
    let b = browser();
    let res = b.get(app.at("/dashboard/sign-in")).send().await.unwrap();
    let authorize = res.headers()["location"].to_str().unwrap().to_owned();
    let res = b.get(&authorize).send().await.unwrap();
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let html = b.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("Sign up"), "operators cannot sign themselves up");
    let form = [
        ("request", hidden(&html, "request")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", "ada@example.com".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let res = b.post(app.at("/authkit/sign-in")).form(&form).send().await.unwrap();
    assert_ne!(res.status(), 303, "an app user is not an operator");
}

#[tokio::test]
async fn the_operator_realm_is_invisible_to_the_api_and_takes_no_api_keys() {
    let app = TestApp::spawn().await;
    let _admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let names: Vec<String> = app.core.list_environments().await.unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["development"]);
    assert!(app.core.find_environment_named("gatehouse-operators").await.unwrap().is_none());
    assert!(app.core.ensure_environment("gatehouse-operators", &gatehouse::domain::audit::Actor::Cli).await.is_err());
    // The API key of development sees no operator among its users.
    let (status, body) = app.api(reqwest::Method::GET, "/user_management/users?email=root@example.com", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!([]));
    // The landing page does not list it.
    let html = app.http.get(app.at("/")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("gatehouse-operators"));
}

#[tokio::test]
async fn admins_change_things_viewers_cannot_and_csrf_is_checked() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let viewer = operator(&app, "look@example.com", OperatorRole::Viewer).await;
    let cors = app.at("/dashboard/env/development/cors");

    // Admin: add a CORS origin (303 and listed), with the API's validation message on a bad one.
    let csrf = csrf_of(&admin, &cors).await;
    let res = admin
        .post(app.at("/dashboard/env/development/cors/add"))
        .form(&[("csrf_token", csrf.as_str()), ("value", "https://app.example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = unescaped(&admin.get(&cors).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("https://app.example.com") && page.contains("Added https://app.example.com."));
    // The change is in the audit trail with the operator as its actor, and on the Activity page.
    let env = app.core.environment_by_name("development").await.unwrap();
    let filter = gatehouse::service::events::EventFilter {
        events: vec!["gatehouse.cors_origin.created".into()],
        limit: 10,
        ..Default::default()
    };
    let (trail, _) = app.core.list_events(&env, filter).await.unwrap();
    let data: serde_json::Value = serde_json::from_str(&trail[0].data).unwrap();
    assert_eq!(data["actor"]["type"], "operator", "{data}");
    assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
    assert_eq!(data["after"]["origin"], "https://app.example.com", "{data}");
    let activity = admin.get(app.at("/dashboard/activity?env=development&type=audit")).send().await.unwrap();
    let activity = unescaped(&activity.text().await.unwrap());
    assert!(activity.contains("gatehouse.cors_origin.created") && activity.contains("root@example.com"), "{activity}");
    let res = admin
        .post(app.at("/dashboard/env/development/cors/add"))
        .form(&[("csrf_token", csrf.as_str()), ("value", "not an origin")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // CSRF: a missing or wrong token is refused, and nothing changes.
    let res = admin
        .post(app.at("/dashboard/env/development/cors/add"))
        .form(&[("csrf_token", "wrong"), ("value", "https://evil.example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Viewer: sees the page without change buttons; every POST is 403.
    let page = unescaped(&viewer.get(&cors).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("https://app.example.com") && !page.contains("/cors/add"));
    let vcsrf = hidden(&page, "csrf_token");
    for (path, fields) in [
        ("/dashboard/env/development/cors/add", vec![("value", "https://v.example.com")]),
        ("/dashboard/env/development/cors/remove", vec![("value", "https://app.example.com"), ("confirm", "yes")]),
        ("/dashboard/env/development/redirects/add", vec![("value", "https://v.example.com/cb")]),
        ("/dashboard/env/development/api-keys", vec![]),
        ("/dashboard/env/development/jwt-template", vec![("content", "{}")]),
        ("/dashboard/environments", vec![]),
    ] {
        let mut form = vec![("csrf_token", vcsrf.as_str())];
        form.extend(fields);
        let res = viewer.post(app.at(path)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let origins: Vec<String> = app
        .core
        .list_cors_origins(&app.core.environment_by_name("development").await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.origin)
        .collect();
    assert_eq!(origins, ["https://app.example.com"]);

    // Removing asks first, then removes.
    let res = admin
        .post(app.at("/dashboard/env/development/cors/remove"))
        .form(&[("csrf_token", csrf.as_str()), ("value", "https://app.example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = unescaped(&res.text().await.unwrap());
    assert!(html.contains("Please confirm") && html.contains("name=\"confirm\" value=\"yes\""));
    let res = admin
        .post(app.at("/dashboard/env/development/cors/remove"))
        .form(&[("csrf_token", csrf.as_str()), ("value", "https://app.example.com"), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // A role change applies on the next request; removal ends the session.
    app.core.set_operator_role("root@example.com", OperatorRole::Viewer, &Actor::Cli).await.unwrap();
    let res = admin
        .post(app.at("/dashboard/env/development/cors/add"))
        .form(&[("csrf_token", csrf.as_str()), ("value", "https://late.example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.core.remove_operator("look@example.com", &Actor::Cli).await.unwrap();
    let res = viewer.get(&cors).send().await.unwrap();
    assert_eq!(res.status(), 302);
}

#[tokio::test]
async fn every_page_answers_an_admin_and_sessions_are_short() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    for path in [
        "/dashboard",
        "/dashboard/environments",
        "/dashboard/env/development",
        "/dashboard/env/development/api-keys",
        "/dashboard/env/development/redirects",
        "/dashboard/env/development/cors",
        "/dashboard/env/development/jwt-template",
        "/dashboard/env/development/settings",
        "/dashboard/env/development/signing-keys",
        "/dashboard/env/development/email",
    ] {
        let res = admin.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Sign out"), "{path}");
    }
    // The JWT template's preview for a chosen user.
    app.create_user("ada@example.com").await;
    let url = app.at("/dashboard/env/development/jwt-template?preview=ada@example.com");
    let html = unescaped(&admin.get(&url).send().await.unwrap().text().await.unwrap());
    assert!(html.contains(&format!("\"aud\": \"{}\"", app.client_id)) && html.contains("\"sub\": \"user_"), "{html}");

    // Settings go through the same checks as `gatehouse env set`.
    let settings = app.at("/dashboard/env/development/settings");
    let csrf = csrf_of(&admin, &settings).await;
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("access_token_ttl_secs", "10"),
        ("session_ttl_secs", "2592000"),
        ("refresh_grace_secs", "5"),
        ("password_policy.min_length", "8"),
        ("branding.app_name", "Acme"),
        ("branding.primary_color", "#112233"),
        ("branding.logo_url", ""),
        ("sign_out_redirect_uris", "http://localhost:5173/"),
        ("sign_up_enabled", "on"),
    ];
    let res = admin.post(&settings).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("shorter than 40 s"));
    form[1] = ("access_token_ttl_secs", "120");
    let res = admin.post(&settings).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let env = app.core.environment_by_name("development").await.unwrap();
    assert_eq!(env.settings.access_token_ttl_secs, 120);
    assert_eq!(env.settings.branding.app_name, "Acme");
    assert!(env.settings.sign_up_enabled && !env.settings.magic_auth_enabled);
    assert_eq!(env.settings.sign_out_redirect_uris, ["http://localhost:5173/"]);
    // Rotating asks first.
    let rotate = app.at("/dashboard/env/development/signing-keys/rotate");
    let res = admin.post(&rotate).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = admin.post(&rotate).form(&[("csrf_token", csrf.as_str()), ("confirm", "yes")]).send().await.unwrap();
    assert_eq!(res.status(), 303);

    let res = admin.get(app.at("/dashboard/env/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = admin.get(app.at("/dashboard/env/gatehouse-operators")).send().await.unwrap();
    assert_eq!(res.status(), 404, "the realm is not an environment of the console either");

    // Another browser (another user agent) with the same cookie jar contents is refused.
    // Idle for 31 minutes: signed out.
    app.clock.advance_secs(31 * 60);
    let res = admin.get(app.at("/dashboard/environments")).send().await.unwrap();
    assert_eq!(res.status(), 302);
}

#[tokio::test]
async fn operator_links_work_once_and_first_start_links_ask_for_the_address() {
    let app = TestApp::spawn().await;
    let token = app.core.invite_operator(None, OperatorRole::Admin, &Actor::Cli).await.unwrap();
    let b = browser();
    let html = b.get(app.at(&format!("/dashboard/setup?token={token}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("name=\"email\""));
    let csrf = hidden(&html, "csrf_token");
    let weak = [
        ("csrf_token", csrf.as_str()),
        ("token", token.as_str()),
        ("email", "first@example.com"),
        ("password", "short"),
        ("password_confirmation", "short"),
    ];
    let res = b.post(app.at("/dashboard/setup")).form(&weak).send().await.unwrap();
    assert_eq!(res.status(), 422, "the realm's password policy applies, and the link stays good");
    let good = [
        ("csrf_token", csrf.as_str()),
        ("token", token.as_str()),
        ("email", "first@example.com"),
        ("password", OPERATOR_PASSWORD),
        ("password_confirmation", OPERATOR_PASSWORD),
    ];
    let res = b.post(app.at("/dashboard/setup")).form(&good).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = b.post(app.at("/dashboard/setup")).form(&good).send().await.unwrap();
    assert_eq!(res.status(), 400, "used once");
    let ops = app.core.list_operators().await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].role, OperatorRole::Admin);
    sign_in(&app, &b, "first@example.com").await;
    let res = b.get(app.at("/dashboard/environments")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn dashboard_off_serves_no_console() {
    let app = TestApp::spawn_with(|c| c.web.dashboard = gatehouse::web::Dashboard::Off).await;
    for path in ["/dashboard", "/dashboard/sign-in", "/dashboard/static/console.css"] {
        let res = app.http.get(app.at(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}
