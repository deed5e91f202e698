//! `serve` for runners in any language: the manual clock, live message faults, the scripted
//! scenario, the ownership log and report, bad input on every admin route, `--auth` on them,
//! SigV4 times checked against the clock the `Date` header shows, and the same fault JSON
//! doing the same thing in `dpsim run` and in `serve`.

use std::time::{Duration, UNIX_EPOCH};

use crate::serve::Server;
use crate::serve::{ClockMode, ServeOptions, server};
use crate::wire::sigv4::Credentials;
use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::{Body, to_bytes};
use http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

const T0: u64 = crate::serve::MANUAL_START_MS;

fn args(clock: ClockMode) -> ServeOptions {
    ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        poll_hold_ms: Some(0),
        seed: Some(7),
        clock,
        ..ServeOptions::default()
    }
}

fn manual() -> Server {
    server(&args(ClockMode::Manual)).unwrap().0
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: http::HeaderMap,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(server: &Server, request: Request<Body>) -> Reply {
    let response = server.app().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, body, headers }
}

/// An admin call with a JSON body and no content type (as `curl -d` sends a form type, too).
async fn admin(server: &Server, method: &str, path: &str, body: Option<&str>) -> Reply {
    let request = Request::builder().method(method).uri(path);
    let request = match body {
        Some(b) => request.header("content-type", "application/x-www-form-urlencoded").body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    };
    send(server, request.unwrap()).await
}

async fn aws(server: &Server, op: &str, body: Value) -> Reply {
    let request = Request::post("/")
        .header("x-amz-target", format!("DataPipeline.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(server, request).await
}

async fn pipeline(server: &Server) -> String {
    let id = aws(server, "CreatePipeline", json!({"name": "copy", "uniqueId": "copy-1"})).await.json()["pipelineId"]
        .as_str()
        .unwrap()
        .to_string();
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
        {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"},
                                                   {"key": "workerGroup", "stringValue": "wg-1"}]}]);
    assert_eq!(
        aws(server, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects})).await.status,
        200
    );
    assert_eq!(aws(server, "ActivatePipeline", json!({"pipelineId": id})).await.status, 200);
    id
}

async fn poll(server: &Server, host: &str) -> Option<String> {
    let answer = aws(server, "PollForTask", json!({"workerGroup": "wg-1", "hostname": host})).await.json();
    answer["taskObject"]["taskId"].as_str().map(str::to_string)
}

async fn log(server: &Server) -> String {
    admin(server, "GET", "/_dpsim/log", None).await.text()
}

#[tokio::test]
async fn the_manual_clock_stands_still_until_advanced_and_applies_every_deadline() {
    let server = manual();
    assert_eq!(admin(&server, "GET", "/_dpsim/clock", None).await.json()["now"], "2026-01-01T00:00:00.000Z");
    pipeline(&server).await;
    let t1 = poll(&server, "runner-a").await.expect("a task");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(admin(&server, "GET", "/_dpsim/clock", None).await.json()["now"], "2026-01-01T00:00:00.000Z");
    // One millisecond short of the deadline: still live.
    let advanced = admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 119.999}"#)).await;
    assert_eq!(advanced.json()["now"], "2026-01-01T00:01:59.999Z");
    assert!(!log(&server).await.contains("expired"));
    let to = admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"to": "2026-01-01T00:02:00Z"}"#)).await;
    assert_eq!(to.status, 200, "{}", to.text());
    let text = log(&server).await;
    assert!(text.contains("+00:02:00.000  Copy@1  expired"), "{text}");
    let stale = aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.json();
    assert_eq!(stale["canceled"], true);
    let response = aws(&server, "ListPipelines", json!({})).await;
    assert_eq!(response.headers["x-dpsim-time"], "2026-01-01T00:02:00.000Z", "x-dpsim-time shows the manual clock");
    assert!(
        is_machine_date(response.headers["date"].to_str().unwrap()),
        "Date shows the machine's time, which clients sign with"
    );
}

