//! The official `aws-sdk-datapipeline` client inside the simulation, unchanged, plugged in
//! through its documented extension points:
//!
//! - **HTTP**: an [`HttpClient`] whose connector sends each request over turmoil's TCP to the
//!   virtual service (keeping one idle connection per client for reuse, as production HTTP
//!   clients do, dropping any that failed), honours the connect and read timeouts the SDK asks
//!   for, and stamps the runner's name so the service's edge knows who called;
//! - **sleep**: [`SimSleep`], a tokio sleep (simulated time inside a turmoil host) that the
//!   driver knows about, so that it can leap over the idle time before it;
//! - **time**: a [`TimeSource`] reading simulated time, so the SDK's clock (and SigV4 dates,
//!   for a runner that turns signing back on) is the simulation's;
//! - **randomness**: invocation ids from a generator seeded per runner; retry jitter from
//!   `fastrand`'s thread-local generator, which the simulation seeds from the scenario seed
//!   at the start of every run (a whole run executes on one thread); a retry token bucket of
//!   the client's own, instead of the SDK's process-wide one, so runs cannot leak into each
//!   other.
//!
//! **No request signing** (`allow_no_auth`, and no credentials): the virtual service checks no
//! signature, and SigV4's canonical request and HMACs on every call were the largest single cost
//! of an SDK runner (with signing, `cargo bench --bench runners` measured 5.05x–5.74x the
//! built-in runner's wall time; without, 3.12x–4.39x, and 3.18x–3.58x once each process kept
//! the best of three runs). Signing is exercised where it is checked:
//! `dpsim serve --auth` with real SDKs. A runner that wants it back sets a credentials provider
//! on [`RunnerEnv::sdk_config`](super::RunnerEnv::sdk_config).
//!
//! Stalled-stream protection is off: the connector hands the SDK whole bodies from memory, so
//! there is no stream to stall, and its periodic throughput checks would only cost time (they
//! made SDK runners twice as slow in `cargo bench --bench runners`).
//!
//! Defaults dpsim chooses because turmoil never retransmits (a lost answer would otherwise
//! hang a call forever): connect timeout = the runner's `request_timeout`; read timeout =
//! `poll_hold` + `request_timeout` (PollForTask is held up to `poll_hold`). Everything else is
//! the SDK's own default (standard retry mode, 3 attempts). Change them on
//! [`RunnerEnv::sdk_config`](super::RunnerEnv::sdk_config).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_runtime::invocation_id::DefaultInvocationIdGenerator;
use aws_sdk_datapipeline::config::{BehaviorVersion, Region, StalledStreamProtectionConfig};
use aws_smithy_async::rt::sleep::{AsyncSleep, Sleep};
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::timeout::TimeoutConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::sim::clock::sim_now;
use crate::trace::ObservationKind;
use crate::trace::Recorder;

use super::client::{RUNNER_HEADER, SERVICE};
use super::control::RunnerControl;
use super::env::RunnerEnv;

/// The SDK client a runner program gets; its environment's other calls are in `env.rs`.
impl RunnerEnv {
    /// A ready `aws_sdk_datapipeline::Client` whose calls go over the simulated network to the
    /// virtual service, with simulated sleeps and clock and randomness pinned to the seed.
    /// No retries beyond the SDK's own, no signing (the virtual service checks none; set a
    /// credentials provider on [`RunnerEnv::sdk_config`] to sign), a kept-alive connection.
    pub fn sdk_client(&self) -> aws_sdk_datapipeline::Client {
        aws_sdk_datapipeline::Client::from_conf(self.sdk_config().build())
    }

    /// The configuration behind [`RunnerEnv::sdk_client`], to change before building a client
    /// (timeouts, retry settings). Keep its HTTP client, sleep and time source.
    pub fn sdk_config(&self) -> aws_sdk_datapipeline::config::Builder {
        config(self)
    }
}

/// The configuration of a runner's SDK client; see the module docs.
fn config(env: &RunnerEnv) -> aws_sdk_datapipeline::config::Builder {
    let request_timeout = Duration::from_millis(env.spec().request_timeout.ms());
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(request_timeout)
        .read_timeout(env.poll_hold() + request_timeout)
        .build();
    let partition =
        RetryPartition::custom(format!("dpsim-{}", env.name())).token_bucket(TokenBucket::default()).build();
    aws_sdk_datapipeline::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .endpoint_url("http://service")
        .allow_no_auth()
        .http_client(SimHttpClient {
            runner: env.name().to_string(),
            recorder: env.inner.recorder.clone(),
            control: env.control().clone(),
            idle: Arc::new(Mutex::new(None)),
        })
        .sleep_impl(SimSleep)
        .time_source(SimTimeSource)
        .timeout_config(timeouts)
        .retry_partition(partition)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .invocation_id_generator(DefaultInvocationIdGenerator::with_seed(env.inner.seed ^ 0x1d_5eed))
}

/// Simulated wall-clock time.
#[derive(Debug, Clone, Copy)]
struct SimTimeSource;

impl TimeSource for SimTimeSource {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(sim_now())
    }
}

