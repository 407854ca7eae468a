//! Webhook delivery by the real binary (issue 10): `kill -9` mid-delivery, and two processes on
//! one PostgreSQL database.
//!
//! A local HTTP receiver that answers slowly records every request as it arrives (so a request
//! in flight when the sender dies counts), and every delivery's `WorkOS-Signature` is checked
//! against the endpoint's secret. Users are created over the API; each `user.created` event must
//! arrive at least once, in log order per endpoint; duplicates only of a delivery in flight when
//! a process was killed, and none in a run where no process died. With two processes, both serve
//! the API and both run the delivery worker; `GET /events` paged alternately through both while
//! they write skips and repeats nothing.
//!
//! SQLite: one process (two cannot share a SQLite file). PostgreSQL (`GATEHOUSE_TEST_DATABASE_URL`):
//! the kill test, and the two-process test.

use std::collections::{BTreeMap, HashSet};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use serde_json::{Value, json};

use crate::binary::{Binary, free_port, wait_healthy};

/// Both processes' server key (they must share it: webhook secrets are sealed with it).
const SECRET_KEY: &str = "67617465686f7573652d64656c69766572792d70726f6365737365732d6b6579";

/// A running `gatehouse serve`.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(binary: &Binary, http: &reqwest::Client) -> Server {
        let port = free_port();
        // Dropped (killed and waited for) if it never answers.
        let server = Server { child: binary.serve(port), base: format!("http://127.0.0.1:{port}") };
        wait_healthy(http, &server.base).await;
        server
    }

    /// SIGKILL.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    signature: String,
    body: String,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    delay: Duration,
}

async fn hook(State(r): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> &'static str {
    let signature = headers.get("workos-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let got = Got { path: uri.path().to_owned(), signature, body: String::from_utf8_lossy(&body).into_owned() };
    // Recorded on arrival: a request whose sender dies before the answer counts as received.
    r.got.lock().unwrap().push(got);
    tokio::time::sleep(r.delay).await;
    "ok"
}

async fn receiver(delay: Duration) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let r = Receiver { url, got: Arc::new(Mutex::new(Vec::new())), delay };
    let router = Router::new().route("/{endpoint}", post(hook)).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    r
}

/// Checks `t=…, v1=…` as `workos.webhooks.verifyHeader` does: HMAC-SHA256 of `t.body`.
fn signature_is_valid(header: &str, body: &str, secret: &str) -> bool {
    use aws_lc_rs::hmac;
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    hex == v1
}

/// The test's store, with what every process of it shares: the server key (webhook secrets are
/// sealed with it), private receivers allowed, and a one-second receiver timeout (a dead
/// process's endpoints are free after 5 s).
async fn store_for(root: &std::path::Path) -> Binary {
    Binary::for_test(root)
        .await
        .with_env("GATEHOUSE_SECRET_KEY", SECRET_KEY)
        .with_env("GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", "true")
        .with_env("GATEHOUSE_WEBHOOK_TIMEOUT_MS", "1000")
}

