//! The AWS JSON 1.1 front door: the documented sample, every error code with its HTTP status
//! and `__type`, and the headers every response carries.

use super::support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::protocol::ErrorCode;
use crate::service::Settings;
use crate::time::MINUTE_MS;
use crate::wire::HostConfig;
use crate::wire::sigv4::Credentials;
use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::body::Body;
use http::Request;
use serde_json::json;
use support::*;

#[tokio::test]
async fn the_documented_report_task_progress_sample_answers_canceled_false() {
    let (host, _) = quick_host();
    running_pipeline(&host).await;
    let task = ok(&host, "PollForTask", json!({"workerGroup": "wg", "hostname": "runner-a"})).await;
    let task_id = task["taskObject"]["taskId"].as_str().unwrap();
    let reply = call(
        &host,
        "ReportTaskProgress",
        json!({"taskId": task_id, "fields": [{"key": "percentComplete", "stringValue": "50"}]}),
    )
    .await;
    assert_eq!((reply.status, reply.json()), (200, json!({"canceled": false})));
}

#[tokio::test]
async fn a_task_object_carries_the_attempt_and_what_the_runner_needs() {
    let (host, _) = quick_host();
    let pipeline = running_pipeline(&host).await;
    let task = ok(&host, "PollForTask", json!({"workerGroup": "wg", "hostname": "runner-a"})).await;
    let t = &task["taskObject"];
    assert_eq!(t["pipelineId"], pipeline.as_str());
    let attempt_id = t["attemptId"].as_str().unwrap();
    assert!(attempt_id.starts_with("@Copy_2026-01-01T00:00:00_Attempt=1"), "{attempt_id}");
    let attempt = &t["objects"][attempt_id];
    let fields = attempt["fields"].as_array().unwrap();
    let has = |k: &str, v: &str| fields.iter().any(|f| f["key"] == k && (f["stringValue"] == v || f["refValue"] == v));
    assert!(has("command", "echo hi") && has("@status", "RUNNING") && has("hostname", "runner-a"), "{attempt}");
    assert!(t["objects"]["Copy"].is_object(), "the component travels with the task");
}

#[tokio::test]
async fn every_response_has_a_request_id_and_a_date_from_the_service_clock() {
    let (host, clock) = quick_host();
    clock.advance(90 * MINUTE_MS);
    let ok_reply = call(&host, "ListPipelines", json!({})).await;
    let err_reply = call(&host, "DescribePipelines", json!({"pipelineIds": ["df-NOPE"]})).await;
    for reply in [&ok_reply, &err_reply] {
        assert_eq!(reply.headers["date"], "Thu, 01 Jan 2026 01:30:00 GMT");
        assert_eq!(reply.headers["content-type"], "application/x-amz-json-1.1");
        assert_eq!(reply.headers["x-amzn-requestid"].len(), 36);
    }
    assert_ne!(ok_reply.headers["x-amzn-requestid"], err_reply.headers["x-amzn-requestid"]);
}

#[tokio::test]
async fn request_ids_are_deterministic_under_a_seed() {
    let ids = |seed| async move {
        let (host, _) =
            host(HostConfig { settings: Settings { seed, ..Settings::default() }, ..HostConfig::default() });
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(call(&host, "ListPipelines", json!({})).await.headers["x-amzn-requestid"].clone());
        }
        out
    };
    assert_eq!(ids(1).await, ids(1).await);
    assert_ne!(ids(1).await, ids(2).await);
}

/// Asserts an error reply's status, `__type`, `X-Amzn-ErrorType` and message.
fn assert_error(reply: &Reply, code: ErrorCode) {
    assert_eq!(reply.status, code.http_status(), "{code}: {}", reply.text());
    let body = reply.json();
    assert_eq!(body["__type"], code.as_str(), "{}", reply.text());
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.text());
    assert_eq!(reply.headers["x-amzn-errortype"], code.as_str());
}

#[tokio::test]
async fn modelled_errors_have_their_status_and_type() {
    let (host, _) = quick_host();
    let pipeline = running_pipeline(&host).await;
    let task = ok(&host, "PollForTask", json!({"workerGroup": "wg"})).await;
    let task_id = task["taskObject"]["taskId"].as_str().unwrap().to_string();

    let bad_enum = call(&host, "SetTaskStatus", json!({"taskId": task_id, "taskStatus": "BOGUS"})).await;
    assert_error(&bad_enum, ErrorCode::InvalidRequestException);
    assert!(bad_enum.json()["message"].as_str().unwrap().contains("taskStatus"));
    let missing = call(&host, "ReportTaskProgress", json!({})).await;
    assert_error(&missing, ErrorCode::InvalidRequestException);
    assert!(missing.json()["message"].as_str().unwrap().contains("taskId"));
    let too_long = call(&host, "PollForTask", json!({"workerGroup": "x".repeat(1025)})).await;
    assert_error(&too_long, ErrorCode::InvalidRequestException);
    let bad_chars = call(&host, "PollForTask", json!({"workerGroup": "wg\u{0007}"})).await;
    assert_error(&bad_chars, ErrorCode::InvalidRequestException);

    assert_error(
        &call(&host, "DescribePipelines", json!({"pipelineIds": ["df-0000000000000000000"]})).await,
        ErrorCode::PipelineNotFoundException,
    );
    assert_error(
        &call(&host, "ReportTaskProgress", json!({"taskId": "1.forged"})).await,
        ErrorCode::TaskNotFoundException,
    );
    ok(&host, "DeletePipeline", json!({"pipelineId": pipeline})).await;
    assert_error(
        &call(&host, "ReportTaskProgress", json!({"taskId": task_id})).await,
        ErrorCode::PipelineDeletedException,
    );
    assert_error(
        &call(&host, "ActivatePipeline", json!({"pipelineId": pipeline})).await,
        ErrorCode::PipelineDeletedException,
    );
}