/// The SDK's HTTP client inside the simulation.
#[derive(Clone)]
struct SimHttpClient {
    runner: String,
    recorder: Recorder,
    control: Arc<RunnerControl>,
    /// The kept-alive connection, shared by every connector the client hands out: the SDK asks
    /// for a connector on every attempt, so a connection kept per connector would never be
    /// reused (each call would open a new one, as no production HTTP client does).
    idle: Arc<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

impl std::fmt::Debug for SimHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHttpClient").field("runner", &self.runner).finish()
    }
}

impl HttpClient for SimHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(SimConnector {
            runner: self.runner.clone(),
            recorder: self.recorder.clone(),
            control: self.control.clone(),
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
            idle: self.idle.clone(),
        })
    }
}

/// Sends requests over turmoil TCP, keeping one idle HTTP/1 connection for reuse.
#[derive(Clone)]
struct SimConnector {
    runner: String,
    recorder: Recorder,
    control: Arc<RunnerControl>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    idle: Arc<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

impl std::fmt::Debug for SimConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConnector").field("runner", &self.runner).finish()
    }
}

/// Why a request got no HTTP answer.
enum Failure {
    Timeout(&'static str),
    Io(String),
}

impl SimConnector {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sender) = idle.filter(|s| !s.is_closed()) {
            return Ok(sender);
        }
        let connect = async {
            let stream = turmoil::net::TcpStream::connect(SERVICE)
                .await
                .map_err(|e| Failure::Io(format!("cannot connect ({})", e.kind())))?;
            let (sender, connection) =
                http1::handshake(TokioIo::new(stream)).await.map_err(|e| Failure::Io(e.to_string()))?;
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
            Ok(sender)
        };
        match self.connect_timeout {
            Some(limit) => crate::timers::timeout(limit, connect).await.unwrap_or(Err(Failure::Timeout("connect"))),
            None => connect.await,
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Failure> {
        let mut request = request.try_into_http1x().map_err(|e| Failure::Io(format!("bad request: {e}")))?;
        request
            .headers_mut()
            .insert(RUNNER_HEADER, http::HeaderValue::from_str(&self.runner).map_err(|e| Failure::Io(e.to_string()))?);
        // The body is read through its own stream, so the SDK's upload monitoring sees progress.
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|e| Failure::Io(format!("request body: {e}")))?.to_bytes();
        let request = http::Request::from_parts(parts, Full::new(body));
        let mut sender = self.connect().await?;
        let exchange = async {
            sender.ready().await.map_err(|e| Failure::Io(e.to_string()))?;
            let response = sender.send_request(request).await.map_err(|e| Failure::Io(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.map_err(|e| Failure::Io(e.to_string()))?.to_bytes();
            Ok(http::Response::from_parts(parts, SdkBody::from(bytes)))
        };
        let response = match self.read_timeout {
            Some(limit) => crate::timers::timeout(limit, exchange).await.unwrap_or(Err(Failure::Timeout("read"))),
            None => exchange.await,
        }?;
        // Only a connection that answered is kept: a timed-out one may still deliver an old answer.
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        HttpResponse::try_from(response).map_err(|e| Failure::Io(format!("bad response: {e}")))
    }
}

/// Records a call the SDK gave up on (its attempt or operation timeout) before it ended.
struct Abandoned<'a> {
    connector: &'a SimConnector,
    operation: &'a str,
    done: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if !self.done && !self.connector.control.is_down() {
            self.connector.failed(self.operation, "timed out (abandoned by the SDK)".into(), true);
        }
    }
}

impl SimConnector {
    fn failed(&self, operation: &str, error: String, transient: bool) {
        let kind = ObservationKind::CallFailed { transient, operation: operation.to_string(), error };
        self.recorder.record(Some(&self.runner), kind);
    }
}

impl HttpConnector for SimConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move {
            let operation = request
                .headers()
                .get("x-amz-target")
                .and_then(|t| t.strip_prefix("DataPipeline."))
                .unwrap_or("?")
                .to_string();
            let mut guard = Abandoned { connector: &this, operation: &operation, done: false };
            let result = this.send(request).await;
            guard.done = true;
            let failed = |error: String, transient: bool| this.failed(&operation, error, transient);
            match result {
                Ok(response) => {
                    if let Some(code) = response.headers().get("x-amzn-errortype") {
                        let code = code.to_string();
                        let transient = code == "InternalServiceError" || code == "ThrottlingException";
                        failed(code, transient);
                    }
                    Ok(response)
                }
                Err(Failure::Timeout(what)) => {
                    failed("timed out".into(), true);
                    Err(ConnectorError::timeout(format!("{what} timeout in the simulated network").into()))
                }
                Err(Failure::Io(e)) => {
                    failed(format!("network error: {e}"), true);
                    Err(ConnectorError::io(e.into()))
                }
            }
        })
    }
}

/// The SDK's sleep (retry back-off, attempt and operation timeouts): a timer the simulation
/// knows, so idle time before it is leapt over instead of stepped through.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimSleep;

impl AsyncSleep for SimSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(crate::timers::sleep(duration))
    }
}
