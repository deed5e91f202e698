//! Chaos's false-alarm guard (issue 18): a seed that breaks an invariant is replayed with fixed
//! ticks before it counts. A runner program that breaks the rules every time is confirmed; one
//! that misbehaves only on its first start in a thread (so its replay behaves) is reported as a
//! harness defect, never as a protocol violation.

#[allow(dead_code)]
#[path = "../examples/buggy_runner.rs"]
mod buggy_runner;

#[allow(dead_code)]
#[path = "../examples/sdk_runner.rs"]
mod sdk_runner;

use std::cell::Cell;
use std::path::Path;

use dpsim::check::Invariant;
use dpsim::runner::RunnerEnv;
use dpsim::simulation::Simulation;

thread_local! {
    static STARTED: Cell<bool> = const { Cell::new(false) };
}

/// The buggy runner on its first start in this thread, a correct one afterwards: a program
/// whose behaviour depends on what ran before it, as a harness defect's would.
async fn flaky_runner(env: RunnerEnv) {
    if STARTED.with(|s| !s.replace(true)) {
        buggy_runner::buggy_runner(env).await
    } else {
        sdk_runner::my_runner(env).await
    }
}

fn scenario() -> dpsim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios/buggy-runner-canceled.json");
    let scenario = Simulation::from_file(path).unwrap().scenario().clone();
    // A user's sweep expects no violation.
    scenario.with(["expect_violations=[]"]).unwrap()
}

#[test]
fn a_runner_that_breaks_the_rules_every_time_is_confirmed() {
    let sim = Simulation::new(scenario()).program("buggy-runner", buggy_runner::buggy_runner);
    let outcomes = sim.chaos(0..1, 1).unwrap();
    let o = &outcomes[0];
    assert!(o.violations.iter().any(|v| v.invariant == Invariant::ZombieBound), "{o:?}");
    assert_eq!(o.harness_defect, None);
}

#[test]
fn a_run_its_replay_disagrees_with_is_a_harness_defect() {
    let sim = Simulation::new(scenario()).program("buggy-runner", flaky_runner);
    // Each sweep runs on a thread of its own: its first run is the buggy one.
    let outcomes = sim.chaos(0..1, 1).unwrap();
    let o = &outcomes[0];
    assert!(o.failed(), "a disagreement fails the seed: {o:?}");
    assert!(o.violations.is_empty(), "no protocol violation is reported: {:?}", o.violations);
    let defect = o.harness_defect.as_deref().expect("the disagreement is reported");
    assert!(defect.starts_with("harness defect: the run broke zombie_bound"), "{defect}");
    assert!(defect.contains("its replay with fixed ticks broke"), "{defect}");
}
