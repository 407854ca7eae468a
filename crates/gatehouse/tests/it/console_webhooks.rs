//! The console's webhooks pages: an endpoint added with the API's checks and messages (shown on
//! the form, what was typed kept), its signing secret shown to admins only, its deliveries to a
//! real receiver listed and sent again, edited, disabled, enabled and removed (confirmed), each
//! change audited with the operator. Viewers see the pages read-only and their POSTs are refused.

use gatehouse::service::events::EventFilter;
use gatehouse::service::operators::OperatorRole;
use reqwest::Method;
use serde_json::json;

use crate::console::{operator, unescaped};
use crate::hosted::hidden;
use crate::webhooks::{spawn_receiver, until, webhook_app};

async fn get(b: &reqwest::Client, url: &str) -> String {
    let res = b.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    unescaped(&res.text().await.unwrap())
}

async fn post(b: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = b.post(url).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, unescaped(&res.text().await.unwrap()))
}

#[tokio::test]
async fn webhook_endpoints_are_added_delivered_to_replayed_edited_and_removed_in_the_console() {
    let app = webhook_app().await;
    let receiver = spawn_receiver().await;
    let hook = format!("{}/hook", receiver.url);
    let admin = operator(&app, "root@example.com", OperatorRole::Admin).await;
    let list = app.at("/dashboard/env/development/webhooks");
    let html = get(&admin, &list).await;
    assert!(html.contains("No endpoints yet") && html.contains("Add endpoint"), "{html}");
    assert!(html.contains("name=\"event:user.created\"") && html.contains("name=\"event:gatehouse.api_key.created\""));
    assert!(!html.contains("event:gatehouse.operator."), "operators' changes never reach an environment's endpoint");
    let csrf = hidden(&html, "csrf_token");

    // The API's checks, on the form (422), what was typed kept, nothing added.
    let (status, _, html) = post(&admin, &list, &[("csrf_token", &csrf), ("url", &hook)]).await;
    assert_eq!(status, 422);
    assert!(html.contains("events must name at least one event type") && html.contains(&format!("value=\"{hook}\"")));
    let form = [("csrf_token", csrf.as_str()), ("url", "ftp://example.com/hook"), ("event:user.created", "on")];
    let (status, _, html) = post(&admin, &list, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"form-error\"") && html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("name=\"event:user.created\" value=\"on\" checked"), "the ticked box stays ticked");

    // Added: on to its page, with its secret (admins only) and no deliveries yet.
    let form = [("csrf_token", csrf.as_str()), ("url", hook.as_str()), ("event:user.created", "on")];
    let (status, location, _) = post(&admin, &list, &form).await;
    assert_eq!(status, 303);
    let id = location.rsplit('/').next().unwrap().to_owned();
    assert!(id.starts_with("we_"), "{location}");
    let page = app.at(&location);
    let html = get(&admin, &page).await;
    let (_, endpoint) = app.api(Method::GET, &format!("/webhook_endpoints/{id}"), None).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(html.contains("Endpoint added") && html.contains(&format!(">{secret}</code>")), "{html}");
    assert!(html.contains("Nothing delivered yet"), "{html}");

    // A new user is delivered; the page lists it, and "Send again" posts it once more.
    app.create_user("hooked@example.com").await;
    until("the delivery", || receiver.ids().len() == 1).await;
    let html = get(&admin, &page).await;
    assert!(html.contains("<code>user.created</code>") && html.contains("HTTP 200"), "{html}");
    let delivery = html.split("name=\"delivery\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let replay = app.at(&format!("/dashboard/env/development/webhooks/{id}/replay"));
    let (status, back, _) = post(&admin, &replay, &[("csrf_token", &csrf), ("delivery", &delivery)]).await;
    assert_eq!((status, back.as_str()), (303, location.as_str()));
    assert_eq!(receiver.ids().len(), 2);
    assert_eq!(receiver.ids()[0], receiver.ids()[1], "the same event again");
    assert!(get(&admin, &page).await.contains("user.created sent again: the endpoint accepted it."));
    let (status, _, _) = post(&admin, &replay, &[("csrf_token", &csrf), ("delivery", "whd_nope")]).await;
    assert_eq!(status, 404, "an unknown delivery");

    // Edited: another event type; a bad URL is refused on the endpoint's page.
    let edit = app.at(&format!("/dashboard/env/development/webhooks/{id}/edit"));
    let form = [("csrf_token", csrf.as_str()), ("url", "not a url"), ("event:user.deleted", "on")];
    let (status, _, html) = post(&admin, &edit, &form).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"form-error\"") && html.contains("value=\"not a url\""), "{html}");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("url", hook.as_str()),
        ("event:user.created", "on"),
        ("event:user.deleted", "on"),
    ];
    assert_eq!(post(&admin, &edit, &form).await.0, 303);
    let (_, endpoint) = app.api(Method::GET, &format!("/webhook_endpoints/{id}"), None).await;
    assert_eq!(endpoint["events"], json!(["user.created", "user.deleted"]));

    // Disabled, then enabled.
    let disable = app.at(&format!("/dashboard/env/development/webhooks/{id}/disable"));
    assert_eq!(post(&admin, &disable, &[("csrf_token", &csrf)]).await.0, 303);
    assert!(get(&admin, &list).await.contains("<span class=\"badge off\">disabled</span>"));
    let enable = app.at(&format!("/dashboard/env/development/webhooks/{id}/enable"));
    assert_eq!(post(&admin, &enable, &[("csrf_token", &csrf)]).await.0, 303);
    assert!(get(&admin, &list).await.contains("<span class=\"badge on\">enabled</span>"));

    // A viewer: no secret, no forms, and a POST is refused.
    let viewer = operator(&app, "viewer@example.com", OperatorRole::Viewer).await;
    let html = get(&viewer, &page).await;
    assert!(
        !html.contains(secret) && !html.contains("Send again") && html.contains("<code>user.deleted</code>"),
        "{html}"
    );
    let viewer_csrf = hidden(&get(&viewer, &list).await, "csrf_token");
    assert_eq!(post(&viewer, &disable, &[("csrf_token", &viewer_csrf)]).await.0, 403);

    // Removed after a confirmation.
    let remove = app.at(&format!("/dashboard/env/development/webhooks/{id}/remove"));
    let (status, _, html) = post(&admin, &remove, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("Remove the endpoint {hook}?")) && html.contains("name=\"confirm\""), "{html}");
    let (status, back, _) = post(&admin, &remove, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!((status, back.as_str()), (303, "/dashboard/env/development/webhooks"));
    assert!(get(&admin, &list).await.contains("No endpoints yet"));
    assert_eq!(app.api(Method::GET, &format!("/webhook_endpoints/{id}"), None).await.0, 404);
    let missing = get_status(&admin, &page).await;
    assert_eq!(missing, 404);

    // Every change is audited with the operator.
    let env = app.core.environment_by_name("development").await.unwrap();
    let filter = EventFilter {
        events: ["created", "updated", "deleted"].map(|c| format!("gatehouse.webhook_endpoint.{c}")).to_vec(),
        limit: 50,
        ..Default::default()
    };
    let (trail, _) = app.core.list_events(&env, filter).await.unwrap();
    assert_eq!(trail.len(), 5, "created, edited, disabled, enabled, deleted");
    for event in &trail {
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["actor"]["email"], "root@example.com", "{data}");
    }
}

async fn get_status(b: &reqwest::Client, url: &str) -> u16 {
    b.get(url).send().await.unwrap().status().as_u16()
}
