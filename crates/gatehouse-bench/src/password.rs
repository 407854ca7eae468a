//! Phase 5: password sign-ins, in slices alternating with the raw argon2id rate on all cores,
//! and the sign-in load generator the JWKS phase reuses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api;
use crate::cpu::{CpuSnap, CpuUse};
use crate::crypto;
use crate::report::{Report, r3};
use crate::server::Env;
use crate::setup::Users;
use crate::stats::{Stats, micros, stats};
use crate::{Load, Res};

/// A load worker: its latencies in µs and its error count.
pub type Worker = tokio::task::JoinHandle<(Vec<u32>, usize)>;

/// `workers` concurrent password sign-ins; worker w cycles through users w, w+workers, … so no
/// account ever has two attempts in flight (the per-account throttle counts in-flight attempts).
pub fn spawn_password_load(
    client: &reqwest::Client,
    env: &Arc<Env>,
    users: &Arc<Users>,
    workers: usize,
    end: Instant,
) -> Vec<Worker> {
    (0..workers)
        .map(|w| {
            let (client, env, users) = (client.clone(), env.clone(), users.clone());
            tokio::spawn(async move {
                let mine: Vec<usize> = (w..users.emails.len()).step_by(workers.max(1)).collect();
                let mut lat = Vec::new();
                let mut errors = 0;
                let mut k = 0;
                while Instant::now() < end && !mine.is_empty() {
                    let i = mine[k % mine.len()];
                    k += 1;
                    let t0 = Instant::now();
                    match api::password_sign_in(&client, &env, &users.emails[i], i).await {
                        Ok(_) => lat.push(micros(t0.elapsed())),
                        Err(e) => {
                            errors += 1;
                            eprintln!("  sign-in error: {e}");
                            if errors > 20 {
                                break;
                            }
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect()
}

/// Waits for the workers and merges their latencies and errors.
pub async fn collect(workers: Vec<Worker>) -> (Vec<u32>, usize) {
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((lat, e)) = w.await {
            all.extend(lat);
            errors += e;
        }
    }
    (all, errors)
}

/// Sign-ins against the raw argon2id rate measured between them.
pub struct Password {
    pub stats: Stats,
    /// Raw argon2id verifies per second on all cores, measured between the sign-in slices.
    pub argon_adjacent: f64,
}

/// Password sign-ins, in rounds alternating with the raw argon2id rate on all cores. The raw
/// rate of this memory-bound hash drifts by ±10 % over a minute on a shared host (other
/// tenants' memory traffic), so the sign-in rate is compared with the raw rate measured in
/// between its own slices rather than a minute later.
pub async fn run(load: &Load<'_>, report: &mut Report) -> Res<Password> {
    let (args, pid, secs) = (load.args, load.pid, load.secs);
    let rounds = if args.quick { 2 } else { 5 };
    let slice = secs / f64::from(rounds);
    let raw_slice = (slice / 2.0).max(0.5);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (mut lat, mut errors, mut load_secs, mut raw_ops, mut raw_secs) = (Vec::new(), 0, 0.0, 0.0, 0.0);
    let mut weighted = CpuUse::default();
    for _ in 0..rounds {
        let raw = tokio::task::spawn_blocking(move || crypto::argon_rate_on(cores, raw_slice))
            .await
            .map_err(|e| e.to_string())??;
        raw_ops += raw * raw_slice;
        raw_secs += raw_slice;
        let cpu = CpuSnap::take(pid);
        let start = Instant::now();
        let w = spawn_password_load(
            &load.client,
            &load.env,
            &load.users,
            args.password_concurrency,
            start + Duration::from_secs_f64(slice),
        );
        let (l, e) = collect(w).await;
        let elapsed = start.elapsed().as_secs_f64();
        let used = cpu.since(pid);
        weighted.server += used.server * elapsed;
        weighted.client += used.client * elapsed;
        weighted.other += used.other * elapsed;
        weighted.steal += used.steal * elapsed;
        lat.extend(l);
        errors += e;
        load_secs += elapsed;
    }
    let per = |x: f64| x / f64::max(load_secs, 1e-9);
    let cpu = CpuUse {
        server: per(weighted.server),
        client: per(weighted.client),
        other: per(weighted.other),
        steal: per(weighted.steal),
    };
    let password = stats(lat, errors, load_secs, cpu);
    let argon_adjacent = raw_ops / f64::max(raw_secs, 1e-9);
    report.line(format!(
        "password sign-ins, {} concurrent, {rounds} × {slice:.0} s, alternating with {raw_slice:.0} s of raw argon2id:",
        args.password_concurrency
    ));
    report.line(format!("  {}", password.line()));
    report.line(format!("  {}", password.cpu.line()));
    report.line(format!("  raw argon2id verify on {cores} threads between the slices: {argon_adjacent:.1}/s"));
    let mut json = password.json();
    json["raw_argon2id_all_cores_between_slices"] = json!(r3(argon_adjacent));
    report.set("password", json);
    Ok(Password { stats: password, argon_adjacent })
}
