//! Skipping idle time changes nothing: every shipped scenario (scenarios/, the examples' and
//! the chaos bases), with dpsim's runner, the examples' SDK runners and a runner that sleeps
//! for odd durations, gives byte for byte the same report, journal, observations and calls
//! whether the world steps every tick or jumps over idle ones.

#[allow(dead_code)]
#[path = "../examples/sdk_runner.rs"]
mod sdk_runner;

#[allow(dead_code)]
#[path = "../examples/buggy_runner.rs"]
mod buggy_runner;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_datapipeline::types::TaskStatus;
use dpsim::runner::{Programs, RunnerEnv};
use dpsim::scenario::Stepping;
use dpsim::simulation::Simulation;

/// A runner that sleeps with tokio directly, for durations that fall between ticks, and
/// bounds its calls with tokio's timeout: the timers idle skipping must not move.
async fn odd_sleeper(env: RunnerEnv) {
    let client = env.sdk_client();
    let odd = [1_234u64, 7, 99_999, 31_001, 250, 4_567];
    let mut turn = 0usize;
    loop {
        tokio::time::sleep(Duration::from_millis(odd[turn % odd.len()])).await;
        turn += 1;
        let poll = client.poll_for_task().worker_group(env.worker_group()).hostname(env.hostname()).send();
        let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_millis(61_003), poll).await else { continue };
        let Some(task_id) = answer.task_object().and_then(|t| t.task_id()).map(str::to_string) else { continue };
        let work = env.working(&task_id);
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(odd[turn % odd.len()] * 3 + 17)).await;
            turn += 1;
            let _ = client.report_task_progress().task_id(&task_id).send().await;
        }
        work.stop("done");
        let _ = client.set_task_status().task_id(&task_id).task_status(TaskStatus::Finished).send().await;
    }
}

fn programs() -> Programs {
    let mut p = Programs::new();
    p.register("my-runner", sdk_runner::my_runner);
    p.register("buggy-runner", buggy_runner::buggy_runner);
    p.register("odd-sleeper", odd_sleeper);
    p
}

/// Everything a run produces, as bytes.
fn bytes(sim: Simulation, stepping: Stepping) -> String {
    let (report, trace) = sim.stepping(stepping).run_traced(None).unwrap_or_else(|e| panic!("{e}"));
    let raw = serde_json::json!({"journal": trace.journal, "observations": trace.observations, "calls": trace.calls});
    format!("{}\n{}\n{raw}", report.snapshot_text(), serde_json::to_string(&report).unwrap())
}

fn assert_same(name: &str, sim: impl Fn() -> Simulation) {
    let fixed = bytes(sim(), Stepping::FixedTick);
    let skipping = bytes(sim(), Stepping::SkipIdle);
    if fixed != skipping {
        let line = fixed.lines().zip(skipping.lines()).position(|(a, b)| a != b).unwrap_or(0);
        let show = |s: &str| s.lines().nth(line).unwrap_or("").chars().take(400).collect::<String>();
        panic!(
            "{name}: skipping idle time changed the run at line {line}\nfixed:    {}\nskipping: {}",
            show(&fixed),
            show(&skipping)
        );
    }
}

fn json_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|x| x == "json"));
    paths.sort();
    paths
}

#[test]
fn every_shipped_scenario_gives_the_same_run_with_and_without_skipping() {
    let paths: Vec<_> = ["scenarios", "examples/scenarios", "chaos"].into_iter().flat_map(json_files).collect();
    assert!(paths.len() >= 30, "{} scenarios", paths.len());
    for path in &paths {
        assert_same(&path.display().to_string(), || Simulation::from_file(path).unwrap().programs(programs()));
    }
}

#[test]
fn a_runner_sleeping_odd_durations_gives_the_same_run_with_and_without_skipping() {
    let scenario = |seed: u64| {
        let json = format!(
            r#"{{"seed": {seed}, "duration": "3h", "network": {{"latency": "20ms", "jitter": "130ms"}},
                "pipelines": [{{"name": "p", "copies": 3, "definition": {{"objects": [
                    {{"id": "Default", "name": "Default", "scheduleType": "ondemand", "workerGroup": "wg"}},
                    {{"id": "A", "name": "A", "type": "ShellCommandActivity", "command": "a.sh"}},
                    {{"id": "B", "name": "B", "type": "ShellCommandActivity", "command": "b.sh", "dependsOn": {{"ref": "A"}}}}]}}}}],
                "runners": [{{"name": "odd", "count": 3, "program": "odd-sleeper", "worker_group": "wg"}},
                            {{"name": "builtin", "worker_group": "wg", "machine": "m"}},
                            {{"name": "sdk", "program": "my-runner", "worker_group": "wg", "machine": "m"}}],
                "events": [
                    {{"at": "10m", "do": {{"kind": "message", "operation": "ReportTaskProgress", "count": 2,
                                         "effect": {{"type": "drop_response"}}}}}},
                    {{"at": "40m", "do": {{"kind": "crash_runner", "runner": "odd-1"}}}},
                    {{"at": "55m", "do": {{"kind": "restart_runner", "runner": "odd-1"}}}}]}}"#
        );
        Simulation::new(dpsim::scenario::parse(&json).unwrap()).programs(programs())
    };
    for seed in [1, 2, 3] {
        assert_same(&format!("odd sleepers, seed {seed}"), || scenario(seed));
    }
}
