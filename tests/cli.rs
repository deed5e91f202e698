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
