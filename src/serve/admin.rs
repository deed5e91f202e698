//! The admin routes under `/_dpsim/`, outside the AWS namespace: the clock, live message
//! faults (a scenario's `do` objects), and the ownership log and report of what `serve` saw.
//!
//! Bodies are JSON whatever their content type, at most [`MAX_ADMIN_BODY`] bytes, parsed
//! strictly; every refusal is a JSON `{"error": ...}` with a 4xx status that says what was
//! expected. Under `--auth` every admin route needs either the `--admin-token` as
//! `Authorization: Bearer <token>` or a SigV4 signature with the served credentials.

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::check;
use crate::protocol::Operation;
use crate::scenario::model::{Action, MessageEffect, MessageFault};
use crate::time::{Millis, SECOND_MS, format_rfc3339, parse_instant};
use crate::trace::FaultOrigin;
use crate::wire::Clock;
use crate::wire::sigv4::{self, Credentials};

use super::{Served, Server};

/// Largest admin request body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;
/// Longest single clock advance: ten years, the same bound (3,650 days) as a scenario's
/// durations and a definition's periods.
pub const MAX_ADVANCE_MS: u64 = crate::service::definition::MAX_PERIOD_MS;

/// Who may call the admin routes.
#[derive(Clone, Debug, Default)]
pub struct AdminAuth {
    /// The served credentials (`--auth`); none leaves the admin routes open, like the service.
    pub credentials: Option<Credentials>,
    /// `--admin-token`.
    pub token: Option<String>,
}

/// A refused admin call.
#[derive(Debug)]
pub struct AdminError(StatusCode, String);

impl AdminError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> AdminError {
        AdminError(status, message.into())
    }

    pub(crate) fn bad(message: impl Into<String>) -> AdminError {
        AdminError(StatusCode::BAD_REQUEST, message.into())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

type Answer = Result<Response, AdminError>;

fn json_answer(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

/// Every admin route, by method and path: what the router answers, what the errors list and
/// what the OpenAPI document describes (a test holds the three equal).
pub(crate) const ROUTES: [(&str, &str); 12] = [
    ("GET", "/_dpsim/"),
    ("GET", "/_dpsim/page.json"),
    ("GET", "/_dpsim/clock"),
    ("POST", "/_dpsim/clock/advance"),
    ("GET", "/_dpsim/faults"),
    ("POST", "/_dpsim/faults"),
    ("POST", "/_dpsim/faults/errors"),
    ("DELETE", "/_dpsim/faults/{id}"),
    ("GET", "/_dpsim/log"),
    ("GET", "/_dpsim/report"),
    ("POST", "/_dpsim/reset"),
    ("GET", "/_dpsim/openapi.json"),
];

/// The admin routes; every other request goes on to the AWS front door.
pub(crate) fn routes() -> Router<Served> {
    // A known path with another method answers 405 with the same JSON error as an unknown path.
    Router::new()
        .route("/_dpsim/clock", get(get_clock).fallback(wrong_method))
        .route("/_dpsim/clock/advance", post(advance_clock).fallback(wrong_method))
        .route("/_dpsim/faults", get(list_faults).post(add_fault).fallback(wrong_method))
        .route("/_dpsim/faults/errors", post(inject_errors).fallback(wrong_method))
        .route("/_dpsim/faults/{id}", axum::routing::delete(remove_fault).fallback(wrong_method))
        .route("/_dpsim/log", get(get_log).fallback(wrong_method))
        .route("/_dpsim/report", get(get_report).fallback(wrong_method))
        .route("/_dpsim/reset", post(reset).fallback(wrong_method))
        .route("/_dpsim/openapi.json", get(get_openapi).fallback(wrong_method))
        .route("/_dpsim", axum::routing::any(unknown_admin_route))
        .route("/_dpsim/", get(get_page).fallback(wrong_method))
        .route("/_dpsim/page.json", get(get_page_data).fallback(wrong_method))
        .route("/_dpsim/{*rest}", axum::routing::any(unknown_admin_route))
}

/// The routes in words, for the errors that answer a request that is none of them.
fn route_list() -> String {
    ROUTES.iter().map(|(method, path)| format!("{method} {path}")).collect::<Vec<_>>().join(", ")
}

/// Any other path under `/_dpsim`: an admin error naming the routes, not an AWS error.
async fn unknown_admin_route(server: Server, request: Request) -> Answer {
    refuse(&server, request, StatusCode::NOT_FOUND, "is not an admin route; they are").await
}

/// A known admin path with a method it does not take.
async fn wrong_method(server: Server, request: Request) -> Answer {
    refuse(&server, request, StatusCode::METHOD_NOT_ALLOWED, "is not a method this path takes; the routes are").await
}

/// Answers a request that is no admin route with `status` and the routes there are. Under
/// `--auth` the caller is checked first, as on every admin route.
async fn refuse(server: &Server, request: Request, status: StatusCode, words: &str) -> Answer {
    let what = format!("{} {}", request.method(), request.uri().path());
    admit(server, request).await?;
    Err(AdminError(status, format!("{what} {words} {}", route_list())))
}

/// Reads an admin request: checks who calls, bounds and reads the body.
async fn admit(server: &Server, request: Request) -> Result<Bytes, AdminError> {
    admit_as(&server.admin, request).await
}

/// Reads an admin request for a server with these admin rules (`serve`'s and the proxy's):
/// under `--auth`, the admin token as a Bearer header or a SigV4 signature with the served
/// credentials, judged against the machine's clock (the one clients sign with).
pub(crate) async fn admit_as(auth: &AdminAuth, request: Request) -> Result<Bytes, AdminError> {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_ADMIN_BODY).await.map_err(|_| {
        AdminError(StatusCode::PAYLOAD_TOO_LARGE, format!("admin request bodies are at most {MAX_ADMIN_BODY} bytes"))
    })?;
    let Some(credentials) = &auth.credentials else { return Ok(body) };
    let presented = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let (Some(token), Some(given)) = (&auth.token, presented.strip_prefix("Bearer ")) {
        let same =
            token.len() == given.len() && token.bytes().zip(given.bytes()).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0;
        return if same { Ok(body) } else { Err(AdminError(StatusCode::FORBIDDEN, "wrong admin token".into())) };
    }
    if presented.is_empty() {
        return Err(AdminError(
            StatusCode::UNAUTHORIZED,
            "this server runs with --auth: sign admin calls with the served credentials (SigV4), or send Authorization: Bearer <--admin-token>".into(),
        ));
    }
    sigv4::verify(&parts, &body, credentials, std::time::SystemTime::now())
        .map_err(|e| AdminError(StatusCode::FORBIDDEN, format!("{}: {}", e.code(), e.message())))?;
    Ok(body)
}

/// Parses a JSON body strictly, naming the path of what is wrong and what was expected.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, AdminError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // serde_path_to_error names the top level `.` and an unknown place `?`: say it in words.
        let at = match e.path().to_string().as_str() {
            "." | "?" => String::new(),
            path => format!(" at {path}:"),
        };
        AdminError::bad(format!("expected {expected};{at} {}", e.inner()))
    })?;
    de.end().map_err(|_| AdminError::bad(format!("expected {expected}; found text after the JSON value")))?;
    Ok(value)
}

