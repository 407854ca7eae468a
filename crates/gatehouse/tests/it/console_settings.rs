//! The console's remaining setup pages: social providers (add, edit with a write-only secret,
//! enable/disable, remove confirmed; the callback URL shown; the hosted button follows; audited
//! with the operator), SMTP settings (saved sealed, applied at once, a test email arriving in a
//! sink, the `--smtp-url` override shown, errors inline) and the branding preview (the real
//! sign-in page with unsaved values, framable by the console only, writing nothing). Viewers
//! see them read-only and their POSTs are refused; every form is CSRF-checked.

use std::time::Duration;

use crate::console::{csrf_of, operator, unescaped};
use crate::hosted::{authorize_url, hidden, open};
use crate::smtp_sink::Sink;
use crate::support::*;
use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;

async fn audit(app: &TestApp, event: &str) -> Vec<serde_json::Value> {
    let env = app.core.environment_by_name("development").await.unwrap();
    let filter = EventFilter { events: vec![event.into()], limit: 50, ..Default::default() };
    let (trail, _) = app.core.list_events(&env, filter).await.unwrap();
    trail.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

async fn post(b: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = b.post(url).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, unescaped(&res.text().await.unwrap()))
}

async fn get(b: &reqwest::Client, url: &str) -> String {
    let res = b.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    unescaped(&res.text().await.unwrap())
}

/// The hosted sign-in page of the development environment.
async fn sign_in_page(app: &TestApp) -> String {
    open(app, &authorize_url(app, "")).await.1
}

