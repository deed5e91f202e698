//! Bad scenario input gets a clear error naming the JSON path, the line and what was expected.

use dpsim::scenario::parse;

const GOOD: &str = r#"{
  "duration": "1h",
  "pipelines": [{"name": "p", "definition": {"objects": [
    {"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}]}}],
  "runners": [{"name": "a", "worker_group": "wg"}]
}"#;

fn error(text: &str) -> String {
    parse(text).expect_err("should be rejected").to_string()
}

#[test]
fn the_reference_scenario_parses() {
    let s = parse(GOOD).unwrap();
    assert!(s.to_file_text().contains("\"tick\": \"100ms\""), "tick defaults to 100 ms");
}

#[test]
fn a_typo_names_the_path_line_column_and_the_expected_keys() {
    let e = error(&GOOD.replace("worker_group", "worker_grup"));
    assert!(e.starts_with("line 5, column"), "{e}");
    assert!(e.contains("at runners[0].worker_grup"), "{e}");
    assert!(e.contains("unknown field `worker_grup`") && e.contains("expected one of"), "{e}");
}

#[test]
fn a_bad_duration_says_what_is_accepted() {
    let e = error(&GOOD.replace("\"1h\"", "\"1 hr\""));
    assert!(e.contains("at duration") && e.contains("line 2"), "{e}");
    assert!(e.contains("15 minutes") && e.contains("90s"), "{e}");
}

#[test]
fn a_wrong_type_names_the_path() {
    let e = error(&GOOD.replace("\"name\": \"a\"", "\"name\": 7"));
    assert!(e.contains("at runners[0].name") && e.contains("expected a string"), "{e}");
}

#[test]
fn names_that_do_not_exist_are_rejected_with_their_path() {
    let with_event = GOOD.replace(
        "\"runners\"",
        "\"events\": [{\"at\": \"1m\", \"do\": {\"kind\": \"pause\", \"runner\": \"ghost\"}}], \"runners\"",
    );
    let e = error(&with_event);
    assert!(e.contains("at events[0].do.runner") && e.contains("no runner is named \"ghost\""), "{e}");
    let with_task = GOOD
        .replace("\"runners\"", "\"expect\": [{\"kind\": \"attempts\", \"task\": \"Cpy\", \"count\": 1}], \"runners\"");
    assert!(error(&with_task).contains("at expect[0].task: no activity has id \"Cpy\""));
}

#[test]
fn a_definition_the_service_would_reject_is_caught_before_running() {
    let e = error(&GOOD.replace(", \"workerGroup\": \"wg\"", ""));
    assert!(e.contains("pipelines[0].definition") && e.contains("no workerGroup"), "{e}");
}

#[test]
fn an_unknown_event_kind_lists_the_known_ones() {
    let e = error(
        &GOOD.replace("\"runners\"", "\"events\": [{\"at\": \"1m\", \"do\": {\"kind\": \"explode\"}}], \"runners\""),
    );
    assert!(e.contains("events[0].do") && e.contains("partition"), "{e}");
}

#[test]
fn the_committed_json_schema_matches_the_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenario.schema.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = serde_json::to_string_pretty(&dpsim::scenario::json_schema()).unwrap() + "\n";
    assert!(
        committed == generated,
        "scenario.schema.json is out of date: run `cargo run -- schema > scenario.schema.json`"
    );
}

#[test]
fn a_count_of_an_event_the_log_never_prints_is_refused() {
    let text = GOOD.replace(
        r#""runners": [{"name": "a", "worker_group": "wg"}]"#,
        r#""runners": [{"name": "a", "worker_group": "wg"}], "expect": [{"kind": "count", "event": "expird", "count": 1}]"#,
    );
    let e = error(&text);
    assert!(e.contains("at expect[0].event") && e.contains("no \"expird\" line"), "{e}");
}

#[test]
fn schedule_settings_and_definitions_out_of_range_are_refused_with_their_path() {
    let with = |service: &str| GOOD.replace("\"runners\"", &format!("\"service\": {service}, \"runners\""));
    let e = error(&with(r#"{"default_max_active_instances": 6}"#));
    assert!(e.contains("at service.default_max_active_instances") && e.contains("1 to 5"), "{e}");
    let e = error(&with(r#"{"minimum_schedule_period": "0s"}"#));
    assert!(e.contains("at service.minimum_schedule_period"), "{e}");
    let scheduled = GOOD.replace(
        r#"{"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}"#,
        r#"{"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg", "schedule": {"ref": "S"}},
           {"id": "S", "type": "Schedule", "period": "5 minutes", "startAt": "FIRST_ACTIVATION_DATE_TIME"}"#,
    );
    let e = error(&scheduled);
    assert!(e.contains("at pipelines[0].definition") && e.contains("minimum scheduling interval"), "{e}");
    assert!(parse(&scheduled.replace("5 minutes", "15 minutes")).is_ok());
}

#[test]
fn copies_that_would_take_another_pipelines_name_are_refused() {
    // `p`'s two copies are created as `p-1` and `p-2`: a pipeline named `p-1` would be the same
    // pipeline (the name is also the uniqueId).
    let objects = r#"{"objects": [{"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}]}"#;
    let text = format!(
        r#"{{"duration": "1h",
            "pipelines": [{{"name": "p", "copies": 2, "definition": {objects}}}, {{"name": "p-1", "definition": {objects}}}],
            "runners": [{{"name": "a", "worker_group": "wg"}}]}}"#
    );
    let e = error(&text);
    assert!(e.contains("at pipelines[1].name") && e.contains("\"p-1\""), "{e}");
}

#[test]
fn a_machine_or_runner_named_like_the_service_or_operator_is_refused() {
    let e = error(&GOOD.replace(r#""worker_group": "wg"}]"#, r#""worker_group": "wg", "machine": "service"}]"#));
    assert!(e.contains("at runners[0].machine") && e.contains("\"service\""), "{e}");
    let e = error(&GOOD.replace(r#""name": "a""#, r#""name": "operator""#));
    assert!(e.contains("at runners[0].name") && e.contains("\"operator\""), "{e}");
}

#[test]
fn an_event_for_an_activity_of_another_pipeline_is_refused() {
    let text = r#"{"duration": "1h",
        "pipelines": [
            {"name": "p", "definition": {"objects": [{"id": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg"}]}},
            {"name": "q", "definition": {"objects": [{"id": "Load", "type": "ShellCommandActivity", "workerGroup": "wg"}]}}],
        "runners": [{"name": "a", "worker_group": "wg"}],
        "events": [{"at": "1m", "do": {"kind": "cancel", "task": "Copy", "pipeline": "q"}}]}"#;
    let e = error(text);
    assert!(e.contains("at events[0].do.task") && e.contains("pipeline \"q\" has no activity \"Copy\""), "{e}");
    assert!(parse(&text.replace(r#""pipeline": "q""#, r#""pipeline": "p""#)).is_ok());
}

#[test]
fn an_unknown_invariant_in_expect_violations_is_rejected_with_its_path() {
    let e = error(&GOOD.replace("\"runners\"", "\"expect_violations\": [\"zombie_bound\", \"nonsense\"], \"runners\""));
    assert!(e.contains("at expect_violations[1]") && e.contains("no invariant is named \"nonsense\""), "{e}");
    assert!(e.contains("single_owner"), "names the invariants that exist: {e}");
}

#[test]
fn an_event_after_the_duration_is_rejected_as_one_that_would_never_apply() {
    let late = |at: &str| {
        GOOD.replace(
            "\"runners\"",
            &format!(
                "\"events\": [{{\"at\": \"{at}\", \"do\": {{\"kind\": \"pause\", \"runner\": \"a\"}}}}], \"runners\""
            ),
        )
    };
    let e = error(&late("5h"));
    assert!(e.contains("at events[0].at") && e.contains("after the scenario's duration"), "{e}");
    assert!(parse(&late("1h")).is_ok(), "an event at the end itself is accepted");
}

#[test]
fn a_bad_event_time_says_what_a_time_or_an_anchor_is() {
    let event = |at: &str| {
        GOOD.replace(
            "\"runners\"",
            &format!("\"events\": [{{\"at\": {at}, \"do\": {{\"kind\": \"pause\", \"runner\": \"a\"}}}}], \"runners\""),
        )
    };
    let e = error(&event("5"));
    assert!(e.contains("at events[0].at") && e.contains("a time since the start") && e.contains("anchor"), "{e}");
    let e = error(&event("\"-1s\""));
    assert!(e.contains("at events[0].at") && e.contains("90s"), "a bad duration says what a duration is: {e}");
    let e = error(&event("{\"anchor\": \"ack_deadline\", \"befor\": \"1s\"}"));
    assert!(e.contains("events[0].at.befor") && e.contains("unknown field `befor`"), "{e}");
}

#[test]
fn a_file_that_is_not_an_object_says_what_a_scenario_is() {
    for (text, found) in [("[]", "it starts with '['"), ("", "the file is empty"), ("  \n", "the file is empty")] {
        let e = error(text);
        assert!(e.contains("a scenario is a JSON object") && e.contains(found), "{text:?}: {e}");
    }
}
