//! Phase 2 and the memory readings after it: the server's resident memory after 1 s idle,
//! right after the load phases, and again once it has idled through the crypto phase.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cpu::vm_kib;
use crate::report::{Report, r3};

/// Waits 1 s, then reads and reports the idle RSS in KiB.
pub async fn idle(pid: u32, report: &mut Report) -> u64 {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = vm_kib(pid, "VmRSS:").unwrap_or(0);
    report.line(format!(
        "idle RSS after 1 s: {:.1} MiB ({:.1} MB)",
        idle_rss as f64 / 1024.0,
        idle_rss as f64 * 1.024 / 1000.0
    ));
    idle_rss
}

/// Reports the RSS, peak RSS and threads right after the load, and records `memory` in the JSON.
pub fn after_load(pid: u32, idle_rss: u64, report: &mut Report) {
    let rss_after = vm_kib(pid, "VmRSS:").unwrap_or(0);
    let hwm = vm_kib(pid, "VmHWM:").unwrap_or(0);
    let threads = vm_kib(pid, "Threads:").unwrap_or(0);
    report.line(format!(
        "RSS after the load tests: {:.1} MiB (peak VmHWM {:.1} MiB, {threads} threads)",
        rss_after as f64 / 1024.0,
        hwm as f64 / 1024.0
    ));
    report.set(
        "memory",
        json!({"idle_rss_kib": idle_rss, "idle_rss_mb": r3(idle_rss as f64 * 1.024 / 1000.0), "after_load_rss_kib": rss_after, "peak_hwm_kib": hwm, "threads_after_load": threads}),
    );
}

/// Memory once the server has idled through the crypto phase (the runtime's idle blocking
/// threads exit after 10 s); adds it to `memory` in the JSON.
pub fn later(pid: u32, load_done: Instant, report: &mut Report) {
    let rss_later = vm_kib(pid, "VmRSS:").unwrap_or(0);
    let since_load = load_done.elapsed().as_secs_f64();
    report.line(format!(
        "RSS {since_load:.0} s after the load (server idle): {:.1} MiB, {} threads",
        rss_later as f64 / 1024.0,
        vm_kib(pid, "Threads:").unwrap_or(0)
    ));
    if let Some(m) = report.r.get_mut("memory") {
        m["later_rss_kib"] = json!(rss_later);
        m["later_after_s"] = json!(r3(since_load));
    }
}