/// Whether an HTTP date is the machine's time (this second or the one before, which the
/// answer may have been stamped in): what `Date` shows under `serve`.
fn is_machine_date(date: &str) -> bool {
    let now = machine_ms();
    [now, now.saturating_sub(1_000)].iter().any(|t| crate::time::format_http_date(*t) == date)
}

fn machine_ms() -> u64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn held_polls_and_delayed_answers_follow_the_manual_clock() {
    let mut a = args(ClockMode::Manual);
    a.poll_hold_ms = Some(90_000);
    let server = server(&a).unwrap().0;
    let delayed = admin(
        &server,
        "POST",
        "/_dpsim/faults",
        Some(r#"{"kind": "message", "operation": "ListPipelines", "effect": {"type": "delay", "by": "30s"}}"#),
    )
    .await;
    assert_eq!(delayed.json()["id"], 1);
    let s = server.clone();
    let held = tokio::spawn(async move { aws(&s, "PollForTask", json!({"workerGroup": "none"})).await });
    let s = server.clone();
    let list = tokio::spawn(async move { aws(&s, "ListPipelines", json!({})).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished() && !list.is_finished(), "nothing moves while the clock stands still");
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 30}"#)).await;
    let list = tokio::time::timeout(Duration::from_secs(5), list).await.expect("released at +30s").unwrap();
    assert_eq!(list.status, 200);
    assert!(!held.is_finished(), "the poll is held 90 s of service time");
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 60}"#)).await;
    let held = tokio::time::timeout(Duration::from_secs(5), held).await.expect("released at +90s").unwrap();
    assert_eq!(held.json(), json!({}));
}

#[tokio::test]
async fn live_faults_are_added_listed_counted_and_removed() {
    let server = manual();
    pipeline(&server).await;
    let fault = r#"{"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a", "count": 2,
                    "effect": {"type": "error", "code": "InternalServiceError"}}"#;
    let id = admin(&server, "POST", "/_dpsim/faults", Some(fault)).await.json()["id"].as_u64().unwrap();
    let t1 = poll(&server, "runner-a").await.unwrap();
    assert_eq!(aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.status, 500);
    let listed = admin(&server, "GET", "/_dpsim/faults", None).await.json();
    let f = &listed["faults"][0];
    assert_eq!((f["id"].as_u64(), f["matched"].as_u64(), f["applied"].as_u64()), (Some(id), Some(1), Some(1)));
    assert_eq!(f["fault"]["runner"], "runner-a");
    assert_eq!(admin(&server, "DELETE", &format!("/_dpsim/faults/{id}"), None).await.status, 200);
    assert_eq!(aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.status, 200, "removed");
    assert_eq!(admin(&server, "DELETE", &format!("/_dpsim/faults/{id}"), None).await.status, 404);
    let text = log(&server).await;
    assert!(text.contains("fault         runner-a       answer InternalServiceError #1 ReportTaskProgress"), "{text}");
    // A control-plane event applies at once.
    let canceled = admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "cancel", "task": "Copy"}"#)).await;
    assert_eq!(canceled.json()["applied"], "TRY_CANCEL Copy (1 instance(s))", "{}", canceled.text());
    assert_eq!(aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.json()["canceled"], true);
    // PAUSE keeps a rerun instance from being handed out until RESUME.
    let paused = admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "pause_activity", "task": "Copy"}"#)).await;
    assert_eq!(paused.json()["applied"], "PAUSE Copy", "{}", paused.text());
    let rerun = admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "rerun", "task": "Copy"}"#)).await;
    assert_eq!(rerun.json()["applied"], "RERUN Copy (1 instance(s))", "{}", rerun.text());
    let typo = admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "cancel", "task": "Cpy"}"#)).await;
    assert_eq!(typo.status, 400);
    assert!(typo.json()["error"].as_str().unwrap().ends_with("activities with instances: Copy"), "{}", typo.text());
    let resumed =
        admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "resume_activity", "task": "Copy"}"#)).await;
    assert_eq!(resumed.json()["applied"], "RESUME Copy", "{}", resumed.text());
    assert!(poll(&server, "runner-b").await.is_some(), "the rerun instance is handed out after RESUME");
}

