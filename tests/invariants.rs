//! The invariants catch a deliberately broken service, and stay quiet on a correct one.

use dpsim::report::Report;
use dpsim::scenario::{Scenario, load_file};

fn run(scenario: &Scenario) -> Report {
    let out = dpsim::sim::run(scenario, scenario.seed, &dpsim::runner::Programs::default(), None).unwrap();
    Report::new("test", scenario, &out)
}

fn delayed_report() -> Scenario {
    load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/progress-report-delayed-past-15-minutes.json"
    )))
    .unwrap()
}

#[test]
fn a_correct_service_breaks_no_invariant() {
    let report = run(&delayed_report());
    assert!(report.violations.is_empty(), "{}", report.violations_text());
}

#[test]
fn a_service_that_revives_late_leases_is_caught_with_the_transitions_that_led_to_it() {
    let mut scenario = delayed_report();
    scenario.service.bug = Some(dpsim::service::Bug::ExtendLeaseOnLateReport);
    let report = run(&scenario);
    // The history checker, judging only the calls and answers at the edge, catches it too.
    let history = report.violations.iter().find(|v| v.invariant == "history").expect("the history checker catches it");
    assert!(history.message.contains("its progress deadline passed"), "{}", history.message);
    assert_eq!(history.runner.as_deref(), Some("runner-a"));
    let first = report.violations.iter().find(|v| v.invariant == "stale_no_change").expect("the broken rule is caught");
    assert_eq!(first.task.as_deref(), Some("Copy@1"));
    assert_eq!(first.runner.as_deref(), Some("runner-a"));
    let trail: Vec<&str> = first.trail.iter().map(|l| l.what.as_str()).collect();
    assert!(trail.contains(&"expired") && trail.last() == Some(&"renewed"), "{trail:?}");
    assert!(!report.passed());
}

#[test]
fn a_service_that_ignores_try_cancel_is_caught_by_the_history_checker_alone() {
    let mut scenario = load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/try-cancel-while-running.json"
    )))
    .unwrap();
    assert!(run(&scenario).violations.is_empty(), "the correct service breaks nothing");
    scenario.service.bug = Some(dpsim::service::Bug::IgnoreTryCancel);
    let report = run(&scenario);
    // The service writes no "canceled" event, so the journal-based cancel_learned has nothing
    // to check; the history checker holds the answers against the answered TRY_CANCEL.
    assert!(report.violations.iter().all(|v| v.invariant != "cancel_learned"));
    let history = report.violations.iter().find(|v| v.invariant == "history").expect("caught from the edge");
    assert!(history.message.contains("TRY_CANCEL was answered"), "{}", history.message);
}

#[test]
fn a_fault_that_hits_another_runner_than_it_names_is_caught() {
    // Two runners on one machine; the fault names runner-b's SetTaskStatus.
    let scenario = load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/duplicate-status-on-shared-machine.json"
    )))
    .unwrap();
    let mut out = dpsim::sim::run(&scenario, scenario.seed, &dpsim::runner::Programs::default(), None).unwrap();
    assert!(Report::new("test", &scenario, &out).violations.is_empty(), "the harness hits the named runner");
    // A harness that applied the fault to the other runner on the shared machine: the edge's
    // record says whose call it hit, and the check holds it against the name.
    let hit = out
        .observations
        .iter_mut()
        .find(|o| matches!(o.kind, dpsim::trace::ObservationKind::MessageFault { .. }))
        .expect("the fault hit a call");
    hit.runner = Some("runner-a".into());
    let report = Report::new("test", &scenario, &out);
    let v = report.violations.iter().find(|v| v.invariant == "fault_target").expect("caught");
    assert!(v.message.contains("naming runner-b") && v.message.contains("from runner-a"), "{}", v.message);
}
