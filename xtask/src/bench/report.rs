//! What the bench reports: the targets (met or not), and the date and machine the figures
//! belong to.

use std::fs;
use std::process::Command;

use serde_json::{Value, json};

/// One target: what, the figure, the bound, whether it holds.
pub(super) struct Target {
    pub(super) name: String,
    pub(super) measured: String,
    pub(super) required: String,
    pub(super) met: bool,
}

/// Prints every target, one line each, `MISS` for those not met.
pub(super) fn print_targets(targets: &[Target]) {
    println!("targets:");
    for target in targets {
        println!(
            "  {:<4} {:<44} {:>16}   required {}",
            if target.met { "met" } else { "MISS" },
            target.name,
            target.measured,
            target.required
        );
    }
}

/// The targets as JSON, for `bench.json`.
pub(super) fn targets_json(targets: &[Target]) -> Value {
    json!(
        targets
            .iter()
            .map(|target| json!({
                "name": target.name,
                "measured": target.measured,
                "required": target.required,
                "met": target.met,
            }))
            .collect::<Vec<_>>()
    )
}

/// `date -u` in ISO form, for the report.
pub(super) fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// CPU model and count, memory, kernel: the machine class the figures belong to.
pub(super) fn machine() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let memory_gib = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| (kib / 1024.0 / 1024.0).round());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cpu": model,
        "cpus": cpus,
        "memory_gib": memory_gib,
        "kernel": kernel.trim(),
    })
}
