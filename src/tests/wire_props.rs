//! Arbitrary bodies, targets, headers and member values thrown at the router: it never panics,
//! always answers a well-formed AWS success or error, and a rejected call changes nothing.

use super::support;

use crate::protocol::{ErrorCode, Operation};
use crate::wire::Host;
use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::*;

/// Values that hit real objects, edge lengths and forbidden characters.
fn member_value(pipeline: String, task: String) -> impl Strategy<Value = Value> {
    let strings = prop_oneof![
        Just(pipeline),
        Just(task.clone()),
        Just(format!("{task}x")),
        Just("wg".to_string()),
        Just("".to_string()),
        Just("x".repeat(1025)),
        Just("x".repeat(2049)),
        Just("a\u{0}b".to_string()),
        Just("\u{FFFF}".to_string()),
        Just("FINISHED".to_string()),
        Just("TRY_CANCEL".to_string()),
        Just("Service_Boom".to_string()),
        Just("@Copy_2026-01-01T00:00:00".to_string()),
        Just("Copy".to_string()),
        ".{0,40}",
    ];
    let leaf = prop_oneof![
        strings.prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(member_name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "taskId",
            "workerGroup",
            "hostname",
            "fields",
            "key",
            "stringValue",
            "refValue",
            "taskStatus",
            "errorId",
            "pipelineId",
            "objectIds",
            "status",
            "name",
            "uniqueId",
            "pipelineObjects",
            "id",
            "sphere",
            "query",
            "selectors",
            "operator",
            "type",
            "values",
            "taskrunnerId",
            "cancelActive",
            "limit",
            "marker",
            "tags",
            "pipelineIds",
            "startTimestamp",
            "instanceIdentity",
            "parameterValues",
        ])
        .prop_map(String::from),
        "[a-zA-Z]{1,8}",
    ]
}

