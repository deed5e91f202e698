//! A small slice of `dpsim fuzz` on every test run: generated requests against `serve`'s whole
//! app (admin routes included) and mutated shipped scenarios against the loader.

use dpsim::fuzz::{FuzzReport, fuzz_requests, fuzz_scenarios};

#[test]
fn generated_requests_and_scenario_mutations_find_nothing() {
    let mut report = FuzzReport::default();
    // Seed 0 duplicates a request on a current-thread runtime within its first 1,500 requests
    // (its copy once panicked outside a `LocalSet`).
    fuzz_requests(0, 1_500, &mut report);
    fuzz_requests(1, 3_000, &mut report);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let bases: Vec<String> = paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    fuzz_scenarios(1, 2_000, &bases, &mut report);
    assert_eq!(report.requests, 4_500);
    assert!(report.unanswered <= 100, "most requests are answered: {report:?}");
    assert_eq!(report.scenarios, 2_000);
    assert_eq!(report.failure_count, 0, "{:#?}", report.failures);
}
