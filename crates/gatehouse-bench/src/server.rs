//! The server under test: a temporary data folder, `gatehouse init`, spawning `gatehouse serve`,
//! waiting for its first `200` from `/health`, and a guard that kills it on every exit path.

use std::fs::File;
use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::Res;

/// A temporary folder, deleted when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Res<TempDir> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("gatehouse-bench-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills (SIGKILL) and reaps the server when dropped, whatever way the benchmark ends.
pub struct ServerGuard {
    child: Option<Child>,
}

impl ServerGuard {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
    pub fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            _ => None,
        }
    }
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The initialised server: its binary, addresses and the development environment's credentials.
pub struct Env {
    pub bin: PathBuf,
    pub base: String,
    pub listen: String,
    pub client_id: String,
    pub api_key: String,
}

/// A free loopback port.
pub fn free_port() -> Res<u16> {
    let l = StdTcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind a port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs `gatehouse init --json` on `data`; returns the JSON it printed.
pub fn init(bin: &Path, data: &Path, base: &str) -> Res<Value> {
    let out = Command::new(bin)
        .args(["init", "--data"])
        .arg(data)
        .args(["--public-url", base, "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} init: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("gatehouse init failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find('{').ok_or_else(|| format!("gatehouse init printed no JSON: {text}"))?;
    serde_json::from_str(text[start..].trim()).map_err(|e| format!("gatehouse init printed bad JSON ({e}): {text}"))
}

/// Starts `gatehouse serve` with its output appended to `log`.
pub fn spawn_server(
    bin: &Path,
    data: &Path,
    listen: &str,
    base: &str,
    log: &Path,
    extra_env: &[String],
) -> Res<ServerGuard> {
    let log_file = File::options().create(true).append(true).open(log).map_err(|e| e.to_string())?;
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    for kv in extra_env {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
        cmd.env(k, v);
    }
    let child = cmd
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", listen, "--public-url", base])
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    Ok(ServerGuard { child: Some(child) })
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Polls `GET /health` every 2 ms until it answers 200; returns the time since `spawned`.
pub async fn wait_ready(server: &mut ServerGuard, base: &str, spawned: Instant, log: &Path) -> Res<Duration> {
    let poller = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_millis(500))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}/health");
    while spawned.elapsed() < Duration::from_secs(20) {
        if let Some(status) = server.exited() {
            return Err(format!("the server exited ({status}) before it was ready:\n{}", log_tail(log)));
        }
        if let Ok(r) = poller.get(&url).send().await
            && r.status().as_u16() == 200
        {
            return Ok(spawned.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!("the server was not ready after 20 s:\n{}", log_tail(log)))
}
