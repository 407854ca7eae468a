//! The report: human lines as they are produced, the JSON object collected alongside, and the
//! header that records the machine, the command and the binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use crate::cpu::wait_quiet;
use crate::{Args, Res};

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A progress line, always on stderr.
pub fn say(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

/// The human report goes to stdout as it is produced (to stderr with `--json`, whose stdout
/// is only the final JSON object); `r` collects the JSON.
pub struct Report {
    pub r: BTreeMap<&'static str, Value>,
    pub to_stdout: bool,
}

impl Report {
    pub fn set(&mut self, k: &'static str, v: Value) {
        self.r.insert(k, v);
    }
    pub fn line(&mut self, s: impl Into<String>) {
        let s = s.into();
        if self.to_stdout {
            println!("{s}");
        } else {
            say(&s);
        }
    }
}

/// Rounds to three decimals for the JSON.
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Checks the binary exists, waits for a quiet machine if asked (`--wait-quiet`), and reports
/// the command, the binary and the machine. Returns the binary's canonical path.
pub async fn header(args: &Args, cores: usize, report: &mut Report) -> Res<PathBuf> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    if !args.bin.exists() {
        return Err(format!(
            "{} does not exist: build it with `cargo build --release -p gatehouse -p gatehouse-bench`",
            args.bin.display()
        ));
    }
    let bin = args.bin.canonicalize().map_err(|e| e.to_string())?;
    let mut quiet = Value::Null;
    if args.wait_quiet > 0.0 {
        let max = args.wait_quiet;
        say(format!("waiting up to {max:.0} s for the other processes on this machine to go quiet…"));
        let t = Instant::now();
        let (ok, other) = tokio::task::spawn_blocking(move || wait_quiet(max)).await.map_err(|e| e.to_string())?;
        say(format!(
            "  {} after {:.0} s (other processes: {other:.2} cores)",
            if ok { "quiet" } else { "still busy" },
            t.elapsed().as_secs_f64()
        ));
        quiet = json!({"quiet": ok, "other_cores": r3(other), "waited_s": r3(t.elapsed().as_secs_f64())});
    }
    report.line(format!("gatehouse-bench: {command}"));
    report.line(format!("binary: {}", bin.display()));
    report.line(format!(
        "machine: {cores} cores (nproc), CPU \"{}\", load average at start {}",
        cpu_model(),
        loadavg()
    ));
    report.line("note: the load generator runs on the same cores as the server; CPU shares are shown per phase.");
    report.set(
        "machine",
        json!({"nproc": cores, "cpu_model": cpu_model(), "loadavg_start": loadavg(), "command": command, "binary": bin.display().to_string(), "wait_quiet": quiet}),
    );
    Ok(bin)
}
