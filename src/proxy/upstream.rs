//! The proxy's backend: a real Data Pipeline endpoint. A call is forwarded as it came (body
//! and headers unchanged) except for what re-signing must change (`Authorization`,
//! `X-Amz-Date`, `Host`, a session token): a client's signature covers the proxy's host, so
//! the proxy signs for the upstream itself when it has credentials. The answer goes back as it
//! came. Bounded in size and time as `serve` bounds its requests.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::faults::backend::{Backend, TaskView};
use crate::protocol::{ErrorCode, Operation, ServiceError};
use crate::time::Millis;
use crate::trace::CallOutcome;
use crate::wire::clock::machine_ms;
use crate::wire::http::{MAX_BODY_BYTES, operation};
use crate::wire::signing::Signer;

use super::credentials::UpstreamSigning;
use super::outside::Outside;
use super::route::Connector;

/// Longest wait for the upstream's answer: above AWS's 90-second long poll.
pub(crate) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// What the proxy heard from the upstream, to pass on.
#[derive(Clone, Debug)]
pub(crate) enum Relayed {
    /// The upstream's answer, as it came.
    Answer { operation: Option<Operation>, status: StatusCode, headers: HeaderMap, body: Bytes },
    /// No answer: the upstream could not be reached, hung past the timeout, or answered
    /// something unreadable. The client hears a 502 or 504 saying which.
    Failed { status: StatusCode, why: String },
    /// An error a message fault injected.
    Injected(ServiceError),
}

/// Whether this build can reach an upstream of this scheme.
pub(crate) fn scheme_supported(scheme: Option<&str>) -> bool {
    scheme == Some("http") || (cfg!(feature = "tls") && scheme == Some("https"))
}

/// The upstream endpoint, and how to reach and sign for it.
#[derive(Clone)]
pub(crate) struct Upstream {
    client: Client<Connector, Full<Bytes>>,
    base: Uri,
    signing: Option<Arc<UpstreamSigning>>,
    pub(crate) outside: Outside,
    timeout: Duration,
}

impl Upstream {
    /// `base` is the upstream's URL; `signer` what to sign with, if anything.
    pub(crate) fn new(
        base: Uri,
        connector: Connector,
        signing: Option<UpstreamSigning>,
        outside: Outside,
        timeout: Duration,
    ) -> Upstream {
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Upstream { client, base, signing: signing.map(Arc::new), outside, timeout }
    }

    /// Asks for the credentials it signs with (if any), so a provider with nothing to give
    /// is told at start.
    pub(crate) async fn check_credentials(&self) -> Result<(), String> {
        match &self.signing {
            Some(signing) => signing.signer().await.map(|_| ()),
            None => Ok(()),
        }
    }

    fn target(&self, parts: &Parts) -> Result<Uri, String> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let prefix = self.base.path().trim_end_matches('/');
        let mut uri = http::uri::Builder::new();
        if let Some(scheme) = self.base.scheme() {
            uri = uri.scheme(scheme.clone());
        }
        if let Some(authority) = self.base.authority() {
            uri = uri.authority(authority.clone());
        }
        uri.path_and_query(format!("{prefix}{path}")).build().map_err(|e| e.to_string())
    }

    /// The forwarded request: the client's headers but those re-signing changes, signed for
    /// the upstream when the proxy has credentials.
    fn request(
        &self,
        parts: &Parts,
        body: &Bytes,
        signer: Option<&Signer>,
    ) -> Result<http::Request<Full<Bytes>>, String> {
        let uri = self.target(parts)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &parts.headers {
            let resigned = signer.is_some()
                && [header::AUTHORIZATION.as_str(), "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
                    .contains(&name.as_str());
            let hop = [header::HOST, header::CONNECTION, header::TRANSFER_ENCODING, header::CONTENT_LENGTH]
                .contains(name)
                || name.as_str() == "keep-alive";
            if !resigned && !hop {
                headers.append(name.clone(), value.clone());
            }
        }
        let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
        headers.insert(header::HOST, HeaderValue::from_str(&authority).map_err(|e| e.to_string())?);
        if let Some(signer) = signer {
            signer.sign(&parts.method, &uri, &mut headers, body)?;
        }
        let mut request = http::Request::builder().method(parts.method.clone()).uri(uri);
        if let Some(h) = request.headers_mut() {
            *h = headers;
        }
        request.body(Full::new(body.clone())).map_err(|e| e.to_string())
    }

    async fn forward(&self, parts: &Parts, body: &Bytes) -> Relayed {
        let op = operation(parts).ok();
        let signer = match &self.signing {
            None => None,
            Some(signing) => match signing.signer().await {
                Ok(signer) => Some(signer),
                Err(why) => {
                    let why = format!("no credentials to sign for the upstream: {why}");
                    return Relayed::Failed { status: StatusCode::BAD_GATEWAY, why };
                }
            },
        };
        let request = match self.request(parts, body, signer.as_ref()) {
            Ok(r) => r,
            Err(why) => {
                return Relayed::Failed { status: StatusCode::BAD_GATEWAY, why: format!("cannot forward: {why}") };
            }
        };
        let sent = tokio::time::timeout(self.timeout, self.client.request(request)).await;
        let response = match sent {
            Err(_) => {
                return Relayed::Failed {
                    status: StatusCode::GATEWAY_TIMEOUT,
                    why: format!("the upstream {} did not answer within {:?}", self.base, self.timeout),
                };
            }
            Ok(Err(e)) => {
                let what = if e.is_connect() { "could not be reached" } else { "gave no readable HTTP answer" };
                return Relayed::Failed {
                    status: StatusCode::BAD_GATEWAY,
                    why: format!("the upstream {} {what}: {}", self.base, chain(&e)),
                };
            }
            Ok(Ok(r)) => r,
        };
        let (head, incoming) = response.into_parts();
        let limited = Limited::new(incoming, MAX_BODY_BYTES);
        match tokio::time::timeout(self.timeout, limited.collect()).await {
            Ok(Ok(collected)) => {
                let mut headers = head.headers;
                for hop in [header::CONNECTION, header::TRANSFER_ENCODING, header::CONTENT_LENGTH] {
                    headers.remove(hop);
                }
                Relayed::Answer { operation: op, status: head.status, headers, body: collected.to_bytes() }
            }
            Ok(Err(e)) => Relayed::Failed {
                status: StatusCode::BAD_GATEWAY,
                why: format!(
                    "the upstream's answer could not be read (or exceeds {MAX_BODY_BYTES} bytes): {}",
                    chain(&*e)
                ),
            },
            Err(_) => Relayed::Failed {
                status: StatusCode::GATEWAY_TIMEOUT,
                why: format!("the upstream's answer did not finish within {:?}", self.timeout),
            },
        }
    }
}