#[tokio::test]
async fn providers_are_added_edited_toggled_and_removed_with_the_apis_checks() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let page = app.at("/dashboard/env/development/providers");
    let html = get(&admin, &page).await;
    assert!(html.contains("No social providers yet") && html.contains("Add provider"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let add = |fields: &[(&'static str, &'static str)]| {
        let mut form = vec![("csrf_token", csrf.clone())];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        form
    };

    // The API's checks and messages, shown on the form (422), nothing added.
    let form = add(&[("provider", "custom"), ("custom_name", "acme-sso"), ("client_id", "c"), ("client_secret", "s")]);
    let res = admin.post(&page).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let html = unescaped(&res.text().await.unwrap());
    assert!(html.contains("needs its issuer") && html.contains("id=\"issuer\""), "{html}");
    assert!(html.contains("value=\"acme-sso\""), "what was typed stays");
    let form = add(&[("provider", "GitHubOAuth"), ("client_id", "gh-client")]);
    let (status, html) = post(&admin, &page, &form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(status, 422);
    assert!(html.contains("client_secret is required"), "{html}");

    // Added: listed with its exact callback URL and a copy button; the secret never shown.
    let form = add(&[("provider", "GitHubOAuth"), ("client_id", "gh-client"), ("client_secret", "gh-secret-123")]);
    let res = admin.post(&page).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let html = get(&admin, &page).await;
    let callback = app.at("/authkit/callback/GitHubOAuth");
    assert!(html.contains(&callback) && html.contains("data-copy=\"callback-GitHubOAuth\""), "{html}");
    assert!(html.contains("GitHub added") && !html.contains("gh-secret-123"), "{html}");
    // A second one with the same name is the API's conflict.
    let (status, html) = post(&admin, &page, &form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(status, 422);
    assert!(html.contains("already configured"), "{html}");
    // The hosted sign-in page shows its button.
    assert!(sign_in_page(&app).await.contains("Continue with GitHub"));

    // Edit: an empty secret keeps the stored one; the label changes the button.
    let env = app.core.environment_by_name("development").await.unwrap();
    let before = app.core.get_provider(&env, "GitHubOAuth").await.unwrap();
    let edit_page = get(&admin, &app.at("/dashboard/env/development/providers/GitHubOAuth")).await;
    assert!(edit_page.contains(&callback) && edit_page.contains("Leave empty to keep the stored secret"));
    assert!(!edit_page.contains("gh-secret-123"));
    let edit = app.at("/dashboard/env/development/providers/GitHubOAuth/edit");
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("client_id", "gh-client-2"),
        ("client_secret", ""),
        ("scopes", "read:user user:email"),
        ("display_name", "GitHub Enterprise"),
    ];
    let (status, _) = post(&admin, &edit, &fields).await;
    assert_eq!(status, 303);
    let after = app.core.get_provider(&env, "GitHubOAuth").await.unwrap();
    assert_eq!(after.client_secret_sealed, before.client_secret_sealed, "an empty secret keeps the stored one");
    assert_eq!((after.client_id.as_str(), after.display_name.as_deref()), ("gh-client-2", Some("GitHub Enterprise")));
    assert!(sign_in_page(&app).await.contains("Continue with GitHub Enterprise"));
    let bad = [("csrf_token", csrf.as_str()), ("client_id", "gh"), ("icon_url", "javascript:alert(1)")];
    let (status, html) = post(&admin, &edit, &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("role=\"alert\"") && html.contains("aria-invalid"), "{html}");
    let (status, _) = post(
        &admin,
        &edit,
        &[("csrf_token", csrf.as_str()), ("client_id", "gh-client-2"), ("client_secret", "new-secret")],
    )
    .await;
    assert_eq!(status, 303);
    let rotated = app.core.get_provider(&env, "GitHubOAuth").await.unwrap();
    assert_ne!(rotated.client_secret_sealed, before.client_secret_sealed);

    // Disable hides the button; enable brings it back.
    let toggle = |what: &str| app.at(&format!("/dashboard/env/development/providers/GitHubOAuth/{what}"));
    assert_eq!(post(&admin, &toggle("disable"), &[("csrf_token", csrf.as_str())]).await.0, 303);
    assert!(!sign_in_page(&app).await.contains("Continue with GitHub"));
    assert!(get(&admin, &page).await.contains("disabled"));
    assert_eq!(post(&admin, &toggle("enable"), &[("csrf_token", csrf.as_str())]).await.0, 303);
    assert!(sign_in_page(&app).await.contains("Continue with GitHub"));

    // Remove asks first, naming what happens, then removes.
    let (status, html) = post(&admin, &toggle("remove"), &[("csrf_token", csrf.as_str())]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Please confirm") && html.contains("keep their accounts"), "{html}");
    assert!(app.core.get_provider(&env, "GitHubOAuth").await.is_ok(), "nothing removed before confirming");
    let (status, _) = post(&admin, &toggle("remove"), &[("csrf_token", csrf.as_str()), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert!(app.core.get_provider(&env, "GitHubOAuth").await.is_err());
    assert!(!sign_in_page(&app).await.contains("Continue with GitHub"));

    // Every change is audited with the operator, secrets redacted, and shown on Activity.
    for event in ["gatehouse.provider.created", "gatehouse.provider.updated", "gatehouse.provider.deleted"] {
        let trail = audit(&app, event).await;
        assert!(!trail.is_empty(), "{event}");
        for data in &trail {
            assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
            assert!(!data.to_string().contains("secret-123") && !data.to_string().contains("new-secret"));
        }
    }
    let secret_change = audit(&app, "gatehouse.provider.updated").await;
    assert!(secret_change.iter().any(|d| d["after"]["secret_changed"] == true), "{secret_change:?}");
    let activity = get(&admin, &app.at("/dashboard/activity?env=development&type=audit")).await;
    assert!(activity.contains("gatehouse.provider.created") && activity.contains("gatehouse.provider.deleted"));

    // An unknown provider is the not-found page.
    let res = admin.get(app.at("/dashboard/env/development/providers/Nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn viewers_see_the_settings_pages_read_only_and_csrf_is_checked() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let viewer = operator(&app, "look@example.com", OperatorRole::Viewer).await;
    let csrf = csrf_of(&admin, &app.at("/dashboard/env/development/providers")).await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("provider", "GitHubOAuth"),
        ("client_id", "gh-client"),
        ("client_secret", "gh-secret-123"),
    ];
    assert_eq!(post(&admin, &app.at("/dashboard/env/development/providers"), &form).await.0, 303);

    let providers = get(&viewer, &app.at("/dashboard/env/development/providers")).await;
    assert!(providers.contains("/authkit/callback/GitHubOAuth") && providers.contains("Read-only"));
    assert!(!providers.contains("Add provider") && !providers.contains("/remove\""), "{providers}");
    let provider = get(&viewer, &app.at("/dashboard/env/development/providers/GitHubOAuth")).await;
    assert!(!provider.contains("method=\"post\" action=\"/dashboard/env/development/providers"), "{provider}");
    assert!(provider.contains("stored, never shown"));
    let email = get(&viewer, &app.at("/dashboard/env/development/email")).await;
    assert!(email.contains("<fieldset class=\"plain\" disabled>") && !email.contains("Save email settings"));
    assert!(!email.contains("Send test email"));
    let settings = get(&viewer, &app.at("/dashboard/env/development/settings")).await;
    assert!(settings.contains("id=\"brand-preview\"") && !settings.contains("class=\"primary\">Save settings"));
    let res = viewer.get(app.at("/dashboard/env/development/settings/preview")).send().await.unwrap();
    assert_eq!(res.status(), 200, "viewers see the preview");

    let vcsrf = hidden(&providers, "csrf_token");
    for path in [
        "/dashboard/env/development/providers",
        "/dashboard/env/development/providers/GitHubOAuth/edit",
        "/dashboard/env/development/providers/GitHubOAuth/disable",
        "/dashboard/env/development/providers/GitHubOAuth/enable",
        "/dashboard/env/development/providers/GitHubOAuth/remove",
        "/dashboard/env/development/email/smtp",
        "/dashboard/env/development/email/test",
    ] {
        let fields = [
            ("csrf_token", vcsrf.as_str()),
            ("confirm", "yes"),
            ("provider", "GoogleOAuth"),
            ("client_id", "x"),
            ("client_secret", "y"),
            ("host", "127.0.0.1"),
            ("tls", "none"),
            ("from", "a@example.com"),
            ("to", "a@example.com"),
        ];
        assert_eq!(post(&viewer, &app.at(path), &fields).await.0, 403, "viewer: {path}");
        let mut forged = fields;
        forged[0].1 = "forged";
        assert_eq!(post(&admin, &app.at(path), &forged).await.0, 403, "CSRF: {path}");
    }
    let env = app.core.environment_by_name("development").await.unwrap();
    let p = app.core.get_provider(&env, "GitHubOAuth").await.unwrap();
    assert!(p.is_enabled && p.client_id == "gh-client", "nothing changed");
    assert_eq!(app.core.list_providers(&env).await.unwrap().len(), 1);
    assert_eq!(app.core.stored_email_settings().await.unwrap().0, None);
    assert!(app.core.store.list_emails(Some(&env.id), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn smtp_settings_are_saved_sealed_applied_at_once_and_a_test_email_arrives() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sink = Sink::start(listener);
    let page = app.at("/dashboard/env/development/email");
    let smtp = app.at("/dashboard/env/development/email/smtp");
    let html = get(&admin, &page).await;
    assert!(html.contains("No SMTP server") && html.contains("Save email settings"), "{html}");
    let csrf = hidden(&html, "csrf_token");

    // Errors are shown on the form, with what was typed.
    for (field, value, message) in [
        ("from", "not an address", "The From address must look like"),
        ("port", "99999", "The port is a number from 1 to 65535"),
        ("host", "bad host/name", "host name"),
        ("tls", "sometimes", "Choose how the connection is secured"),
        ("password", "lonely-password", "A password needs a username"),
    ] {
        let mut form = vec![
            ("csrf_token", csrf.as_str()),
            ("host", "127.0.0.1"),
            ("port", port.as_str()),
            ("tls", "none"),
            ("from", "Acme <no-reply@acme.test>"),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let (status, html) = post(&admin, &smtp, &form).await;
        assert_eq!(status, 422, "{field}");
        assert!(html.contains(message) && html.contains("id=\"smtp-error\""), "{field}: {html}");
        let write_only = field == "password";
        assert!(
            html.contains(&format!("value=\"{value}\"")) != write_only || field == "tls",
            "{field}: typed value kept"
        );
    }
    assert_eq!(app.core.stored_email_settings().await.unwrap().0, None, "nothing stored");

    // A username and password: the password is sealed and never shown; empty keeps it.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("tls", "none"),
        ("username", "mailer"),
        ("password", "smtp-pass-secret"),
        ("from", "Acme <no-reply@acme.test>"),
    ];
    assert_eq!(post(&admin, &smtp, &form).await.0, 303);
    let html = get(&admin, &page).await;
    assert!(html.contains("Email settings saved; they apply now."), "{html}");
    assert!(!html.contains("smtp-pass-secret") && html.contains("Leave empty to keep the stored password"));
    let mut keep = form;
    keep[5].1 = "";
    assert_eq!(post(&admin, &smtp, &keep).await.0, 303);
    let (stored, from) = app.core.stored_email_settings().await.unwrap();
    let stored = stored.unwrap();
    assert!(stored.has_password && stored.username == "mailer", "{stored:?}");
    assert_eq!(from.as_deref(), Some("Acme <no-reply@acme.test>"));
    assert!(app.core.email_config().smtp_url.as_deref().unwrap().contains("smtp-pass-secret"), "kept");
    let raw = app.core.store.setting("smtp_url").await.unwrap().unwrap();
    assert!(!raw.contains("smtp-pass-secret") && !raw.contains("mailer"), "sealed at rest");

    // The sink takes no AUTH: save without a username, then send the test email.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("tls", "none"),
        ("username", ""),
        ("password", ""),
        ("from", "Acme <no-reply@acme.test>"),
    ];
    assert_eq!(post(&admin, &smtp, &form).await.0, 303);
    assert!(!app.core.stored_email_settings().await.unwrap().0.unwrap().has_password);
    let test = app.at("/dashboard/env/development/email/test");
    let (status, html) = post(&admin, &test, &[("csrf_token", csrf.as_str()), ("to", "not-an-address")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("Enter an email address") && html.contains("id=\"test-error\""), "{html}");
    assert_eq!(post(&admin, &test, &[("csrf_token", csrf.as_str()), ("to", "ops@example.com")]).await.0, 303);
    for _ in 0..200 {
        if sink.count() > 0 {
            break;
        }
        app.core.outbox_ready.notify_one();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let message = sink.last().expect("the test email arrives");
    assert!(message.contains("To: ops@example.com") && message.contains("Subject: Test email from"), "{message}");
    assert!(message.contains("From: Acme <no-reply@acme.test>"), "{message}");
    let html = get(&admin, &page).await;
    assert!(html.contains("ops@example.com") && html.contains("127.0.0.1:"), "the log and what is in effect");

    // Audited with the operator; the password never in the trail.
    let trail = audit(&app, "gatehouse.email_settings.updated").await;
    assert_eq!(trail.len(), 3);
    for data in &trail {
        assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
        assert!(!data.to_string().contains("smtp-pass-secret"), "{data}");
    }
    assert_eq!(trail.iter().filter(|d| d["after"]["secret_changed"] == true).count(), 2, "{trail:?}");
}

#[tokio::test]
async fn an_smtp_url_from_the_command_line_overrides_the_stored_settings_and_says_so() {
    let app = TestApp::spawn_with(|c| c.smtp_url = Some("smtp://127.0.0.1:2525".into())).await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let page = app.at("/dashboard/env/development/email");
    let html = get(&admin, &page).await;
    assert!(html.contains("id=\"smtp-override\"") && html.contains("GATEHOUSE_SMTP_URL"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("host", "mail.example.com"),
        ("port", ""),
        ("tls", "starttls"),
        ("from", "ops@example.com"),
    ];
    assert_eq!(post(&admin, &app.at("/dashboard/env/development/email/smtp"), &form).await.0, 303);
    let html = get(&admin, &page).await;
    assert!(html.contains("overrides them until it is removed"), "{html}");
    assert_eq!(app.core.email_config().smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"), "the override stays");
    let stored = app.core.stored_email_settings().await.unwrap().0.unwrap();
    assert_eq!((stored.host.as_str(), stored.port), ("mail.example.com", 587));
    assert!(html.contains("value=\"mail.example.com\""), "the form shows the stored settings");
}

#[tokio::test]
async fn the_branding_preview_is_the_real_sign_in_page_with_unsaved_values_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let settings = get(&admin, &app.at("/dashboard/env/development/settings")).await;
    assert!(settings.contains("src=\"/dashboard/env/development/settings/preview\""), "{settings}");
    assert!(settings.contains("data-preview=\"app_name\"") && settings.contains("data-preview=\"primary_color\""));
    let env = app.core.environment_by_name("development").await.unwrap();
    let events_before = app
        .core
        .list_events(&env, EventFilter { limit: 100, audit: true, ..Default::default() })
        .await
        .unwrap()
        .0
        .len();

    let url =
        app.at("/dashboard/env/development/settings/preview?app_name=Zebra%20Books&primary_color=%23ff0066&logo_url=");
    let res = admin.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'self'") && csp.contains("form-action 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
    assert!(res.headers().get("set-cookie").is_none(), "no sign-in started");
    let html = unescaped(&res.text().await.unwrap());
    assert!(html.contains("to continue to Zebra Books") && html.contains("Sign in"), "{html}");
    assert!(html.contains(&format!("/authkit/brand/{}.css?color=%23ff0066", app.client_id)), "{html}");
    // The real hosted page's parts: the same template.
    let real = sign_in_page(&app).await;
    assert!(real.contains("name=\"password\"") && html.contains("name=\"password\""));

    // The brand stylesheet takes the unsaved colour; an invalid one is the default.
    let css =
        app.http.get(app.at(&format!("/authkit/brand/{}.css?color=%23ff0066", app.client_id))).send().await.unwrap();
    assert!(css.text().await.unwrap().contains("--brand: #ff0066;"));
    let css =
        app.http.get(app.at(&format!("/authkit/brand/{}.css?color=red;}}x{{", app.client_id))).send().await.unwrap();
    assert!(!css.text().await.unwrap().contains("red"));
    // A colour still being typed keeps the saved one.
    let html = get(&admin, &app.at("/dashboard/env/development/settings/preview?primary_color=%23ff")).await;
    let saved =
        app.core.load_environment(&app.client_id).await.unwrap().unwrap().settings.branding.primary_color.clone();
    assert!(html.contains(&format!("?color={}", saved.replace('#', "%23"))), "{html}");

    // Nothing was written: the settings and the event log are as they were.
    let after = app.core.load_environment(&app.client_id).await.unwrap().unwrap();
    assert_ne!(after.settings.branding.app_name, "Zebra Books");
    let events_after = app
        .core
        .list_events(&env, EventFilter { limit: 100, audit: true, ..Default::default() })
        .await
        .unwrap()
        .0
        .len();
    assert_eq!(events_before, events_after);
    // The hosted pages themselves stay unframable.
    let res = app.http.get(authorize_url(&app, "")).send().await.unwrap();
    let page = app.at(res.headers()["location"].to_str().unwrap());
    let res = app.http.get(&page).send().await.unwrap();
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // Signed out, the preview goes to sign-in.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = anonymous.get(app.at("/dashboard/env/development/settings/preview")).send().await.unwrap();
    assert_eq!(res.status(), 302);
}
