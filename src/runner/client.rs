//! A lean AWS JSON 1.1 client over the simulated network, or a real one for dpsim's runner
//! outside the simulation ([`super::network`]): one kept-alive connection, a timeout per call,
//! and a fresh connection after any failure (turmoil never retransmits). Every request carries
//! the caller's runner name in [`RUNNER_HEADER`], so the service's edge knows which runner sent
//! it (the simulation's ground truth, used by message faults).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::Operation;
use crate::wire::signing::Signer;

/// The service's host name and port inside the simulation.
pub const SERVICE: (&str, u16) = (crate::scenario::world_plan::SERVICE_HOST, 80);

/// The header naming the runner that sends a request inside the simulation.
pub const RUNNER_HEADER: &str = "x-dpsim-runner";

/// Serialises a request body.
pub fn body(value: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("request bodies serialise"))
}

/// Why a call did not return a success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No answer within the timeout.
    Timeout,
    /// The connection could not be made or broke.
    Network(String),
    /// The service answered an AWS error.
    Aws {
        /// `__type`.
        code: String,
        /// `message`.
        message: String,
    },
}

impl CallError {
    /// Short words for logs.
    pub fn describe(&self) -> String {
        match self {
            CallError::Timeout => "timed out".into(),
            CallError::Network(e) => format!("network error: {e}"),
            CallError::Aws { code, .. } => code.clone(),
        }
    }

    /// Worth retrying: the call may not have been seen, or the service asked to retry.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Timeout | CallError::Network(_) => true,
            CallError::Aws { code, .. } => code == "InternalServiceError" || code == "ThrottlingException",
        }
    }
}

/// A real endpoint: where to connect, the `Host` to name, and what to sign with.
pub(crate) struct Endpoint {
    /// `host:port`, to connect to and to name in `Host`.
    pub authority: String,
    /// The endpoint's URL (`http://host:port/`), which a signature covers.
    pub uri: http::Uri,
    pub signer: Option<Signer>,
}

/// A client of the simulated service, or of a real endpoint.
pub struct ApiClient {
    sender: Option<SendRequest<Full<Bytes>>>,
    keep_alive: bool,
    runner: Option<String>,
    endpoint: Option<Arc<Endpoint>>,
}

impl Default for ApiClient {
    fn default() -> Self {
        ApiClient::new()
    }
}

impl ApiClient {
    /// A client that connects on first use.
    pub fn new() -> ApiClient {
        ApiClient { sender: None, keep_alive: true, runner: None, endpoint: None }
    }

    /// A client whose calls name `runner` as their sender.
    pub fn for_runner(runner: &str) -> ApiClient {
        ApiClient { sender: None, keep_alive: true, runner: Some(runner.to_string()), endpoint: None }
    }

    /// A client that opens a connection per call, for rare calls (heartbeats) that should
    /// not hold an idle connection open for their whole interval.
    pub fn one_shot(self) -> ApiClient {
        ApiClient { keep_alive: false, ..self }
    }

    /// A client of a real endpoint instead of the simulated service.
    pub(crate) fn at_endpoint(self, endpoint: Option<Arc<Endpoint>>) -> ApiClient {
        ApiClient { endpoint, ..self }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, CallError> {
        let usable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !usable {
            let cannot = |e: std::io::Error| CallError::Network(format!("cannot connect ({})", e.kind()));
            self.sender = Some(match &self.endpoint {
                None => handshake(turmoil::net::TcpStream::connect(SERVICE).await.map_err(cannot)?).await?,
                Some(e) => {
                    handshake(tokio::net::TcpStream::connect(e.authority.as_str()).await.map_err(cannot)?).await?
                }
            });
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    /// Calls `op` with a JSON body, giving up after `timeout`; decodes the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        op: Operation,
        body: Bytes,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let result = crate::timers::timeout(timeout, self.call_inner(op, body)).await;
        let result = result.unwrap_or(Err(CallError::Timeout));
        if !self.keep_alive || matches!(result, Err(CallError::Timeout | CallError::Network(_))) {
            // A timed-out HTTP/1 connection may still deliver the old answer: never reuse it.
            self.sender = None;
        }
        result
    }

    async fn call_inner<T: DeserializeOwned>(&mut self, op: Operation, body: Bytes) -> Result<T, CallError> {
        let runner = self.runner.clone();
        let endpoint = self.endpoint.clone();
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| CallError::Network(e.to_string()))?;
        let host = endpoint.as_ref().map_or("service", |e| e.authority.as_str());
        let mut request = http::Request::post("/").header("host", host);
        if let Some(runner) = &runner {
            request = request.header(RUNNER_HEADER, runner.as_str());
        }
        let mut request = request
            .header("x-amz-target", format!("DataPipeline.{op}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(body.clone()))
            .map_err(|e| CallError::Network(format!("cannot build the request: {e}")))?;
        if let Some(Endpoint { uri, signer: Some(signer), .. }) = endpoint.as_deref() {
            signer
                .sign(&http::Method::POST, uri, request.headers_mut(), &body)
                .map_err(|e| CallError::Network(format!("cannot sign the request: {e}")))?;
        }
        let response = sender.send_request(request).await.map_err(|e| CallError::Network(e.to_string()))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| CallError::Network(e.to_string()))?.to_bytes();
        if status.is_success() {
            // Typed decoding skips what the caller does not need (task objects are large).
            return serde_json::from_slice(&bytes).map_err(|e| CallError::Network(format!("bad body: {e}")));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| CallError::Network(format!("bad body: {e}")))?;
        {
            Err(CallError::Aws {
                code: value["__type"].as_str().unwrap_or("Unknown").to_string(),
                message: value["message"].as_str().unwrap_or_default().to_string(),
            })
        }
    }
}

/// An HTTP/1 connection over `stream`, driven by a task of the runner's own.
async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, CallError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let (sender, connection) =
        http1::handshake(TokioIo::new(stream)).await.map_err(|e| CallError::Network(e.to_string()))?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
