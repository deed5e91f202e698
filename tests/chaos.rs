//! End to end: chaos finds deliberately broken modes within 200 seeds and shrinks each to a
//! standalone scenario of at most 3 faults that still breaks the same invariant.

use dpsim::Simulation;
use dpsim::chaos::{run_seed, shrink};
use dpsim::check::Invariant;
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, load_file, parse};

fn standard() -> Scenario {
    load_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/standard.json"))).unwrap()
}

/// Finds the first seed from `from` below 200 that breaks `invariant`, shrinks it, and checks
/// the result reproduces.
fn find_and_shrink_from(base: &Scenario, invariant: Invariant, from: u64) {
    find_and_shrink_to(base, invariant, from, 3);
}

/// [`find_and_shrink_from`], shrunk to at most `most` faults.
fn find_and_shrink_to(base: &Scenario, invariant: Invariant, from: u64, most: usize) {
    let (seed, _) = (from..200)
        .map(|seed| run_seed(base, seed, &Programs::default()))
        .find(|(o, _)| o.violations.iter().any(|v| v.invariant == invariant))
        .unwrap_or_else(|| panic!("no seed below 200 broke {invariant}"));
    let seed = seed.seed;
    let small = shrink(base, seed, invariant, 100, &Programs::default()).expect("the failing seed still fails");
    let faults = small.faults();
    assert!(faults <= most, "seed {seed} shrank only to {faults} faults: {}", small.scenario.to_file_text());
    // The written file is a scenario of its own that breaks the same invariant.
    let text = small.scenario.to_file_text();
    let again = parse(&text).expect("the shrunk scenario is valid");
    let violations = Simulation::new(again).run().unwrap().violations;
    assert!(violations.iter().any(|v| v.invariant == invariant), "{text}");
}

fn find_and_shrink(base: &Scenario, invariant: Invariant) {
    find_and_shrink_from(base, invariant, 0);
}

/// One broken rule: chaos over the standard base finds it (the first failing seed below 200 is
/// `first`; the sweep starts there to keep the test fast) and shrinks it.
fn broken(bug: &str, invariant: Invariant, first: u64) {
    let base = standard().with([format!("service.bug={bug}")]).unwrap();
    find_and_shrink_from(&base, invariant, first);
}

#[test]
fn a_service_that_extends_leases_on_late_reports_is_found_and_shrunk() {
    broken("extend_lease_on_late_report", Invariant::History, 1);
}

#[test]
fn a_service_that_ignores_try_cancel_is_found_and_shrunk() {
    broken("ignore_try_cancel", Invariant::History, 6);
}

#[test]
fn a_service_that_ignores_retry_delay_is_found_and_shrunk() {
    broken("ignore_retry_delay", Invariant::History, 0);
}

#[test]
fn a_service_that_accepts_stale_statuses_is_found_and_shrunk() {
    broken("accept_stale_status", Invariant::History, 16);
}

#[test]
fn a_service_that_hands_out_deleted_work_is_found_and_shrunk() {
    broken("hand_out_deleted", Invariant::History, 10);
}

#[test]
fn a_service_that_ignores_dependencies_is_found_and_shrunk() {
    broken("ignore_dependencies", Invariant::History, 0);
}

#[test]
fn a_service_that_allows_an_extra_retry_is_found_and_shrunk() {
    broken("extra_retry", Invariant::History, 0);
}

#[test]
fn a_service_that_ignores_pause_is_found_and_shrunk() {
    broken("ignore_pause", Invariant::History, 16);
}

#[test]
fn a_service_that_skips_waiting_polls_is_found_and_shrunk() {
    broken("skip_held_polls", Invariant::Liveness, 0);
}

#[test]
fn a_service_that_counts_a_missed_ack_as_a_failure_is_found_and_shrunk() {
    broken("ack_expiry_fails_attempt", Invariant::History, 149);
}

#[test]
fn a_runner_that_ignores_canceled_is_found_and_shrunk() {
    let base = standard().with(["runners.0.behaviour.ignore_canceled=true"]).unwrap();
    find_and_shrink(&base, Invariant::ZombieBound);
}

/// A broken schedule rule: chaos over the scheduled base finds it and shrinks it.
fn broken_schedule(bug: &str, invariant: Invariant) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/hourly.json");
    let base = load_file(std::path::Path::new(path)).unwrap().with([format!("service.bug={bug}")]).unwrap();
    find_and_shrink(&base, invariant);
}

#[test]
fn a_service_that_skips_a_period_is_found_and_shrunk() {
    broken_schedule("skip_period", Invariant::Liveness);
}

#[test]
fn a_service_that_gives_a_period_two_instances_is_found_and_shrunk() {
    broken_schedule("duplicate_period", Invariant::OneInstancePerPeriod);
}

#[test]
fn a_service_that_runs_a_finished_instance_again_is_found_and_shrunk() {
    broken_schedule("requeue_finished", Invariant::FinishesOnce);
}

/// The checks share no code with the service: an off-by-one planted in the service's period
/// arithmetic itself (every period after the first starts a period late) is caught by the
/// referee's own account of schedules, on the first seed of the scheduled base.
#[test]
fn a_service_whose_periods_run_late_is_found_and_shrunk() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/hourly.json");
    let base = load_file(std::path::Path::new(path)).unwrap().with(["service.bug=late_periods"]).unwrap();
    find_and_shrink_to(&base, Invariant::Liveness, 0, 2);
}

/// A stale SetTaskStatus FINISHED from an expired lease, taken for the live lease of another
/// runner, is caught (the first failing seed of the standard base is 16).
#[test]
fn a_service_that_finishes_under_the_live_lease_on_a_stale_status_is_found_and_shrunk() {
    let base = standard().with(["service.bug=stale_status_finishes"]).unwrap();
    find_and_shrink_to(&base, Invariant::History, 16, 2);
}

/// A harness that installs a message fault for the first runner on the named runner's machine
/// is caught by `fault_target`, which reads the fault as the scenario wrote it (the first
/// failing seed of the shared-machines base is 41).
#[test]
fn a_harness_that_faults_the_wrong_runner_of_a_machine_is_found_and_shrunk() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/chaos/shared-machines.json");
    let base =
        load_file(std::path::Path::new(path)).unwrap().with(["harness.bug=fault_on_first_runner_of_machine"]).unwrap();
    find_and_shrink_to(&base, Invariant::FaultTarget, 41, 2);
}

#[test]
fn the_correct_service_survives_a_few_seeds_and_plans_are_deterministic() {
    let base = standard();
    for seed in 0..3 {
        let (a, scenario) = run_seed(&base, seed, &dpsim::runner::Programs::default());
        assert!(!a.failed(), "seed {seed}: {:?}", a.violations);
        let (b, again) = run_seed(&base, seed, &dpsim::runner::Programs::default());
        assert_eq!((a.faults, a.violations.len()), (b.faults, b.violations.len()));
        assert_eq!(scenario.to_file_text(), again.to_file_text(), "same seed, same plan");
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
        let file: serde_json::Value = serde_json::from_str(&base.to_file_text()).unwrap();
        assert!(
            file["expect"].as_array().is_some_and(|e| !e.is_empty()),
            "{}: a base states its point with expectations",
            path.display()
        );
        for seed in 0..3 {
            let (outcome, _) = run_seed(&base, seed, &Programs::default());
            assert!(!outcome.failed(), "{} seed {seed}: {:?} {:?}", path.display(), outcome.violations, outcome.error);
        }
    }
}