pub(crate) fn clock_json(server: &Server) -> Value {
    let now = server.host().now();
    json!({
        "now": format_rfc3339(now),
        "since_start": crate::report::log::stamp(now.saturating_sub(server.edge.origin)),
        "clock": if server.clock.is_manual() { "manual" } else { "wall" },
        // What `Date` shows and signatures are judged against: the machine's time.
        "signing_time": format_rfc3339(
            server.clock.signing_now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
        ),
    })
}

async fn get_clock(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    json_answer(clock_json(&server))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: Option<f64>,
    to: Option<String>,
}

async fn advance_clock(server: Server, request: Request) -> Answer {
    const EXPECTED: &str = r#"{"seconds": <non-negative number>} or {"to": "<RFC 3339 instant>"}"#;
    let body = admit(&server, request).await?;
    let body: AdvanceBody = parse(&body, EXPECTED)?;
    let now = server.host().now();
    let target: Millis = match (body.seconds, body.to.as_deref()) {
        (Some(s), None) => {
            if !s.is_finite() || s < 0.0 || s * SECOND_MS as f64 > MAX_ADVANCE_MS as f64 {
                return Err(AdminError::bad(format!(
                    "seconds must be a number from 0 to {} (ten years), got {s}",
                    MAX_ADVANCE_MS / SECOND_MS
                )));
            }
            now.saturating_add((s * SECOND_MS as f64).round() as u64)
        }
        (None, Some(to)) => {
            let at = parse_instant(to).ok_or_else(|| {
                AdminError::bad(format!("to must be an RFC 3339 instant such as 2026-01-01T00:02:00Z, got {to:?}"))
            })?;
            if at < now {
                return Err(AdminError::bad(format!(
                    "the clock never goes back: it reads {} and {to} is earlier",
                    format_rfc3339(now)
                )));
            }
            if at - now > MAX_ADVANCE_MS {
                return Err(AdminError::bad("to is more than ten years ahead"));
            }
            at
        }
        _ => return Err(AdminError::bad(format!("expected exactly one of seconds and to: {EXPECTED}"))),
    };
    server.clock.advance_to(target);
    // Applies every deadline that fell due, in order, and releases held polls and delays.
    server.host().clock_changed();
    json_answer(clock_json(&server))
}

async fn add_fault(server: Server, request: Request) -> Answer {
    let body = admit(&server, request).await?;
    let action: Action = parse(
        &body,
        "a scenario's `do` object, e.g. {\"kind\": \"message\", \"operation\": \"ReportTaskProgress\", \"effect\": {\"type\": \"drop_response\"}}",
    )?;
    if let Action::Message(fault) = &action {
        crate::scenario::load::check_message_fault("do", fault).map_err(|e| AdminError::bad(e.to_string()))?;
        let posted = FaultOrigin::Posted(String::from_utf8_lossy(&body).into_owned());
        let id = server.edge.faults.install(fault.clone(), server.host().now(), posted);
        server.edge.recorder.record(
            None,
            crate::trace::ObservationKind::Applied {
                what: crate::faults::describe_fault(fault),
                disturbs: Vec::new(),
                event: Some(action.kind()),
            },
        );
        return json_answer(json!({ "id": id }));
    }
    let posted = FaultOrigin::Posted(String::from_utf8_lossy(&body).into_owned());
    let what = super::script::apply(&server, &action, posted).await.map_err(AdminError::bad)?;
    json_answer(json!({ "applied": what }))
}

