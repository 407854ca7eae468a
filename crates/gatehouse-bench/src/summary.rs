//! Phase 8: the summary. Each target with its verdict, and the ratios of what the server
//! achieved to the raw crypto ceiling (see BENCHMARKS.md, "How the ratios are computed").

use serde_json::{Value, json};

use crate::Args;
use crate::crypto::Rate;
use crate::report::{Report, r3};
use crate::stats::Stats;

/// What the earlier phases measured; a phase that did not run leaves its default.
pub struct Results {
    pub cores: usize,
    pub startup_median_ms: f64,
    pub idle_rss_kib: u64,
    pub refresh_peak: Stats,
    pub password: Stats,
    /// Raw argon2id verifies per second on all cores, measured between the sign-in slices.
    pub argon_adjacent: f64,
    pub rsa: Rate,
    pub argon: Rate,
}

/// Reports every target and ratio the phases that ran allow, and records them as `targets`
/// and `ratios` in the JSON.
pub fn run(args: &Args, r: &Results, report: &mut Report) {
    report.line("");
    report.line("summary (target → result):");
    let mut targets = Vec::new();
    let mut check = |report: &mut Report, name: &str, value: String, target: &str, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "n/a",
        };
        report.line(format!("  {name:<68} {value:>9}   target {target:<12} {verdict}"));
        targets.push(json!({"metric": name, "value": value, "target": target, "met": met}));
    };
    if args.wants("startup") {
        check(
            report,
            "start-up, median spawn → ready",
            format!("{:.1} ms", r.startup_median_ms),
            "< 200 ms",
            Some(r.startup_median_ms < 200.0),
        );
    }
    let idle_mb = r.idle_rss_kib as f64 * 1.024 / 1000.0;
    check(report, "idle RSS", format!("{idle_mb:.1} MB"), "< 30 MB", Some(idle_mb < 30.0));
    let mut ratios = json!({});
    if args.wants("refresh") {
        let p99 = report.r.get("refresh_half_peak_p99_ms").and_then(Value::as_f64).unwrap_or(f64::NAN);
        if args.wants("crypto") && r.rsa.one > 0.0 {
            // The tail as a multiple of the one operation a refresh cannot avoid: one RS256
            // signature, timed on one thread in this same run, so the figure means the same on
            // a fast or a slow machine (issue 13.7).
            let signature_ms = 1000.0 / r.rsa.one;
            let over = p99 / signature_ms;
            check(
                report,
                &format!("refresh p99 at half of peak ÷ one RS256 signature ({p99:.2} ÷ {signature_ms:.3} ms)"),
                format!("{over:.1} ×"),
                "< 10 ×",
                Some(over < 10.0),
            );
            ratios["refresh_half_peak_p99_over_rs256_signature"] = json!(r3(over));
            ratios["rs256_signature_ms"] = json!(r3(signature_ms));
        } else {
            check(
                report,
                "refresh p99 at half of peak (from scheduled time; add the crypto phase for the ratio)",
                format!("{p99:.2} ms"),
                "(info)",
                None,
            );
        }
    }
    if args.wants("refresh") && args.wants("crypto") && r.rsa.all > 0.0 {
        // All-cores ratio: refresh grants per second ÷ raw signatures per second using every core.
        let all = r.refresh_peak.rps / r.rsa.all;
        // Per-core normalised: (refresh/s ÷ nproc) ÷ raw signatures/s on one thread.
        let per_core = (r.refresh_peak.rps / r.cores as f64) / r.rsa.one;
        // Per server-CPU-second: refresh grants per CPU-second the server actually got ÷
        // signatures per CPU-second (what the server would reach with the cores to itself).
        let per_server_cpu = (r.refresh_peak.rps / r.refresh_peak.cpu.server.max(1e-9)) / r.rsa.per_cpu_s;
        check(
            report,
            "refresh/s ÷ raw RS256 signs/s (all cores)",
            format!("{:.1} %", all * 100.0),
            "≥ 60 %",
            Some(all >= 0.6),
        );
        check(
            report,
            "(refresh/s ÷ nproc) ÷ raw signs/s (1 thread)",
            format!("{:.1} %", per_core * 100.0),
            "≥ 60 %",
            Some(per_core >= 0.6),
        );
        check(
            report,
            "refresh per server CPU-s ÷ signs per CPU-s",
            format!("{:.1} %", per_server_cpu * 100.0),
            "(info)",
            None,
        );
        ratios["refresh_over_rsa_all_cores"] = json!(r3(all));
        ratios["refresh_per_core_over_rsa_one_thread"] = json!(r3(per_core));
        ratios["refresh_per_server_cpu_second_over_rsa_per_cpu_second"] = json!(r3(per_server_cpu));
    }
    if args.wants("password") && r.argon_adjacent > 0.0 {
        let adjacent = r.password.rps / r.argon_adjacent;
        check(
            report,
            "sign-ins/s ÷ raw argon2id verifies/s (all cores, between the slices)",
            format!("{:.1} %", adjacent * 100.0),
            "≥ 80 %",
            Some(adjacent >= 0.8),
        );
        ratios["password_over_argon_all_cores_between_slices"] = json!(r3(adjacent));
    }
    if args.wants("password") && args.wants("crypto") && r.argon.all > 0.0 {
        let all = r.password.rps / r.argon.all;
        let per_server_cpu = (r.password.rps / r.password.cpu.server.max(1e-9)) / r.argon.per_cpu_s;
        check(
            report,
            "sign-ins/s ÷ raw argon2id verifies/s (all cores, crypto phase)",
            format!("{:.1} %", all * 100.0),
            "(info)",
            None,
        );
        check(
            report,
            "sign-ins per server CPU-s ÷ verifies per CPU-s",
            format!("{:.1} %", per_server_cpu * 100.0),
            "(info)",
            None,
        );
        ratios["password_over_argon_all_cores"] = json!(r3(all));
        ratios["password_per_server_cpu_second_over_argon_per_cpu_second"] = json!(r3(per_server_cpu));
    }
    report.set("ratios", ratios);
    report.set("targets", Value::Array(targets));
}
