//! End to end: chaos finds deliberately broken modes within 200 seeds and shrinks each to a
//! standalone scenario of at most 3 faults that still breaks the same invariant.

use dpsim::chaos::shrink::shrink;
use dpsim::chaos::{run_seed, standalone, violations_of};
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, load_file, parse};
use dpsim::service::Bug;

fn standard() -> Scenario {
    load_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json"))).unwrap()
}

/// Finds the first seed from `from` below 200 that breaks `invariant`, shrinks it, and checks
/// the result reproduces.
fn find_and_shrink_from(base: &Scenario, invariant: &str, from: u64) {
    let (seed, _) = (from..200)
        .map(|seed| run_seed(base, seed, &Programs::default()))
        .find(|(o, _)| o.violations.iter().any(|v| v.invariant == invariant))
        .unwrap_or_else(|| panic!("no seed below 200 broke {invariant}"));
    let seed = seed.seed;
    let small = shrink(base, seed, invariant, 100, &Programs::default()).expect("the failing seed still fails");
    let faults = small.plan.effective().len();
    assert!(faults <= 3, "seed {seed} shrank only to {faults} faults: {:?}", small.plan);
    // The written file is a scenario of its own that breaks the same invariant.
    let text = standalone(&small.scenario);
    let again = parse(&text).expect("the shrunk scenario is valid");
    let (violations, _) = violations_of(&again, &Programs::default()).unwrap();
    assert!(violations.iter().any(|v| v.invariant == invariant), "{text}");
}

fn find_and_shrink(base: &Scenario, invariant: &str) {
    find_and_shrink_from(base, invariant, 0);
}

/// One broken rule: chaos over the standard base finds it (the first failing seed below 200 is
/// `first`; the sweep starts there to keep the test fast) and shrinks it.
fn broken(bug: Bug, invariant: &str, first: u64) {
    let mut base = standard();
    base.service.bug = Some(bug);
    find_and_shrink_from(&base, invariant, first);
}

#[test]
fn a_service_that_extends_leases_on_late_reports_is_found_and_shrunk() {
    broken(Bug::ExtendLeaseOnLateReport, "history", 1);
}

#[test]
fn a_service_that_ignores_try_cancel_is_found_and_shrunk() {
    broken(Bug::IgnoreTryCancel, "history", 6);
}

#[test]
fn a_service_that_ignores_retry_delay_is_found_and_shrunk() {
    broken(Bug::IgnoreRetryDelay, "history", 0);
}

#[test]
fn a_service_that_accepts_stale_statuses_is_found_and_shrunk() {
    broken(Bug::AcceptStaleStatus, "history", 16);
}

#[test]
fn a_service_that_hands_out_deleted_work_is_found_and_shrunk() {
    broken(Bug::HandOutDeleted, "history", 10);
}

#[test]
fn a_service_that_ignores_dependencies_is_found_and_shrunk() {
    broken(Bug::IgnoreDependencies, "history", 0);
}

#[test]
fn a_service_that_allows_an_extra_retry_is_found_and_shrunk() {
    broken(Bug::ExtraRetry, "history", 0);
}

#[test]
fn a_service_that_ignores_pause_is_found_and_shrunk() {
    broken(Bug::IgnorePause, "history", 16);
}

#[test]
fn a_service_that_skips_waiting_polls_is_found_and_shrunk() {
    broken(Bug::SkipHeldPolls, "liveness", 0);
}

#[test]
fn a_service_that_counts_a_missed_ack_as_a_failure_is_found_and_shrunk() {
    broken(Bug::AckExpiryFailsAttempt, "history", 149);
}

#[test]
fn a_runner_that_ignores_canceled_is_found_and_shrunk() {
    let mut base = standard();
    base.runners[0].behaviour.ignore_canceled = true;
    find_and_shrink(&base, "zombie_bound");
}

/// A broken schedule rule: chaos over the scheduled base finds it and shrinks it.
fn broken_schedule(bug: Bug, invariant: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/hourly.json");
    let mut base = load_file(std::path::Path::new(path)).unwrap();
    base.service.bug = Some(bug);
    find_and_shrink(&base, invariant);
}

#[test]
fn a_service_that_skips_a_period_is_found_and_shrunk() {
    broken_schedule(Bug::SkipPeriod, "liveness");
}

#[test]
fn a_service_that_gives_a_period_two_instances_is_found_and_shrunk() {
    broken_schedule(Bug::DuplicatePeriod, "one_instance_per_period");
}

#[test]
fn a_service_that_runs_a_finished_instance_again_is_found_and_shrunk() {
    broken_schedule(Bug::RequeueFinished, "finishes_once");
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

#[test]
fn every_shipped_chaos_base_holds_its_expectations_and_invariants_on_a_few_seeds() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/chaos"));
    let mut bases: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    bases.sort();
    assert!(bases.len() >= 3, "several bases: {bases:?}");
    for path in bases {
        let base = load_file(&path).unwrap();
        assert!(!base.expect.is_empty(), "{}: a base states its point with expectations", path.display());
        for seed in 0..3 {
            let (outcome, _) = run_seed(&base, seed, &Programs::default());
            assert!(!outcome.failed(), "{} seed {seed}: {:?} {:?}", path.display(), outcome.violations, outcome.error);
        }
    }
}
