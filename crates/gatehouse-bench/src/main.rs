//! `gatehouse-bench`: drives a release `gatehouse` binary over loopback HTTP and compares what it
//! achieves with the raw cost of the crypto it has to do (RS256 signatures, argon2id verifies).
//!
//! One run: start-up time (spawn → first 200 from `/health`), idle memory, refresh-grant
//! throughput and latency (closed loop at several concurrencies, then open loop at half the
//! peak), password sign-ins, JWKS while sign-ins saturate the CPU, then raw crypto rates in
//! this process while the server idles. Every loop is bounded by a duration; the server is
//! killed by a guard on every exit path (return, error, panic, Ctrl-C).
//!
//! The load generator runs on the same machine as the server and competes with it for the
//! same cores; the report shows how much CPU each side (and any other process) used.
//!
//! One module per phase, run in this order by `run`: `startup` (1), `memory` (2, and the
//! readings after the load), `setup` (3), `refresh` (4), `password` (5), `jwks` (6), `crypto`
//! (7) and `summary` (8). The others are shared: `server` (the process under test), `api` and
//! `wire` (HTTP clients), `cpu` (`/proc` accounting), `stats` and `report`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

use crate::report::{Report, loadavg};
use crate::server::{Env, TempDir};
use crate::setup::Users;
use crate::stats::Stats;

mod api;
mod cpu;
mod crypto;
mod jwks;
mod memory;
mod password;
mod refresh;
mod report;
mod server;
mod setup;
mod startup;
mod stats;
mod summary;
mod wire;

type Res<T> = Result<T, String>;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "gatehouse-bench",
    about = "Benchmark a gatehouse release binary over loopback HTTP",
    long_about = "Starts `gatehouse serve` on 127.0.0.1 with a temporary data folder and measures start-up time, \
                  memory, refresh/password/JWKS throughput and latency, and the raw RSA/argon2id rates of this machine. \
                  Build first: cargo build --release -p gatehouse -p gatehouse-bench"
)]
struct Args {
    /// The gatehouse binary to benchmark.
    #[arg(long, default_value = "target/release/gatehouse")]
    bin: PathBuf,
    /// Print the results as one JSON object on stdout (the human report goes to stderr).
    #[arg(long)]
    json: bool,
    /// A ~30 s smoke run (short phases) instead of the ~2 minute default.
    #[arg(long)]
    quick: bool,
    /// Seconds per load phase (default 10, or 2 with --quick).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds per raw crypto measurement (default 3, or 1 with --quick).
    #[arg(long)]
    crypto_duration: Option<f64>,
    /// How many times to measure start-up (median reported).
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// Concurrencies to try for refresh grants (closed loop); the best is the peak.
    #[arg(long, value_delimiter = ',', default_values_t = [8usize, 16, 32])]
    refresh_concurrency: Vec<usize>,
    /// Concurrent password sign-ins.
    #[arg(long, default_value_t = 4)]
    password_concurrency: usize,
    /// Concurrent JWKS fetchers (alone and during the sign-in load).
    #[arg(long, default_value_t = 4)]
    jwks_concurrency: usize,
    /// Users to create for password sign-ins (spread so no account has two sign-ins in flight).
    #[arg(long, default_value_t = 32)]
    users: usize,
    /// Run only these phases (comma-separated): startup, refresh, password, jwks, crypto.
    #[arg(long, value_delimiter = ',')]
    phases: Option<Vec<String>>,
    /// Before starting, wait up to this many seconds for a 1 s window in which other processes
    /// use less than 0.3 cores (the machine may be shared). 0 = start at once.
    #[arg(long, default_value_t = 0.0)]
    wait_quiet: f64,
    /// Extra environment variable for the server (KEY=VALUE, repeatable), for experiments such
    /// as MALLOC_ARENA_MAX=2.
    #[arg(long, value_name = "KEY=VALUE")]
    server_env: Vec<String>,
}

impl Args {
    fn load_secs(&self) -> f64 {
        self.duration.unwrap_or(if self.quick { 2.0 } else { 10.0 })
    }
    fn crypto_secs(&self) -> f64 {
        self.crypto_duration.unwrap_or(if self.quick { 1.0 } else { 3.0 })
    }
    fn wants(&self, phase: &str) -> bool {
        self.phases.as_ref().is_none_or(|p| p.iter().any(|x| x == phase))
    }
}

/// What the load phases (4 to 6) share: the options, the running server, one HTTP client and
/// the benchmark users.
struct Load<'a> {
    args: &'a Args,
    env: Arc<Env>,
    pid: u32,
    client: reqwest::Client,
    users: Arc<Users>,
    /// Seconds per load phase.
    secs: f64,
}

async fn run(args: Args, report: &mut Report) -> Res<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bin = report::header(&args, cores, report).await?;
    let tmp = TempDir::new("data")?;

    let started = startup::run(&args, &bin, &tmp, report).await?;
    let mut server = started.server;
    let pid = server.pid();
    let idle_rss = memory::idle(pid, report).await;

    let client = api::http_client()?;
    let (users, mut sessions, max_c) = setup::run(&args, &client, &started.env, report).await?;
    let load = Load { args: &args, env: started.env, pid, client, users, secs: args.load_secs() };

    let mut refresh_peak = Stats::default();
    if args.wants("refresh") {
        refresh_peak = refresh::run(&load, &mut sessions, max_c, report).await?;
    }
    let mut password = password::Password { stats: Stats::default(), argon_adjacent: 0.0 };
    if args.wants("password") {
        password = password::run(&load, report).await?;
    }
    if args.wants("jwks") {
        jwks::run(&load, report).await;
    }
    memory::after_load(pid, idle_rss, report);
    let load_done = Instant::now();

    let (mut rsa, mut argon) = Default::default();
    if args.wants("crypto") {
        (rsa, argon) = crypto::run(&args, pid, cores, report).await?;
    }
    let results = summary::Results {
        cores,
        startup_median_ms: started.median_ms,
        idle_rss_kib: idle_rss,
        refresh_peak,
        password: password.stats,
        argon_adjacent: password.argon_adjacent,
        rsa,
        argon,
    };
    summary::run(&args, &results, report);
    memory::later(pid, load_done, report);
    report.line(format!("load average at end: {}", loadavg()));
    report.set("loadavg_end", json!(loadavg()));
    server.stop();
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json_out = args.json;
    let mut report = Report { r: BTreeMap::new(), to_stdout: !json_out };
    // Ctrl-C ends `run` early; dropping it kills the server and removes the data folder.
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(args, &mut report) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(()) => {
            if json_out {
                let map: serde_json::Map<String, Value> =
                    report.r.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                println!("{}", Value::Object(map));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
