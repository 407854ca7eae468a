//! Phase 4: refresh grants. A closed loop at each concurrency (the best is the peak), then an
//! open loop at half the peak whose latency counts from each request's scheduled send time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api;
use crate::cpu::CpuSnap;
use crate::report::{Report, r3};
use crate::server::Env;
use crate::setup::Sessions;
use crate::stats::{Stats, micros, stats};
use crate::{Load, Res, wire};

/// Closed loop: `tokens.len()` workers, each owning one session and one connection,
/// refreshing back to back.
async fn refresh_closed(env: &Env, pid: u32, tokens: &mut [Option<String>], secs: f64) -> Stats {
    let client_id = Arc::new(env.client_id.clone());
    let cpu = CpuSnap::take(pid);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut handles = Vec::new();
    for slot in tokens.iter_mut() {
        let token = slot.take();
        let (host, client_id) = (env.listen.clone(), client_id.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(16_384);
            let mut errors = 0;
            let mut token = token;
            let mut conn = match wire::Connection::open(&host).await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("  {e}");
                    return (token, lat, 1);
                }
            };
            while let Some(t) = token.take() {
                if Instant::now() >= end {
                    token = Some(t);
                    break;
                }
                let t0 = Instant::now();
                match api::refresh(&mut conn, &client_id, &t).await {
                    Ok(next) => {
                        lat.push(micros(t0.elapsed()));
                        token = Some(next);
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("  refresh error (session dropped): {e}");
                        match wire::Connection::open(&host).await {
                            Ok(fresh) => conn = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (token, lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for (slot, h) in tokens.iter_mut().zip(handles) {
        if let Ok((token, lat, e)) = h.await {
            *slot = token;
            all.extend(lat);
            errors += e;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu.since(pid);
    stats(all, errors, elapsed, cpu)
}

struct OpenLoop {
    /// Latency from each request's scheduled send time (includes any wait for the scheduler).
    scheduled: Stats,
    /// Latency from the actual send.
    service: Stats,
    target_rps: f64,
    late: usize,
}

/// Open loop: requests are scheduled at a fixed rate regardless of responses; each goes to an
/// idle session with its own connection (a session never has two refreshes in flight, since
/// tokens rotate). The schedule is kept by a plain thread sleeping to each send time (tokio's
/// timer rounds to whole milliseconds), which hands each request to the runtime.
async fn refresh_open(env: &Env, pid: u32, tokens: &mut [Option<String>], rate: f64, secs: f64) -> OpenLoop {
    let client_id = Arc::new(env.client_id.clone());
    let (idle_tx, idle_rx) = std::sync::mpsc::channel::<(wire::Connection, String)>();
    for slot in tokens.iter_mut() {
        if let Some(t) = slot.take() {
            match wire::Connection::open(&env.listen).await {
                Ok(conn) => {
                    let _ = idle_tx.send((conn, t));
                }
                Err(e) => eprintln!("  {e}"),
            }
        }
    }
    let lat_sched = Arc::new(Mutex::new(Vec::new()));
    let lat_serv = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0usize));
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let total = (secs * rate.max(1.0)).floor() as u64;
    let cpu = CpuSnap::take(pid);
    let start = Instant::now() + Duration::from_millis(5);
    let runtime = tokio::runtime::Handle::current();
    let (ls, lv, errs, tx) = (lat_sched.clone(), lat_serv.clone(), errors.clone(), idle_tx.clone());
    let scheduler = tokio::task::spawn_blocking(move || {
        let mut late = 0usize;
        let mut tasks = Vec::new();
        for k in 0..total {
            let Some(due) = interval.checked_mul(u32::try_from(k).unwrap_or(u32::MAX)).map(|d| start + d) else {
                break;
            };
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let Ok((mut conn, token)) = idle_rx.recv_timeout(Duration::from_secs(5)) else {
                eprintln!("  open loop: no idle session for 5 s; stopping early");
                break;
            };
            if Instant::now() > due + Duration::from_millis(1) {
                late += 1;
            }
            let (client_id, tx) = (client_id.clone(), tx.clone());
            let (ls, lv, errs) = (ls.clone(), lv.clone(), errs.clone());
            tasks.push(runtime.spawn(async move {
                let t0 = Instant::now();
                match api::refresh(&mut conn, &client_id, &token).await {
                    Ok(next) => {
                        let now = Instant::now();
                        if let Ok(mut v) = ls.lock() {
                            v.push(micros(now.saturating_duration_since(due)));
                        }
                        if let Ok(mut v) = lv.lock() {
                            v.push(micros(now.duration_since(t0)));
                        }
                        let _ = tx.send((conn, next));
                    }
                    Err(e) => {
                        eprintln!("  refresh error (session dropped): {e}");
                        if let Ok(mut n) = errs.lock() {
                            *n += 1;
                        }
                    }
                }
            }));
        }
        (late, tasks, idle_rx)
    });
    let (late, tasks, idle_rx) = match scheduler.await {
        Ok(done) => done,
        Err(e) => panic!("the open-loop scheduler failed: {e}"),
    };
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu.since(pid);
    drop(idle_tx);
    for (slot, (_, token)) in tokens.iter_mut().zip(idle_rx.try_iter()) {
        *slot = Some(token);
    }
    let errors = errors.lock().map(|n| *n).unwrap_or(0);
    let take = |m: &Arc<Mutex<Vec<u32>>>| m.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
    OpenLoop {
        scheduled: stats(take(&lat_sched), errors, elapsed, cpu),
        service: stats(take(&lat_serv), errors, elapsed, cpu),
        target_rps: rate,
        late,
    }
}

/// Warms up, sweeps the closed loop over `--refresh-concurrency`, then runs the open loop at
/// half the peak. Returns the peak closed-loop run.
pub async fn run(load: &Load<'_>, sessions: &mut Sessions, max_c: usize, report: &mut Report) -> Res<Stats> {
    let (args, env, client, users, pid, secs) = (load.args, &load.env, &load.client, &load.users, load.pid, load.secs);
    let mut refresh_peak = Stats::default();
    let mut refresh_peak_c = 0;
    // Warm-up: connections and caches.
    let _ = refresh_closed(env, pid, &mut sessions.tokens[..8.min(max_c)], 1.0).await;
    sessions.ensure(max_c, client, env, users).await?;
    let mut sweep = Vec::new();
    report.line(format!("refresh grants, closed loop, {secs:.0} s each:"));
    for &c in &args.refresh_concurrency {
        sessions.ensure(c, client, env, users).await?;
        let s = refresh_closed(env, pid, &mut sessions.tokens[..c], secs).await;
        report.line(format!("  C={c:<3} {}", s.line()));
        report.line(format!("         {}", s.cpu.line()));
        if s.rps > refresh_peak.rps {
            refresh_peak = s.clone();
            refresh_peak_c = c;
        }
        sweep.push(json!({"concurrency": c, "stats": s.json()}));
    }
    let server_ms_per_req = refresh_peak.cpu.server * 1000.0 / refresh_peak.rps.max(1e-9);
    let client_ms_per_req = refresh_peak.cpu.client * 1000.0 / refresh_peak.rps.max(1e-9);
    report.line(format!(
        "  peak {:.1}/s at C={refresh_peak_c}; server CPU {server_ms_per_req:.3} ms/request, bench client CPU {client_ms_per_req:.3} ms/request",
        refresh_peak.rps
    ));
    // Open loop at half the peak.
    let pool = 16.min(sessions.tokens.len());
    sessions.ensure(pool, client, env, users).await?;
    let half = refresh_peak.rps / 2.0;
    let open = refresh_open(env, pid, &mut sessions.tokens[..pool], half, secs).await;
    report.line(format!("refresh grants, open loop at half the peak ({half:.1}/s target, {secs:.0} s):"));
    report.line(format!("  from scheduled time {}", open.scheduled.line()));
    report.line(format!("  from actual send    {}", open.service.line()));
    report.line(format!(
        "  {} ({} of {} sends more than 1 ms behind schedule)",
        open.scheduled.cpu.line(),
        open.late,
        open.scheduled.ok + open.scheduled.errors
    ));
    report.set(
        "refresh",
        json!({
            "closed_loop": sweep, "peak_concurrency": refresh_peak_c, "peak": refresh_peak.json(),
            "server_cpu_ms_per_request": r3(server_ms_per_req), "client_cpu_ms_per_request": r3(client_ms_per_req),
            "open_loop_half_peak": {"target_rps": r3(open.target_rps), "from_scheduled": open.scheduled.json(), "from_send": open.service.json(), "late_sends": open.late},
        }),
    );
    report.set("refresh_half_peak_p99_ms", json!(r3(open.scheduled.p99)));
    Ok(refresh_peak)
}
