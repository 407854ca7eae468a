//! `/ready` follows the database: 503 while PostgreSQL is stopped, 200 again once it is back,
//! without restarting Gatehouse; `/health` (alive) stays 200 throughout. Runs in the PostgreSQL
//! pass (`GATEHOUSE_TEST_DATABASE_URL` set, so PostgreSQL is installed) on a throwaway server of
//! its own (`scripts/pg-throwaway.sh`), which it stops and starts with `pg_ctl`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

/// A throwaway PostgreSQL this test may stop and start; removed when dropped.
struct OwnPostgres {
    dir: String,
    url: String,
    script: PathBuf,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway.sh");
        let out = Command::new(&script).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned).unwrap_or_else(|| panic!("{text}"))
        };
        OwnPostgres { dir: field("PGDIR="), url: field("DATABASE_URL="), script }
    }

    /// `pg_ctl stop` / `start` as the postgres user, on the same port and socket folder.
    fn pg_ctl(&self, action: &str) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .max()
            .unwrap();
        let port = self.url.rsplit(':').next().unwrap().split('/').next().unwrap();
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join("pg_ctl")).arg("-D").arg(format!("{}/data", self.dir));
        match action {
            // Fast: the throwaway runs with synchronous_commit=off, so an immediate stop would lose
            // the last commits, which the test reads back.
            "stop" => command.args(["-m", "fast", "-w", "stop"]),
            _ => command.args(["-l", &format!("{}/log", self.dir), "-w", "-t", "30", "start", "-o"]).arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
                self.dir
            )),
        };
        let out = command.output().unwrap();
        assert!(out.status.success(), "pg_ctl {action}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).args(["stop", &self.dir]).output();
    }
}

async fn status(app: &TestApp, path: &str) -> u16 {
    app.http.get(app.at(path)).send().await.unwrap().status().as_u16()
}

/// Polls `path` until it answers `want` (at most `within`).
async fn until(app: &TestApp, path: &str, want: u16, within: Duration) {
    let started = Instant::now();
    loop {
        let got = status(app, path).await;
        if got == want {
            return;
        }
        assert!(started.elapsed() < within, "{path} still answers {got}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn ready_fails_while_postgres_is_down_and_recovers() {
    if std::env::var("GATEHOUSE_TEST_DATABASE_URL").is_err() {
        eprintln!("skipped: runs in the PostgreSQL pass (GATEHOUSE_TEST_DATABASE_URL)");
        return;
    }
    let pg = OwnPostgres::start();
    let url = pg.url.clone();
    let app = TestApp::spawn_with(move |c| c.database_url = Some(url)).await;
    app.create_user("ada@example.com").await;
    assert_eq!(status(&app, "/ready").await, 200);
    assert_eq!(status(&app, "/health").await, 200);

    pg.pg_ctl("stop");
    until(&app, "/ready", 503, Duration::from_secs(10)).await;
    let res = app.http.get(app.at("/ready")).send().await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(status(&app, "/health").await, 200, "alive while the database is down");
    // A sign-in meanwhile fails as a server error, not a hang or a crash.
    let (code, _) = app.password_login("ada@example.com", PASSWORD).await;
    assert!(code >= 500, "{code}");

    pg.pg_ctl("start");
    until(&app, "/ready", 200, Duration::from_secs(60)).await;
    assert_eq!(status(&app, "/health").await, 200);
    let (code, body) = app.password_login("ada@example.com", PASSWORD).await;
    assert_eq!(code, 200, "sign-ins work again on the same server: {body}");
}
