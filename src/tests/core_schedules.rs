//! Schedules in the service core, at their boundaries: the instance of a period appears at
//! the exact moment its `scheduleType` gives (cron at the period's start, timeseries at its
//! end) and not a millisecond before, a start N periods in the past backfills N periods,
//! `occurrences` and `endDateTime` stop creation at the right period, `maxActiveInstances`
//! holds, the schedule rules are refused, and QueryObjects selects instances by scheduled time.

use crate::protocol::{ErrorCode, Operation, Request, ServiceError};
use crate::service::{Outcome, Service, Settings};
use crate::time::{HOUR_MS, MINUTE_MS};
use serde_json::{Value, json};

const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn call(svc: &mut Service, at: u64, op: Operation, body: Value) -> Result<Outcome, ServiceError> {
    svc.handle(at, Request::parse(op, body.to_string().as_bytes())?)
}

fn ok(svc: &mut Service, at: u64, op: Operation, body: Value) -> Value {
    match call(svc, at, op, body) {
        Ok(Outcome::Done(r)) => serde_json::to_value(r).unwrap(),
        other => panic!("{op} at {at}: {other:?}"),
    }
}

fn string_fields(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs.iter().map(|(k, v)| json!({"key": k, "stringValue": v})).collect()
}

/// A pipeline with an hourly `Schedule` (its fields given), activities `Extract` and `Load`
/// (Load depends on Extract) using it with `scheduleType`, put at T0. Returns the service and
/// the pipeline id, and the PutPipelineDefinition answer.
fn scheduled(schedule: &[(&str, &str)], kind: &str, activity: &[(&str, &str)]) -> (Service, String, Value) {
    let mut svc = Service::new(Settings { poll_hold_ms: 0, ..Settings::default() }, T0);
    let created = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}));
    let pipeline = created["pipelineId"].as_str().unwrap().to_string();
    let mut default = string_fields(&[("workerGroup", "wg"), ("scheduleType", kind)]);
    default.push(json!({"key": "schedule", "refValue": "Hourly"}));
    let mut sched = string_fields(&[("type", "Schedule")]);
    sched.extend(string_fields(schedule));
    let mut extract = string_fields(&[("type", "ShellCommandActivity")]);
    extract.extend(string_fields(activity));
    let mut load = extract.clone();
    load.push(json!({"key": "dependsOn", "refValue": "Extract"}));
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": default},
        {"id": "Hourly", "name": "Hourly", "fields": sched},
        {"id": "Extract", "name": "Extract", "fields": extract},
        {"id": "Load", "name": "Load", "fields": load},
    ]);
    let put =
        ok(&mut svc, T0, Operation::PutPipelineDefinition, json!({"pipelineId": pipeline, "pipelineObjects": objects}));
    (svc, pipeline, put)
}

fn activate(svc: &mut Service, pipeline: &str, at: u64) -> Result<Outcome, ServiceError> {
    call(svc, at, Operation::ActivatePipeline, json!({"pipelineId": pipeline}))
}

/// The instance ids of an activity, asking the service at `at`.
fn instances(svc: &mut Service, pipeline: &str, at: u64, activity: &str) -> Vec<String> {
    let q = json!({"pipelineId": pipeline, "sphere": "INSTANCE", "query": {"selectors": [
        {"fieldName": "@componentParent", "operator": {"type": "REF_EQ", "values": [activity]}}]}});
    let out = ok(svc, at, Operation::QueryObjects, q);
    out["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// A poll's task: its taskId and the instance its attempt belongs to.
fn poll(svc: &mut Service, at: u64, host: &str) -> Option<(String, String)> {
    let out = ok(svc, at, Operation::PollForTask, json!({"workerGroup": "wg", "hostname": host}));
    let task = out.get("taskObject")?;
    let attempt = task["attemptId"].as_str()?;
    let instance = attempt.rsplit_once("_Attempt=").map_or(attempt, |(i, _)| i);
    Some((task["taskId"].as_str()?.to_string(), instance.to_string()))
}

#[test]
fn a_cron_instance_appears_at_its_period_start_and_a_timeseries_one_at_its_end() {
    for (kind, due) in [("cron", T0 + HOUR_MS), ("timeseries", T0 + 2 * HOUR_MS)] {
        let (mut svc, p, put) =
            scheduled(&[("period", "1 hours"), ("startDateTime", "2026-01-01T01:00:00")], kind, &[]);
        assert_eq!(put["errored"], false, "{put}");
        activate(&mut svc, &p, T0).unwrap();
        assert!(instances(&mut svc, &p, due - 1, "Extract").is_empty(), "{kind}: nothing a millisecond before");
        assert_eq!(instances(&mut svc, &p, due, "Extract"), ["@Extract_2026-01-01T01:00:00"], "{kind} at its moment");
        let described = ok(
            &mut svc,
            due,
            Operation::DescribeObjects,
            json!({"pipelineId": p, "objectIds": ["@Extract_2026-01-01T01:00:00"]}),
        );
        let fields = described["pipelineObjects"][0]["fields"].as_array().unwrap().clone();
        let value = |k: &str| fields.iter().find(|f| f["key"] == k).map(|f| f["stringValue"].clone());
        assert_eq!(value("@scheduledStartTime"), Some(json!("2026-01-01T01:00:00")));
        assert_eq!(value("@scheduledEndTime"), Some(json!("2026-01-01T02:00:00")));
    }
}

#[test]
fn a_start_n_periods_back_backfills_n_periods_at_activation() {
    for n in [1u64, 3, 6] {
        let start = crate::time::format_dp_time(T0 - n * HOUR_MS);
        let (mut svc, p, _) = scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "timeseries", &[]);
        activate(&mut svc, &p, T0).unwrap();
        assert_eq!(instances(&mut svc, &p, T0, "Extract").len() as u64, n, "timeseries: the N ended periods");
        assert_eq!(instances(&mut svc, &p, T0, "Load").len() as u64, n);
        let (mut svc, p, _) = scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "cron", &[]);
        activate(&mut svc, &p, T0).unwrap();
        assert_eq!(instances(&mut svc, &p, T0, "Extract").len() as u64, n + 1, "cron: and the one starting now");
    }
}