#[tokio::test]
async fn every_admin_route_refuses_bad_input_with_what_it_expected() {
    let server = manual();
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("POST", "/_dpsim/clock/advance", Some("not json"), 400, "expected {\"seconds\""),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"seconds": -1}"#), 400, "from 0 to"),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 1e300}"#), 400, "from 0 to"),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 1, "to": "2026-01-02T00:00:00Z"}"#), 400, "exactly one"),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"to": "yesterday"}"#), 400, "RFC 3339"),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"to": "2025-01-01T00:00:00Z"}"#), 400, "never goes back"),
        ("POST", "/_dpsim/clock/advance", Some(r#"{"secs": 1}"#), 400, "unknown field"),
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "partition", "machine": "m"}"#), 400, "cannot apply"),
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "message", "effect": {"type": "teleport"}}"#), 400, "effect"),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "count": 99999999999, "effect": {"type": "duplicate"}}"#),
            400,
            "expected u32",
        ),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "count": 0, "effect": {"type": "duplicate"}}"#),
            400,
            "count from 1",
        ),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "operation": "Nope", "effect": {"type": "duplicate"}}"#),
            400,
            "unknown operation",
        ),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "operation": "PollForTask", "task": "Copy", "effect": {"type": "duplicate"}}"#),
            400,
            "name no task",
        ),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "probability": 2, "effect": {"type": "duplicate"}}"#),
            400,
            "between 0 and 1",
        ),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "message", "effect": {"type": "error", "code": "Oops"}}"#),
            400,
            "unknown AWS error code",
        ),
        ("DELETE", "/_dpsim/faults/abc", None, 400, "a number"),
        ("DELETE", "/_dpsim/faults/999", None, 404, "no fault"),
        ("POST", "/_dpsim/faults/errors", Some(r#"{"operation": "PollForTask"}"#), 400, "error"),
        (
            "POST",
            "/_dpsim/faults/errors",
            Some(r#"{"operation": "Nope", "error": "InternalServiceError"}"#),
            400,
            "unknown operation",
        ),
        (
            "POST",
            "/_dpsim/faults/errors",
            Some(r#"{"operation": "PollForTask", "error": "InternalServiceError", "count": 4294967296}"#),
            400,
            "count",
        ),
        // An event that would hit nothing names what exists (no pipeline yet here).
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "cancel", "task": "Nope"}"#), 400, "no pipeline exists yet"),
        (
            "POST",
            "/_dpsim/faults",
            Some(r#"{"kind": "cancel", "task": "Copy", "pipeline": "nope"}"#),
            400,
            "no pipeline is named",
        ),
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "deactivate", "pipeline": "nope"}"#), 400, "no pipeline is named"),
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "activate", "pipeline": "nope"}"#), 400, "pipelines: none yet"),
        ("POST", "/_dpsim/faults", Some(r#"{"kind": "delete", "pipeline": "nope"}"#), 400, "no pipeline is named"),
        // Other paths under /_dpsim are admin errors, not AWS ones.
        ("GET", "/_dpsim/nope", None, 404, "is not an admin route"),
        ("GET", "/_dpsim/clock/advance", None, 405, "is not a method this path takes"),
        ("PUT", "/_dpsim/faults", Some("{}"), 405, "is not a method this path takes"),
        ("POST", "/_dpsim", Some("{}"), 404, "is not an admin route"),
        // A refusal of the whole body names no path.
        ("POST", "/_dpsim/clock/advance", Some("[1]"), 400, "instant>\"}; invalid length"),
    ];
    for (method, path, body, status, words) in cases {
        let reply = admin(&server, method, path, *body).await;
        assert_eq!(reply.status, *status, "{method} {path} {body:?}: {}", reply.text());
        let error = reply.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(words), "{method} {path} {body:?}: {error:?} lacks {words:?}");
    }
    let huge = "x".repeat(crate::serve::admin::MAX_ADMIN_BODY + 1);
    assert_eq!(admin(&server, "POST", "/_dpsim/faults", Some(&huge)).await.status, 413);
    assert!(admin(&server, "GET", "/_dpsim/faults", None).await.json()["faults"].as_array().unwrap().is_empty());
}

const AK: &str = "AKIDSERVE";
const SECRET: &str = "serve-secret";

fn signed(method: &str, path: &str, target: Option<&str>, body: &str, at_ms: u64) -> Request<Body> {
    let mut headers = vec![("host", "localhost"), ("content-type", "application/x-amz-json-1.1")];
    if let Some(t) = target {
        headers.push(("x-amz-target", t));
    }
    let identity = AwsCredentials::new(AK, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("datapipeline")
        .time(UNIX_EPOCH + Duration::from_millis(at_ms))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable =
        SignableRequest::new(method, path, headers.iter().copied(), SignableBody::Bytes(body.as_bytes())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in &headers {
        request = request.header(*k, *v);
    }
    let mut request = request.body(Body::from(body.to_string())).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

#[tokio::test]
async fn under_auth_admin_routes_need_a_signature_or_the_token_and_signatures_are_judged_by_the_machine_clock() {
    let mut a = args(ClockMode::Manual);
    a.auth = Some(Credentials { access_key_id: AK.into(), secret_access_key: SECRET.into() });
    a.admin_token = Some("open-sesame".into());
    let server = server(&a).unwrap().0;
    assert_eq!(admin(&server, "GET", "/_dpsim/clock", None).await.status, 401);
    // Unknown paths and wrong methods under /_dpsim check the caller first too.
    assert_eq!(admin(&server, "GET", "/_dpsim/zzz", None).await.status, 401);
    assert_eq!(admin(&server, "GET", "/_dpsim/clock/advance", None).await.status, 401);
    let advance = || {
        Request::post("/_dpsim/clock/advance")
            .header("authorization", "Bearer open-sesame")
            .body(Body::from(r#"{"seconds": 3600}"#))
    };
    let wrong = Request::get("/_dpsim/log").header("authorization", "Bearer guess").body(Body::empty()).unwrap();
    assert_eq!(send(&server, wrong).await.status, 403);
    assert_eq!(send(&server, advance().unwrap()).await.status, 200);
    // Signed with the served credentials at the machine's time: open, whatever the manual
    // clock reads (it was just moved an hour past 2026-01-01).
    let now = machine_ms();
    assert_eq!(send(&server, signed("GET", "/_dpsim/faults", None, "", now)).await.status, 200);
    // An AWS call signed with the machine's clock is accepted after the jump, and Date shows
    // the machine's time; one signed an hour off the machine's clock is refused as skewed, and
    // so is one signed at the simulated time (a clock no client has).
    let hb = r#"{"taskrunnerId": "r1"}"#;
    let ok = send(&server, signed("POST", "/", Some("DataPipeline.ReportTaskRunnerHeartbeat"), hb, now)).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(is_machine_date(ok.headers["date"].to_str().unwrap()), "{:?}", ok.headers["date"]);
    assert_eq!(ok.headers["x-dpsim-time"], "2026-01-01T01:00:00.000Z");
    for off in [now - 3_600_000, T0 + 3_600_000] {
        let skewed = send(&server, signed("POST", "/", Some("DataPipeline.ReportTaskRunnerHeartbeat"), hb, off)).await;
        assert_eq!(skewed.json()["__type"], "InvalidSignatureException", "signed at {off}");
    }
}

#[test]
fn without_a_seed_task_ids_are_unguessable_and_with_one_reproducible() {
    let ids = |seed: Option<u64>| {
        let mut a = args(ClockMode::Manual);
        a.seed = seed;
        let server = server(&a).unwrap().0;
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            pipeline(&server).await;
            poll(&server, "r").await.unwrap()
        })
    };
    assert_eq!(ids(Some(3)), ids(Some(3)));
    assert_ne!(ids(None), ids(None), "two servers without --seed draw different keys");
}

const SCENARIO_FAULT: &str = r#"{"kind": "message", "operation": "ReportTaskProgress", "runner": "runner-a",
                                 "count": 1000, "effect": {"type": "drop_request"}}"#;

#[tokio::test]
async fn the_same_fault_json_has_the_same_effect_in_run_and_in_serve() {
    // dpsim run: runner-a's reports never reach the service, so its lease expires at the ack
    // deadline and the fault's hits are logged.
    let scenario = crate::scenario::parse(&format!(
        r#"{{"duration": "10m", "stop_when_done": false,
             "pipelines": [{{"name": "copy", "definition": {{"objects": [
               {{"id": "Default", "name": "Default", "scheduleType": "ondemand"}},
               {{"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1"}}]}}}}],
             "runners": [{{"name": "runner-a", "worker_group": "wg-1"}}],
             "events": [{{"at": "0s", "do": {SCENARIO_FAULT}}}]}}"#
    ))
    .unwrap();
    let simulation = crate::simulation::Simulation::new(scenario);
    let report = tokio::task::spawn_blocking(move || simulation.run().unwrap()).await.unwrap();
    let ran = report.log_text();
    // serve: the same JSON posted live, a runner-a that polls and reports over HTTP.
    let server = manual();
    assert_eq!(admin(&server, "POST", "/_dpsim/faults", Some(SCENARIO_FAULT)).await.status, 200);
    pipeline(&server).await;
    let t1 = poll(&server, "runner-a").await.unwrap();
    let s = server.clone();
    let report_call = tokio::spawn(async move { aws(&s, "ReportTaskProgress", json!({"taskId": t1})).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!report_call.is_finished(), "a dropped request is never answered");
    report_call.abort();
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 120}"#)).await;
    let served = log(&server).await;
    for words in [
        ["fault", "runner-a", "drop request #1 ReportTaskProgress"],
        ["expired", "runner-a", "not acknowledged within 2m"],
        ["event", "message fault: drop request on ReportTaskProgress from runner-a", "1000 times"],
    ] {
        let has = |text: &str| text.lines().any(|l| words.iter().all(|w| l.contains(w)));
        assert!(has(&ran), "dpsim run lacks {words:?}:\n{ran}");
        assert!(has(&served), "serve lacks {words:?}:\n{served}");
    }
}

#[tokio::test]
async fn a_scenario_plays_its_pipelines_and_timeline_on_the_clock_and_the_report_judges_it() {
    let dir = std::env::temp_dir().join(format!("dpsim-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("external.json");
    std::fs::write(
        &path,
        r#"{"duration": "1h",
            "pipelines": [{"name": "copy", "activate_at": "1m", "definition": {"objects": [
              {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
              {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1"}]}}],
            "runners": [],
            "events": [{"at": "5m", "do": {"kind": "cancel", "task": "Copy"}}],
            "expect": [{"kind": "final_status", "task": "Copy", "status": "CANCELED"}]}"#,
    )
    .unwrap();
    let mut a = args(ClockMode::Manual);
    a.scenario = Some(path.clone());
    let (server, scenario) = server(&a).unwrap();
    let play = tokio::spawn(crate::serve::script::play(server.clone(), scenario.unwrap()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(poll(&server, "mine").await, None, "not activated before +1m");
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 60}"#)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t1 = poll(&server, "mine").await.expect("activated at +1m");
    assert_eq!(aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.json()["canceled"], false);
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 240}"#)).await;
    tokio::time::timeout(Duration::from_secs(5), play).await.expect("the timeline ends").unwrap().unwrap();
    assert_eq!(aws(&server, "ReportTaskProgress", json!({"taskId": t1})).await.json()["canceled"], true);
    let report = admin(&server, "GET", "/_dpsim/report", None).await.json();
    assert_eq!(report["expectations"][0]["ok"], true, "{report}");
    assert_eq!(report["passed"], true);
    assert!(report["invariants"].as_array().unwrap().iter().all(|i| i["held"] == true), "{report}");
    let text = log(&server).await;
    assert!(text.contains("+00:05:00.000  -       event") && text.contains("TRY_CANCEL Copy"), "{text}");
    // Events that need the simulation are refused at load, with their path.
    std::fs::write(
        &path,
        r#"{"duration": "1h", "pipelines": [], "runners": [],
        "events": [{"at": "1m", "do": {"kind": "pause", "runner": "r"}}]}"#,
    )
    .unwrap();
    let e = server_error(&path);
    assert!(e.contains("events[0].do") && e.contains("cannot apply"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn server_error(path: &std::path::Path) -> String {
    let mut a = args(ClockMode::Manual);
    a.scenario = Some(path.to_path_buf());
    match server(&a) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected {path:?} to be refused"),
    }
}

#[tokio::test]
async fn a_scheduled_pipeline_makes_its_periods_as_the_manual_clock_advances() {
    let server = manual();
    let id =
        aws(&server, "CreatePipeline", json!({"name": "hourly", "uniqueId": "hourly-1"})).await.json()["pipelineId"]
            .as_str()
            .unwrap()
            .to_string();
    let objects = json!([
        {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "timeseries"},
                                                         {"key": "schedule", "refValue": "Hourly"}]},
        {"id": "Hourly", "name": "Hourly", "fields": [{"key": "type", "stringValue": "Schedule"},
                                                       {"key": "period", "stringValue": "1 hours"},
                                                       {"key": "startAt", "stringValue": "FIRST_ACTIVATION_DATE_TIME"}]},
        {"id": "Copy", "name": "Copy", "fields": [{"key": "type", "stringValue": "ShellCommandActivity"},
                                                   {"key": "workerGroup", "stringValue": "wg-1"}]}]);
    let put = aws(&server, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects})).await;
    assert_eq!(put.json()["errored"], false, "{}", put.text());
    assert_eq!(aws(&server, "ActivatePipeline", json!({"pipelineId": id})).await.status, 200);
    assert_eq!(instances(&server, &id).await, json!([]), "a timeseries period's instance comes at its end");
    assert_eq!(poll(&server, "runner-a").await, None);
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"seconds": 3599.999}"#)).await;
    assert_eq!(instances(&server, &id).await, json!([]));
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"to": "2026-01-01T02:00:00Z"}"#)).await;
    assert_eq!(instances(&server, &id).await, json!(["@Copy_2026-01-01T00:00:00", "@Copy_2026-01-01T01:00:00"]));
    let first = poll(&server, "runner-a").await.expect("the oldest period's task is handed out");
    let text = log(&server).await;
    let line = text.lines().find(|l| l.contains("Copy[2026-01-01T00:00] ") && l.contains("scheduled"));
    assert!(line.is_some_and(|l| l.starts_with("+01:00:00.000")), "{text}");
    // A definition put while the pipeline is active waits for the next activation: the periods
    // still come with the worker group the activation adopted, and the checks judge them so.
    let moved = serde_json::to_string(&objects).unwrap().replace("wg-1", "wg-2");
    let moved: Value = serde_json::from_str(&moved).unwrap();
    aws(&server, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": moved})).await;
    let finish = |task: String| aws(&server, "SetTaskStatus", json!({"taskId": task, "taskStatus": "FINISHED"}));
    assert_eq!(finish(first).await.status, 200);
    assert_eq!(finish(poll(&server, "runner-a").await.expect("the 01:00 period")).await.status, 200);
    admin(&server, "POST", "/_dpsim/clock/advance", Some(r#"{"to": "2026-01-01T03:00:00Z"}"#)).await;
    assert!(poll(&server, "runner-a").await.is_some(), "the 02:00 period goes to wg-1 still");
    let report = admin(&server, "GET", "/_dpsim/report", None).await.json();
    assert!(report["invariants"].as_array().unwrap().iter().all(|i| i["held"] == true), "{report}");
}

async fn instances(server: &Server, pipeline: &str) -> Value {
    aws(server, "QueryObjects", json!({"pipelineId": pipeline, "sphere": "INSTANCE"})).await.json()["ids"].clone()
}

/// The `@pipelineState` DescribePipelines gives a pipeline.
async fn state(server: &Server, id: &str) -> String {
    let answer = aws(server, "DescribePipelines", json!({"pipelineIds": [id]})).await.json();
    let fields = answer["pipelineDescriptionList"][0]["fields"].as_array().cloned().unwrap_or_default();
    let field = fields.iter().find(|f| f["key"] == "@pipelineState").expect("a state");
    field["stringValue"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_event_naming_a_pipeline_hits_that_pipeline_only() {
    let server = manual();
    let mut ids = Vec::new();
    for name in ["etl", "etl-2"] {
        let created = aws(&server, "CreatePipeline", json!({"name": name, "uniqueId": name})).await.json();
        let id = created["pipelineId"].as_str().unwrap().to_string();
        let objects = json!([{"id": "Copy", "name": "Copy", "fields": [
            {"key": "type", "stringValue": "ShellCommandActivity"}, {"key": "workerGroup", "stringValue": "wg-1"}]}]);
        aws(&server, "PutPipelineDefinition", json!({"pipelineId": id, "pipelineObjects": objects})).await;
        assert_eq!(aws(&server, "ActivatePipeline", json!({"pipelineId": id})).await.status, 200);
        ids.push(id);
    }
    let reply = admin(&server, "POST", "/_dpsim/faults", Some(r#"{"kind": "deactivate", "pipeline": "etl"}"#)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(state(&server, &ids[0]).await, "INACTIVE");
    assert_eq!(state(&server, &ids[1]).await, "SCHEDULED", "etl-2 is another pipeline, not a copy of etl");
}

#[tokio::test]
async fn a_refused_request_costs_the_call_log_little_and_reports_add_at_most_fifty_fields() {
    let server = manual();
    // A 1 MB hostname (refused: at most 1,024 characters) and 50,000 object ids of a pipeline
    // that does not exist (refused).
    let poll = aws(&server, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "h".repeat(1 << 20)})).await;
    assert_eq!(poll.status, 400, "{}", poll.text());
    let ids: Vec<String> = (0..50_000).map(|i| format!("@Copy_{i}")).collect();
    let set =
        aws(&server, "SetStatus", json!({"pipelineId": "df-none", "status": "TRY_CANCEL", "objectIds": ids})).await;
    assert_eq!(set.status, 400, "{}", set.text());
    let (_, calls, _, _) = server.edge.recorder.snapshot();
    let poll = calls.iter().find(|c| c.operation == crate::protocol::Operation::PollForTask).expect("logged");
    assert!(poll.runner.as_deref().is_some_and(|r| r.len() <= 1024), "a refused name is kept in part");
    let set = calls.iter().find(|c| c.operation == crate::protocol::Operation::SetStatus).expect("logged");
    assert!(set.object_ids.len() <= 100, "{} ids kept", set.object_ids.len());

    // The lease holder reports 60 new keys, 20 at a time: the attempt keeps 50.
    let id = pipeline(&server).await;
    let answer = aws(&server, "PollForTask", json!({"workerGroup": "wg-1", "hostname": "mine"})).await.json();
    let (task, attempt) = (answer["taskObject"]["taskId"].clone(), answer["taskObject"]["attemptId"].clone());
    for round in 0..3 {
        let fields: Vec<Value> = (0..20).map(|k| json!({"key": format!("k{round}_{k}"), "stringValue": "v"})).collect();
        let r = aws(&server, "ReportTaskProgress", json!({"taskId": task, "fields": fields})).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let described = aws(&server, "DescribeObjects", json!({"pipelineId": id, "objectIds": [attempt]})).await.json();
    let fields = described["pipelineObjects"][0]["fields"].as_array().cloned().unwrap_or_default();
    let reported = fields.iter().filter(|f| f["key"].as_str().is_some_and(|k| k.starts_with('k'))).count();
    assert_eq!(reported, 50, "{described}");
}
