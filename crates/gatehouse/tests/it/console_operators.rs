//! The console's operators page: a one-time link made and shown once (and it works), the
//! service's refusals on the form, a role changed, an operator removed (confirmed), the
//! operators' two-factor requirement, all audited with the operator who did it. No operator can
//! change or remove themselves there; viewers see the page read-only and their POSTs are refused.

use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;

use crate::console::{operator, unescaped};
use crate::hosted::hidden;
use crate::support::*;

async fn get(b: &reqwest::Client, url: &str) -> String {
    let res = b.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    unescaped(&res.text().await.unwrap())
}

async fn post(b: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = b.post(url).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    (status, unescaped(&res.text().await.unwrap()))
}

async fn role_of(app: &TestApp, email: &str) -> Option<OperatorRole> {
    app.core.list_operators().await.unwrap().into_iter().find(|o| o.user.email == email).map(|o| o.role)
}

#[tokio::test]
async fn operators_are_invited_changed_and_removed_in_the_console_but_never_yourself() {
    let app = TestApp::spawn().await;
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let page = app.at("/dashboard/operators");
    let html = get(&admin, &page).await;
    assert!(html.contains("root@example.com") && html.contains(">you</span>"), "{html}");
    assert!(!html.contains("value=\"root@example.com\""), "no role or remove form for yourself: {html}");
    let csrf = hidden(&html, "csrf_token");

    // A one-time link, shown once, that opens the account form.
    let invite = app.at("/dashboard/operators/invite");
    let (status, html) =
        post(&admin, &invite, &[("csrf_token", &csrf), ("email", "new@example.com"), ("role", "viewer")]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Send this link to new@example.com"), "{html}");
    let link = html.split("<code>").find(|s| s.contains("/dashboard/setup?token=")).unwrap().split('<').next().unwrap();
    assert!(link.starts_with(&app.at("/dashboard/setup?token=")), "{link}");
    assert_eq!(reqwest::get(link).await.unwrap().status(), 200);
    assert!(!get(&admin, &page).await.contains(link), "shown once");
    // The service's refusals, on the page.
    let (status, html) =
        post(&admin, &invite, &[("csrf_token", &csrf), ("email", "not an address"), ("role", "viewer")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("Enter a valid email address."), "{html}");
    let (status, html) =
        post(&admin, &invite, &[("csrf_token", &csrf), ("email", "root@example.com"), ("role", "admin")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("root@example.com is already an operator."), "{html}");
    let (status, _) = post(&admin, &invite, &[("csrf_token", &csrf), ("role", "owner")]).await;
    assert_eq!(status, 422);

    // Another operator's role changes; yours does not.
    operator(&app, "second@example.com", OperatorRole::Viewer).await;
    let role = app.at("/dashboard/operators/role");
    let (status, _) =
        post(&admin, &role, &[("csrf_token", &csrf), ("email", "second@example.com"), ("role", "admin")]).await;
    assert_eq!(status, 303);
    assert_eq!(role_of(&app, "second@example.com").await, Some(OperatorRole::Admin));
    let (status, html) =
        post(&admin, &role, &[("csrf_token", &csrf), ("email", "ROOT@example.com"), ("role", "viewer")]).await;
    assert_eq!(status, 403);
    assert!(html.contains("You cannot change or remove yourself here"), "{html}");
    assert_eq!(role_of(&app, "root@example.com").await, Some(OperatorRole::Admin));

    // Removal asks first; yourself never.
    let remove = app.at("/dashboard/operators/remove");
    let (status, html) = post(&admin, &remove, &[("csrf_token", &csrf), ("email", "second@example.com")]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Remove the operator second@example.com?") && html.contains("name=\"confirm\""), "{html}");
    assert!(role_of(&app, "second@example.com").await.is_some());
    let form = [("csrf_token", csrf.as_str()), ("email", "second@example.com"), ("confirm", "yes")];
    assert_eq!(post(&admin, &remove, &form).await.0, 303);
    assert!(role_of(&app, "second@example.com").await.is_none());
    let form = [("csrf_token", csrf.as_str()), ("email", "root@example.com"), ("confirm", "yes")];
    assert_eq!(post(&admin, &remove, &form).await.0, 403);
    assert!(role_of(&app, "root@example.com").await.is_some());

    // The two-factor requirement, on and off.
    let two_factor = app.at("/dashboard/operators/two-factor");
    assert_eq!(post(&admin, &two_factor, &[("csrf_token", &csrf), ("required", "on")]).await.0, 303);
    assert!(app.core.operator_two_factor_required().await.unwrap());
    assert!(get(&admin, &page).await.contains("name=\"required\" value=\"on\" checked"));
    assert_eq!(post(&admin, &two_factor, &[("csrf_token", &csrf)]).await.0, 303);
    assert!(!app.core.operator_two_factor_required().await.unwrap());

    // A viewer reads the page and changes nothing.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let html = get(&viewer, &page).await;
    assert!(html.contains("root@example.com") && !html.contains("Create a one-time link") && !html.contains("Remove…"));
    let viewer_csrf = hidden(&html, "csrf_token");
    let form = [("csrf_token", viewer_csrf.as_str()), ("email", "x@example.com"), ("role", "admin")];
    assert_eq!(post(&viewer, &invite, &form).await.0, 403);

    // Each change is in the operators' audit trail with who made it.
    let types = ["invited", "updated", "deleted", "two_factor_updated"].map(|t| format!("gatehouse.operator.{t}"));
    let filter = EventFilter { events: types.to_vec(), limit: 50, ..Default::default() };
    let (trail, _) = app.core.list_operator_events(filter).await.unwrap();
    let by_root: Vec<&str> = trail
        .iter()
        .filter(|e| serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["actor"]["email"] == "root@example.com")
        .map(|e| e.event.as_str())
        .collect();
    for t in &types {
        assert!(by_root.contains(&t.as_str()), "{t} by root: {by_root:?}");
    }
}