/// An error with its causes (`client error (Connect): invalid peer certificate: UnknownIssuer`):
/// the outermost alone rarely says what went wrong.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut words = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        words += &format!(": {c}");
        cause = c.source();
    }
    words
}

/// What an upstream answer says, read from the outside.
fn read(relayed: &Relayed) -> (CallOutcome, bool) {
    match relayed {
        Relayed::Failed { .. } => (CallOutcome::NotReceived, false),
        Relayed::Injected(e) => (CallOutcome::Error { code: e.code }, false),
        Relayed::Answer { operation, status, body, .. } => {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if !status.is_success() {
                // `__type` is `Code` or `prefix#Code`; an error the model does not name is the
                // service failing.
                let named = value["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
                let code = named.and_then(|n| ErrorCode::parse(&n)).unwrap_or(ErrorCode::InternalServiceError);
                return (CallOutcome::Error { code }, false);
            }
            let outcome = match operation {
                Some(Operation::PollForTask) => match value.get("taskObject") {
                    Some(task) if task.is_object() => CallOutcome::Handout {
                        task_id: task["taskId"].as_str().unwrap_or_default().to_string(),
                        pipeline_id: task["pipelineId"].as_str().unwrap_or_default().to_string(),
                        attempt_id: task["attemptId"].as_str().unwrap_or_default().to_string(),
                    },
                    _ => CallOutcome::NoTask,
                },
                Some(Operation::ReportTaskProgress) => {
                    CallOutcome::Report { canceled: value["canceled"].as_bool().unwrap_or(false) }
                }
                Some(Operation::ReportTaskRunnerHeartbeat) => {
                    CallOutcome::Heartbeat { terminate: value["terminate"].as_bool().unwrap_or(false) }
                }
                _ => CallOutcome::Accepted,
            };
            (outcome, true)
        }
    }
}

impl Backend for Upstream {
    type Answer = Relayed;

    fn now(&self) -> Millis {
        machine_ms()
    }

    async fn sleep_until(&self, at: Millis) {
        let now = machine_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
    }

    async fn deliver(&self, parts: &Parts, body: &Bytes) -> (Relayed, Millis) {
        let relayed = self.forward(parts, body).await;
        let now = machine_ms();
        // The outside lease model learns from every answer a runner was told.
        let answer: &[u8] = match &relayed {
            Relayed::Answer { body, .. } => body,
            _ => &[],
        };
        self.outside.learn(parts, body, &read(&relayed).0, answer, now);
        (relayed, now)
    }

    fn injected(&self, error: ServiceError) -> Relayed {
        Relayed::Injected(error)
    }

    fn outcome(answer: &Relayed) -> (CallOutcome, bool) {
        read(answer)
    }

    fn task(&self, task_id: &str) -> Option<TaskView> {
        self.outside.task(task_id)
    }
}
