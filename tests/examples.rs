//! The runner API end to end, with the examples' runners (the official AWS SDK inside the
//! simulation): their scenarios as snapshots, the README example, determinism, message and
//! runner faults on user runners, inferred work, and a buggy runner caught by an invariant and
//! shrunk to a small chaos repro.

#[allow(dead_code)]
#[path = "../examples/sdk_runner.rs"]
mod sdk_runner;

#[allow(dead_code)]
#[path = "../examples/buggy_runner.rs"]
mod buggy_runner;

use std::path::Path;

mod common;

use dpsim::chaos::shrink;
use dpsim::check::{Invariant, Violation};
use dpsim::report::Report;
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, parse};
use dpsim::simulation::{Simulation, SimulationError};

/// The invariants a scenario breaks when run on its own with the examples' programs.
fn broken_by(scenario: Scenario) -> Vec<Violation> {
    Simulation::new(scenario).programs(programs()).run().unwrap().violations
}

fn programs() -> Programs {
    let mut p = Programs::new();
    p.register("my-runner", sdk_runner::my_runner);
    p.register("buggy-runner", buggy_runner::buggy_runner);
    p
}

fn file(path: &str) -> Simulation {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    Simulation::from_file(&path).unwrap_or_else(|e| panic!("{e}")).programs(programs())
}

/// Lines of a report's log that contain every one of `words`.
fn lines_with(report: &Report, words: &[&str]) -> Vec<String> {
    report.log_text().lines().filter(|l| words.iter().all(|w| l.contains(w))).map(str::to_string).collect()
}

#[test]
fn example() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("../examples/scenarios", "*.json", |path| {
            let sim = Simulation::from_file(path).unwrap_or_else(|e| panic!("{e}")).programs(programs());
            let report = sim.run().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(report.passed(), "{}\n{}", report.summary_text(), report.log_text());
            insta::with_settings!({ description => sim.scenario().description().to_string() }, {
                insta::assert_snapshot!(report.snapshot_text());
            });
        });
    });
}

#[test]
fn a_user_runner_whose_ack_is_lost_is_expired_reassigned_and_answered_stale() {
    let report = file("examples/scenarios/sdk-runner-ack-lost.json").run().unwrap();
    assert_eq!(lines_with(&report, &["expired", "runner-a", "t1"]).len(), 1, "{}", report.log_text());
    assert_eq!(lines_with(&report, &["reassigned", "runner-b", "t2"]).len(), 1);
    assert_eq!(lines_with(&report, &["stale call", "runner-a", "t1", "canceled=true"]).len(), 1);
    assert_eq!(lines_with(&report, &["learns lost", "runner-a", "t1"]).len(), 1);
    assert!(report.passed(), "{}", report.summary_text());
}

fn two_runners(events: &str, seed: u64, network: &str) -> Scenario {
    parse(&format!(
        r#"{{"seed": {seed}, "duration": "1h", "network": {network},
        "pipelines": [{{"name": "copy", "definition": {{"objects": [
            {{"id": "Default", "name": "Default", "scheduleType": "ondemand"}},
            {{"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1", "myWorkTime": "10 minutes"}}]}}}}],
        "runners": [{{"name": "runner-a", "program": "my-runner", "worker_group": "wg-1"}},
                    {{"name": "runner-b", "program": "my-runner", "worker_group": "wg-1", "start_at": "30s"}}],
        "events": {events}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_lost_answer_to_the_sdk_ack_is_retried_and_renews_the_lease() {
    let events = r#"[{"at": "0s", "do": {"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a",
                                          "effect": {"type": "drop_response"}}}]"#;
    let report = Simulation::new(two_runners(events, 1, "{}")).programs(programs()).run().unwrap();
    let log = report.log_text();
    assert_eq!(lines_with(&report, &["fault", "runner-a", "drop response #1 ReportTaskProgress"]).len(), 1, "{log}");
    assert_eq!(lines_with(&report, &["acknowledged", "runner-a", "t1"]).len(), 1, "{log}");
    assert!(lines_with(&report, &["call failed", "runner-a", "timed out"]).len() == 1, "{log}");
    assert!(lines_with(&report, &["reassigned"]).is_empty(), "{log}");
    assert_eq!(lines_with(&report, &["finished", "runner-a", "t1"]).len(), 1, "{log}");
    assert!(report.passed(), "{}", report.summary_text());
}

fn bytes(sim: &Simulation) -> String {
    let (report, trace) = sim.run_traced(None).unwrap();
    let raw = serde_json::json!({"journal": trace.journal, "observations": trace.observations, "calls": trace.calls});
    format!("{}\n{}\n{raw}", report.snapshot_text(), serde_json::to_string(&report).unwrap())
}