#[test]
fn occurrences_and_end_date_time_stop_creation_at_the_right_period() {
    let (mut svc, p, _) = scheduled(
        &[("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME"), ("occurrences", "3")],
        "cron",
        &[],
    );
    activate(&mut svc, &p, T0).unwrap();
    assert_eq!(instances(&mut svc, &p, T0 + 2 * HOUR_MS, "Extract").len(), 3);
    assert_eq!(instances(&mut svc, &p, T0 + 10 * HOUR_MS, "Extract").len(), 3, "no fourth period");
    let (mut svc, p, _) = scheduled(
        &[("period", "1 hours"), ("startDateTime", "2026-01-01T00:00:00"), ("endDateTime", "2026-01-01T03:00:00")],
        "cron",
        &[],
    );
    activate(&mut svc, &p, T0).unwrap();
    let ids = instances(&mut svc, &p, T0 + 10 * HOUR_MS, "Extract");
    assert_eq!(
        ids,
        ["@Extract_2026-01-01T00:00:00", "@Extract_2026-01-01T01:00:00", "@Extract_2026-01-01T02:00:00"],
        "the period starting at endDateTime is not one"
    );
}

#[test]
fn max_active_instances_holds_and_lets_the_next_one_go_when_one_ends() {
    let start = crate::time::format_dp_time(T0 - 5 * HOUR_MS);
    let (mut svc, p, _) =
        scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "timeseries", &[("maxActiveInstances", "2")]);
    activate(&mut svc, &p, T0).unwrap();
    assert_eq!(instances(&mut svc, &p, T0, "Extract").len(), 5);
    let (first, one) = poll(&mut svc, T0, "a").expect("the oldest Extract");
    let (_, two) = poll(&mut svc, T0, "b").expect("a second Extract: two may be active");
    assert_eq!((one.as_str(), two.as_str()), ("@Extract_2025-12-31T19:00:00", "@Extract_2025-12-31T20:00:00"));
    assert_eq!(poll(&mut svc, T0, "c"), None, "a third Extract waits: maxActiveInstances is 2");
    ok(&mut svc, T0 + 1, Operation::ReportTaskProgress, json!({"taskId": first}));
    ok(&mut svc, T0 + 2, Operation::SetTaskStatus, json!({"taskId": first, "taskStatus": "FINISHED"}));
    // The finished Extract lets its period's Load go, and the next Extract (oldest first).
    let mut next: Vec<String> = [poll(&mut svc, T0 + 3, "c"), poll(&mut svc, T0 + 3, "d")]
        .into_iter()
        .map(|t| t.expect("two tasks ready").1)
        .collect();
    next.sort();
    assert_eq!(next, ["@Extract_2025-12-31T21:00:00", "@Load_2025-12-31T19:00:00"]);
    assert_eq!(poll(&mut svc, T0 + 3, "e"), None, "two Extracts and the Load are running; nothing else is ready");
}

