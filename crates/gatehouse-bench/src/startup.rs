//! Phase 1: start-up. Runs `gatehouse init --json` once, then times several starts of
//! `gatehouse serve` on the initialised data folder (spawn → first `200` from `/health`) and,
//! for information, one first start on an empty data folder (schema and RSA key creation).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::report::{Report, r3, say};
use crate::server::{Env, ServerGuard, TempDir, free_port, init, spawn_server, wait_ready};
use crate::stats::median;
use crate::{Args, Res};

/// The server left running for the later phases.
pub struct Started {
    pub env: Arc<Env>,
    pub server: ServerGuard,
    pub median_ms: f64,
}

/// Initialises a data folder inside `tmp`, measures the starts and returns the last server,
/// still running.
pub async fn run(args: &Args, bin: &Path, tmp: &TempDir, report: &mut Report) -> Res<Started> {
    let data = tmp.0.join("data");
    let log = tmp.0.join("server.log");
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let t_init = Instant::now();
    let created = init(bin, &data, &base)?;
    let init_ms = t_init.elapsed().as_secs_f64() * 1000.0;
    let field =
        |k: &str| created.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(format!("init JSON lacks {k}"));
    let env = Arc::new(Env {
        bin: bin.to_path_buf(),
        base,
        listen,
        client_id: field("client_id")?,
        api_key: field("api_key")?,
    });
    report.line(format!("init: {init_ms:.0} ms (client_id {})", env.client_id));

    // 1. Start-up time, same (initialised) data folder each time.
    let mut starts_ms = Vec::new();
    let mut server = None;
    let starts = if args.wants("startup") { args.starts.max(1) } else { 1 };
    for i in 0..starts {
        if let Some(mut s) = server.take() {
            ServerGuard::stop(&mut s);
        }
        let spawned = Instant::now();
        let mut s = spawn_server(&env.bin, &data, &env.listen, &env.base, &log, &args.server_env)?;
        let ready = wait_ready(&mut s, &env.base, spawned, &log).await?;
        starts_ms.push(ready.as_secs_f64() * 1000.0);
        say(format!("  start {}: ready in {:.1} ms", i + 1, ready.as_secs_f64() * 1000.0));
        server = Some(s);
    }
    let server = server.ok_or("no server")?;
    let startup_median = median(&mut starts_ms.clone());
    report.line(format!(
        "start-up (spawn → first 200 from /health, {} starts on an initialised data folder): median {startup_median:.1} ms, all {:?}",
        starts_ms.len(),
        starts_ms.iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>()
    ));
    let mut fresh_ms = None;
    if args.wants("startup") {
        // Informational: first start on an empty data folder (creates the schema, the
        // development environment and its RSA key).
        let fresh = TempDir::new("fresh")?;
        let fport = free_port()?;
        let fbase = format!("http://127.0.0.1:{fport}");
        let flog = fresh.0.join("server.log");
        let spawned = Instant::now();
        let mut s = spawn_server(
            &env.bin,
            &fresh.0.join("data"),
            &format!("127.0.0.1:{fport}"),
            &fbase,
            &flog,
            &args.server_env,
        )?;
        let ready = wait_ready(&mut s, &fbase, spawned, &flog).await?;
        s.stop();
        fresh_ms = Some(ready.as_secs_f64() * 1000.0);
        report.line(format!(
            "first start on an empty data folder (creates schema + RSA key): {:.1} ms",
            ready.as_secs_f64() * 1000.0
        ));
    }
    report.set("startup", json!({"starts_ms": starts_ms, "median_ms": r3(startup_median), "empty_data_dir_ms": fresh_ms, "init_ms": r3(init_ms)}));
    Ok(Started { env, server, median_ms: startup_median })
}
