//! Harness defects found in review, each with the test that failed before its fix: partitions
//! that drop silently (refusal on request), duplicates that do not hold up the original,
//! `repair` releasing held messages, a link's latency keeping the network's jitter, restarts of
//! processes that never crashed, and a panicking runner failing one chaos seed, not the sweep.

use dpsim::report::Report;
use dpsim::runner::Programs;
use dpsim::scenario::{Scenario, parse};
use dpsim::simulation::Simulation;

/// Two runners on their own machines, `tasks` activations of a 12-minute task.
fn scenario(tasks: u32, network: &str, events: &str) -> Scenario {
    parse(&format!(
        r#"{{"seed": 1, "duration": "2h", "network": {network},
        "pipelines": [{{"name": "copy", "activations": {tasks}, "definition": {{"objects": [
            {{"id": "Default", "name": "Default", "scheduleType": "ondemand"}},
            {{"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1",
              "myWorkTime": "12 minutes", "retryDelay": "2 minutes"}}]}}}}],
        "runners": [{{"name": "runner-a", "worker_group": "wg-1"}},
                    {{"name": "runner-b", "worker_group": "wg-1", "start_at": "30s"}}],
        "events": {events}}}"#
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: Scenario) -> Report {
    Simulation::new(s).run().unwrap()
}

fn lines(report: &Report, words: &[&str]) -> Vec<String> {
    report.log_text().lines().filter(|l| words.iter().all(|w| l.contains(w))).map(str::to_string).collect()
}

#[test]
fn a_partition_drops_silently_by_default_and_refuses_only_when_asked() {
    let cut = |refuse: bool| {
        format!(
            r#"[{{"at": "3m", "do": {{"kind": "partition", "machine": "runner-a", "refuse": {refuse}}}}},
                {{"at": "20m", "do": {{"kind": "repair", "machine": "runner-a"}}}}]"#
        )
    };
    let silent = run(scenario(1, "{}", &cut(false)));
    assert!(lines(&silent, &["call failed", "runner-a", "refused"]).is_empty(), "{}", silent.log_text());
    assert!(!lines(&silent, &["call failed", "runner-a", "timed out"]).is_empty());
    assert_eq!(lines(&silent, &["event", "silent: packets dropped, calls time out"]).len(), 1);
    let refused = run(scenario(1, "{}", &cut(true)));
    assert!(!lines(&refused, &["call failed", "runner-a", "connection refused"]).is_empty(), "{}", refused.log_text());
    assert_eq!(lines(&refused, &["event", "refused: connects fail at once"]).len(), 1);
}

#[test]
fn a_duplicate_does_not_hold_up_the_original_and_its_copy_arrives_later() {
    // runner-a's first poll is duplicated, the copy 30 s later: the original hands it t1 at
    // once; the copy, a second poll in runner-a's name, is handed the second task, which
    // runner-a never hears of, so that lease expires unacknowledged.
    let events = r#"[{"at": "0s", "do": {"kind": "message", "operation": "PollForTask", "runner": "runner-a",
                      "effect": {"type": "duplicate", "after": "30s"}}}]"#;
    let s = scenario(2, "{}", events).with(["runners.1.start_at=10m"]).unwrap();
    let report = run(s);
    let log = report.log_text();
    let first = lines(&report, &["assigned", "runner-a", "t1"]);
    assert!(first.len() == 1 && first[0].starts_with("+00:00:00."), "{log}");
    let copy = lines(&report, &["assigned", "runner-a", "t2"]);
    assert!(copy.len() == 1 && copy[0].starts_with("+00:00:30."), "the copy reaches the service 30 s later:\n{log}");
    assert_eq!(lines(&report, &["expired", "runner-a", "t2", "not acknowledged"]).len(), 1, "{log}");
}

