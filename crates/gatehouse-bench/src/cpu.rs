//! `/proc` readings: resident memory, CPU ticks of the server, of this process and of the whole
//! machine, and the per-phase CPU accounting that flags phases other processes competed in.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::report::r3;

/// A `kB` field (`VmRSS:`, `VmHWM:`) or count (`Threads:`) of `/proc/PID/status`.
pub fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
}

/// utime + stime of a process (all threads), in clock ticks (USER_HZ = 100 on Linux).
pub fn proc_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state(0) ppid(1) ... utime is field 14 of the full line, i.e. index 11 here.
    let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// (busy, steal) ticks of the whole machine from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return (0, 0) };
    let Some(line) = stat.lines().next() else { return (0, 0) };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    (g(0) + g(1) + g(2) + g(5) + g(6), g(7))
}

pub const USER_HZ: f64 = 100.0;

/// Cores used by other processes above which a phase is flagged as contended.
const CONTENDED: f64 = 0.3;

/// Waits (bounded) for a 1 s window in which processes other than this one use < CONTENDED cores.
pub fn wait_quiet(max_secs: f64) -> (bool, f64) {
    let start = Instant::now();
    loop {
        let snap = CpuSnap::take(0);
        std::thread::sleep(Duration::from_secs(1));
        let other = snap.since(0).other;
        if other < CONTENDED || start.elapsed().as_secs_f64() >= max_secs {
            return (other < CONTENDED, other);
        }
    }
}

#[derive(Clone, Copy)]
pub struct CpuSnap {
    at: Instant,
    server: u64,
    client: u64,
    busy: u64,
    steal: u64,
}

impl CpuSnap {
    pub fn take(server_pid: u32) -> CpuSnap {
        let (busy, steal) = machine_ticks();
        CpuSnap {
            at: Instant::now(),
            server: proc_ticks(&server_pid.to_string()),
            client: proc_ticks("self"),
            busy,
            steal,
        }
    }
    /// Cores used (CPU-seconds per second) since `self`, by the server, this process, and others.
    pub fn since(&self, server_pid: u32) -> CpuUse {
        let now = CpuSnap::take(server_pid);
        let wall = now.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let c = |ticks: u64| ticks as f64 / USER_HZ / wall;
        let server = now.server.saturating_sub(self.server);
        let client = now.client.saturating_sub(self.client);
        let busy = now.busy.saturating_sub(self.busy);
        CpuUse {
            server: c(server),
            client: c(client),
            other: c(busy.saturating_sub(server + client)),
            steal: c(now.steal.saturating_sub(self.steal)),
        }
    }
}

#[derive(Clone, Copy, Default)]
pub struct CpuUse {
    pub server: f64,
    pub client: f64,
    pub other: f64,
    pub steal: f64,
}

impl CpuUse {
    pub fn json(&self) -> Value {
        json!({"server_cores": r3(self.server), "client_cores": r3(self.client), "other_cores": r3(self.other), "steal_cores": r3(self.steal)})
    }
    pub fn line(&self) -> String {
        format!(
            "CPU cores used: server {:.2}, bench client {:.2}, other processes {:.2}{}",
            self.server,
            self.client,
            self.other,
            if self.steal > 0.01 { format!(", steal {:.2}", self.steal) } else { String::new() }
        ) + if self.other > CONTENDED { "  << CONTENDED: other processes competed for the cores" } else { "" }
    }
}
