//! `dpsim verify` throughput on a two-runner scenario (ack-at-deadline, every plan of at most
//! two faults): plans per second with state hashing and without it (how many runs it saves,
//! and how much time), beside chaos seeds per second on the same base, each in a fresh process,
//! in one run.

mod common;

use std::time::Instant;

use common::child;

/// Seeds of the chaos sweep beside it.
const SEEDS: u64 = 600;

fn base() -> dpsim::scenario::Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ack-at-deadline.json");
    dpsim::scenario::load_file(std::path::Path::new(path)).expect("ack-at-deadline")
}

/// One search in this (child) process; prints its `RESULT` line.
fn search(prune: bool) {
    let options = dpsim::verify::Options { faults: 2, jobs: 2, prune, ..Default::default() };
    let start = Instant::now();
    let r = dpsim::verify::verify(&base(), &dpsim::runner::Programs::default(), &options);
    let wall = start.elapsed().as_secs_f64();
    println!(
        "RESULT wall={wall} run={} considered={} same_state={} distinct={} proved={}",
        r.run,
        r.considered,
        r.pruned.same_state,
        r.distinct_states,
        u8::from(r.proved())
    );
}

fn chaos() {
    let start = Instant::now();
    let outcomes = dpsim::chaos::sweep(&base(), 0..SEEDS, 2, &dpsim::runner::Programs::default(), &|| {});
    let wall = start.elapsed().as_secs_f64();
    println!("RESULT wall={wall} seeds={}", outcomes.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("verify bench: run with `cargo bench --bench verify`");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        match args.get(i + 1).map(String::as_str) {
            Some("prune") => search(true),
            Some("no-prune") => search(false),
            Some("chaos") => chaos(),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    println!("scenarios/ack-at-deadline.json (two runners), 2 workers, each in a fresh process:");
    let with = child("prune", None);
    let without = child("no-prune", None);
    // The two-fault proof of the two-runner scenario the README's table lists (too slow for a
    // debug `cargo test`): a bench run that does not prove it fails.
    assert!(with["proved"] == 1.0 && without["proved"] == 1.0, "ack-at-deadline is not clean with two faults");
    for (name, r) in [("state hashing on ", &with), ("state hashing off", &without)] {
        println!(
            "verify --faults 2, {name}: {} plans run of {} considered in {:.2} s = {:.0} plans/s; {} distinct end states",
            r["run"],
            r["considered"],
            r["wall"],
            r["run"] / r["wall"],
            r["distinct"]
        );
    }
    println!(
        "state hashing saves {} runs ({:.1}%) and {:.1}% of the time, with the same distinct end states: {}",
        without["run"] - with["run"],
        100.0 * (without["run"] - with["run"]) / without["run"],
        100.0 * (without["wall"] - with["wall"]) / without["wall"],
        with["distinct"] == without["distinct"]
    );
    let c = child("chaos", None);
    let seeds_per_s = c["seeds"] / c["wall"];
    println!("chaos on the same base: {} seeds in {:.2} s = {seeds_per_s:.0} seeds/s", c["seeds"], c["wall"]);
    println!("a verify plan costs {:.2} chaos seeds", seeds_per_s / (with["run"] / with["wall"]));
}
