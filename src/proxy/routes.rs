//! The proxy's routes: its admin routes under `/_dpsim` (message faults, the log, the report,
//! under the same admin auth as `serve`'s), and every other request forwarded through the
//! fault edge to the upstream.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::faults::{Fate, handle_call};
use crate::protocol::{ErrorCode, ServiceError};
use crate::scenario::model::{Action, MessageFault};
use crate::serve::admin::{AdminError, admit_as, faults_json, injected_errors, parse};
use crate::trace::FaultOrigin;
use crate::wire::http::MAX_BODY_BYTES;

use super::Proxy;
use super::upstream::Relayed;

type Answer = Result<Response, AdminError>;

/// The proxy's app.
pub(crate) fn app(proxy: Proxy) -> Router {
    Router::new()
        .route("/_dpsim/faults", get(list_faults).post(add_fault))
        .route("/_dpsim/faults/errors", post(inject_errors))
        .route("/_dpsim/faults/{id}", axum::routing::delete(remove_fault))
        .route("/_dpsim/log", get(get_log))
        .route("/_dpsim/report", get(get_report))
        .route("/_dpsim/{*rest}", axum::routing::any(unknown))
        .fallback(forward)
        .with_state(proxy)
}

async fn unknown(State(proxy): State<Proxy>, request: Request) -> Answer {
    let what = format!("{} {}", request.method(), request.uri().path());
    admit_as(&proxy.admin, request).await?;
    Err(AdminError::new(
        StatusCode::NOT_FOUND,
        format!(
            "{what} is not a proxy admin route; they are GET|POST /_dpsim/faults, POST /_dpsim/faults/errors, DELETE /_dpsim/faults/ID, GET /_dpsim/log, GET /_dpsim/report"
        ),
    ))
}

fn installed(proxy: &Proxy, fault: MessageFault, raw: &[u8]) -> u64 {
    let origin = FaultOrigin::Posted(String::from_utf8_lossy(raw).into_owned());
    proxy.edge.recorder.record(
        None,
        crate::trace::ObservationKind::Applied {
            what: crate::faults::describe_fault(&fault),
            disturbs: Vec::new(),
            event: Some(crate::scenario::ActionKind::Message),
        },
    );
    proxy.edge.faults.install(fault, crate::faults::backend::Backend::now(&proxy.edge.host), origin)
}

async fn add_fault(State(proxy): State<Proxy>, request: Request) -> Answer {
    let raw = admit_as(&proxy.admin, request).await?;
    let action: Action = parse(&raw, "a scenario's `do` object: a message fault, or a control-plane event")?;
    let Action::Message(fault) = action else {
        return match crate::control::apply(&proxy, &action).await {
            Some(Ok(what)) => {
                let kind = crate::trace::ObservationKind::Applied {
                    what: what.clone(),
                    disturbs: Vec::new(),
                    event: Some(action.kind()),
                };
                proxy.edge.recorder.record(None, kind);
                Ok(axum::Json(json!({ "applied": what })).into_response())
            }
            Some(Err(why)) => Err(AdminError::bad(why)),
            None => Err(AdminError::bad(format!(
                "{} cannot be applied through the proxy: it applies message faults and control-plane events (cancel, rerun, pause_activity, resume_activity, deactivate, activate, delete), made as calls to the upstream",
                action.kind()
            ))),
        };
    };
    crate::scenario::load::check_message_fault("do", &fault).map_err(|e| AdminError::bad(e.to_string()))?;
    let id = installed(&proxy, fault, &raw);
    Ok(axum::Json(json!({ "id": id })).into_response())
}

async fn inject_errors(State(proxy): State<Proxy>, request: Request) -> Answer {
    let raw = admit_as(&proxy.admin, request).await?;
    let (fault, mut answer) = injected_errors(&raw)?;
    answer["id"] = json!(installed(&proxy, fault, &raw));
    Ok(axum::Json(answer).into_response())
}

async fn list_faults(State(proxy): State<Proxy>, request: Request) -> Answer {
    admit_as(&proxy.admin, request).await?;
    Ok(axum::Json(faults_json(&proxy.edge.faults)).into_response())
}

async fn remove_fault(State(proxy): State<Proxy>, Path(id): Path<String>, request: Request) -> Answer {
    admit_as(&proxy.admin, request).await?;
    let id: u64 = id.parse().map_err(|_| AdminError::bad(format!("a fault id is a number, got {id:?}")))?;
    if proxy.edge.faults.remove(id) {
        Ok(axum::Json(json!({ "removed": id })).into_response())
    } else {
        Err(AdminError::new(StatusCode::NOT_FOUND, format!("no fault has id {id}")))
    }
}

async fn get_log(State(proxy): State<Proxy>, request: Request) -> Answer {
    admit_as(&proxy.admin, request).await?;
    let (report, _) = proxy.report();
    let mut response = report.log_text().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

async fn get_report(State(proxy): State<Proxy>, request: Request) -> Answer {
    admit_as(&proxy.admin, request).await?;
    Ok(axum::Json(proxy.report_json()).into_response())
}

/// An AWS JSON 1.1 error, as the service writes one.
fn aws_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = json!({"__type": code.as_str(), "message": message}).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    response
}

/// Every other request: checked (under `--auth`), then through the fault edge to the upstream.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        let message = format!("Request body could not be read or exceeds {MAX_BODY_BYTES} bytes");
        return aws_error(StatusCode::BAD_REQUEST, ErrorCode::SerializationException, &message);
    };
    if let Some(credentials) = &proxy.admin.credentials
        && let Err(e) = crate::wire::sigv4::verify(&parts, &body, credentials, std::time::SystemTime::now())
    {
        let code = ErrorCode::parse(e.code()).unwrap_or(ErrorCode::InvalidSignatureException);
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
        return aws_error(status, code, &e.message());
    }
    if crate::wire::http::operation(&parts).is_err() {
        let target = parts.headers.get("x-amz-target").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let target = target.unwrap_or_else(|| "a call without X-Amz-Target".into());
        tracing::info!(target: "dpsim::proxy", "{target}: not an operation dpsim knows; forwarded unchanged, not judged");
    }
    let answer = async {
        match handle_call(&proxy.edge, &parts, &body).await {
            Fate::Answer(answer) => answer,
            // The caller hears nothing until it gives up, as from a lost message.
            Fate::Silence => std::future::pending().await,
        }
    };
    match answer.await {
        Relayed::Answer { status, headers, body, .. } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Relayed::Failed { status, why } => {
            tracing::warn!(target: "dpsim::proxy", "{}: {why}", crate::wire::http::operation(&parts).map_or("?".into(), |o| o.to_string()));
            aws_error(status, ErrorCode::InternalServiceError, &format!("dpsim proxy: {why}"))
        }
        Relayed::Injected(e) => injected(&e),
    }
}

fn injected(e: &ServiceError) -> Response {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    aws_error(status, e.code, &e.message)
}
