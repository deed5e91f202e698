//! Service defects found in review, each with the test that failed before its fix: AWS's size
//! limits before any graph work, bounded periods, cascades that end running leases, RERUN that
//! cannot release a dependent twice, `@` fields runners cannot overwrite, and the API model's
//! own limits (DeletePipeline's errors, errorMessage, QueryObjects' selectors).

use crate::protocol::{ErrorCode, Operation, Request};
use crate::service::{Outcome, Service, Settings};
use serde_json::{Value, json};

const T0: u64 = 1_767_225_600_000;

fn call(svc: &mut Service, at: u64, op: Operation, body: Value) -> Result<Value, ErrorCode> {
    let request = Request::parse(op, body.to_string().as_bytes()).map_err(|e| e.code)?;
    match svc.handle(at, request) {
        Ok(Outcome::Done(r)) => Ok(serde_json::to_value(r).unwrap()),
        Ok(Outcome::PollHeld(_)) => panic!("{op} was held"),
        Err(e) => Err(e.code),
    }
}

fn ok(svc: &mut Service, at: u64, op: Operation, body: Value) -> Value {
    call(svc, at, op, body.clone()).unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

fn activity(id: &str, group: &str, extra: &[(&str, &str)], deps: &[&str]) -> Value {
    let mut fields = vec![
        json!({"key": "type", "stringValue": "ShellCommandActivity"}),
        json!({"key": "workerGroup", "stringValue": group}),
    ];
    fields.extend(extra.iter().map(|(k, v)| json!({"key": k, "stringValue": v})));
    fields.extend(deps.iter().map(|d| json!({"key": "dependsOn", "refValue": d})));
    json!({"id": id, "name": id, "fields": fields})
}

/// A service with one activated pipeline of these objects.
fn service(objects: Value) -> (Service, String) {
    let mut svc = Service::new(Settings { poll_hold_ms: 0, ..Settings::default() }, T0);
    let id = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}))["pipelineId"]
        .as_str()
        .unwrap()
        .to_string();
    let put = ok(&mut svc, T0, Operation::PutPipelineDefinition, json!({"pipelineId": id, "pipelineObjects": objects}));
    assert_eq!(put["errored"], false, "{put}");
    ok(&mut svc, T0, Operation::ActivatePipeline, json!({"pipelineId": id}));
    (svc, id)
}

fn poll(svc: &mut Service, at: u64, group: &str) -> Option<String> {
    let out = ok(svc, at, Operation::PollForTask, json!({"workerGroup": group, "hostname": "r"}));
    out["taskObject"]["taskId"].as_str().map(str::to_string)
}

fn finish(svc: &mut Service, at: u64, task: &str, status: &str) {
    ok(svc, at, Operation::SetTaskStatus, json!({"taskId": task, "taskStatus": status}));
}

fn instance_of(svc: &mut Service, pipeline: &str, component: &str) -> String {
    let out = ok(
        svc,
        T0,
        Operation::QueryObjects,
        json!({"pipelineId": pipeline, "sphere": "INSTANCE", "query": {"selectors": [
            {"fieldName": "@componentParent", "operator": {"type": "REF_EQ", "values": [component]}}]}}),
    );
    out["ids"][0].as_str().unwrap().to_string()
}

#[test]
fn a_long_parent_chain_is_refused_by_the_object_limit_before_any_graph_work() {
    let mut svc = Service::new(Settings::default(), T0);
    let id = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}))["pipelineId"].clone();
    // 30,000 objects, each the parent of the next: quadratic graph work would freeze the service.
    let objects: Vec<Value> = (0..30_000)
        .map(|i| {
            let mut fields = vec![json!({"key": "type", "stringValue": "X"})];
            if i > 0 {
                fields.push(json!({"key": "parent", "refValue": format!("o{}", i - 1)}));
            }
            json!({"id": format!("o{i}"), "name": format!("o{i}"), "fields": fields})
        })
        .collect();
    for op in [Operation::PutPipelineDefinition, Operation::ValidatePipelineDefinition] {
        let out = ok(&mut svc, T0, op, json!({"pipelineId": id, "pipelineObjects": objects}));
        assert_eq!(out["errored"], true);
        let errors = out["validationErrors"].to_string();
        assert!(errors.contains("at most 100 objects"), "{errors}");
    }
    // Within the limit, a 100-object chain (and a loop in it) validates quickly and correctly.
    let mut chain: Vec<Value> = objects[..99].to_vec();
    chain.push(activity("Copy", "wg", &[], &[]));
    chain[0]["fields"].as_array_mut().unwrap().push(json!({"key": "parent", "refValue": "o98"}));
    let out =
        ok(&mut svc, T0, Operation::ValidatePipelineDefinition, json!({"pipelineId": id, "pipelineObjects": chain}));
    let looped = out["validationErrors"].as_array().unwrap().iter().filter(|e| e.to_string().contains("loops")).count();
    assert_eq!(looped, 99, "every object of the loop is named: {out}");
}

