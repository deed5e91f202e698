//! My runner under dpsim: a lost acknowledgement, a snapshot of its ownership log, a chaos
//! sweep whose seeds CI can set (`DPSIM_SEEDS=0..1000 cargo test`), and every plan of one
//! fault (`DPSIM_FAULTS=2 cargo test` for every plan of two).

use dpsim::runner::RunnerEnv;
use dpsim::simulation::Simulation;
use my_task_runner::Runner;

/// My runner as a dpsim program: the production code, with the simulated SDK client.
async fn my_runner(env: RunnerEnv) {
    let runner =
        Runner { client: env.sdk_client(), worker_group: env.worker_group().into(), hostname: env.hostname().into() };
    runner.run().await;
}

fn simulation(file: &str) -> Simulation {
    Simulation::from_file(format!("tests/scenarios/{file}")).unwrap().program("my-runner", my_runner)
}

#[test]
fn a_lost_acknowledgement_hands_the_task_over() {
    let report = simulation("ack-lost.json").run_test();
    insta::assert_snapshot!(report.log_text());
}

#[test]
fn the_same_scenario_prints_the_same_log_twice() {
    let first = simulation("ack-lost.json").run_test().log_text();
    let second = simulation("ack-lost.json").run_test().log_text();
    assert_eq!(first, second);
}

#[test]
fn chaos_finds_nothing() {
    let result = simulation("chaos.json").chaos_test(0..10, "tests/failures");
    assert!(result.failed_seeds().is_empty());
}

#[test]
fn no_plan_of_one_fault_breaks_an_invariant() {
    let result = simulation("verify.json").verify_test(1, "tests/failures");
    assert!(result.proved(), "{}", result.verdict);
}