#[test]
fn repair_releases_what_a_hold_kept() {
    // runner-a's 5-minute report is held on the link from 4m59s; the repair at 5m10s, within
    // the call's 20 s timeout, delivers it, so the lease is renewed then (before the fix only a
    // release delivered held messages: the report was lost and timed out).
    let events = r#"[{"at": "4m59s", "do": {"kind": "hold", "machine": "runner-a"}},
                     {"at": "5m10s", "do": {"kind": "repair", "machine": "runner-a"}}]"#;
    let report = run(scenario(1, r#"{"latency": "0s"}"#, events));
    let renewed = lines(&report, &["renewed", "runner-a", "t1"]);
    assert!(renewed.iter().any(|l| l.starts_with("+00:05:10.")), "{}", report.log_text());
    assert!(lines(&report, &["call failed"]).is_empty(), "{}", report.log_text());
}

#[test]
fn a_link_latency_change_keeps_the_network_s_jitter() {
    // After the latency change, jitter drawn from the seed still varies arrival times: two
    // seeds give different logs (before the fix, set_link_latency wiped the jitter and they
    // were identical).
    let events = r#"[{"at": "0s", "do": {"kind": "latency", "machine": "runner-a", "latency": "50ms"}},
                     {"at": "0s", "do": {"kind": "latency", "machine": "runner-b", "latency": "50ms"}}]"#;
    let with_seed = |seed: u64| {
        let s = scenario(1, r#"{"latency": "0s", "jitter": "900ms"}"#, events);
        run(s.with([format!("seed={seed}")]).unwrap()).log_text()
    };
    assert_ne!(with_seed(1), with_seed(2));
}

#[test]
fn restarting_what_never_crashed_kills_and_starts_it_afresh_with_no_open_work() {
    for restart in
        [r#"{"kind": "restart_runner", "runner": "runner-a"}"#, r#"{"kind": "restart_machine", "machine": "runner-a"}"#]
    {
        let events = format!(r#"[{{"at": "3m", "do": {restart}}}]"#);
        let report = run(scenario(1, "{}", &events));
        let log = report.log_text();
        assert_eq!(lines(&report, &["crashed", "runner-a"]).len(), 1, "{restart}:\n{log}");
        assert_eq!(lines(&report, &["restarted", "runner-a"]).len(), 1, "{log}");
        assert_eq!(report.summary.zombies, 0, "no false zombie work:\n{log}");
        assert!(report.violations.is_empty(), "{}", report.summary_text());
        assert!(report.finished_early, "the run stops early once the task is done:\n{}", report.summary_text());
    }
}

#[test]
fn a_panicking_runner_fails_its_chaos_seed_not_the_sweep() {
    let s = scenario(1, "{}", "[]").with(["runners.0.program=panics"]).unwrap();
    let mut programs = Programs::new();
    programs.register("panics", |_env| async { panic!("a runner program's bug") });
    let outcomes = Simulation::new(s).programs(programs).chaos(0..3, 1).unwrap();
    assert_eq!(outcomes.len(), 3, "every seed ran");
    for o in &outcomes {
        let error = o.error.as_deref().unwrap_or_default();
        assert!(error.contains("panicked"), "seed {} reports the panic: {error:?}", o.seed);
    }
}

/// Hostile input, each refused or bounded (it crashed, hung or wrapped before).
mod hostile {
    use super::*;

    /// A ladder of `layers` diamonds: each layer's two activities depend on both of the last.
    fn ladder(layers: usize) -> String {
        let mut objects = vec![
            serde_json::json!({"id": "Default", "name": "Default", "scheduleType": "ondemand", "workerGroup": "wg"}),
        ];
        for k in 0..layers {
            for s in ["a", "b"] {
                let mut o =
                    serde_json::json!({"id": format!("A{k}{s}"), "type": "ShellCommandActivity", "myWorkTime": "1m"});
                if k > 0 {
                    o["dependsOn"] =
                        serde_json::json!([{"ref": format!("A{}a", k - 1)}, {"ref": format!("A{}b", k - 1)}]);
                }
                objects.push(o);
            }
        }
        serde_json::json!({"duration": "3m", "pipelines": [{"name": "p", "definition": {"objects": objects}}],
                           "runners": [{"name": "r", "worker_group": "wg"}]})
        .to_string()
    }

    #[test]
    fn the_work_gets_done_bound_walks_a_ladder_of_diamonds_once() {
        // 2^40 paths: walked path by path, this never ended.
        let report = run(parse(&ladder(40)).unwrap());
        assert!(report.passed(), "{}", report.violations_text());
    }

    #[test]
    fn counts_and_durations_beyond_any_run_are_refused_before_anything_is_built() {
        let base = r#"{"duration": "1h", "pipelines": [{"name": "p", "copies": 1, "activations": 1, "definition": {"objects": [
            {"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}]}}],
            "runners": [{"name": "a", "count": 1, "worker_group": "wg"}]}"#;
        for (from, to, path) in [
            (r#""count": 1"#, r#""count": 4294967295"#, "runners"),
            (r#""copies": 1"#, r#""copies": 4294967295"#, "pipelines"),
            (r#""activations": 1"#, r#""activations": 4294967295"#, "pipelines"),
            (r#""duration": "1h""#, r#""duration": "18446744073709551615ms""#, "duration"),
            (
                r#""duration": "1h""#,
                r#""duration": "1h", "operator": {"concurrency": 4294967295}"#,
                "operator.concurrency",
            ),
            (
                r#""duration": "1h""#,
                r#""duration": "1h", "network": {"latency": "18446744073709551615ms", "jitter": "1ms"}"#,
                "network.latency",
            ),
        ] {
            let e = parse(&base.replace(from, to)).expect_err(to).to_string();
            assert!(e.contains(&format!("at {path}")), "{to}: {e}");
        }
    }

    #[test]
    fn a_long_idle_stretch_takes_as_many_engine_steps_as_it_needs() {
        // 50 days of 1 ms ticks with nothing to do: more ticks than one turmoil step takes.
        let s = parse(r#"{"duration": "50d", "tick": "1ms", "pipelines": [], "runners": []}"#).unwrap();
        let report = run(s);
        assert_eq!(report.end_ms, 50 * 86_400_000);
    }

    #[test]
    fn the_last_u64_is_no_seed() {
        assert!(dpsim::chaos::parse_seeds("18446744073709551615").is_err());
        assert_eq!(dpsim::chaos::parse_seeds("18446744073709551614"), Ok(18446744073709551614..u64::MAX));
    }
}
