//! The AWS JSON 1.1 front door: `POST /` with `X-Amz-Target`, typed errors as AWS bodies,
//! request ids and a `Date` header from the service's clock.

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::protocol::{ErrorCode, Operation, Request as ApiRequest, Response as ApiResponse, ServiceError};

use super::host::Host;
use super::sigv4;
use crate::time::Millis;

/// The response header that carries the service's own (simulated) time, RFC 3339 with
/// milliseconds: under `serve`, `Date` shows the machine's time that clients sign with.
pub const SIMULATED_TIME_HEADER: &str = "x-dpsim-time";
/// Largest body the service reads; AWS's own limits are far below it.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The content type of every AWS JSON 1.1 body.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The AWS API router: every request to any path or method is answered the AWS way.
pub fn router(host: Host) -> Router {
    Router::new().fallback(handle).with_state(host)
}

async fn handle(State(host): State<Host>, request: Request) -> Response {
    let request_id = host.next_request_id();
    let (parts, body) = request.into_parts();
    let result = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => dispatch(&host, &parts, &bytes).await,
        Err(_) => Err(ServiceError::new(
            ErrorCode::SerializationException,
            format!("Request body could not be read or exceeds {MAX_BODY_BYTES} bytes"),
        )),
    };
    render(&host, request_id, result)
}

/// Authenticates, routes, parses and validates one HTTP request, then calls the service.
pub async fn dispatch(host: &Host, parts: &http::request::Parts, body: &Bytes) -> Result<ApiResponse, ServiceError> {
    dispatch_timed(host, parts, body).await.0
}

/// Like [`dispatch`], and also the service's clock when it decided the answer (see
/// [`Host::call_timed`]).
pub async fn dispatch_timed(
    host: &Host,
    parts: &http::request::Parts,
    body: &Bytes,
) -> (Result<ApiResponse, ServiceError>, Millis) {
    let now = host.now();
    match admit(host, parts, body) {
        Ok(request) => host.call_timed(request).await,
        Err(e) => (Err(e), now),
    }
}

/// Everything before the service: route, signature, throttling, parsing.
fn admit(host: &Host, parts: &http::request::Parts, body: &Bytes) -> Result<ApiRequest, ServiceError> {
    if parts.method != http::Method::POST || parts.uri.path() != "/" {
        return Err(ServiceError::new(
            ErrorCode::UnknownOperationException,
            format!(
                "{} {} is not an operation: AWS JSON 1.1 calls are POST / with X-Amz-Target",
                parts.method,
                parts.uri.path()
            ),
        ));
    }
    if let Some(credentials) = host.credentials() {
        let now = host.clock().signing_now();
        sigv4::verify(parts, body, credentials, now).map_err(|e| ServiceError::new(auth_code(&e), e.message()))?;
    }
    let op = operation(parts)?;
    host.admission(op)?;
    ApiRequest::parse(op, body)
}

fn auth_code(e: &sigv4::AuthError) -> ErrorCode {
    ErrorCode::parse(e.code()).unwrap_or(ErrorCode::InvalidSignatureException)
}

/// The operation an `X-Amz-Target` header names.
pub fn operation(parts: &http::request::Parts) -> Result<Operation, ServiceError> {
    let target = parts.headers.get("x-amz-target").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let Some(target) = target else {
        return Err(ServiceError::new(ErrorCode::UnknownOperationException, "Missing X-Amz-Target header"));
    };
    Operation::from_target(&target).ok_or_else(|| {
        ServiceError::new(
            ErrorCode::UnknownOperationException,
            format!("Unknown operation {target:?}: expected DataPipeline.<Operation>"),
        )
    })
}

/// Renders an answer as an HTTP response with the AWS headers.
pub fn render(host: &Host, request_id: String, result: Result<ApiResponse, ServiceError>) -> Response {
    let (status, body, error_type) = match result {
        Ok(response) => {
            let body = serde_json::to_vec(&response).expect("responses always serialise");
            (StatusCode::OK, body, None)
        }
        Err(e) => {
            let body = serde_json::to_vec(&serde_json::json!({ "__type": e.code.as_str(), "message": e.message }))
                .expect("error bodies always serialise");
            let status = StatusCode::from_u16(e.code.http_status()).expect("valid status");
            (status, body, Some(e.code.as_str()))
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Ok(v) = HeaderValue::from_str(&host.http_date()) {
        headers.insert(header::DATE, v);
    }
    // The service's own (simulated) time, which `Date` no longer shows under `serve`.
    if let Ok(v) = HeaderValue::from_str(&crate::time::format_rfc3339(host.now())) {
        headers.insert(SIMULATED_TIME_HEADER, v);
    }
    if let Some(code) = error_type {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
    }
    response
}
