//! What the benchmarks share: each side of a comparison runs in a child process of the bench
//! binary (so its peak memory is its own) and prints one `RESULT k=v ...` line.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;

/// Peak resident set size of this process, in MB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Runs this bench binary as a child in `mode` (with an optional argument) and reads its
/// `RESULT` line.
pub fn child(mode: &str, arg: Option<u64>) -> BTreeMap<String, f64> {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.arg("--bench").arg("--child").arg(mode);
    if let Some(a) = arg {
        cmd.arg(a.to_string());
    }
    let out = cmd.output().expect("child runs");
    assert!(out.status.success(), "{mode} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("RESULT ")).expect("child prints a RESULT line");
    line[7..]
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0.0)))
        .collect()
}

/// Runs the sides of a comparison in turn, `rounds` times (each run a fresh child process), and
/// returns each side's runs. Alternating spreads slow spells of a shared machine over both
/// sides instead of letting one side's single process catch them.
pub fn alternate(rounds: usize, sides: &[(&str, Option<u64>)]) -> Vec<Vec<BTreeMap<String, f64>>> {
    let mut runs = vec![Vec::new(); sides.len()];
    for _ in 0..rounds {
        for (side, (mode, arg)) in sides.iter().enumerate() {
            runs[side].push(child(mode, *arg));
        }
    }
    runs
}

/// The run with the least `key` (the least disturbed).
pub fn best(runs: &[BTreeMap<String, f64>], key: &str) -> BTreeMap<String, f64> {
    runs.iter().min_by(|a, b| a[key].total_cmp(&b[key])).cloned().expect("at least one run")
}

/// The lowest and highest ratio of `key` between the runs of two sides in the same round.
pub fn ratio_range(a: &[BTreeMap<String, f64>], b: &[BTreeMap<String, f64>], key: &str) -> (f64, f64) {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x[key] / y[key]).collect();
    (ratios.iter().copied().fold(f64::MAX, f64::min), ratios.iter().copied().fold(f64::MIN, f64::max))
}