#[test]
fn sdk_runner_runs_are_byte_identical_and_another_seed_changes_a_jittery_one() {
    let sim = file("examples/scenarios/sdk-runner-ack-lost.json");
    assert!(bytes(&sim) == bytes(&sim), "a rerun with SDK runners differs");
    let events = r#"[{"at": "0s", "do": {"kind": "message", "operation": "PollForTask", "count": 1000,
                      "probability": 0.3, "effect": {"type": "error", "code": "InternalServiceError"}}}]"#;
    let jittery = |seed| {
        Simulation::new(two_runners(events, seed, r#"{"latency": "50ms", "jitter": "400ms"}"#)).programs(programs())
    };
    let one = bytes(&jittery(1));
    assert_eq!(one, bytes(&jittery(1)));
    assert_ne!(one, bytes(&jittery(2)), "network jitter and SDK retry jitter are drawn from the seed");
}

#[test]
fn an_unknown_program_is_a_scenario_error_with_its_path() {
    let scenario = two_runners("[]", 1, "{}").with(["runners.1.program=no-such-runner"]).unwrap();
    match Simulation::new(scenario).programs(programs()).run() {
        Err(SimulationError::Scenario(e)) => {
            assert_eq!(e.path, "runners[1].program");
            assert!(e.to_string().contains("no-such-runner"), "{e}");
        }
        other => panic!("expected a scenario error, got {other:?}"),
    }
    let behaviour = r#"{"duration": "1h", "pipelines": [], "runners": [
        {"name": "a", "program": "my-runner", "worker_group": "wg", "behaviour": {"never_ack": true}}]}"#;
    let e = parse(behaviour).unwrap_err();
    assert_eq!(e.path, "runners[0].behaviour", "{e}");
}

#[test]
fn runner_faults_apply_to_user_runners() {
    // Paused mid-task past its progress deadline: the lease expires, runner-b takes the task,
    // and runner-a learns it lost the task at its first report after it resumes.
    let paused = r#"[{"at": "3m", "do": {"kind": "pause", "runner": "runner-a"}},
                     {"at": "25m", "do": {"kind": "resume", "runner": "runner-a"}}]"#;
    let report = Simulation::new(two_runners(paused, 1, "{}")).programs(programs()).run().unwrap();
    let log = report.log_text();
    assert_eq!(lines_with(&report, &["expired", "runner-a", "t1", "no progress report"]).len(), 1, "{log}");
    assert_eq!(lines_with(&report, &["Copy@2", "assigned", "runner-b", "t2"]).len(), 1, "{log}");
    let learned = lines_with(&report, &["learns lost", "runner-a", "t1"]);
    assert!(learned.len() == 1 && learned[0].starts_with("+00:25:"), "{log}");
    // Crashed: the program's future is dropped (no more calls), and started afresh on restart.
    let crashed = r#"[{"at": "3m", "do": {"kind": "crash_runner", "runner": "runner-a"}},
                      {"at": "30m", "do": {"kind": "restart_runner", "runner": "runner-a"}}]"#;
    let report = Simulation::new(two_runners(crashed, 1, "{}")).programs(programs()).run().unwrap();
    let log = report.log_text();
    assert_eq!(lines_with(&report, &["crashed", "runner-a"]).len(), 1, "{log}");
    assert_eq!(lines_with(&report, &["expired", "runner-a", "t1"]).len(), 1, "{log}");
    assert!(lines_with(&report, &["renewed", "runner-a"]).iter().all(|l| l.as_str() < "+00:03:00"), "{log}");
    // Partitioned: its calls time out; the lease expires and runner-b takes it.
    let cut = r#"[{"at": "3m", "do": {"kind": "partition", "machine": "runner-a"}},
                  {"at": "40m", "do": {"kind": "repair", "machine": "runner-a"}}]"#;
    let report = Simulation::new(two_runners(cut, 1, "{}")).programs(programs()).run().unwrap();
    let log = report.log_text();
    assert_eq!(lines_with(&report, &["Copy@2", "assigned", "runner-b"]).len(), 1, "{log}");
    assert!(!lines_with(&report, &["call failed", "runner-a"]).is_empty(), "{log}");
}

#[test]
fn the_buggy_runner_is_caught_by_zombie_bound_and_shrunk_to_a_small_chaos_repro() {
    let report = file("examples/scenarios/buggy-runner-canceled.json").run().unwrap();
    assert!(report.violations.iter().any(|v| v.invariant == Invariant::ZombieBound), "{}", report.summary_text());
    assert!(report.log_text().contains("(inferred from its calls)"));

    let base = file("examples/scenarios/chaos-buggy-runner.json");
    let programs = programs();
    let outcomes = base.chaos(0..200, 2).unwrap();
    let seed = outcomes
        .iter()
        .find(|o| o.violations.iter().any(|v| v.invariant == Invariant::ZombieBound))
        .map(|o| o.seed)
        .expect("chaos finds the buggy runner within 200 seeds");
    let small =
        shrink(base.scenario(), seed, Invariant::ZombieBound, 150, &programs).expect("the failing seed still fails");
    assert!(small.faults() <= 3, "shrunk to {} faults", small.faults());
    let repro = parse(&small.scenario.to_file_text()).unwrap();
    assert!(
        broken_by(repro).iter().any(|v| v.invariant == Invariant::ZombieBound),
        "the standalone repro fails on its own"
    );
}

