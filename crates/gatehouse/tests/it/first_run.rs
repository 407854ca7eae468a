//! The real `gatehouse` binary on a fresh data folder, as a new user or a service manager runs
//! it: what the banner says, what reaches the log, and that the URLs follow `--listen`.
//! Standard output and error are pipes here, as under systemd or Docker (not a terminal).

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::binary::free_port;
use crate::hosted::hidden;

/// A `gatehouse serve` child with its output collected.
struct Served {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    port: u16,
}

fn gatehouse(data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command.arg("--data").arg(data);
    for var in
        ["GATEHOUSE_PUBLIC_URL", "GATEHOUSE_LISTEN", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_LOG", "GATEHOUSE_LOG_FORMAT"]
    {
        command.env_remove(var);
    }
    command
}

impl Served {
    /// Starts `gatehouse serve --listen 127.0.0.1:<free port> <extra>` and waits until it is ready.
    fn start(data: &std::path::Path, extra: &[&str], envs: &[(&str, &str)]) -> Served {
        Served::start_on(data, free_port(), extra, envs)
    }

    /// Starts `gatehouse serve --listen 127.0.0.1:<port>` (0: the system picks; `port` is then
    /// read from the ready line).
    fn start_on(data: &std::path::Path, port: u16, extra: &[&str], envs: &[(&str, &str)]) -> Served {
        let mut command = gatehouse(data);
        command.arg("serve").arg("--listen").arg(format!("127.0.0.1:{port}")).args(extra);
        command.envs(envs.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served { child, stderr_lines: rx, stderr_seen: Vec::new(), port };
        let ready = served.wait_for_log("Gatehouse is ready");
        if port == 0 {
            let bound = ready.split("listen=").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
            served.port = bound.parse::<std::net::SocketAddr>().unwrap().port();
        }
        served
    }

    /// Waits (up to 60 s) for a log line containing `text`.
    fn wait_for_log(&mut self, text: &str) -> String {
        loop {
            match self.stderr_lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line with {text:?} ({e}); log so far:\n{}", self.stderr_seen.join("\n")),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server and returns (standard output, every log line).
    fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        self.stderr_seen.extend(self.stderr_lines.try_iter());
        (stdout, self.stderr_seen.join("\n"))
    }
}

fn cli_json(data: &std::path::Path, args: &[&str]) -> Value {
    let out = gatehouse(data).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn public_url_follows_listen_and_api_key_stays_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[], &[]);
    let port = served.port;
    let envs = cli_json(dir.path(), &["env", "list"]);
    let client_id = envs[0]["client_id"].as_str().unwrap().to_owned();
    let config: Value =
        reqwest::get(served.url(&format!("/user_management/{client_id}/.well-known/openid-configuration")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(config["issuer"], format!("http://localhost:{port}/user_management/{client_id}"));
    assert_eq!(config["jwks_uri"], format!("http://localhost:{port}/sso/jwks/{client_id}"));
    let (stdout, log) = served.stop();
    assert!(stdout.contains(&format!("Gatehouse is running at http://localhost:{port} ")), "{stdout}");
    assert!(stdout.contains(&format!("Issuer      http://localhost:{port}/user_management/{client_id}")), "{stdout}");
    assert!(!stdout.contains("sk_test_") && !log.contains("sk_test_"), "the key went to a pipe:\n{stdout}\n{log}");
    assert!(stdout.contains("API key     not shown: standard output is not a terminal"), "{stdout}");
    assert!(stdout.contains("gatehouse init --json"), "{stdout}");
    assert!(!log.contains("differs") && !log.contains("names port"), "no port warning expected:\n{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a log that is not a terminal:\n{log:?}");

    // `init --json` gives scripts the key, and the CLI's URLs follow GATEHOUSE_LISTEN too.
    let init = gatehouse(dir.path())
        .args(["init", "--json"])
        .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let init: Value = serde_json::from_slice(&init.stdout).unwrap();
    assert_eq!(init["client_id"], client_id.as_str());
    assert!(init["api_key"].as_str().unwrap().starts_with("sk_test_"), "{init}");
    assert_eq!(init["issuer"], format!("http://localhost:{port}/user_management/{client_id}"));
}

#[tokio::test]
async fn listening_on_port_zero_names_the_bound_port() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start_on(dir.path(), 0, &[], &[]);
    let port = served.port;
    assert_ne!(port, 0);
    let envs = cli_json(dir.path(), &["env", "list"]);
    let client_id = envs[0]["client_id"].as_str().unwrap().to_owned();
    let jwks = reqwest::get(served.url(&format!("/sso/jwks/{client_id}"))).await.unwrap();
    assert_eq!(jwks.status(), 200);
    let (stdout, log) = served.stop();
    assert!(
        stdout.contains(&format!("Gatehouse is running at http://localhost:{port} (listening on 127.0.0.1:{port})")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("JWKS        http://localhost:{port}/sso/jwks/{client_id}")), "{stdout}");
    assert!(!stdout.contains("localhost:0") && !log.contains("names port"), "{stdout}\n{log}");
}

#[tokio::test]
async fn a_public_url_on_this_machine_with_another_port_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &["--public-url", "http://localhost:8080"], &[]);
    let port = served.port;
    let (_, log) = served.stop();
    assert!(
        log.contains(&format!("names port 8080 but the server listens on 127.0.0.1:{port}")) && log.contains("WARN"),
        "{log}"
    );
    // A public host name (a proxy in front) is the normal case: no warning.
    let served = Served::start(dir.path(), &["--public-url", "https://auth.example.com"], &[]);
    let (stdout, log) = served.stop();
    assert!(stdout.contains("Gatehouse is running at https://auth.example.com"), "{stdout}");
    assert!(!log.contains("names port"), "{log}");
}

#[tokio::test]
async fn development_accepts_the_nextjs_example_callback() {
    let dir = tempfile::tempdir().unwrap();
    cli_json(dir.path(), &["init"]);
    let list = cli_json(dir.path(), &["redirect-uris", "list"]);
    let mut uris: Vec<&str> = list.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    uris.sort_unstable();
    assert_eq!(uris, ["http://localhost:3000/callback", "http://localhost:5173/callback"], "{list}");
    cli_json(dir.path(), &["env", "create", "production"]);
    let production = cli_json(dir.path(), &["redirect-uris", "list", "--env", "production"]);
    assert_eq!(production.as_array().map(Vec::len), Some(0), "{production}");
}

/// Refused sign-ins and throttling refusals reach the default log at info with the client
/// address and the reason; the attempted email and password never do.
#[tokio::test]
async fn refused_sign_ins_and_throttling_are_logged_with_the_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let init = cli_json(dir.path(), &["init"]);
    let (client_id, api_key) = (init["client_id"].as_str().unwrap(), init["api_key"].as_str().unwrap());
    let mut served = Served::start(dir.path(), &[], &[]);
    let http = reqwest::Client::new();
    let created = http
        .post(served.url("/user_management/users"))
        .bearer_auth(api_key)
        .json(&serde_json::json!({"email": "owner@example.com", "password": "correct horse battery staple 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let authenticate = served.url("/user_management/authenticate");
    let attempt = || {
        http.post(&authenticate).json(&serde_json::json!({
            "grant_type": "password", "client_id": client_id, "client_secret": api_key,
            "email": "owner@example.com", "password": "wrong-password-xyzzy",
        }))
    };
    assert_eq!(attempt().send().await.unwrap().status(), 400);
    let line = served.wait_for_log("sign-in refused");
    assert!(line.contains("INFO") && line.contains("client_address=127.0.0.1"), "{line}");
    assert!(line.contains("reason=\"invalid_credentials\"") || line.contains("reason=invalid_credentials"), "{line}");
    let mut throttled = false;
    for _ in 0..150 {
        if attempt().send().await.unwrap().status() == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "never throttled");
    let line = served.wait_for_log("throttled");
    assert!(line.contains("INFO") && line.contains("client_address=127.0.0.1"), "{line}");
    let (_, log) = served.stop();
    assert!(!log.contains("owner@example.com") && !log.contains("wrong-password-xyzzy"), "{log}");
}

/// The value of `request=` in a hosted page's address.
fn request_of(location: &str) -> String {
    location.split("request=").nth(1).unwrap().split('&').next().unwrap().to_owned()
}

/// Wrong emailed codes (the API's Magic Auth grant and the hosted code page) reach the default
/// log as refused sign-ins with the client address and the reason; a throttled hosted email
/// page is logged as throttled; a hosted sign-up's line names the client's address.
#[tokio::test]
async fn refused_codes_throttled_pages_and_sign_ups_are_logged_with_the_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let init = cli_json(dir.path(), &["init"]);
    let (client_id, api_key) = (init["client_id"].as_str().unwrap(), init["api_key"].as_str().unwrap());
    let mut served = Served::start(dir.path(), &[], &[]);
    let http = reqwest::Client::new();
    let created = http
        .post(served.url("/user_management/magic_auth"))
        .bearer_auth(api_key)
        .json(&serde_json::json!({"email": "coder@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let code = created.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let grant = http
        .post(served.url("/user_management/authenticate"))
        .json(&serde_json::json!({
            "grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "client_id": client_id,
            "client_secret": api_key, "email": "coder@example.com", "code": wrong,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 400);
    let line = served.wait_for_log("sign-in refused");
    assert!(line.contains("INFO") && line.contains("client_address=127.0.0.1"), "{line}");
    assert!(line.contains("/user_management/authenticate") && line.contains("invalid_one_time_code"), "{line}");

    // The hosted "Email me a code" pages, in a browser.
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let base = served.url("");
    let authorize = |extra: &str| {
        let redirect_uri = "http%3A%2F%2Flocalhost%3A5173%2Fcallback";
        format!(
            "{base}/user_management/authorize?client_id={client_id}&redirect_uri={redirect_uri}&response_type=code{extra}"
        )
    };
    let res = browser.get(authorize("")).send().await.unwrap();
    let request = request_of(res.headers()["location"].to_str().unwrap());
    let page = browser.get(served.url(&format!("/authkit/magic-auth?request={request}"))).send().await.unwrap();
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token");
    let send = [("request", request.as_str()), ("csrf_token", &csrf), ("email", "coder@example.com")];
    let res = browser.post(served.url("/authkit/magic-auth")).form(&send).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let verify =
        [("request", request.as_str()), ("csrf_token", &csrf), ("email", "coder@example.com"), ("code", wrong)];
    let res = browser.post(served.url("/authkit/magic-auth/verify")).form(&verify).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let line = served.wait_for_log("sign-in refused");
    assert!(line.contains("client_address=127.0.0.1") && line.contains("/authkit/magic-auth/verify"), "{line}");
    assert!(line.contains("invalid_one_time_code"), "{line}");
    // Asking for codes until the page is throttled: a 429, logged as throttled.
    let mut throttled = false;
    for _ in 0..10 {
        let res = browser.post(served.url("/authkit/magic-auth")).form(&send).send().await.unwrap();
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
            throttled = true;
            break;
        }
        assert_eq!(res.status(), 200);
    }
    assert!(throttled, "never throttled");
    let line = served.wait_for_log("throttled");
    assert!(line.contains("client_address=127.0.0.1") && line.contains("/authkit/magic-auth"), "{line}");

    // A hosted sign-up.
    let res = browser.get(authorize("&screen_hint=sign-up")).send().await.unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(served.url(&location)).send().await.unwrap();
    let html = page.text().await.unwrap();
    let form = [
        ("request", request_of(&location)),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", "newcomer@example.com".to_owned()),
        ("password", "correct horse battery staple 2".to_owned()),
    ];
    let res = browser.post(served.url("/authkit/sign-up")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let line = served.wait_for_log("hosted sign-up");
    assert!(line.contains("INFO") && line.contains("client_address=127.0.0.1"), "{line}");
    let (_, log) = served.stop();
    assert!(!log.contains("correct horse battery staple 2"), "{log}");
}

/// `/` explains what answers there and links to the sign-in page, the JWKS and the docs;
/// `/health` is alive; `/ready` fails while the database lacks a migration of this binary
/// and recovers when it is back.
#[tokio::test]
async fn landing_page_health_and_readiness() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[], &[]);
    let envs = cli_json(dir.path(), &["env", "list"]);
    let client_id = envs[0]["client_id"].as_str().unwrap().to_owned();
    let landing = reqwest::get(served.url("/")).await.unwrap();
    assert_eq!(landing.status(), 200);
    assert!(landing.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = landing.text().await.unwrap().replace("&#x2f;", "/");
    let port = served.port;
    for expected in [
        format!("http://localhost:{port}/sso/jwks/{client_id}"),
        format!("http://localhost:{port}/user_management/{client_id}/.well-known/openid-configuration"),
        format!(
            "/user_management/authorize?client_id={client_id}&amp;redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback"
        ),
        "README.md".to_owned(),
    ] {
        assert!(html.contains(&expected), "{expected} missing from:\n{html}");
    }
    let sign_in = reqwest::get(served.url(&format!(
        "/user_management/authorize?client_id={client_id}&redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fcallback&response_type=code&provider=authkit"
    )))
    .await
    .unwrap();
    assert_eq!(sign_in.status(), 200, "the landing page's sign-in link leads to the sign-in page");

    let status = |path: &'static str| {
        let url = served.url(path);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/health").await, 200);
    assert_eq!(status("/ready").await, 200);
    sqlx::any::install_default_drivers();
    let db = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let mut conn = sqlx::AnyConnection::connect(&db).await.unwrap();
    let latest: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut conn).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM schema_migrations WHERE version = $1")
        .bind(latest)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version = $1").bind(latest).execute(&mut conn).await.unwrap();
    let ready = reqwest::get(served.url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["reason"], "database migrations are not applied", "{body}");
    assert_eq!(status("/health").await, 200, "alive while not ready");
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
        .bind(latest)
        .bind(name)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(status("/ready").await, 200);
    served.stop();
}

/// `GATEHOUSE_LOG_FORMAT=json`: every log line is one JSON object with level, message and
/// fields, refused sign-ins included.
#[tokio::test]
async fn json_logs_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), &[], &[("GATEHOUSE_LOG_FORMAT", "json")]);
    let envs = cli_json(dir.path(), &["env", "list"]);
    let client_id = envs[0]["client_id"].as_str().unwrap().to_owned();
    let refused = reqwest::Client::new()
        .post(served.url("/user_management/authenticate"))
        .json(&serde_json::json!({"grant_type": "refresh_token", "client_id": client_id, "refresh_token": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let line = served.wait_for_log("sign-in refused");
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["client_address"], "127.0.0.1", "{event}");
    assert_eq!(event["reason"], "invalid_grant", "{event}");
    let (_, log) = served.stop();
    for line in log.lines() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(event["message"].is_string(), "{event}");
    }
}

/// Reads one sample's value from Prometheus text (0 when absent), checking that every line
/// is a comment or `name{labels} number`.
fn sample(text: &str, series: &str) -> f64 {
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(name.chars().next().unwrap().is_ascii_alphabetic(), "{line}");
        if name == series {
            return value;
        }
    }
    0.0
}

/// `/metrics` needs the token, parses as Prometheus text, and moves with requests: a
/// successful and a refused sign-in, a JWKS fetch by its route template.
#[tokio::test]
async fn metrics_need_the_token_and_move_with_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let init = cli_json(dir.path(), &["init"]);
    let (client_id, api_key) = (init["client_id"].as_str().unwrap(), init["api_key"].as_str().unwrap());
    let served = Served::start(dir.path(), &[], &[("GATEHOUSE_METRICS_TOKEN", "metrics-secret-1")]);
    let http = reqwest::Client::new();
    assert_eq!(http.get(served.url("/metrics")).send().await.unwrap().status(), 401);
    let wrong = http.get(served.url("/metrics")).bearer_auth("metrics-secret-2").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let scrape = || async {
        let res = http.get(served.url("/metrics")).bearer_auth("metrics-secret-1").send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        res.text().await.unwrap()
    };
    let before = scrape().await;
    let password = "correct horse battery staple 1";
    let created = http
        .post(served.url("/user_management/users"))
        .bearer_auth(api_key)
        .json(&serde_json::json!({"email": "m@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for (given, status) in [(password, 200), ("wrong password", 400)] {
        let res = http
            .post(served.url("/user_management/authenticate"))
            .json(&serde_json::json!({"grant_type": "password", "client_id": client_id, "client_secret": api_key,
                "email": "m@example.com", "password": given}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
    assert_eq!(http.get(served.url(&format!("/sso/jwks/{client_id}"))).send().await.unwrap().status(), 200);
    let after = scrape().await;
    let authenticate = r#"route="/user_management/authenticate""#;
    for (series, delta) in [
        (format!("gatehouse_http_requests_total{{{authenticate},status=\"200\"}}"), 1.0),
        (format!("gatehouse_http_requests_total{{{authenticate},status=\"400\"}}"), 1.0),
        (r#"gatehouse_http_requests_total{route="/sso/jwks/{client_id}",status="200"}"#.to_owned(), 1.0),
        (format!("gatehouse_http_request_duration_seconds_count{{{authenticate},status=\"200\"}}"), 1.0),
        (r#"gatehouse_sign_ins_refused_total{reason="invalid_credentials"}"#.to_owned(), 1.0),
        ("gatehouse_throttled_total".to_owned(), 0.0),
    ] {
        assert_eq!(sample(&after, &series) - sample(&before, &series), delta, "{series}\n{after}");
    }
    assert!(sample(&after, "gatehouse_db_pool_connections") >= 1.0, "{after}");
    assert!(sample(&after, r#"gatehouse_signing_key_age_seconds{environment="development"}"#) >= 0.0, "{after}");
    assert!(after.contains(r#"gatehouse_signing_key_age_seconds{environment="development"} "#), "{after}");
    for gauge in ["# TYPE gatehouse_outbox_pending gauge", "gatehouse_outbox_oldest_age_seconds "] {
        assert!(after.contains(gauge), "{gauge} missing:\n{after}");
    }
    served.stop();
}

/// `gatehouse backup` under write load gives a file that `gatehouse restore` puts back, and the
/// restored store holds every user whose creation was acknowledged before the backup began.
#[tokio::test]
async fn backup_under_write_load_restores_every_acknowledged_write() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let init = cli_json(dir.path(), &["init"]);
    let api_key = init["api_key"].as_str().unwrap().to_owned();
    let served = Served::start(dir.path(), &[], &[]);
    let users = served.url("/user_management/users");
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let email = format!("load{i}@example.com");
                let res =
                    http.post(&users).bearer_auth(&api_key).json(&serde_json::json!({"email": email})).send().await;
                if res.is_ok_and(|r| r.status() == 201) {
                    acknowledged.lock().unwrap().push(email);
                }
                i += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let file = dir.path().join("backup.db");
    let backup = cli_json(dir.path(), &["backup", file.to_str().unwrap()]);
    assert!(backup["bytes"].as_u64().unwrap() > 0, "{backup}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let total = acknowledged.lock().unwrap().len();
    served.stop();
    assert!(total > before.len(), "writes went on during the backup ({total})");
    let again = gatehouse(dir.path()).args(["backup", file.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites");

    let restored = tempfile::tempdir().unwrap();
    // The server key travels with the backup (signing keys and the refresh key are sealed).
    std::fs::copy(dir.path().join("secret.key"), restored.path().join("secret.key")).unwrap();
    let out = cli_json(restored.path(), &["restore", file.to_str().unwrap()]);
    assert!(out["restored"].as_str().unwrap().ends_with("gatehouse.db"), "{out}");
    sqlx::any::install_default_drivers();
    let db = format!("sqlite://{}", restored.path().join("gatehouse.db").display());
    let mut conn = sqlx::AnyConnection::connect(&db).await.unwrap();
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users").fetch_all(&mut conn).await.unwrap();
    for email in &before {
        assert!(emails.contains(email), "{email} was acknowledged before the backup began but is missing");
    }
    conn.close().await.unwrap();
    // A file that is not a store is refused and leaves the store as it was.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let refused = gatehouse(restored.path()).args(["restore", junk.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success());
    assert!(!restored.path().join("gatehouse.db.restoring").exists());
    // The restored store serves: the environment is there and a server starts on it.
    let envs = cli_json(restored.path(), &["env", "list"]);
    assert_eq!(envs[0]["client_id"], init["client_id"]);
    let served = Served::start(restored.path(), &[], &[]);
    assert_eq!(reqwest::get(served.url("/ready")).await.unwrap().status(), 200);
    served.stop();
}
