//! Seeds as tests: one trial per chaos seed over chaos/standard.json, so that
//! `cargo nextest run --test seeds --partition hash:K/N` spreads a sweep over machines.
//!
//! The default `cargo test` runs a small sweep (seeds 0..16). `DPSIM_SEEDS=A..B` selects
//! another range, e.g. `DPSIM_SEEDS=0..10000 cargo nextest run --release --test seeds
//! --partition hash:1/4`. `DPSIM_CHAOS_BASE` picks another base scenario.

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let seeds = std::env::var("DPSIM_SEEDS").unwrap_or_else(|_| "0..16".into());
    let seeds = dpsim::chaos::parse_seeds(&seeds).unwrap_or_else(|e| panic!("DPSIM_SEEDS: {e}"));
    let base_path = std::env::var("DPSIM_CHAOS_BASE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json")));
    let base = dpsim::scenario::load_file(&base_path).unwrap_or_else(|e| panic!("{e}"));
    let trials = seeds
        .map(|seed| {
            let base = base.clone();
            let path = base_path.clone();
            Trial::test(format!("seed_{seed:06}"), move || {
                let (outcome, scenario) = dpsim::chaos::run_seed(&base, seed, &dpsim::runner::Programs::default());
                if !outcome.failed() {
                    return Ok(());
                }
                let file = std::env::temp_dir().join(format!("dpsim-seed-{seed}.json"));
                let _ = std::fs::write(&file, scenario.to_file_text());
                let what: Vec<String> = outcome
                    .violations
                    .iter()
                    .map(|v| format!("{} at {}: {}", v.invariant, dpsim::time::stamp(v.at), v.message))
                    .chain(outcome.error.clone())
                    .collect();
                Err(Failed::from(format!(
                    "seed {seed} over {}:\n  {}\nrepro: cargo run --release -- run {}",
                    path.display(),
                    what.join("\n  "),
                    file.display()
                )))
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
