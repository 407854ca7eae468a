//! Latency statistics: percentiles and rates of one measured loop, with the CPU it used.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cpu::CpuUse;
use crate::report::r3;

#[derive(Clone, Default)]
pub struct Stats {
    pub ok: usize,
    pub errors: usize,
    pub secs: f64,
    pub rps: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub cpu: CpuUse,
}

fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[idx]) / 1000.0
}

/// Percentiles and rate of one loop's latencies (µs) over `secs`.
pub fn stats(mut micros: Vec<u32>, errors: usize, secs: f64, cpu: CpuUse) -> Stats {
    micros.sort_unstable();
    Stats {
        ok: micros.len(),
        errors,
        secs,
        rps: micros.len() as f64 / secs.max(1e-9),
        p50: pct(&micros, 0.50),
        p90: pct(&micros, 0.90),
        p99: pct(&micros, 0.99),
        max: micros.last().map_or(f64::NAN, |&m| f64::from(m) / 1000.0),
        cpu,
    }
}

impl Stats {
    pub fn json(&self) -> Value {
        json!({
            "ok": self.ok, "errors": self.errors, "seconds": r3(self.secs), "rps": r3(self.rps),
            "p50_ms": r3(self.p50), "p90_ms": r3(self.p90), "p99_ms": r3(self.p99), "max_ms": r3(self.max),
            "cpu": self.cpu.json(),
        })
    }
    pub fn line(&self) -> String {
        format!(
            "{:>9.1}/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} ok, {} errors)",
            self.rps, self.p50, self.p90, self.p99, self.max, self.ok, self.errors
        )
    }
}

/// A duration in whole microseconds, saturating.
pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The median (NaN if empty); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}
