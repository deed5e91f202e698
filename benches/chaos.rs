//! Chaos throughput on the standard base: seeds per second with 1 and 2 workers, each in a
//! fresh process of its own (so the 2-worker sweep does not follow the 1-worker one warm), and
//! the parallel efficiency (rate with 2 / (2 x rate with 1)), in one run.

mod common;

use std::time::Instant;

use common::child;

const SEEDS: u64 = 60;

/// One sweep in this (child) process; prints its `RESULT` line.
fn sweep(jobs: usize) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json");
    let base = dpsim::scenario::load_file(std::path::Path::new(path)).expect("standard base");
    let start = Instant::now();
    let outcomes = dpsim::chaos::sweep(&base, 0..SEEDS, jobs, &dpsim::runner::Programs::default(), &|| {});
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
        sweep(jobs);
        return;
    }
    let mut rates = Vec::new();
    for jobs in [1u64, 2] {
        let r = child("sweep", Some(jobs));
        let (wall, failed) = (r["wall"], r["failed"]);
        let rate = SEEDS as f64 / wall;
        rates.push(rate);
        println!("{jobs} worker(s), fresh process: {SEEDS} seeds in {wall:.2} s = {rate:.1} seeds/s ({failed} failed)");
    }
    println!("parallel efficiency with 2 workers: {:.0}%", 100.0 * rates[1] / (2.0 * rates[0]));
}
