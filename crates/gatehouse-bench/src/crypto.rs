//! Phase 7: the raw crypto ceiling, measured in this process while the server idles: RSA-2048
//! PKCS#1 v1.5 SHA-256 signatures (aws-lc-rs) and argon2id verifies at the server's parameters,
//! on one thread and on one thread per core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::password_for;
use crate::cpu::{CpuSnap, USER_HZ, proc_ticks};
use crate::report::{Report, r3};
use crate::{Args, Res};

#[derive(Clone, Copy, Default)]
pub struct Rate {
    /// Operations per second on one thread.
    pub one: f64,
    /// Operations per second on one thread per core.
    pub all: f64,
    /// Operations per CPU-second this process got during the all-cores run (robust to other
    /// processes taking cores away, unlike `all`).
    pub per_cpu_s: f64,
}

/// `rate_on_threads` plus the operations per CPU-second the threads actually received.
fn measured<S: Send + 'static>(threads: usize, secs: f64, setup: impl Fn() -> S, op: fn(&mut S)) -> (f64, f64) {
    let t0 = proc_ticks("self");
    let wall = Instant::now();
    let rate = rate_on_threads(threads, secs, setup, op);
    let cpu_s = proc_ticks("self").saturating_sub(t0) as f64 / USER_HZ;
    let ops = rate * wall.elapsed().as_secs_f64();
    (rate, if cpu_s > 0.0 { ops / cpu_s } else { f64::NAN })
}

/// Runs `op` on `threads` threads for `secs`; returns operations per second (sum over threads).
fn rate_on_threads<S: Send + 'static>(threads: usize, secs: f64, setup: impl Fn() -> S, op: fn(&mut S)) -> f64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let mut state = setup();
            std::thread::spawn(move || {
                let start = Instant::now();
                let end = start + Duration::from_secs_f64(secs);
                let mut n = 0u64;
                while Instant::now() < end {
                    op(&mut state);
                    n += 1;
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles.into_iter().filter_map(|h| h.join().ok()).sum()
}

struct RsaState {
    key: Arc<aws_lc_rs::rsa::KeyPair>,
    rng: aws_lc_rs::rand::SystemRandom,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

fn rsa_sign(s: &mut RsaState) {
    s.key.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &s.rng, &s.msg, &mut s.sig).expect("RSA sign");
}

fn rsa_rates(threads: usize, secs: f64) -> Res<Rate> {
    let key =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| format!("RSA keygen: {e}"))?;
    let key = Arc::new(key);
    let setup = || RsaState {
        key: key.clone(),
        rng: aws_lc_rs::rand::SystemRandom::new(),
        // A JWT-sized signing input: base64url(header) "." base64url(claims), ~400 bytes.
        msg: (0..400u32).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789-_"[(i % 38) as usize]).collect(),
        sig: vec![0; key.public_modulus_len()],
    };
    rsa_sign(&mut setup()); // warm up
    let one = rate_on_threads(1, secs, setup, rsa_sign);
    let (all, per_cpu_s) = measured(threads, secs, setup, rsa_sign);
    Ok(Rate { one, all, per_cpu_s })
}

#[derive(Clone)]
struct ArgonState {
    argon: argon2::Argon2<'static>,
    stored: String,
}

fn argon_verify(s: &mut ArgonState) {
    use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
    // What sign-in does: parse the stored PHC string, verify with the parameters it records.
    let parsed = PasswordHash::new(&s.stored).expect("PHC");
    s.argon.verify_password(password_for(17).as_bytes(), &parsed).expect("argon2 verify");
}

/// A verifier of one stored argon2id hash at the server's parameters (m = 19456 KiB, t = 2, p = 1).
fn argon_state() -> Res<ArgonState> {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let params = argon2::Params::new(19_456, 2, 1, None).map_err(|e| format!("argon2 params: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    // A fixed 16-byte salt: its value does not affect the cost.
    let salt = SaltString::from_b64("YmVuY2hzYWx0MTIzNDU2Nw").map_err(|e| format!("salt: {e}"))?;
    let stored =
        argon.hash_password(password_for(17).as_bytes(), &salt).map_err(|e| format!("argon2 hash: {e}"))?.to_string();
    Ok(ArgonState { argon, stored })
}

/// Argon2id verifications per second on `threads` threads for `secs`.
pub fn argon_rate_on(threads: usize, secs: f64) -> Res<f64> {
    let state = argon_state()?;
    Ok(rate_on_threads(threads, secs, || state.clone(), argon_verify))
}

fn argon_rates(threads: usize, secs: f64) -> Res<Rate> {
    let state = argon_state()?;
    let setup = || state.clone();
    argon_verify(&mut setup());
    let one = rate_on_threads(1, secs, setup, argon_verify);
    let (all, per_cpu_s) = measured(threads, secs, setup, argon_verify);
    Ok(Rate { one, all, per_cpu_s })
}

/// The raw rates of both operations (after half a second for the server to settle), reported
/// with the CPU each side used.
pub async fn run(args: &Args, pid: u32, cores: usize, report: &mut Report) -> Res<(Rate, Rate)> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let csecs = args.crypto_secs();
    let cpu = CpuSnap::take(pid);
    let rsa = tokio::task::spawn_blocking(move || rsa_rates(cores, csecs)).await.map_err(|e| e.to_string())??;
    let argon = tokio::task::spawn_blocking(move || argon_rates(cores, csecs)).await.map_err(|e| e.to_string())??;
    let cpu = cpu.since(pid);
    report.line(format!("raw crypto in this process ({csecs:.0} s each, server idle):"));
    report.line(format!(
        "  RSA-2048 PKCS#1 v1.5 SHA-256 sign (aws-lc-rs): {:.0}/s on 1 thread, {:.0}/s on {cores} threads",
        rsa.one, rsa.all
    ));
    report.line(format!(
        "  argon2id verify m=19456 t=2 p=1 (argon2 0.5):  {:.1}/s on 1 thread, {:.1}/s on {cores} threads",
        argon.one, argon.all
    ));
    report.line(format!(
        "  per CPU-second actually received in the {cores}-thread runs: {:.0} signs, {:.1} verifies",
        rsa.per_cpu_s, argon.per_cpu_s
    ));
    report.line(format!("  {}", cpu.line()));
    report.set(
        "raw_crypto",
        json!({"rsa2048_sign_per_s": {"one_thread": r3(rsa.one), "all_cores": r3(rsa.all), "per_cpu_second": r3(rsa.per_cpu_s)},
               "argon2id_verify_per_s": {"one_thread": r3(argon.one), "all_cores": r3(argon.all), "per_cpu_second": r3(argon.per_cpu_s)},
               "cpu": cpu.json()}),
    );
    Ok((rsa, argon))
}
