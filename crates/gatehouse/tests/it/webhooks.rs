//! Webhooks (issue 10): endpoints through the API, signed deliveries in log order to a local
//! receiver, retries through an outage, receivers that hang, redirect or refuse, an endpoint
//! disabled after three days of failures, replay, two processes sharing the work, and the
//! refusals (private addresses, bad URLs, unknown event types).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gatehouse::clock::FakeClock;
use gatehouse::crypto::secrets::webhook_signature;
use gatehouse::server::open_core;
use gatehouse::service::users::NewUser;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Fail,
    Hang,
    Redirect,
}

struct Received {
    signature: String,
    body: String,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The event IDs received so far, in arrival order.
    pub fn ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let mode = *r.mode.lock().unwrap();
    match mode {
        Mode::Fail => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return StatusCode::OK.into_response();
        }
        Mode::Redirect => {
            return (StatusCode::FOUND, [("location", format!("{}/elsewhere", r.url))]).into_response();
        }
        Mode::Ok => {}
    }
    let signature = headers.get("workos-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    r.got.lock().unwrap().push(Received { signature, body: String::from_utf8(body.to_vec()).unwrap() });
    StatusCode::OK.into_response()
}

pub async fn spawn_receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let r = Receiver { url: url.clone(), mode: Arc::new(Mutex::new(Mode::Ok)), got: Arc::new(Mutex::new(Vec::new())) };
    let router = Router::new().route("/hook", post(hook)).route("/elsewhere", post(hook)).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    r
}

pub async fn webhook_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.events.webhooks_allow_private = true;
        config.events.webhook_timeout_ms = 500;
        config.events.webhook_poll_ms = 50;
    })
    .await
}

