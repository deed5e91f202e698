//! Same scenario and seed: byte-identical output. Different seed, where randomness matters:
//! different output.

use std::path::Path;

use dpsim::Simulation;

/// The full output of a run: the report and the raw events, as bytes.
fn run_bytes(path: &Path, seed: Option<u64>) -> String {
    let mut sim = Simulation::from_file(path).unwrap_or_else(|e| panic!("{e}"));
    if let Some(seed) = seed {
        sim = sim.seed(seed);
    }
    let (report, out) = sim.run_traced(None).unwrap_or_else(|e| panic!("{e}"));
    let raw = serde_json::json!({"journal": out.journal, "observations": out.observations});
    format!("{}\n{}\n{}", report.snapshot_text(), serde_json::to_string(&report).unwrap(), raw)
}

#[test]
fn every_scenario_twice_gives_byte_identical_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "json")) {
        let first = run_bytes(path, None);
        let second = run_bytes(path, None);
        assert!(first == second, "{} is not deterministic", path.display());
    }
}

#[test]
fn another_seed_changes_a_scenario_with_random_latency() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/jittery-network.json");
    let one = run_bytes(&path, Some(1));
    let two = run_bytes(&path, Some(2));
    assert_ne!(one, two, "network jitter is drawn from the seed");
    assert_eq!(one, run_bytes(&path, Some(1)));
}
