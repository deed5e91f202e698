//! `dpsim run` and `dpsim schema` from the outside: exit codes, the seed first, the repro
//! line, JSON output and the files `--out` writes.

use std::process::Command;

fn dpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("dpsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn run_prints_the_seed_first_then_the_log_and_verdicts() {
    let (code, out, _) = dpsim(&["run", "scenarios/happy-path.json"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("seed: 1\n"), "{out}");
    assert!(out.contains("Copy@1  assigned") && out.contains("ok    final status of Copy is FINISHED"), "{out}");
}

#[test]
fn a_failed_expectation_exits_1_with_a_repro_command() {
    let dir = std::env::temp_dir().join(format!("dpsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/happy-path.json")).unwrap();
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, text.replace("\"count\": 1", "\"count\": 2")).unwrap();
    let (code, out, err) = dpsim(&["run", wrong.to_str().unwrap(), "--seed", "9"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("seed: 9\n"));
    assert!(out.contains("FAIL  Copy made 2 attempt(s)"), "{out}");
    assert!(err.contains(&format!("repro: cargo run --release -- run {} --seed 9", wrong.display())), "{err}");
}

#[test]
fn an_invalid_scenario_exits_2_naming_the_place() {
    let dir = std::env::temp_dir().join(format!("dpsim-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"duration\": \"1h\",\n  \"pipelines\": [],\n  \"runners\": [],\n  \"tick\": \"fast\"\n}\n",
    )
    .unwrap();
    let (code, _, err) = dpsim(&["run", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json:5:") && err.contains("at tick") && err.contains("invalid duration"), "{err}");
}

#[test]
fn json_format_and_out_dir() {
    let dir = std::env::temp_dir().join(format!("dpsim-cli-out-{}", std::process::id()));
    let (code, out, _) =
        dpsim(&["run", "scenarios/ack-at-deadline.json", "--format", "json", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("stdout is the JSON report");
    assert_eq!(report["seed"], 1);
    assert_eq!(report["summary"]["reassignments"], 1);
    for file in ["log.txt", "report.json", "events.json"] {
        assert!(dir.join(file).exists(), "{file} written");
    }
    let events: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("events.json")).unwrap()).unwrap();
    assert!(events["journal"].as_array().is_some_and(|j| !j.is_empty()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn schema_prints_the_committed_schema() {
    let (code, out, _) = dpsim(&["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenario.schema.json")).unwrap();
    assert_eq!(out, committed);
}

#[test]
fn chaos_shards_merge_into_the_summary_of_one_sweep() {
    let dir = std::env::temp_dir().join(format!("dpsim-merge-{}", std::process::id()));
    let path = |name: &str| dir.join(name).display().to_string();
    let base = "chaos/shared-machines.json";
    // Four shards of 0..6 (blocks of 2, 2, 1 and 1 seeds), as four machines would run them.
    let shards: Vec<String> = (0..4).map(|i| path(&format!("shard-{i}"))).collect();
    for (i, out) in shards.iter().enumerate() {
        let shard = format!("{i}/4");
        let (_, text, _) =
            dpsim(&["chaos", base, "--seeds", "0..6", "--shard", &shard, "--jobs", "1", "--no-shrink", "--out", out]);
        let block = ["0..2", "2..4", "4..5", "5..6"][i];
        assert!(text.contains(&format!("with seeds {block} ")), "shard {shard} sweeps {block}: {text}");
    }
    dpsim(&["chaos", base, "--seeds", "0..6", "--jobs", "1", "--no-shrink", "--out", &path("whole")]);
    let mut merge_args = vec!["merge"];
    merge_args.extend(shards.iter().map(String::as_str));
    let merged_dir = path("merged");
    merge_args.extend(["--out", merged_dir.as_str()]);
    let (code, out, err) = dpsim(&merge_args);
    assert!(out.contains("merged 4 shard(s)"), "{out}{err}");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name).join("summary.json")).unwrap()).unwrap()
    };
    let (mut merged, mut whole) = (read("merged"), read("whole"));
    for v in [&mut merged, &mut whole] {
        let o = v.as_object_mut().unwrap();
        // Wall times differ; failing seeds' files live in each shard's own directory.
        for key in ["wall_s", "seeds_per_s", "seeds", "failures"] {
            o.remove(key);
        }
    }
    assert_eq!(merged, whole, "shards merge exactly into one sweep");
    assert_eq!(code, if whole["failed_runs"] == 0 { 0 } else { 1 });
    // Overlapping shards would count seeds twice: refused (`chaos-merge` is merge's old name).
    let (code, _, err) = dpsim(&["chaos-merge", &shards[0], &path("whole"), "--out", &path("bad")]);
    // A shard that is not I/N of N > I is refused.
    let (code_bad, _, err_bad) = dpsim(&["chaos", base, "--shard", "4/4"]);
    assert_eq!(code_bad, 2, "{err_bad}");
    assert!(err_bad.contains("0 <= I < N"), "{err_bad}");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("overlap"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_shards_merge_into_the_result_of_one_search() {
    let dir = std::env::temp_dir().join(format!("dpsim-verify-merge-{}", std::process::id()));
    let path = |name: &str| dir.join(name).display().to_string();
    let read = |name: &str, file: &str| std::fs::read_to_string(dir.join(name).join(file)).unwrap();
    // A proof (try-cancel: 473 plans) in four shards, and a counterexample (a deep bug, found
    // after 341 plans) in eight: it falls in the second block of the largest plans, so the
    // first block's findings count and the six after it must not. Each also in one search.
    let cases: [(&str, &str, &[&str], usize); 2] = [
        ("proof", "scenarios/try-cancel-while-running.json", &[], 4),
        ("bug", "scenarios/happy-path.json", &["--set", "service.bug=reassigned_ack_grace"], 8),
    ];
    for (name, scenario, sets, n) in cases {
        let whole = format!("{name}-whole");
        let whole_dir = path(&whole);
        let mut args = vec!["verify", scenario, "--faults", "2", "--out", &whole_dir];
        args.extend(sets);
        let (whole_code, whole_text, err) = dpsim(&args);
        assert!(whole_code <= 1, "{whole_text}{err}");
        let shards: Vec<String> = (0..n).map(|i| path(&format!("{name}-shard-{i}"))).collect();
        for (i, out) in shards.iter().enumerate() {
            let shard = format!("{i}/{n}");
            let mut args = vec!["verify", scenario, "--faults", "2", "--shard", &shard, "--out", out];
            args.extend(sets);
            let (_, text, err) = dpsim(&args);
            assert!(text.contains(&format!("shard {shard}: the smaller plans and plans ")), "{text}{err}");
            if name == "bug" && i < 2 {
                assert_eq!(text.contains("counterexample ("), i == 1, "block {i} of the largest plans: {text}");
            }
        }
        // Given in any order.
        let mut merge_args: Vec<&str> = vec!["merge"];
        merge_args.extend(shards.iter().rev().map(String::as_str));
        let merged = path(&format!("{name}-merged"));
        merge_args.extend(["--out", &merged]);
        let (code, text, err) = dpsim(&merge_args);
        assert_eq!(code, whole_code, "{text}{err}");
        assert!(text.contains(&format!("merged {n} shard(s) of verify ")), "{text}");
        assert_eq!(
            read(&format!("{name}-merged"), "verify.json"),
            read(&whole, "verify.json"),
            "{name}: merged = one search"
        );
        let verdict = |t: &str| t.lines().find(|l| l.starts_with("verdict: ")).map(str::to_string);
        assert_eq!(verdict(&text), verdict(&whole_text), "{text}");
        if name == "bug" {
            assert!(text.contains("counterexample (2 fault(s))"), "{text}");
            assert_eq!(read(&format!("{name}-merged"), "counterexample.json"), read(&whole, "counterexample.json"));
        }
    }
    // Refused: a shard missing, a shard twice, shards of two searches, a chaos sweep's
    // directory beside a search's, a whole search.
    let s = |name: &str, i: u32| path(&format!("{name}-shard-{i}"));
    let refusals: [(Vec<String>, &str); 5] = [
        (vec![s("proof", 0), s("proof", 1), s("proof", 2)], "shard 3/4 is missing"),
        (vec![s("proof", 0), s("proof", 1), s("proof", 1), s("proof", 2), s("proof", 3)], "given twice"),
        (vec![s("proof", 0), s("proof", 1), s("bug", 2), s("proof", 3)], "different searches"),
        (vec![s("proof", 0), "chaos".into()], "neither a summary.json"),
        (vec![path("proof-whole")], "not run with --shard"),
    ];
    for (dirs, why) in refusals {
        let mut args = vec!["merge".to_string()];
        args.extend(dirs);
        args.extend(["--out".to_string(), path("refused")]);
        let (code, _, err) = dpsim(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: expected {why:?} in {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn chaos_compare_runs_both_configurations_on_the_same_plans_and_writes_json_and_html() {
    let dir = std::env::temp_dir().join(format!("dpsim-compare-{}", std::process::id()));
    let out = dir.display().to_string();
    let args = ["chaos", "chaos/report-interval.json", "--seeds", "0..6", "--jobs", "2", "--out", &out];
    let (code, text, err) = dpsim(&[&args[..], &["--set", "runners.0.report_interval=1m"]].concat());
    assert_eq!(code, 0, "{text}{err}");
    for line in ["A: runs 6  failed 0", "B: runs 6  failed 0", "zombie work:", "calls per task:", "B-A p50:"] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["b"], "chaos/report-interval.json with runners.0.report_interval=1m");
    let metrics = json["comparison"]["metrics"].as_array().unwrap();
    let names: Vec<&str> = metrics.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["reassignment latency", "zombie work", "cancel propagation", "calls per task", "simulated makespan"]
    );
    // One figure per seed and configuration; reporting five times as often costs calls.
    let calls = &metrics[3]["configs"];
    assert_eq!((calls[0]["count"].as_u64(), calls[1]["count"].as_u64()), (Some(6), Some(6)));
    assert!(calls[1]["mean"].as_f64() > calls[0]["mean"].as_f64(), "{calls}");
    // "B-A p50" is the difference of the two p50s printed beside it.
    for m in metrics {
        let configs = &m["configs"];
        let Some(p50) = m["differences"].as_array().unwrap().iter().find(|d| d["statistic"] == "p50") else { continue };
        let expected = configs[1]["p50"].as_f64().unwrap() - configs[0]["p50"].as_f64().unwrap();
        assert_eq!(p50["delta"].as_f64(), Some(expected), "{}", m["name"]);
    }
    let page = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert_eq!(page.matches("<svg").count(), 5, "one CDF plot per metric");
    // The same configuration on both sides differs by nothing.
    let (code, text, err) = dpsim(&[&args[..], &["--compare", "chaos/report-interval.json"]].concat());
    assert_eq!(code, 0, "{text}{err}");
    assert!(!text.contains("BEYOND"), "{text}");
    let same: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    for m in same["comparison"]["metrics"].as_array().unwrap() {
        assert_eq!(m["configs"][0]["samples"], m["configs"][1]["samples"], "{}", m["name"]);
    }
    let (code, _, err) = dpsim(&[&args[..], &["--set", "runners.9.report_interval=1m"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--set runners.9.report_interval=1m"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_piped_into_a_reader_that_stops_ends_quietly() {
    // As `dpsim run ... | head -3`: the reader goes away after a few bytes.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dpsim"))
        // The JSON report is about 100 KB: more than a pipe holds, so the writer meets the
        // closed end.
        .args([
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/hourly-backfill-and-outage.json"),
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_chaos_sweep_gives_the_same_summary_with_one_worker_or_two() {
    let dir = std::env::temp_dir().join(format!("dpsim-jobs-{}", std::process::id()));
    let summary = |jobs: &str| -> serde_json::Value {
        let out = dir.join(jobs).display().to_string();
        dpsim(&[
            "chaos",
            "chaos/shared-machines.json",
            "--seeds",
            "0..6",
            "--jobs",
            jobs,
            "--no-shrink",
            "--out",
            &out,
        ]);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(jobs).join("summary.json")).unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        // Wall times differ; failing seeds' files live in each sweep's own directory.
        for key in ["wall_s", "seeds_per_s", "failures"] {
            o.remove(key);
        }
        v
    };
    assert_eq!(summary("1"), summary("2"));
    let _ = std::fs::remove_dir_all(&dir);
    // No workers is not a way to run.
    let (code, _, err) = dpsim(&["chaos", "chaos/shared-machines.json", "--jobs", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--jobs") && err.contains("at least 1"), "{err}");
}

#[test]
fn verify_proves_exits_0_and_a_counterexample_exits_1_with_a_file_that_fails_on_its_own() {
    let dir = std::env::temp_dir().join(format!("dpsim-verify-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    let (code, text, err) = dpsim(&["verify", "scenarios/happy-path.json", "--faults", "1", "--out", out]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("verdict: no plan of at most 1 fault breaks an invariant"), "{text}");
    assert!(!dir.join("counterexample.json").exists());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verify.json")).unwrap()).unwrap();
    assert_eq!(json["bound"], 1);
    assert_eq!(json["levels"][1]["run"], 49, "{json}");

    let set = "service.bug=second_handout_never_expires";
    let (code, text, err) = dpsim(&["verify", "scenarios/happy-path.json", "--set", set, "--out", out, "--json"]);
    assert_eq!(code, 1, "{text}{err}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["counterexample"]["faults"].as_array().unwrap().len(), 2, "{json}");
    let file = dir.join("counterexample.json");
    let (code, _, err) = dpsim(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1, "the counterexample fails on its own: {err}");

    let (code, _, err) = dpsim(&["verify", "scenarios/happy-path.json", "--window", "5m..1m"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FROM must come before TO"), "{err}");
    let (code, _, err) = dpsim(&["verify", "scenarios/happy-path.json", "--set", "service.nope=1"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The failing chaos seed of issue 31 (`chaos/standard.json` with `service.bug`
/// `ignore_try_cancel`, seed 6): 366 violations that are eight problems. The first screen is the
/// grouped summary, not the log; the trails show the first of each group; `-v` shows them all.
#[test]
fn many_violations_print_the_grouped_summary_first() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pages/ignore-try-cancel-seed-6.json");
    let (code, stdout, _) = dpsim(&["run", file]);
    assert_eq!(code, 1);
    let first_screen: Vec<&str> = stdout.lines().take(24).collect();
    let groups = first_screen.iter().filter(|l| l.starts_with("  VIOLATED  ")).count();
    assert_eq!(groups, 8, "{}", first_screen.join("\n"));
    assert!(first_screen[0] == "seed: 6" && first_screen.iter().any(|l| l.starts_with("invariants:")));
    assert!(
        first_screen.iter().any(|l| l.contains("history x30") && l.contains("first at +00:04:03.900 on Extract[1]")),
        "{}",
        first_screen.join("\n")
    );
    assert_eq!(stdout.matches("\nVIOLATION ").count(), 8, "one trail per group");
    assert!(stdout.contains("(366 violations in 8 groups;"));
    let (_, verbose, _) = dpsim(&["-v", "run", file]);
    assert_eq!(verbose.matches("\nVIOLATION ").count() + usize::from(verbose.starts_with("VIOLATION ")), 366);
}

/// `--trace-events`: the run in the Chrome trace event format Perfetto opens: a thread per
/// runner, leases as complete slices, calls and violations as instants; the same bytes twice.
#[test]
fn trace_events_are_chrome_trace_format() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pages/ignore-try-cancel-seed-6.json");
    let dir = std::env::temp_dir().join(format!("dpsim-trace-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    dpsim(&["run", file, "--trace-events", a.to_str().unwrap()]);
    dpsim(&["run", file, "--trace-events", b.to_str().unwrap()]);
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(text, std::fs::read_to_string(&b).unwrap());
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = value["traceEvents"].as_array().unwrap();
    let of = |cat: &str| events.iter().filter(|e| e["cat"] == cat).count();
    assert_eq!((of("lease"), of("violation")), (76, 366));
    assert_eq!(events.iter().filter(|e| e["name"] == "thread_name").count(), 15, "a track per runner");
    for e in events {
        assert!(e["ph"].is_string() && e["pid"].is_u64(), "{e}");
        if e["ph"] != "M" {
            assert!(e["ts"].is_u64(), "{e}");
        }
        if e["ph"] == "X" {
            assert!(e["dur"].is_u64() && e["tid"].is_u64(), "{e}");
        }
    }
}

#[test]
fn runner_refuses_what_it_cannot_call_or_be_with_exit_2() {
    let (code, _, err) =
        dpsim(&["runner", "--endpoint", "https://datapipeline.us-east-1.amazonaws.com", "--worker-group", "wg"]);
    assert_eq!(code, 2);
    assert!(err.contains("plain HTTP") && err.contains("dpsim proxy"), "{err}");
    let (code, _, err) = dpsim(&["runner", "--endpoint", "http://127.0.0.1:9/x", "--worker-group", "wg"]);
    assert_eq!(code, 2);
    assert!(err.contains("give no path"), "{err}");
    let args = ["runner", "--endpoint", "http://127.0.0.1:9", "--scenario", "scenarios/happy-path.json"];
    let (code, _, err) = dpsim(&[&args[..], &["--runner", "nobody"]].concat());
    assert_eq!(code, 2);
    assert!(err.contains("no runner entry named \"nobody\""), "{err}");
    let (code, _, err) =
        dpsim(&["runner", "--endpoint", "http://127.0.0.1:9", "--scenario", "nowhere.json", "--runner", "r"]);
    assert_eq!(code, 2);
    assert!(err.contains("nowhere.json"), "{err}");
}

#[test]
fn runner_keeps_trying_an_endpoint_that_is_down_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpsim"))
        .args(["runner", "--endpoint", "http://127.0.0.1:9", "--worker-group", "wg", "--name", "r1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "a refused connection is a failed call, retried, not the end");
    // SAFETY: signals our own child, whose pid we hold.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!((failed["runner"].as_str(), failed["kind"].as_str()), (Some("r1"), Some("call_failed")), "{stdout}");
    assert!(failed["error"].as_str().unwrap().contains("cannot connect"), "{stdout}");
}
