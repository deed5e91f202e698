//! End to end: chaos finds deliberately broken modes within 200 seeds and shrinks each to a
//! standalone scenario of at most 3 faults that still breaks the same invariant.

use dpsim::chaos::shrink::shrink;
use dpsim::chaos::{run_seed, standalone, violations_of};
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, load_file, parse};

fn standard() -> Scenario {
    load_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json"))).unwrap()
}

/// Finds the first failing seed below 200, shrinks it, and checks the result reproduces.
fn find_and_shrink(base: &Scenario, invariant: &str) {
    let (seed, _) = (0..200)
        .map(|seed| run_seed(base, seed, &Programs::default()))
        .find(|(o, _)| o.violations.iter().any(|v| v.invariant == invariant))
        .unwrap_or_else(|| panic!("no seed below 200 broke {invariant}"));
    let seed = seed.seed;
    let small = shrink(base, seed, invariant, 150, &Programs::default()).expect("the failing seed still fails");
    let faults = small.plan.effective().len();
    assert!(faults <= 3, "seed {seed} shrank only to {faults} faults: {:?}", small.plan);
    // The written file is a scenario of its own that breaks the same invariant.
    let text = standalone(&small.scenario);
    let again = parse(&text).expect("the shrunk scenario is valid");
    let (violations, _) = violations_of(&again, &Programs::default()).unwrap();
    assert!(violations.iter().any(|v| v.invariant == invariant), "{text}");
}

#[test]
fn a_service_that_extends_leases_on_late_reports_is_found_and_shrunk() {
    let mut base = standard();
    base.service.bug_extend_lease_on_late_report = true;
    find_and_shrink(&base, "stale_no_change");
}

#[test]
fn the_history_checker_finds_both_broken_services_and_they_shrink() {
    let mut late = standard();
    late.service.bug_extend_lease_on_late_report = true;
    find_and_shrink(&late, "history");
    let mut deaf = standard();
    deaf.service.bug_ignore_try_cancel = true;
    find_and_shrink(&deaf, "history");
}

#[test]
fn a_runner_that_ignores_canceled_is_found_and_shrunk() {
    let mut base = standard();
    base.runners[0].behaviour.ignore_canceled = true;
    find_and_shrink(&base, "zombie_bound");
}

#[test]
fn the_correct_service_survives_a_few_seeds_and_plans_are_deterministic() {
    let base = standard();
    for seed in 0..3 {
        let (a, scenario) = run_seed(&base, seed, &dpsim::runner::Programs::default());
        assert!(!a.failed(), "seed {seed}: {:?}", a.violations);
        let (b, again) = run_seed(&base, seed, &dpsim::runner::Programs::default());
        assert_eq!((a.faults, a.violations.len()), (b.faults, b.violations.len()));
        assert_eq!(standalone(&scenario), standalone(&again), "same seed, same plan");
    }
}
