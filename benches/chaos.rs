//! Chaos throughput on the standard 20-runner, one-hour base: seeds per second with 1 and 2
//! workers, and the parallel efficiency (rate with 2 / (2 x rate with 1)), in one run.

use std::time::Instant;

const SEEDS: u64 = 60;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("chaos bench: run with `cargo bench --bench chaos`");
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json");
    let base = dpsim::scenario::load_file(std::path::Path::new(path)).expect("standard base");
    let mut rates = Vec::new();
    for jobs in [1, 2] {
        let start = Instant::now();
        let outcomes = dpsim::chaos::sweep(&base, 0..SEEDS, jobs, &dpsim::runner::Programs::default(), &|| {});
        let wall = start.elapsed().as_secs_f64();
        let failed = outcomes.iter().filter(|o| o.failed()).count();
        rates.push(SEEDS as f64 / wall);
        println!(
            "{jobs} worker(s): {SEEDS} seeds in {wall:.2} s = {:.1} seeds/s ({failed} failed)",
            SEEDS as f64 / wall
        );
    }
    println!("parallel efficiency with 2 workers: {:.0}%", 100.0 * rates[1] / (2.0 * rates[0]));
}
