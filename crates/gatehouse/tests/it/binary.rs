//! The real `gatehouse` binary on a test's own store, for the tests that kill it
//! (`durability.rs`, `delivery_processes.rs`): a data folder under the test's temporary root,
//! and a fresh PostgreSQL database when `GATEHOUSE_TEST_DATABASE_URL` names a server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fresh_database;

pub struct Binary {
    data: std::path::PathBuf,
    database_url: Option<String>,
    env: Vec<(&'static str, &'static str)>,
}

impl Binary {
    /// A store under `root`: SQLite, or a fresh database on the test PostgreSQL server.
    pub async fn for_test(root: &Path) -> Binary {
        let database_url = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            Ok(server) => Some(fresh_database(&server).await),
            Err(_) => None,
        };
        Binary { data: root.join("data"), database_url, env: Vec::new() }
    }

    /// Whether the store is a PostgreSQL database (several processes can share it).
    pub fn on_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    /// An environment variable for every command (the caller's own `GATEHOUSE_SECRET_KEY` and
    /// `GATEHOUSE_DATABASE_URL` are never passed on).
    pub fn with_env(mut self, key: &'static str, value: &'static str) -> Binary {
        self.env.push((key, value));
        self
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.arg("--data")
            .arg(&self.data)
            .env_remove("GATEHOUSE_SECRET_KEY")
            .env_remove("GATEHOUSE_DATABASE_URL")
            .envs(self.env.iter().copied());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd
    }

    /// `gatehouse init`; returns the development environment's API key.
    pub fn init(&self) -> String {
        let out = self.command().args(["--json", "init"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let init: Value = serde_json::from_slice(&out.stdout).unwrap();
        init["api_key"].as_str().unwrap().to_owned()
    }

    /// `gatehouse serve` on 127.0.0.1:`port`, its output discarded.
    pub fn serve(&self, port: u16) -> Child {
        self.command()
            .args([
                "--public-url",
                &format!("http://127.0.0.1:{port}"),
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves no server behind.
pub struct Stopped(pub Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits up to 30 s for `GET {base}/health` to answer 2xx; panics otherwise.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if http.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}