/// Adds an endpoint for `user.created` at `url`; returns (id, secret).
async fn add_endpoint(http: &reqwest::Client, base: &str, key: &str, url: &str) -> (String, String) {
    let res = http
        .post(format!("{base}/webhook_endpoints"))
        .bearer_auth(key)
        .json(&json!({"endpoint_url": url, "events": ["user.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body["secret"].as_str().unwrap().to_owned())
}

async fn create_user(http: &reqwest::Client, base: &str, key: &str, email: &str) -> bool {
    let sent =
        http.post(format!("{base}/user_management/users")).bearer_auth(key).json(&json!({"email": email})).send().await;
    matches!(sent, Ok(res) if res.status().as_u16() == 201)
}

/// Every `user.created` event ID in log order, through `GET /events` paged with `after`.
async fn logged_user_events(http: &reqwest::Client, base: &str, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/events?events=user.created&limit=100");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            return ids;
        }
        ids.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        after = ids.last().cloned();
    }
}

/// The event IDs one endpoint received, in arrival order, each signature checked.
fn received(r: &Receiver, path: &str, secret: &str) -> Vec<String> {
    let got = r.got.lock().unwrap().clone();
    got.iter()
        .filter(|g| g.path == path)
        .map(|g| {
            assert!(signature_is_valid(&g.signature, &g.body, secret), "a bad WorkOS-Signature: {}", g.signature);
            let event: Value = serde_json::from_str(&g.body).unwrap();
            assert_eq!(event["event"], "user.created");
            event["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Waits until `path` has had every one of `want` (or 60 s).
async fn wait_for_all(r: &Receiver, path: &str, secret: &str, want: &[String]) {
    let started = Instant::now();
    loop {
        let got: HashSet<String> = received(r, path, secret).into_iter().collect();
        if want.iter().all(|id| got.contains(id)) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{} of {} arrived", got.len(), want.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks `arrived` (arrival order) against the log order `log`: in order, nothing skipped, and
/// each repeat a restart of the sequence at most `allowed` times (one per kill), each going
/// back exactly one event (the delivery in flight). Returns the number of repeats.
fn check_order(arrived: &[String], log: &[String], allowed: usize) -> usize {
    let position: BTreeMap<&str, usize> = log.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let mut expected_next = 0;
    let mut repeats = 0;
    for id in arrived {
        let at = *position.get(id.as_str()).unwrap_or_else(|| panic!("{id} is not in the log"));
        if at == expected_next {
            expected_next += 1;
        } else if expected_next > 0 && at == expected_next - 1 {
            repeats += 1; // the delivery in flight when the sender died, sent again
        } else {
            panic!("out of order or skipped: got position {at}, expected {expected_next}; arrived {arrived:?}");
        }
    }
    assert_eq!(expected_next, log.len(), "not every event arrived");
    assert!(repeats <= allowed, "{repeats} repeats with {allowed} kills");
    repeats
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_loses_nothing_and_repeats_only_what_was_in_flight() {
    let root = tempfile::tempdir().unwrap();
    let binary = store_for(root.path()).await;
    let key = binary.init();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    // 40 ms a delivery: with the kills below, requests are in flight.
    let r = receiver(Duration::from_millis(40)).await;
    let mut server = Server::start(&binary, &http).await;
    let (_, secret) = add_endpoint(&http, &server.base, &key, &format!("{}/a", r.url)).await;
    let total = 120;
    for i in 0..total {
        assert!(create_user(&http, &server.base, &key, &format!("user{i}@example.com")).await);
    }
    let kills = 2;
    for round in 0..kills {
        // Kill once some (more) deliveries have arrived, while the rest are still to go.
        let before = received(&r, "/a", &secret).len();
        let started = Instant::now();
        while received(&r, "/a", &secret).len() < before + 15 {
            assert!(started.elapsed() < Duration::from_secs(30), "round {round}: deliveries stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill();
        server = Server::start(&binary, &http).await;
    }
    let log = logged_user_events(&http, &server.base, &key).await;
    assert_eq!(log.len(), total);
    wait_for_all(&r, "/a", &secret, &log).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // nothing more comes
    let arrived = received(&r, "/a", &secret);
    let repeats = check_order(&arrived, &log, kills);
    eprintln!("{total} events, {kills} kill -9 mid-delivery: {} deliveries, {repeats} repeated", arrived.len());
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_on_one_database_deliver_each_event_once_and_page_events_without_gaps() {
    let root = tempfile::tempdir().unwrap();
    let binary = store_for(root.path()).await;
    // Two processes on PostgreSQL; SQLite is one process's.
    let processes = if binary.on_postgres() { 2 } else { 1 };
    let key = binary.init();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let r = receiver(Duration::from_millis(5)).await;
    let mut servers = Vec::new();
    for _ in 0..processes {
        servers.push(Server::start(&binary, &http).await);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    // Four endpoints, so that both processes' workers have endpoints to claim.
    let mut endpoints = Vec::new();
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        let base = &bases[i % processes];
        let (_, secret) = add_endpoint(&http, base, &key, &format!("{}/{name}", r.url)).await;
        endpoints.push((format!("/{name}"), secret));
    }

    // Writers on every process, and a reader paging GET /events alternately through them.
    let per_writer = 40;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (http, base, key) = (http.clone(), bases[w % processes].clone(), key.clone());
            tokio::spawn(async move {
                for i in 0..per_writer {
                    assert!(create_user(&http, &base, &key, &format!("w{w}n{i}@example.com")).await);
                }
            })
        })
        .collect();
    let reader = {
        let (http, bases, key) = (http.clone(), bases.clone(), key.clone());
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            let mut after: Option<String> = None;
            let mut empty_pages = 0;
            for page in 0.. {
                let base = &bases[page % bases.len()];
                let mut url = format!("{base}/events?events=user.created&limit=7");
                if let Some(a) = &after {
                    url.push_str(&format!("&after={a}"));
                }
                let body: Value = http.get(url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
                let data = body["data"].as_array().unwrap();
                seen.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
                if let Some(last) = seen.last() {
                    after = Some(last.clone());
                }
                if data.is_empty() {
                    empty_pages += 1;
                    if seen.len() >= 4 * per_writer && empty_pages > 3 {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert!(page < 10_000, "the reader never caught up");
            }
            unreachable!()
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let paged = reader.await.unwrap();
    let log = logged_user_events(&http, &bases[0], &key).await;
    assert_eq!(log.len(), 4 * per_writer);
    assert_eq!(paged, log, "paging through {processes} processes during the writes skipped or repeated an event");

    for (path, secret) in &endpoints {
        wait_for_all(&r, path, secret, &log).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // a pass or more: nothing more comes
    for (path, secret) in &endpoints {
        let arrived = received(&r, path, secret);
        // No process died: exactly once, in log order.
        assert_eq!(check_order(&arrived, &log, 0), 0);
        assert_eq!(arrived, log, "{path}");
    }
    eprintln!(
        "{processes} process(es): {} events to {} endpoints, each exactly once in order; GET /events paged without gaps",
        log.len(),
        endpoints.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_one_of_two_processes_dies_mid_delivery_the_other_delivers_the_rest() {
    let root = tempfile::tempdir().unwrap();
    let binary = store_for(root.path()).await;
    if !binary.on_postgres() {
        eprintln!("skipped: two processes need PostgreSQL (GATEHOUSE_TEST_DATABASE_URL)");
        return;
    }
    let key = binary.init();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let r = receiver(Duration::from_millis(30)).await;
    let first = Server::start(&binary, &http).await;
    let second = Server::start(&binary, &http).await;
    let mut endpoints = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let (_, secret) = add_endpoint(&http, &first.base, &key, &format!("{}/{name}", r.url)).await;
        endpoints.push((format!("/{name}"), secret));
    }
    let total = 60;
    for i in 0..total {
        let base = if i % 2 == 0 { &first.base } else { &second.base };
        assert!(create_user(&http, base, &key, &format!("user{i}@example.com")).await);
    }
    // Kill the first process while deliveries are going out; the second takes its endpoints
    // over when their leases end (5 s) and delivers everything.
    let started = Instant::now();
    while r.got.lock().unwrap().len() < 40 {
        assert!(started.elapsed() < Duration::from_secs(30), "deliveries stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    let log = logged_user_events(&http, &second.base, &key).await;
    assert_eq!(log.len(), total);
    let mut repeats = 0;
    for (path, secret) in &endpoints {
        wait_for_all(&r, path, secret, &log).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (path, secret) in &endpoints {
        // At most the one delivery in flight to each endpoint when the process died, again.
        repeats += check_order(&received(&r, path, secret), &log, 1);
    }
    eprintln!("one of two processes killed mid-delivery: {total} events to 4 endpoints, {repeats} repeated");
}