#[test]
fn objects_over_the_field_and_byte_limits_are_refused() {
    let mut svc = Service::new(Settings::default(), T0);
    let id = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}))["pipelineId"].clone();
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("f{i}"), "v".to_string())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let big = "x".repeat(6_000);
    for (objects, words) in [
        (json!([activity("Copy", "wg", &many, &[])]), "at most 50 fields"),
        (json!([activity("Copy", "wg", &[("a", &big), ("b", &big), ("c", &big)], &[])]), "at most 15360 bytes"),
    ] {
        let out = ok(
            &mut svc,
            T0,
            Operation::ValidatePipelineDefinition,
            json!({"pipelineId": id, "pipelineObjects": objects}),
        );
        assert!(out["validationErrors"].to_string().contains(words), "{out}");
    }
}

#[test]
fn absurd_periods_are_refused_and_long_ones_cannot_overflow_deadlines() {
    let mut svc = Service::new(Settings::default(), T0);
    let id = ok(&mut svc, T0, Operation::CreatePipeline, json!({"name": "p", "uniqueId": "u"}))["pipelineId"].clone();
    let objects = json!([activity("Copy", "wg", &[("reportProgressTimeout", "307445734561825 minutes")], &[])]);
    let out = ok(&mut svc, T0, Operation::PutPipelineDefinition, json!({"pipelineId": id, "pipelineObjects": objects}));
    assert_eq!(out["errored"], true);
    assert!(out["validationErrors"].to_string().contains("10-year limit"), "{out}");
    // Nine years is allowed; its deadline is far in the future, not wrapped into the past.
    let (mut svc, _) = service(json!([activity("Copy", "wg", &[("reportProgressTimeout", "470 weeks")], &[])]));
    let t = poll(&mut svc, T0, "wg").unwrap();
    assert_eq!(ok(&mut svc, T0, Operation::ReportTaskProgress, json!({"taskId": t}))["canceled"], false);
    svc.advance(T0 + 365 * 24 * 3_600_000);
    assert_eq!(ok(&mut svc, T0 + 1, Operation::ReportTaskProgress, json!({"taskId": t}))["canceled"], false);
}

#[test]
fn a_cascade_ends_the_running_lease_of_a_dependent() {
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "maximumRetries", "stringValue": "0"}]},
        activity("Extract", "up", &[], &[]),
        activity("Load", "down", &[], &["Extract"])
    ]);
    let (mut svc, pipeline) = service(objects);
    let up = poll(&mut svc, T0, "up").unwrap();
    finish(&mut svc, T0 + 1, &up, "FINISHED");
    let down = poll(&mut svc, T0 + 2, "down").expect("Load is ready once Extract finished");
    assert_eq!(ok(&mut svc, T0 + 3, Operation::ReportTaskProgress, json!({"taskId": down}))["canceled"], false);
    // Extract is rerun and fails this time: Load, still running, fails with it.
    let extract = instance_of(&mut svc, &pipeline, "Extract");
    ok(
        &mut svc,
        T0 + 4,
        Operation::SetStatus,
        json!({"pipelineId": pipeline, "objectIds": [extract], "status": "RERUN"}),
    );
    let again = poll(&mut svc, T0 + 5, "up").unwrap();
    finish(&mut svc, T0 + 6, &again, "FAILED");
    let heard = ok(&mut svc, T0 + 7, Operation::ReportTaskProgress, json!({"taskId": down}));
    assert_eq!(heard["canceled"], true, "Load's runner is told to stop");
}

