//! Phase 6: JWKS fetches, first alone, then while password sign-ins saturate the CPU (hashing
//! must not starve cheap requests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Load;
use crate::cpu::CpuSnap;
use crate::password::{Worker, collect, spawn_password_load};
use crate::report::Report;
use crate::server::Env;
use crate::stats::{micros, stats};

fn spawn_jwks_load(client: &reqwest::Client, env: &Env, workers: usize, end: Instant) -> Vec<Worker> {
    let url = Arc::new(format!("{}/sso/jwks/{}", env.base, env.client_id));
    (0..workers)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(65_536);
                let mut errors = 0;
                while Instant::now() < end {
                    let t0 = Instant::now();
                    let ok = match client.get(url.as_str()).send().await {
                        Ok(r) => r.status().as_u16() == 200 && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        lat.push(micros(t0.elapsed()));
                    } else {
                        errors += 1;
                        if errors > 100 {
                            break;
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect()
}

/// JWKS fetches alone for half a load phase, then for a whole one while password sign-ins run.
pub async fn run(load: &Load<'_>, report: &mut Report) {
    let (args, client, env, pid, secs) = (load.args, &load.client, &load.env, load.pid, load.secs);
    let alone_secs = (secs / 2.0).max(1.0);
    let cpu = CpuSnap::take(pid);
    let start = Instant::now();
    let w = spawn_jwks_load(client, env, args.jwks_concurrency, start + Duration::from_secs_f64(alone_secs));
    let (lat, errors) = collect(w).await;
    let alone = stats(lat, errors, start.elapsed().as_secs_f64(), cpu.since(pid));
    let cpu = CpuSnap::take(pid);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let pw = spawn_password_load(client, env, &load.users, args.password_concurrency, end);
    let jw = spawn_jwks_load(client, env, args.jwks_concurrency, end);
    let (jlat, jerr) = collect(jw).await;
    let (plat, perr) = collect(pw).await;
    let elapsed = start.elapsed().as_secs_f64();
    let both_cpu = cpu.since(pid);
    let loaded = stats(jlat, jerr, elapsed, both_cpu);
    let pw_during = stats(plat, perr, elapsed, both_cpu);
    report.line(format!("JWKS, {} concurrent, alone ({alone_secs:.0} s):", args.jwks_concurrency));
    report.line(format!("  {}", alone.line()));
    report.line(format!("  {}", alone.cpu.line()));
    report.line(format!(
        "JWKS, {} concurrent, while {} password sign-ins run ({secs:.0} s):",
        args.jwks_concurrency, args.password_concurrency
    ));
    report.line(format!("  {}", loaded.line()));
    report.line(format!("  sign-ins meanwhile {}", pw_during.line()));
    report.line(format!("  {}", both_cpu.line()));
    report.set(
        "jwks",
        json!({"alone": alone.json(), "during_sign_ins": loaded.json(), "sign_ins_during": pw_during.json()}),
    );
}