fn target() -> impl Strategy<Value = Option<String>> {
    let valid: Vec<String> = Operation::ALL.iter().map(|op| format!("DataPipeline.{op}")).collect();
    prop_oneof![
        8 => prop::sample::select(valid).prop_map(Some),
        1 => Just(None),
        1 => ".{0,30}".prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    path: &'static str,
    target: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A valid body for each operation, naming the real pipeline and task; mutated below.
fn templates() -> Vec<(Operation, Value)> {
    vec![
        (Operation::PollForTask, json!({"workerGroup": "wg", "hostname": "b"})),
        (
            Operation::ReportTaskProgress,
            json!({"taskId": "TASK", "fields": [{"key": "percentComplete", "stringValue": "5"}]}),
        ),
        (
            Operation::SetTaskStatus,
            json!({"taskId": "TASK", "taskStatus": "FAILED", "errorId": "E", "errorMessage": "m"}),
        ),
        (Operation::ReportTaskRunnerHeartbeat, json!({"taskrunnerId": "r", "workerGroup": "wg"})),
        (Operation::CreatePipeline, json!({"name": "n", "uniqueId": "u2", "tags": [{"key": "k", "value": "v"}]})),
        (
            Operation::PutPipelineDefinition,
            json!({"pipelineId": "PIPELINE", "pipelineObjects": [{"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "workerGroup", "stringValue": "wg"}]}]}),
        ),
        (Operation::ActivatePipeline, json!({"pipelineId": "PIPELINE"})),
        (Operation::DeactivatePipeline, json!({"pipelineId": "PIPELINE", "cancelActive": false})),
        (Operation::DeletePipeline, json!({"pipelineId": "PIPELINE"})),
        (Operation::SetStatus, json!({"pipelineId": "PIPELINE", "objectIds": ["Copy"], "status": "PAUSE"})),
        (Operation::DescribeObjects, json!({"pipelineId": "PIPELINE", "objectIds": ["Copy"]})),
        (Operation::QueryObjects, json!({"pipelineId": "PIPELINE", "sphere": "ATTEMPT", "limit": 2})),
        (Operation::DescribePipelines, json!({"pipelineIds": ["PIPELINE"]})),
        (Operation::AddTags, json!({"pipelineId": "PIPELINE", "tags": [{"key": "k", "value": "v"}]})),
        (Operation::GetPipelineDefinition, json!({"pipelineId": "PIPELINE", "version": "active"})),
    ]
}

/// A template call with one member replaced by an arbitrary value, removed, or left alone.
fn near_valid(pipeline: String, task: String) -> impl Strategy<Value = Call> {
    (prop::sample::select(templates()), 0usize..4, member_value(pipeline, task), any::<bool>()).prop_map(
        |((op, mut body), which, value, remove)| {
            if let Some(map) = body.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                if which < keys.len() {
                    if remove {
                        map.remove(&keys[which]);
                    } else {
                        map.insert(keys[which].clone(), value);
                    }
                }
            }
            Call {
                method: "POST",
                path: "/",
                target: Some(format!("DataPipeline.{op}")),
                headers: vec![],
                body: serde_json::to_vec(&body).unwrap(),
            }
        },
    )
}

fn calls(pipeline: String, task: String) -> impl Strategy<Value = Call> {
    prop_oneof![2 => near_valid(pipeline.clone(), task.clone()), 1 => raw_calls(pipeline, task)]
}

fn raw_calls(pipeline: String, task: String) -> impl Strategy<Value = Call> {
    let json_body = prop::collection::btree_map(member_name(), member_value(pipeline, task), 0..6)
        .prop_map(|m| serde_json::to_vec(&Value::Object(m.into_iter().collect())).unwrap());
    let body = prop_oneof![
        6 => json_body,
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"null".to_vec()),
        1 => Just(b"[]".to_vec()),
    ];
    let headers = prop::collection::vec(
        (
            prop::sample::select(vec!["content-type", "authorization", "x-amz-date", "x-foo", "content-encoding"]),
            "[ -~]{0,30}",
        ),
        0..3,
    )
    .prop_map(|hs| hs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    (
        prop::sample::select(vec!["POST", "POST", "POST", "POST", "POST", "POST", "GET", "PUT"]),
        prop::sample::select(vec!["/", "/", "/", "/", "/x"]),
        target(),
        headers,
        body,
    )
        .prop_map(|(method, path, target, headers, body)| Call { method, path, target, headers, body })
}

async fn send_call(host: &Host, call: &Call) -> Reply {
    let mut request = Request::builder().method(call.method).uri(call.path);
    if let Some(t) = &call.target
        && let Ok(v) = http::HeaderValue::from_str(t)
    {
        request = request.header("x-amz-target", v);
    }
    for (k, v) in &call.headers {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            request = request.header(k.as_str(), v);
        }
    }
    send(host, request.body(Body::from(call.body.clone())).unwrap()).await
}

fn check_well_formed(reply: &Reply) -> Result<(), TestCaseError> {
    let body: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}: {}", reply.text())))?;
    prop_assert!(body.is_object(), "body is an object: {}", reply.text());
    prop_assert!(reply.headers.contains_key("x-amzn-requestid"));
    prop_assert!(reply.headers.contains_key("date"));
    if reply.status != 200 {
        let code = body["__type"].as_str().and_then(ErrorCode::parse);
        prop_assert!(code.is_some(), "error has a known __type: {}", reply.text());
        prop_assert_eq!(code.unwrap().http_status(), reply.status);
        prop_assert_eq!(reply.headers["x-amzn-errortype"].to_str().unwrap(), body["__type"].as_str().unwrap());
        prop_assert!(body["message"].is_string());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_a_well_formed_answer_and_rejections_change_nothing(seq in prop::collection::vec(calls("PIPELINE".into(), "TASK".into()), 1..8)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (host, _) = quick_host();
            let pipeline = running_pipeline(&host).await;
            let task = ok(&host, "PollForTask", json!({"workerGroup": "wg", "hostname": "a"})).await;
            let task_id = task["taskObject"]["taskId"].as_str().unwrap().to_string();
            // Let generated values name the real pipeline and task.
            for mut call in seq {
                let text = String::from_utf8_lossy(&call.body).replace("PIPELINE", &pipeline).replace("TASK", &task_id);
                if std::str::from_utf8(&call.body).is_ok() {
                    call.body = text.into_bytes();
                }
                let before = host.with_core(|core| core.clone());
                let reply = send_call(&host, &call).await;
                check_well_formed(&reply)?;
                if reply.status != 200 {
                    let unchanged = host.with_core(|core| core.same_state(&before));
                    prop_assert!(unchanged, "rejected call changed state: {:?} -> {}", call, reply.text());
                }
            }
            Ok(())
        })?;
    }
}
