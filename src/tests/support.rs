//! Helpers shared by the wire tests: a host on a manual clock and a way to call its router.

#![allow(dead_code)]

use std::sync::Arc;

use crate::service::Settings;
use crate::wire::http::router;
use crate::wire::{Host, HostConfig, ManualClock};
use axum::body::{Body, to_bytes};
use http::Request;
use serde_json::Value;
use tower::ServiceExt;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000;

/// A host whose clock only moves when the test says.
pub fn host(config: HostConfig) -> (Host, ManualClock) {
    let clock = ManualClock::new(T0);
    (Host::new(config, Arc::new(clock.clone())), clock)
}

/// A host with default rules except that empty polls answer at once.
pub fn quick_host() -> (Host, ManualClock) {
    host(HostConfig { settings: Settings { poll_hold_ms: 0, ..Settings::default() }, ..HostConfig::default() })
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code of an error reply.
    pub fn error_type(&self) -> String {
        self.json()["__type"].as_str().unwrap_or_default().to_string()
    }
}

/// Sends a raw request to the host's router.
pub async fn send(host: &Host, request: Request<Body>) -> Reply {
    let response = router(host.clone()).oneshot(request).await.expect("router is infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, headers, body }
}

/// Calls `DataPipeline.<op>` with a JSON body.
pub async fn call(host: &Host, op: &str, body: Value) -> Reply {
    let request = Request::post("/")
        .header("x-amz-target", format!("DataPipeline.{op}"))
        .header("content-type", "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(host, request).await
}

/// Calls and expects HTTP 200.
pub async fn ok(host: &Host, op: &str, body: Value) -> Value {
    let reply = call(host, op, body).await;
    assert_eq!(reply.status, 200, "{op}: {}", reply.text());
    reply.json()
}

/// Creates, defines and activates a pipeline with one `Copy` activity in worker group `wg`.
pub async fn running_pipeline(host: &Host) -> String {
    let created = ok(host, "CreatePipeline", serde_json::json!({"name": "p", "uniqueId": "u"})).await;
    let id = created["pipelineId"].as_str().unwrap().to_string();
    let put = ok(
        host,
        "PutPipelineDefinition",
        serde_json::json!({"pipelineId": id, "pipelineObjects": [
            {"id": "Default", "name": "Default", "fields": [{"key": "scheduleType", "stringValue": "ondemand"}]},
            {"id": "Copy", "name": "Copy", "fields": [
                {"key": "type", "stringValue": "ShellCommandActivity"},
                {"key": "command", "stringValue": "echo hi"},
                {"key": "workerGroup", "stringValue": "wg"}]}]}),
    )
    .await;
    assert_eq!(put["errored"], false, "{put}");
    ok(host, "ActivatePipeline", serde_json::json!({"pipelineId": id})).await;
    id
}