#[test]
fn rerunning_one_upstream_does_not_release_a_dependent_that_waits_on_another() {
    let objects =
        json!([activity("A", "up", &[], &[]), activity("B", "up", &[], &[]), activity("C", "down", &[], &["A", "B"])]);
    let (mut svc, pipeline) = service(objects);
    let a = poll(&mut svc, T0, "up").unwrap();
    let b = poll(&mut svc, T0, "up").unwrap();
    finish(&mut svc, T0 + 1, &a, "FINISHED");
    let a_instance = instance_of(&mut svc, &pipeline, "A");
    ok(
        &mut svc,
        T0 + 2,
        Operation::SetStatus,
        json!({"pipelineId": pipeline, "objectIds": [a_instance], "status": "RERUN"}),
    );
    let a_again = poll(&mut svc, T0 + 3, "up").unwrap();
    finish(&mut svc, T0 + 4, &a_again, "FINISHED");
    assert_eq!(poll(&mut svc, T0 + 5, "down"), None, "C still waits for B");
    finish(&mut svc, T0 + 6, &b, "FINISHED");
    assert!(poll(&mut svc, T0 + 7, "down").is_some(), "C is ready once both finished");
}

#[test]
fn a_runner_cannot_overwrite_the_service_s_own_fields_nor_report_unbounded_fields() {
    let (mut svc, pipeline) = service(json!([activity("Copy", "wg", &[], &[])]));
    let t = poll(&mut svc, T0, "wg").unwrap();
    let fields =
        json!([{"key": "@status", "stringValue": "FINISHED"}, {"key": "percentComplete", "stringValue": "50"}]);
    ok(&mut svc, T0 + 1, Operation::ReportTaskProgress, json!({"taskId": t, "fields": fields}));
    let attempt =
        ok(&mut svc, T0, Operation::QueryObjects, json!({"pipelineId": pipeline, "sphere": "ATTEMPT"}))["ids"][0]
            .clone();
    let described =
        ok(&mut svc, T0 + 2, Operation::DescribeObjects, json!({"pipelineId": pipeline, "objectIds": [attempt]}));
    let fields = described["pipelineObjects"][0]["fields"].as_array().unwrap().clone();
    let statuses: Vec<&Value> = fields.iter().filter(|f| f["key"] == "@status").collect();
    assert_eq!(statuses.len(), 1, "{fields:?}");
    assert_eq!(statuses[0]["stringValue"], "RUNNING");
    assert!(fields.iter().any(|f| f["key"] == "percentComplete"));
    let query = json!({"pipelineId": pipeline, "sphere": "ATTEMPT", "query": {"selectors": [
        {"fieldName": "@status", "operator": {"type": "EQ", "values": ["FINISHED"]}}]}});
    assert!(ok(&mut svc, T0 + 2, Operation::QueryObjects, query)["ids"].as_array().unwrap().is_empty());
    let many: Vec<Value> = (0..51).map(|i| json!({"key": format!("k{i}"), "stringValue": "v"})).collect();
    let refused = call(&mut svc, T0 + 3, Operation::ReportTaskProgress, json!({"taskId": t, "fields": many}));
    assert_eq!(refused, Err(ErrorCode::InvalidRequestException));
}

#[test]
fn the_api_model_s_own_limits_and_errors() {
    let (mut svc, pipeline) = service(json!([activity("Copy", "wg", &[], &[])]));
    let t = poll(&mut svc, T0, "wg").unwrap();
    // errorMessage has no length limit in the model.
    let long = "e".repeat(20_000);
    ok(&mut svc, T0 + 1, Operation::SetTaskStatus, json!({"taskId": t, "taskStatus": "FAILED", "errorMessage": long}));
    // QueryObjects takes at most 10 selectors.
    let selector = json!({"fieldName": "@status", "operator": {"type": "EQ", "values": ["RUNNING"]}});
    let query = |n: usize| json!({"pipelineId": pipeline, "sphere": "INSTANCE", "query": {"selectors": vec![selector.clone(); n]}});
    assert!(call(&mut svc, T0 + 2, Operation::QueryObjects, query(10)).is_ok());
    assert_eq!(call(&mut svc, T0 + 2, Operation::QueryObjects, query(11)), Err(ErrorCode::InvalidRequestException));
    // Deleting a deleted pipeline: PipelineNotFoundException, the only "no such pipeline" error
    // the model lists for DeletePipeline.
    ok(&mut svc, T0 + 3, Operation::DeletePipeline, json!({"pipelineId": pipeline}));
    let again = call(&mut svc, T0 + 4, Operation::DeletePipeline, json!({"pipelineId": pipeline}));
    assert_eq!(again, Err(ErrorCode::PipelineNotFoundException));
}
