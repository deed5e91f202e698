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
    scenario.service.bug_extend_lease_on_late_report = true;
    let report = run(&scenario);
    // The history checker, judging only the calls and answers at the edge, catches it too.
    let history = report.violations.iter().find(|v| v.invariant == "history").expect("the history checker catches it");
    assert!(history.message.contains("at or after the lease's deadline"), "{}", history.message);
    assert_eq!(history.runner.as_deref(), Some("runner-a"));
    let first = report.violations.iter().find(|v| v.invariant == "stale_no_change").expect("the broken rule is caught");
    assert_eq!(first.task.as_deref(), Some("Copy@1"));
    assert_eq!(first.runner.as_deref(), Some("runner-a"));
    let trail: Vec<&str> = first.trail.iter().map(|l| l.what.as_str()).collect();
    assert!(trail.contains(&"expired") && trail.last() == Some(&"renewed"), "{trail:?}");
    assert!(!report.passed());
}