async fn create_endpoint(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let (status, body) =
        app.api(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": url, "events": events}))).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn new_users(app: &TestApp, prefix: &str, n: usize) {
    let env = app.core.environment_by_name("development").await.unwrap();
    for i in 0..n {
        let new = NewUser { email: format!("{prefix}{i}@example.com"), ..NewUser::default() };
        app.core.create_user(&env, new).await.unwrap();
    }
}

/// Waits (real time) until `done` holds, for at most ten seconds.
pub async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let (status, body) =
        app.api(Method::GET, &format!("/webhook_endpoints/{endpoint}/deliveries?limit=100"), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn event_ids(app: &TestApp, types: &str) -> Vec<String> {
    let (_, body) = app.api(Method::GET, &format!("/events?limit=100&events={types}"), None).await;
    body["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn deliveries_are_signed_in_order_and_survive_an_outage() {
    let app = webhook_app().await;
    let receiver = spawn_receiver().await;
    receiver.set(Mode::Fail);
    let endpoint = create_endpoint(&app, &format!("{}/hook", receiver.url), &["user.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("we_") && secret.starts_with("whsec_"), "{endpoint}");
    assert_eq!(endpoint["status"], "enabled");

    new_users(&app, "outage", 5).await;
    app.create_user("other@example.com").await;
    // Sign-in events, which the endpoint does not subscribe to, are skipped.
    app.login("other@example.com").await;
    let mut failed = Vec::new();
    for _ in 0..200 {
        failed = deliveries(&app, &id).await;
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed[0]["status_code"], 500, "{failed:?}");
    assert_eq!(failed[0]["succeeded"], false);
    assert!(receiver.ids().is_empty());

    // The receiver comes back; after the backoff everything arrives, in log order.
    receiver.set(Mode::Ok);
    app.clock.advance_secs(3600);
    until("all six deliveries", || receiver.ids().len() >= 6).await;
    let expected = event_ids(&app, "user.created").await;
    assert_eq!(receiver.ids(), expected);
    for r in receiver.got.lock().unwrap().iter() {
        let t: i64 = r.signature.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
        assert_eq!(r.signature, webhook_signature(&secret, t, &r.body), "signature of {}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["object"], "event");
        assert_eq!(body["event"], "user.created");
        assert!(body["data"]["email"].is_string());
    }
    let log = deliveries(&app, &id).await;
    assert!(log.iter().filter(|d| d["succeeded"] == true).count() >= 6);
    assert!(log.iter().all(|d| d["status_code"] == 200 || d["status_code"] == 500), "{log:?}");

    // Replay one delivery: the same event again, logged as a new attempt.
    let first = log.iter().rfind(|d| d["succeeded"] == true).unwrap();
    let (status, again) =
        app.api(Method::POST, &format!("/webhook_deliveries/{}/replay", first["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["succeeded"], true);
    assert_eq!(receiver.ids().last().unwrap(), first["event_id"].as_str().unwrap());
}

#[tokio::test]
async fn hanging_and_redirecting_receivers_never_slow_a_sign_in() {
    let app = webhook_app().await;
    let receiver = spawn_receiver().await;
    receiver.set(Mode::Hang);
    let endpoint = create_endpoint(&app, &format!("{}/hook", receiver.url), &["session.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    app.create_user("hang@example.com").await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        app.login("hang@example.com").await;
        assert!(started.elapsed() < Duration::from_millis(400), "sign-in took {:?}", started.elapsed());
    }
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&app, &id).await;
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["error"], "timed out", "{log:?}");
    assert!(log[0]["status_code"].is_null());

    receiver.set(Mode::Redirect);
    app.clock.advance_secs(3600);
    let mut redirected = Vec::new();
    for _ in 0..100 {
        redirected = deliveries(&app, &id).await;
        if redirected.iter().any(|d| d["status_code"] == 302) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = redirected.iter().find(|d| d["status_code"] == 302).expect("a 302 logged");
    assert_eq!(d["succeeded"], false);
    assert_eq!(d["error"], "redirects are not followed");
    assert!(receiver.ids().is_empty(), "the redirect target was not called");
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_disabled_with_an_event() {
    let app = webhook_app().await;
    // Nothing listens here: every connection is refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let endpoint = create_endpoint(&app, &format!("http://{closed}/hook"), &["user.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    app.create_user("refused@example.com").await;
    let mut now = Value::Null;
    for _ in 0..200 {
        app.clock.advance_secs(3600);
        app.core.deliver_webhooks().await.unwrap();
        now = app.api(Method::GET, &format!("/webhook_endpoints/{id}"), None).await.1;
        if now["status"] == "disabled" {
            break;
        }
    }
    assert_eq!(now["status"], "disabled", "{now}");
    let log = deliveries(&app, &id).await;
    assert!(log[0]["error"].as_str().unwrap().starts_with("could not connect"), "{:?}", log[0]);
    let (_, events) = app.api(Method::GET, "/events?events=webhook_endpoint.disabled", None).await;
    assert_eq!(events["data"][0]["data"]["id"], id.as_str(), "{events}");

    // Enabled again by an update, it is due at once.
    let (status, body) =
        app.api(Method::PATCH, &format!("/webhook_endpoints/{id}"), Some(json!({"status": "enabled"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "enabled");
}

/// Two processes on one database share the endpoints: each event arrives once, in order.
#[tokio::test]
async fn two_processes_deliver_each_event_once_in_order() {
    let app = webhook_app().await;
    let second = open_core(&app.config, Arc::new(FakeClock::new(1_800_000_000_000))).await.unwrap();
    let receiver = spawn_receiver().await;
    let endpoint = create_endpoint(&app, &format!("{}/hook", receiver.url), &["user.created"]).await;
    let writes = new_users(&app, "pair", 40);
    let pump = async {
        for _ in 0..40 {
            second.deliver_webhooks().await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::join!(writes, pump);
    until("forty deliveries", || receiver.ids().len() >= 40).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.ids(), event_ids(&app, "user.created").await);
    let log = deliveries(&app, endpoint["id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 40, "one delivery per event");
}

#[tokio::test]
async fn endpoints_are_managed_through_the_api() {
    let app = webhook_app().await;
    let a = create_endpoint(&app, "http://127.0.0.1:9/a", &["user.created", "user.deleted"]).await;
    let b = create_endpoint(&app, "http://127.0.0.1:9/b", &["session.created"]).await;
    let (status, body) = app
        .api(
            Method::POST,
            "/webhook_endpoints",
            Some(json!({"endpoint_url": "http://127.0.0.1:9/a", "events": ["user.created"]})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("duplicate_endpoint")), "{body}");
    let (_, list) = app.api(Method::GET, "/webhook_endpoints", None).await;
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [b["id"].as_str().unwrap(), a["id"].as_str().unwrap()], "newest first");
    let a_id = a["id"].as_str().unwrap();
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/webhook_endpoints/{a_id}"),
            Some(json!({"events": ["user.updated"], "status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"], json!(["user.updated"]));
    assert_eq!(body["status"], "disabled");
    assert_eq!(body["secret"], a["secret"]);
    let (status, _) = app.api(Method::DELETE, &format!("/webhook_endpoints/{a_id}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = app.api(Method::GET, &format!("/webhook_endpoints/{a_id}"), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("entity_not_found")));
    let (status, _) = app.api(Method::DELETE, &format!("/webhook_endpoints/{a_id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_endpoints_are_refused_with_the_documented_codes() {
    // The default: private addresses refused.
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "not a url",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ] {
        let (status, body) = app
            .api(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": url, "events": ["user.created"]})))
            .await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_url")), "{url}: {body}");
    }
    let (status, body) = app
        .api(
            Method::POST,
            "/webhook_endpoints",
            Some(json!({"endpoint_url": "https://example.com/hook", "events": ["user.created", "user.exploded"]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_request_parameters");
    assert_eq!(body["errors"][0]["code"], "unknown_event_type");
    for bad in [
        json!({"events": ["user.created"]}),
        json!({"endpoint_url": "https://example.com/h", "events": []}),
        json!({"endpoint_url": "https://example.com/h", "events": "user.created"}),
    ] {
        let (status, body) = app.api(Method::POST, "/webhook_endpoints", Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let huge = json!({"endpoint_url": "https://example.com/h", "events": vec!["user.created"; 20_000]});
    let (status, body) = app.api(Method::POST, "/webhook_endpoints", Some(huge)).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("request_too_large")), "{body}");
    let (status, _) = app
        .api(Method::PATCH, "/webhook_endpoints/we_01H00000000000000000000000", Some(json!({"status": "enabled"})))
        .await;
    assert_eq!(status, 404);
    let res = app.http.get(app.at("/webhook_endpoints")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