#[test]
fn the_readme_scenario_example_passes() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("A complete example").expect("the README shows a complete scenario");
    let block = &readme[start..];
    let json = &block[block.find("```json\n").unwrap() + 8..];
    let json = &json[..json.find("```").unwrap()];
    let scenario = dpsim::scenario::parse(json).expect("the README's example scenario is valid");
    let report = Simulation::new(scenario).run().unwrap();
    assert!(report.passed(), "{}{}{}", report.log_text(), report.summary_text(), report.violations_text());
}

#[test]
fn the_readme_shows_the_example_runner_verbatim() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sdk_runner.rs")).unwrap();
    assert!(
        readme.contains(&format!("```rust\n{example}```")),
        "README's rust block differs from examples/sdk_runner.rs"
    );
}

#[test]
fn the_readme_shows_the_python_test_file_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/python-runner/test_lease_stories.py")).unwrap();
    assert!(
        readme.contains(&format!("```python\n{example}```")),
        "README's python block differs from examples/python-runner/test_lease_stories.py"
    );
}

#[test]
fn explore_and_the_timeline_work_with_user_runners() {
    let sim = file("examples/scenarios/sdk-runner-ack-lost.json");
    let rows = sim.explore().unwrap();
    assert!(rows.iter().any(|r| r.deadline.starts_with("ack t1 (Copy, runner-a)")), "{rows:?}");
    // The user runner's acknowledgement, held to one tick before its deadline, is still lost
    // (the scenario drops it); a competing cancel one tick early cancels the lease.
    let row = |variant: &str| rows.iter().find(|r| r.deadline.starts_with("ack t1") && r.variant == variant);
    assert_eq!(row("cancel -1 tick").map(|r| r.outcome.as_str()), Some("canceled at +00:02:00.500"), "{rows:?}");
    assert!(rows.iter().all(|r| r.violations.is_empty()), "{rows:?}");
    let (_, trace) = file("examples/scenarios/buggy-runner-canceled.json").run_traced(None).unwrap();
    let svg = dpsim::report::timeline_svg("buggy runner", &trace);
    assert!(svg.contains("runner-a") && svg.contains("zombie"), "the picture shows the user runner's zombie work");
}

/// The README's SDK runner, alone on one short task: the base `verify` proves it on.
fn sdk_runner_alone() -> Simulation {
    let s = common::edited(file("examples/scenarios/sdk-runner-ack-lost.json").scenario(), |s| {
        s["runners"].as_array_mut().unwrap().truncate(1);
        s["events"] = serde_json::json!([]);
        s["expect"] = serde_json::json!([]);
        s["pipelines"][0]["definition"]["objects"][1]["myWorkTime"] = "2 minutes".into();
    });
    Simulation::new(s).name("sdk-runner-alone").programs(programs())
}

#[test]
fn the_sdk_runner_is_verified_with_two_faults_through_the_library() {
    let r =
        sdk_runner_alone().verify_with(&dpsim::verify::Options { faults: 2, jobs: 2, ..Default::default() }).unwrap();
    println!("{}", r.verdict);
    assert!(r.proved(), "{}: {:?}", r.verdict, r.counterexample.map(|c| c.labels));
    assert!(r.levels[2].run > 0, "{:?}", r.levels);
}

#[test]
fn verify_finds_the_buggy_runners_bug_with_one_fault() {
    let s = common::edited(file("examples/scenarios/buggy-runner-canceled.json").scenario(), |s| {
        s["events"] = serde_json::json!([]);
        s["expect_violations"] = serde_json::json!([]);
    });
    let sim = Simulation::new(s).name("buggy-runner").programs(programs());
    let r = sim.verify(2).unwrap();
    let c = r.counterexample.expect("verify finds the bug");
    println!("{}: {:?}", r.verdict, c.labels);
    assert!(c.faults.len() <= 2, "{:?}", c.labels);
    assert!(c.violations.iter().any(|v| v.invariant == Invariant::ZombieBound), "{:?}", c.violations);
    let repro = parse(&c.scenario.to_file_text()).unwrap();
    assert!(
        broken_by(repro).iter().any(|v| v.invariant == Invariant::ZombieBound),
        "the counterexample fails on its own"
    );
}
