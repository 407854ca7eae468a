//! `TestApp`: one isolated server per test.

use std::ops::Deref;
use std::sync::Arc;

use gatehouse::clock::FakeClock;
use gatehouse::crypto::password::ArgonParams;
use gatehouse::server::{Server, ServerConfig, open_core};
use gatehouse::service::Core;
use gatehouse::store::Store;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT_URI: &str = "http://localhost:5173/callback";

pub struct TestApp {
    pub url: String,
    pub client_id: String,
    pub api_key: String,
    pub clock: FakeClock,
    pub core: TestCore,
    /// No redirects followed, cookies kept.
    pub http: reqwest::Client,
    /// The server's configuration (a second `Core` on the same store opens with it).
    pub config: ServerConfig,
    /// `http://<address>/metrics` when the configuration set `metrics_listen`.
    pub metrics_url: Option<String>,
    _data: tempfile::TempDir,
}

/// The server's `Core`, and what tests look at beside it: the database itself (a second handle
/// on the server's) and the delivery worker's wake-up. `Core` keeps its own store private.
pub struct TestCore {
    core: Core,
    pub store: Store,
    pub outbox_ready: Outbox,
}

impl TestCore {
    /// The server's `Core` itself (a handle on the same state), for tests that run several.
    pub fn clone_core(&self) -> Core {
        self.core.clone()
    }
}

impl Deref for TestCore {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

/// Wakes the server's delivery worker.
pub struct Outbox(Core);

impl Outbox {
    pub fn notify_one(&self) {
        self.0.wake_delivery();
    }
}

pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub body: Value,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// A server whose configuration the test adjusts first (e.g. an SMTP URL).
    pub async fn spawn_with(configure: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServerConfig::new(data.path().to_owned(), listener.local_addr().unwrap(), &url);
        config.argon = ArgonParams { memory_kib: 256, iterations: 1, parallelism: 1 };
        if let Ok(db) = std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            config.database_url = Some(fresh_database(&db).await);
        }
        configure(&mut config);
        let clock = FakeClock::new(1_800_000_000_000);
        let core = open_core(&config, Arc::new(clock.clone())).await.unwrap();
        let issued = core.ensure_environment("development", &gatehouse::domain::audit::Actor::Cli).await.unwrap();
        let mut server = Server::with_listener(listener, core.clone(), &config);
        let metrics_url = match config.metrics_listen {
            Some(addr) => Some(format!("http://{}/metrics", server.bind_metrics(addr).await.unwrap())),
            None => None,
        };
        tokio::spawn(server.serve(std::future::pending()));
        let http = reqwest::Client::builder().redirect(Policy::none()).cookie_store(true).build().unwrap();
        let store = Store::connect(&config.database_url(), 4, 0).await.unwrap();
        let core = TestCore { outbox_ready: Outbox(core.clone()), core, store };
        TestApp {
            url,
            client_id: issued.client_id,
            api_key: issued.api_key,
            clock,
            core,
            http,
            config,
            metrics_url,
            _data: data,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// An API call with the environment's key; returns status and JSON body.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.at(path)).bearer_auth(&self.api_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_user(&self, email: &str) -> Value {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                "/user_management/users",
                Some(json!({"email": email, "password": PASSWORD, "first_name": "Ada"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// POST /user_management/authenticate with a JSON body.
    pub async fn authenticate(&self, body: Value) -> (u16, Value) {
        let res = self.http.post(self.at("/user_management/authenticate")).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        (status, res.json().await.unwrap())
    }

    pub async fn password_login(&self, email: &str, password: &str) -> (u16, Value) {
        self.authenticate(json!({
            "grant_type": "password", "client_id": self.client_id, "client_secret": self.api_key,
            "email": email, "password": password,
        }))
        .await
    }

    pub async fn login(&self, email: &str) -> Tokens {
        let (status, body) = self.password_login(email, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        tokens(body)
    }

    /// Changes the development environment's settings, as `gatehouse env set` does.
    pub async fn set(&self, pairs: &[(&str, &str)]) {
        let env = self.core.environment_by_name("development").await.unwrap();
        let mut settings = env.settings.clone();
        for (k, v) in pairs {
            settings.set(k, v).unwrap();
        }
        self.core.update_settings(&env, settings, &gatehouse::domain::audit::Actor::Cli).await.unwrap();
    }

    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.authenticate(
            json!({"grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": refresh_token}),
        )
        .await
    }
}

pub fn tokens(body: Value) -> Tokens {
    Tokens {
        access_token: body["access_token"].as_str().unwrap().to_owned(),
        refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
        body,
    }
}

/// The decoded payload of a JWT (no verification; see the tokens tests for that).
pub fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A fresh database on the given PostgreSQL server, so tests never share state.
pub async fn fresh_database(server_url: &str) -> String {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let name = format!("gh_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let mut conn = sqlx::AnyConnection::connect(server_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let mut url = url::Url::parse(server_url).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// Runs futures concurrently on the current task and collects their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, future) in results.iter_mut().zip(futures.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    results.into_iter().flatten().collect()
}