#[test]
fn schedules_that_break_the_rules_are_refused_with_the_object_named() {
    let errors = |put: &Value| -> String { put["validationErrors"].to_string() };
    for (schedule, kind, says) in [
        (
            vec![("period", "10 minutes"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")],
            "cron",
            "minimum scheduling interval",
        ),
        (
            vec![
                ("period", "1 hours"),
                ("startAt", "FIRST_ACTIVATION_DATE_TIME"),
                ("occurrences", "2"),
                ("endDateTime", "2027-01-01T00:00:00"),
            ],
            "cron",
            "both endDateTime and occurrences",
        ),
        (vec![("period", "1 hours")], "cron", "no start"),
        (
            vec![("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")],
            "ondemand",
            "ondemand takes no schedule",
        ),
        (
            vec![("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")],
            "weekly",
            "not cron, timeseries or ondemand",
        ),
    ] {
        let (_, _, put) = scheduled(&schedule, kind, &[]);
        assert_eq!(put["errored"], true, "{schedule:?} {kind}: {put}");
        assert!(errors(&put).contains(says), "{says}: {put}");
    }
    let (_, _, put) = scheduled(
        &[("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")],
        "cron",
        &[("maxActiveInstances", "6")],
    );
    assert!(errors(&put).contains("maxActiveInstances"), "{put}");
}

#[test]
fn a_backfill_longer_than_a_day_is_refused_at_activation() {
    let start = crate::time::format_dp_time(T0 - 25 * HOUR_MS);
    let (mut svc, p, put) = scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "timeseries", &[]);
    assert_eq!(put["errored"], false);
    let e = activate(&mut svc, &p, T0).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequestException);
    assert!(e.message.contains("backfill"), "{}", e.message);
    assert!(instances(&mut svc, &p, T0, "Extract").is_empty(), "a refused activation creates nothing");
    let start = crate::time::format_dp_time(T0 - 23 * HOUR_MS);
    let (mut svc, p, _) = scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "timeseries", &[]);
    activate(&mut svc, &p, T0).unwrap();
    assert_eq!(instances(&mut svc, &p, T0, "Extract").len(), 23);
}

#[test]
fn query_objects_selects_instances_by_scheduled_time() {
    let start = crate::time::format_dp_time(T0 - 6 * HOUR_MS);
    let (mut svc, p, _) = scheduled(&[("period", "1 hours"), ("startDateTime", &start)], "timeseries", &[]);
    activate(&mut svc, &p, T0).unwrap();
    let select = |svc: &mut Service, kind: &str, values: Value| -> Vec<String> {
        let q = json!({"pipelineId": p, "sphere": "INSTANCE", "query": {"selectors": [
            {"fieldName": "@componentParent", "operator": {"type": "REF_EQ", "values": ["Extract"]}},
            {"fieldName": "@scheduledStartTime", "operator": {"type": kind, "values": values}}]}});
        let out = ok(svc, T0, Operation::QueryObjects, q);
        out["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(select(&mut svc, "GE", json!(["2025-12-31T22:00:00"])).len(), 2);
    assert_eq!(select(&mut svc, "LE", json!(["2025-12-31T19:00:00"])).len(), 2);
    assert_eq!(
        select(&mut svc, "BETWEEN", json!(["2025-12-31T20:00:00", "2025-12-31T21:30:00Z"])),
        ["@Extract_2025-12-31T20:00:00", "@Extract_2025-12-31T21:00:00"]
    );
    assert_eq!(select(&mut svc, "GE", json!([crate::time::format_dp_time(T0 + 30 * MINUTE_MS)])).len(), 0);
}

#[test]
fn first_activation_date_time_starts_at_the_whole_second_of_the_activation() {
    let (mut svc, p, _) =
        scheduled(&[("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")], "timeseries", &[]);
    activate(&mut svc, &p, T0 + 600).unwrap();
    assert!(instances(&mut svc, &p, T0 + HOUR_MS - 1, "Extract").is_empty());
    assert_eq!(
        instances(&mut svc, &p, T0 + HOUR_MS, "Extract"),
        ["@Extract_2026-01-01T00:00:00"],
        "object times have second resolution: the period is 00:00:00 .. 01:00:00"
    );
}

#[test]
fn a_run_that_stops_when_done_waits_for_the_periods_still_to_come() {
    let scenario = crate::scenario::parse(
        r#"{"duration": "1d", "pipelines": [{"name": "p", "definition": {"objects": [
              {"id": "Default", "name": "Default", "scheduleType": "cron", "workerGroup": "wg", "schedule": {"ref": "S"}},
              {"id": "S", "name": "S", "type": "Schedule", "period": "1 hours", "startAt": "FIRST_ACTIVATION_DATE_TIME", "occurrences": "3"},
              {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "command": "c.sh", "myWorkTime": "5 minutes"}]}}],
            "runners": [{"name": "r", "worker_group": "wg"}]}"#,
    )
    .unwrap();
    let out = crate::sim::run(&scenario, 1, &crate::runner::Programs::default(), None).unwrap();
    let finished = out.instances.iter().filter(|i| i.status == "FINISHED").count();
    assert_eq!((out.instances.len(), finished), (3, 3), "{:?}", out.instances);
    assert!(out.finished_early, "it stops once the last period's instance is over");
    assert!(out.end_ms > 2 * HOUR_MS && out.end_ms < 3 * HOUR_MS, "ended at {} ms", out.end_ms);
}