/// `GET /_dpsim/faults`'s answer for a fault table (`serve`'s and the proxy's).
pub(crate) fn faults_json(faults: &crate::faults::FaultTable) -> Value {
    let faults: Vec<Value> = faults
        .list()
        .into_iter()
        .map(|f| {
            json!({"id": f.id, "active": f.active(), "matched": f.matched, "applied": f.applied,
                   "fault": Action::Message(f.fault)})
        })
        .collect();
    json!({ "faults": faults })
}

async fn list_faults(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    json_answer(faults_json(&server.edge.faults))
}

async fn remove_fault(server: Server, Path(id): Path<String>, request: Request) -> Answer {
    admit(&server, request).await?;
    let id: u64 = id.parse().map_err(|_| AdminError::bad(format!("a fault id is a number, got {id:?}")))?;
    if server.edge.faults.remove(id) {
        json_answer(json!({ "removed": id }))
    } else {
        Err(AdminError(StatusCode::NOT_FOUND, format!("no fault has id {id}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectBody {
    operation: Operation,
    error: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

/// The fault a `POST /_dpsim/faults/errors` body asks for (`serve`'s and the proxy's), checked,
/// with the answer to give once it is installed (its `id` still to add).
pub(crate) fn injected_errors(raw: &[u8]) -> Result<(MessageFault, Value), AdminError> {
    let body: InjectBody = parse(raw, r#"{"operation": "PollForTask", "error": "InternalServiceError", "count": 1}"#)?;
    let fault = MessageFault {
        operation: Some(body.operation),
        runner: None,
        task: None,
        occurrence: 1,
        count: body.count,
        probability: None,
        lasting: None,
        effect: MessageEffect::Error { code: body.error.clone() },
    };
    crate::scenario::load::check_message_fault("do", &fault).map_err(|e| AdminError::bad(e.to_string()))?;
    Ok((fault, json!({ "operation": body.operation, "error": body.error, "count": body.count })))
}

/// The next `count` calls of an operation answer an error: a message fault like any other.
async fn inject_errors(server: Server, request: Request) -> Answer {
    let raw = admit(&server, request).await?;
    let (fault, mut answer) = injected_errors(&raw)?;
    let posted = FaultOrigin::Posted(String::from_utf8_lossy(&raw).into_owned());
    answer["id"] = json!(server.edge.faults.install(fault, server.host().now(), posted));
    json_answer(answer)
}

async fn get_log(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    let (report, forgotten) = server.report();
    let mut text = String::new();
    if forgotten > 0 {
        text += &format!("# {forgotten} older events were forgotten to keep memory bounded\n");
    }
    text += &report.log_text();
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

/// The report as JSON: counts, expectation verdicts, each invariant's verdict, the log lines.
pub fn report_json(server: &Server) -> Value {
    let (report, forgotten) = server.report();
    report_json_of(server, &report, forgotten)
}

/// [`report_json`] of a report already made (with how many records the bound `forgot`).
pub(crate) fn report_json_of(server: &Server, report: &crate::report::Report, forgotten: u64) -> Value {
    let invariants: Vec<Value> = check::Invariant::ALL
        .into_iter()
        .map(|invariant| {
            let broken: Vec<&check::Violation> =
                report.violations.iter().filter(|v| v.invariant == invariant).collect();
            json!({"name": invariant, "held": broken.is_empty(), "violations": broken})
        })
        .collect();
    json!({
        "summary": report.summary,
        "expectations": report.expectations,
        "invariants": invariants,
        "passed": report.passed(),
        "log": report.log,
        "forgotten": forgotten,
        "now": clock_json(server),
    })
}

async fn get_report(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    json_answer(report_json(&server))
}

/// Starts the world again (see [`Served::reset`]).
async fn reset(State(served): State<Served>, request: Request) -> Answer {
    admit(&served.current(), request).await?;
    json_answer(served.reset().await)
}

/// The OpenAPI 3.1 description of these routes.
async fn get_openapi(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    json_answer(super::openapi::document().clone())
}

/// The live report page. It holds no data (the page fetches `page.json` and the clock with
/// the admin token, which it asks for under `--auth`), so it is answered without one: a
/// browser cannot sign its own navigation.
async fn get_page() -> Response {
    let mut response = crate::report::page::live("dpsim serve").into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

/// What the report page draws, for what `serve` has seen so far.
async fn get_page_data(server: Server, request: Request) -> Answer {
    admit(&server, request).await?;
    let (report, _) = server.report();
    let (trace, _) = server.trace();
    json_answer(crate::report::page::data("dpsim serve", &report, &trace))
}
