//! SDK-based runners beside dpsim's own: 100 runners of the example runner on the official
//! AWS SDK (`examples/sdk_runner.rs`) and 100 of dpsim's built-in runner, on the same scenario
//! and cadence (a report every minute). Each process runs its side three times and keeps the
//! best run; the two sides alternate for five rounds of fresh processes. Prints the best run of
//! each side (wall time, peak RSS, requests) and the SDK/built-in wall-time ratio of the bests,
//! with the ratio round by round.

#[path = "common/mod.rs"]
mod common;

#[allow(dead_code)]
#[path = "../examples/sdk_runner.rs"]
mod sdk_runner;

use std::time::Instant;

use common::{alternate, best, peak_rss_mb, ratio_range};
use dpsim::simulation::Simulation;

const RUNNERS: u32 = 100;

/// Alternating processes of each side; the best of each is compared (this machine has slow
/// spells longer than a run).
const ROUNDS: usize = 5;

/// Runs in each process; the process reports its best (the first also pays for growing the
/// heap, which later runs reuse).
const REPEATS: usize = 3;

fn scenario(program: Option<&str>) -> dpsim::scenario::Scenario {
    let mut runner = serde_json::json!({"name": "worker", "count": RUNNERS, "machines": 10, "worker_group": "wg",
                                        "report_interval": "1m"});
    if let Some(p) = program {
        runner["program"] = serde_json::json!(p);
    }
    let text = serde_json::json!({
        "description": "runner benchmark", "seed": 7, "duration": "1h", "stop_when_done": false, "log": "anomalies",
        "pipelines": [{"name": "bulk", "activations": 500, "definition": {"objects": [
            {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
            {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg", "myWorkTime": "5 minutes"}]}}],
        "runners": [runner]
    });
    dpsim::scenario::parse(&text.to_string()).expect("valid benchmark scenario")
}

fn side(sdk: bool) {
    let mut best: Option<(f64, dpsim::report::Report, dpsim::trace::Trace)> = None;
    let mut rss = 0.0;
    for run in 0..REPEATS {
        let sim = if sdk {
            Simulation::new(scenario(Some("my-runner"))).program("my-runner", sdk_runner::my_runner)
        } else {
            Simulation::new(scenario(None))
        };
        let start = Instant::now();
        let (report, trace) = sim.run_traced(None).expect("the benchmark runs");
        let wall = start.elapsed().as_secs_f64();
        if run == 0 {
            // The peak of one run: later runs reuse the heap but may fragment it.
            rss = peak_rss_mb();
        }
        if let Some((_, first, _)) = &best {
            assert_eq!(first.log_text(), report.log_text(), "the same scenario gives the same log in every run");
        }
        if best.as_ref().is_none_or(|(w, _, _)| wall < *w) {
            best = Some((wall, report, trace));
        }
    }
    let (wall, report, trace) = best.expect("at least one run");
    let finished = report.summary.statuses.iter().find(|(s, _)| s == "FINISHED").map_or(0, |(_, n)| *n);
    println!(
        "RESULT wall={wall:.3} rss={rss:.1} requests={} finished={finished} tasks={} steps={}",
        trace.requests, report.summary.tasks, trace.steps
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("runners bench: run with `cargo bench --bench runners`");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        side(args.get(i + 1).map(String::as_str) == Some("sdk"));
        return;
    }
    let runs = alternate(ROUNDS, &[("builtin", None), ("sdk", None)]);
    let (builtin, sdk) = (best(&runs[0], "wall"), best(&runs[1], "wall"));
    println!("runners: {RUNNERS} runners on 10 machines, 500 tasks of 5 minutes, 1 simulated hour, a report a minute");
    println!("{:<22} {:>8} {:>12} {:>10} {:>9} {:>7}", "", "wall s", "peak RSS MB", "requests", "finished", "steps");
    for (name, r) in [("dpsim's built-in runner", &builtin), ("SDK runner (example)", &sdk)] {
        println!(
            "{name:<22} {:>8.3} {:>12.1} {:>10.0} {:>9.0} {:>7.0}",
            r["wall"], r["rss"], r["requests"], r["finished"], r["steps"]
        );
    }
    let (low, high) = ratio_range(&runs[1], &runs[0], "wall");
    println!(
        "SDK / built-in wall time (best of {ROUNDS} alternating processes of {REPEATS} runs each): {:.2}x (goal: within 3x); round by round {low:.2}x..{high:.2}x",
        sdk["wall"] / builtin["wall"]
    );
}