#[tokio::test]
async fn protocol_errors_have_their_status_and_type() {
    let (host, _) = quick_host();
    let raw = |target: Option<&str>, body: &str| {
        let mut r = Request::post("/");
        if let Some(t) = target {
            r = r.header("x-amz-target", t);
        }
        r.body(Body::from(body.to_string())).unwrap()
    };
    assert_error(
        &send(&host, raw(Some("DataPipeline.PollForTask"), "{not json")).await,
        ErrorCode::SerializationException,
    );
    let wrong_type = send(&host, raw(Some("DataPipeline.PollForTask"), r#"{"workerGroup": 7}"#)).await;
    assert_error(&wrong_type, ErrorCode::SerializationException);
    assert!(wrong_type.json()["message"].as_str().unwrap().contains("workerGroup"));
    assert_error(&send(&host, raw(None, "{}")).await, ErrorCode::UnknownOperationException);
    assert_error(
        &send(&host, raw(Some("DataPipeline.FlyToTheMoon"), "{}")).await,
        ErrorCode::UnknownOperationException,
    );
    assert_error(
        &send(&host, raw(Some("Kinesis_20131202.ListStreams"), "{}")).await,
        ErrorCode::UnknownOperationException,
    );
    let get = Request::get("/").header("x-amz-target", "DataPipeline.ListPipelines").body(Body::empty()).unwrap();
    assert_error(&send(&host, get).await, ErrorCode::UnknownOperationException);
    assert_eq!(send(&host, raw(Some("DataPipeline.ListPipelines"), "")).await.status, 200, "an empty body is {{}}");
}

#[tokio::test]
async fn throttling_is_answered_before_the_service() {
    let (host, _) = host(HostConfig { rate_limits: true, ..HostConfig::default() });
    assert_eq!(call(&host, "ListPipelines", json!({})).await.status, 200);
    let mut throttled = None;
    for _ in 0..101 {
        let reply = call(&host, "ReportTaskRunnerHeartbeat", json!({"taskrunnerId": "r"})).await;
        if reply.status != 200 {
            throttled = Some(reply);
            break;
        }
    }
    assert_error(
        &throttled.expect("the 101st call in one instant exceeds the burst of 100"),
        ErrorCode::ThrottlingException,
    );
}

const AK: &str = "AKIDDPSIMTEST";
const SECRET: &str = "dpsim-secret";

fn signed(access_key: &str, secret: &str, at: SystemTime) -> Request<Body> {
    let body = r#"{"taskrunnerId": "r1"}"#;
    let headers = [
        ("host", "localhost"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "DataPipeline.ReportTaskRunnerHeartbeat"),
    ];
    let identity = AwsCredentials::new(access_key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("datapipeline")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable =
        SignableRequest::new("POST", "/", headers.iter().copied(), SignableBody::Bytes(body.as_bytes())).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::post("/");
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let mut request = request.body(Body::from(body)).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

#[tokio::test]
async fn signature_errors_have_their_status_and_type() {
    let (host, clock) = host(HostConfig {
        credentials: Some(Credentials { access_key_id: AK.into(), secret_access_key: SECRET.into() }),
        ..HostConfig::default()
    });
    let now = UNIX_EPOCH + Duration::from_millis(T0);
    assert_eq!(send(&host, signed(AK, SECRET, now)).await.status, 200);
    assert_error(&call(&host, "ListPipelines", json!({})).await, ErrorCode::MissingAuthenticationTokenException);
    let malformed = Request::post("/")
        .header("x-amz-target", "DataPipeline.ListPipelines")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=oops")
        .body(Body::from("{}"))
        .unwrap();
    assert_error(&send(&host, malformed).await, ErrorCode::IncompleteSignatureException);
    assert_error(&send(&host, signed(AK, "wrong", now)).await, ErrorCode::InvalidSignatureException);
    assert_error(&send(&host, signed("AKIDSTRANGER", SECRET, now)).await, ErrorCode::UnrecognizedClientException);
    assert_error(
        &send(&host, signed(AK, SECRET, now - Duration::from_secs(301))).await,
        ErrorCode::InvalidSignatureException,
    );
    clock.advance(1);
    assert_eq!(send(&host, signed(AK, SECRET, now)).await.status, 200);
}
