//! `POST /_dpsim/reset` (a test after a reset sees what a fresh process would show it) and the
//! OpenAPI document of the admin routes (committed, served, and equal to what the router
//! answers).

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::serve::admin::ROUTES;
use crate::serve::{ClockMode, ServeOptions, Served, server};

fn options(clock: ClockMode) -> ServeOptions {
    ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        poll_hold_ms: Some(0),
        seed: Some(7),
        clock,
        ..ServeOptions::default()
    }
}

/// An app whose switch lives as long as the test (resets through it stick).
fn app(options: &ServeOptions) -> Router {
    Served::new(server(options).unwrap().0).app()
}

async fn send(app: &Router, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = Request::builder().method(method).uri(path);
    let request = match body {
        Some(b) => request.body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    };
    let response = app.clone().oneshot(request.unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

async fn aws(app: &Router, op: &str, body: Value) -> Value {
    let request = Request::post("/")
        .header("x-amz-target", format!("DataPipeline.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap()
}

/// One test's calls: a pipeline, a lease that expires unacknowledged, the task handed on, a
/// stale report, FINISHED. Answers every id it was given and the log.
async fn story(app: &Router) -> (Vec<Value>, Value) {
    let id = aws(app, "CreatePipeline", json!({"name": "copy", "uniqueId": "copy"})).await["pipelineId"].clone();
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
        {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"},
                                                   {"key": "workerGroup", "stringValue": "wg-1"}]}]);
    aws(app, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects})).await;
    aws(app, "ActivatePipeline", json!({"pipelineId": id})).await;
    let first = aws(app, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "runner-a"})).await;
    let t1 = first["taskObject"]["taskId"].clone();
    send(app, "POST", "/_dpsim/clock/advance", Some(json!({"seconds": 121}))).await;
    let second = aws(app, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "runner-b"})).await;
    let t2 = second["taskObject"]["taskId"].clone();
    let stale = aws(app, "ReportTaskProgress", json!({"taskId": t1})).await;
    aws(app, "SetTaskStatus", json!({"taskId": t2, "taskStatus": "FINISHED"})).await;
    let (_, log) = send(app, "GET", "/_dpsim/log", None).await;
    (vec![id, t1, t2, stale, send(app, "GET", "/_dpsim/clock", None).await.1["now"].clone()], log)
}

#[tokio::test]
async fn a_reset_gives_the_ids_and_log_of_a_fresh_process() {
    let fresh = app(&options(ClockMode::Manual));
    let expected = story(&fresh).await;
    assert!(expected.1.as_str().unwrap().contains("reassigned"), "{}", expected.1);

    let reused = app(&options(ClockMode::Manual));
    story(&reused).await;
    let (status, _) = send(
        &reused,
        "POST",
        "/_dpsim/faults",
        Some(json!({"kind": "message", "operation": "PollForTask", "count": 9, "effect": {"type": "error", "code": "InternalServiceError"}})),
    )
    .await;
    assert_eq!(status, 200);
    send(&reused, "POST", "/_dpsim/clock/advance", Some(json!({"seconds": 86_400}))).await;
    let (status, reset) = send(&reused, "POST", "/_dpsim/reset", None).await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["clock_reset"], true);
    assert_eq!(reset["clock"]["now"], "2026-01-01T00:00:00.000Z");
    assert_eq!(send(&reused, "GET", "/_dpsim/faults", None).await.1, json!({"faults": []}));
    let (_, report) = send(&reused, "GET", "/_dpsim/report", None).await;
    assert_eq!(report["log"], json!([]), "nothing of the earlier test is left");
    assert_eq!(story(&reused).await, expected);
}

#[tokio::test]
async fn a_reset_under_a_wall_clock_says_the_clock_goes_on() {
    let wall = app(&options(ClockMode::Wall));
    send(&wall, "POST", "/_dpsim/clock/advance", Some(json!({"seconds": 3600}))).await;
    let (status, reset) = send(&wall, "POST", "/_dpsim/reset", None).await;
    assert_eq!(status, 200);
    assert_eq!(reset["clock_reset"], false);
    assert_eq!(reset["clock"]["clock"], "wall");
    assert_eq!(reset["clock"]["since_start"], "+00:00:00.000", "the new world starts where the clock reads");
}

#[tokio::test]
async fn a_reset_plays_the_served_scenario_again() {
    let dir = std::env::temp_dir().join(format!("dpsim-serve-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("served.json");
    std::fs::write(
        &path,
        r#"{"duration": "1h",
            "pipelines": [{"name": "copy", "activate_at": "0s", "definition": {"objects": [
              {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
              {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1"}]}}],
            "runners": []}"#,
    )
    .unwrap();
    let mut o = options(ClockMode::Manual);
    o.scenario = Some(path);
    let served = Served::new(server(&o).unwrap().0);
    served.start().await;
    let app = served.app();
    let poll = || aws(&app, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "r"}));
    // The activation at +0s is the script's first step: give its task a moment to run.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let first = poll().await["taskObject"]["taskId"].clone();
    assert!(first.is_string(), "the scenario's pipeline was activated");
    assert_eq!(poll().await, json!({}), "its one task is leased");
    send(&app, "POST", "/_dpsim/reset", None).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(poll().await["taskObject"]["taskId"], first, "the same pipeline and the same first taskId again");
    served.stop();
}

/// The document as committed, as served, and as built agree; it lists exactly the routes the
/// router answers.
#[tokio::test]
async fn the_openapi_document_is_committed_served_and_lists_every_admin_route() {
    let built = crate::serve::openapi::document();
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(committed_path).unwrap()).unwrap();
    assert!(
        &committed == built,
        "openapi.json is out of date: run `curl -s localhost:8123/_dpsim/openapi.json > openapi.json` against a fresh `dpsim serve`, or DPSIM_WRITE_OPENAPI=1 cargo test openapi"
    );
    let app = app(&options(ClockMode::Manual));
    let (status, served) = send(&app, "GET", "/_dpsim/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(&served, built);

    let described: BTreeSet<(String, String)> = built["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(described, routed);

    let not_a_route = |answer: &Value| {
        answer["error"].as_str().is_some_and(|e| e.contains("is not an admin route") || e.contains("is not a method"))
    };
    for (method, path) in ROUTES {
        if path == "/_dpsim/reset" {
            continue; // answered above and in the reset tests; here it would reset the app mid-loop
        }
        let concrete = path.replace("{id}", "1");
        let (status, answer) = send(&app, method, &concrete, None).await;
        assert!(!not_a_route(&answer), "{method} {path}: {status} {answer}");
        assert_ne!(status, 405, "{method} {path}");
        for other in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if ROUTES.contains(&(other, path)) {
                continue;
            }
            let (status, answer) = send(&app, other, &concrete, None).await;
            assert_eq!(status, 405, "{other} {path} is not described, so it is not answered: {answer}");
            assert!(not_a_route(&answer));
        }
    }
    // Anything else under /_dpsim is no route at all.
    for path in ["/_dpsim", "/_dpsim/openapi", "/_dpsim/faults/1/x", "/_dpsim/resets", "/_dpsim/page"] {
        let (status, answer) = send(&app, "GET", path, None).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(not_a_route(&answer), "{path}: {answer}");
    }
}

/// Writes openapi.json when asked (`DPSIM_WRITE_OPENAPI=1`), so a change to the routes is one
/// command away from its committed document.
#[test]
fn write_openapi_when_asked() {
    if std::env::var_os("DPSIM_WRITE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(crate::serve::openapi::document()).unwrap() + "\n";
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"), text).unwrap();
    }
}
