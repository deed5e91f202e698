//! Chaos throughput on the standard base: seeds per second with idle-time skipping (1 and 2
//! workers) beside fixed-tick stepping (2 workers), each sweep in a fresh process of its own
//! (so no sweep follows another warm), and the parallel efficiency (rate with 2 / (2 x rate
//! with 1)), in one run.

mod common;

use std::time::Instant;

use common::child;
use dpsim::scenario::Stepping;

/// Seeds per sweep: fixed-tick stepping is about twenty times slower, so it sweeps fewer.
const SEEDS_SKIPPING: u64 = 600;
const SEEDS_FIXED: u64 = 60;

/// One sweep in this (child) process; prints its `RESULT` line.
fn sweep(stepping: Stepping, seeds: u64, jobs: usize) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json");
    let base = dpsim::scenario::load_file(std::path::Path::new(path)).expect("standard base");
    let stepping = serde_json::to_value(stepping).expect("steppings serialise");
    let base = base.with([format!("stepping={stepping}")]).expect("a stepping");
    let start = Instant::now();
    let outcomes = dpsim::chaos::sweep(&base, 0..seeds, jobs, &dpsim::runner::Programs::default(), &|| {});
    let wall = start.elapsed().as_secs_f64();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    println!("RESULT wall={wall} failed={failed}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("chaos bench: run with `cargo bench --bench chaos`");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let jobs = args.get(i + 2).and_then(|j| j.parse().ok()).unwrap_or(1);
        match args.get(i + 1).map(String::as_str) {
            Some("skip-idle") => sweep(Stepping::SkipIdle, SEEDS_SKIPPING, jobs),
            Some("fixed-tick") => sweep(Stepping::FixedTick, SEEDS_FIXED, jobs),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    println!("chaos/standard.json, each sweep in a fresh process:");
    let rate = |mode: &str, seeds: u64, jobs: u64| {
        let r = child(mode, Some(jobs));
        let (wall, failed) = (r["wall"], r["failed"]);
        let rate = seeds as f64 / wall;
        println!("{mode:<10} {jobs} worker(s): {seeds} seeds in {wall:.2} s = {rate:.1} seeds/s ({failed} failed)");
        rate
    };
    let fixed = rate("fixed-tick", SEEDS_FIXED, 2);
    let one = rate("skip-idle", SEEDS_SKIPPING, 1);
    let two = rate("skip-idle", SEEDS_SKIPPING, 2);
    println!("parallel efficiency with 2 workers (skipping): {:.0}%", 100.0 * two / (2.0 * one));
    println!("skipping / fixed-tick with 2 workers: {:.1}x", two / fixed);
}
