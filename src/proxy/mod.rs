//! `dpsim proxy`: the same message faults and the same checks in front of a real Data Pipeline
//! endpoint. Clients point their endpoint at the proxy; it forwards every AWS JSON 1.1 call to
//! the upstream (re-signing it when given credentials), applies the message faults posted to
//! its admin routes through the same edge as the simulation and `serve`, records every call
//! and its answer, and keeps an ownership log built from what runners were told. Its report
//! judges the invariants that calls and answers alone can judge, and says for each whether a
//! breach points at the runners or at the service.
//!
//! ```no_run
//! # async fn proxy() -> Result<(), dpsim::proxy::ProxyError> {
//! use dpsim::proxy::ProxyOptions;
//!
//! let options = ProxyOptions::new("http://127.0.0.1:8123".parse().unwrap());
//! let proxying = dpsim::proxy::bind(options).await?;
//! println!("point runners at http://{}", proxying.local_addr());
//! proxying.serve_until(std::future::pending()).await
//! # }
//! ```

mod credentials;
mod outside;
mod route;
mod routes;
mod upstream;

pub use route::UpstreamProxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::Uri;
use serde_json::{Value, json};

use crate::check::Invariant;
use crate::faults::{EdgeCtx, FaultTable};
use crate::report::Report;
use crate::scenario::Scenario;
use crate::serve::admin::AdminAuth;
use crate::time::Millis;
use crate::trace::{Recorder, Trace};
use crate::wire::sigv4::Credentials;

use crate::wire::clock::{MachineClock, machine_ms};
use credentials::UpstreamSigning;
use outside::{Outside, Rules};
use upstream::Upstream;

/// The default `--tolerance`: real services decide on their own clock, to the second at best.
pub const DEFAULT_TOLERANCE_MS: Millis = 1_000;

/// Most calls and observations the proxy keeps for its log and report.
const TRACE_LIMIT: usize = 200_000;

/// The invariants calls and answers alone can judge, and which side a breach points at.
/// The others read the service's own journal, which a proxy cannot see.
const JUDGED: [(Invariant, Side); 5] = [
    (Invariant::History, Side::Service),
    (Invariant::SingleOwner, Side::Service),
    (Invariant::Liveness, Side::Service),
    (Invariant::ZombieBound, Side::Runner),
    (Invariant::FaultTarget, Side::Proxy),
];

/// Whom a breach points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// The endpoint answered in a way dpsim's model of the lease rules does not allow: the
    /// service differs from the model (or has a bug).
    Service,
    /// A runner went on after it was told its task was gone.
    Runner,
    /// The proxy applied a fault to a call it should not have.
    Proxy,
}

impl Side {
    fn words(self) -> &'static str {
        match self {
            Side::Service => "service: the endpoint answered differently from dpsim's model of the lease rules",
            Side::Runner => "runner: a runner went on after it was told its task was gone",
            Side::Proxy => "proxy: a fault hit a call it did not name",
        }
    }
}

/// What `dpsim proxy` is told: its flags, as fields.
pub struct ProxyOptions {
    /// Where to listen (loopback by default).
    pub addr: SocketAddr,
    /// The endpoint to forward to: `https://` (the real regional endpoints; certificates
    /// checked against the Mozilla roots) or `http://`.
    pub upstream: Uri,
    /// Credentials the proxy signs forwarded calls with; none forwards them unsigned.
    pub upstream_credentials: Option<Credentials>,
    /// A session token to sign with beside `upstream_credentials` (temporary credentials).
    pub upstream_session_token: Option<String>,
    /// A credentials provider to sign forwarded calls with instead of `upstream_credentials`:
    /// what the AWS SDK's providers resolve (profiles, SSO, assume-role, instance roles), as
    /// `aws_config` builds them. Asked at [`bind`] (which fails when it has nothing to give)
    /// and again only when its answer is five minutes from expiring.
    pub upstream_credentials_provider: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// The signing region (default: read from the upstream's host, else `us-east-1`).
    pub region: Option<String>,
    /// Credentials clients must sign with (`--auth`), as `serve` checks them; they also open
    /// the admin routes to SigV4-signed calls.
    pub auth: Option<Credentials>,
    /// A token that opens the admin routes under `--auth`.
    pub admin_token: Option<String>,
    /// A scenario file whose `service` section gives the deadlines the upstream uses (what
    /// the proxy cannot see); AWS's defaults otherwise.
    pub settings: Option<PathBuf>,
    /// Where to write `log.txt`, `report.json` and `report.html` at shutdown.
    pub out: Option<PathBuf>,
    /// How far apart the proxy's instants and the service's may be (the wire, the service's
    /// own timing): a call answered within it is taken as decided when its answer came, and
    /// a poll answered within it of its task becoming ready was not left waiting. Default 1 s.
    pub tolerance_ms: Millis,
    /// Longest wait for the upstream's answer (default 120 s: above AWS's 90-second poll).
    pub upstream_timeout: std::time::Duration,
    /// The HTTP proxy the proxy's own calls to the upstream go through: by default the one
    /// `HTTPS_PROXY` names for an https:// upstream (`NO_PROXY` honoured).
    pub upstream_proxy: UpstreamProxy,
    /// A PEM file of certificates to trust beside the Mozilla roots, for an upstream whose
    /// certificate another authority signed (a staging endpoint, a TLS-inspecting proxy).
    pub upstream_ca: Option<PathBuf>,
}

impl ProxyOptions {
    /// A proxy for `upstream` on 127.0.0.1:8124 with no auth, unsigned forwarding and AWS's
    /// default deadlines.
    pub fn new(upstream: Uri) -> ProxyOptions {
        ProxyOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8124)),
            upstream,
            upstream_credentials: None,
            upstream_session_token: None,
            upstream_credentials_provider: None,
            region: None,
            auth: None,
            admin_token: None,
            settings: None,
            out: None,
            tolerance_ms: DEFAULT_TOLERANCE_MS,
            upstream_timeout: upstream::UPSTREAM_TIMEOUT,
            upstream_proxy: UpstreamProxy::FromEnvironment,
            upstream_ca: None,
        }
    }
}

/// Why the proxy stopped with an error.
#[derive(Debug)]
pub enum ProxyError {
    /// The options cannot work (the upstream URL, the settings file): exit status 2.
    Options(String),
    /// It could not serve (the address, `--out`): exit status 1.
    Failed(String),
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Options(e) | ProxyError::Failed(e) => f.write_str(e),
        }
    }
}

/// Everything the proxy's routes share.
#[derive(Clone)]
pub(crate) struct Proxy {
    edge: EdgeCtx<Upstream>,
    admin: AdminAuth,
    scenario: Arc<Scenario>,
    origin: Millis,
    upstream: String,
    tolerance_ms: Millis,
    /// The HTTP proxy calls to the upstream go through, if any (no credentials in it).
    through: Option<String>,
}

/// The region in an AWS endpoint's host (`datapipeline.eu-west-1.amazonaws.com`).
fn region_of(upstream: &Uri) -> Option<String> {
    let host = upstream.host()?;
    let mut parts = host.split('.');
    (parts.next() == Some("datapipeline")).then(|| parts.next().map(str::to_string)).flatten()
}

/// The region forwarded calls are signed for: [`ProxyOptions::region`], else the one in the
/// upstream's host (`datapipeline.eu-west-1.amazonaws.com`), else `us-east-1`.
pub fn signing_region(options: &ProxyOptions) -> String {
    options.region.clone().or_else(|| region_of(&options.upstream)).unwrap_or_else(|| "us-east-1".into())
}

fn proxy(options: &ProxyOptions) -> Result<Proxy, ProxyError> {
    if !upstream::scheme_supported(options.upstream.scheme_str()) || options.upstream.authority().is_none() {
        let schemes = if cfg!(feature = "tls") {
            "an https:// or http://"
        } else {
            "an http:// (this build has no `tls` feature)"
        };
        return Err(ProxyError::Options(format!(
            "--upstream must be {schemes} URL with a host, got {:?}",
            options.upstream.to_string()
        )));
    }
    let scenario = match &options.settings {
        Some(path) => crate::scenario::load_file(path).map_err(|e| ProxyError::Options(format!("--settings: {e}")))?,
        None => crate::serve::empty_scenario(),
    };
    let rules = Rules { numbers: crate::check::rules::Numbers::of(&scenario), tolerance_ms: options.tolerance_ms };
    let origin = machine_ms();
    let outside = Outside::new(rules);
    let region = signing_region(options);
    let signing = match (&options.upstream_credentials_provider, &options.upstream_credentials) {
        (Some(provider), _) => Some(UpstreamSigning::new(provider.clone(), region)),
        (None, Some(keys)) => {
            Some(UpstreamSigning::fixed(keys.clone(), options.upstream_session_token.clone(), region))
        }
        (None, None) => None,
    };
    let (connector, through) =
        route::connector(&options.upstream, &options.upstream_proxy, options.upstream_ca.as_deref())
            .map_err(ProxyError::Options)?;
    let backend = Upstream::new(options.upstream.clone(), connector, signing, outside, options.upstream_timeout);
    let clock: Arc<dyn crate::wire::Clock> = Arc::new(MachineClock);
    let recorder = Recorder::bounded(clock, TRACE_LIMIT);
    let edge = EdgeCtx { host: backend, faults: FaultTable::new(0), recorder, origin };
    Ok(Proxy {
        edge,
        admin: AdminAuth { credentials: options.auth.clone(), token: options.admin_token.clone() },
        scenario: Arc::new(scenario),
        origin,
        upstream: options.upstream.to_string(),
        tolerance_ms: options.tolerance_ms,
        through,
    })
}

impl Proxy {
    /// What the proxy saw, as a run's trace (times since its start).
    fn trace(&self) -> Trace {
        let (observations, mut calls, dropped_observations, dropped_calls) = self.edge.recorder.snapshot();
        let outside = &self.edge.host.outside;
        // Leases are the proxy's own numbers, whatever the upstream's taskIds look like.
        let alias = |id: &mut String| {
            if let Some(seq) = outside.seq_of(id) {
                *id = format!("{seq}.{id}");
            }
        };
        for c in &mut calls {
            if let Some(id) = c.task_id.as_mut() {
                alias(id);
            }
            if let crate::trace::CallOutcome::Handout { task_id, .. } = &mut c.outcome {
                alias(task_id);
            }
        }
        let (journal, instances) = outside.records();
        // A call answered within the tolerance was decided, as far as the outside can tell,
        // when its answer came: it did not wait at the service.
        for c in &mut calls {
            if c.served_at.is_some() && c.answered_at.saturating_sub(c.at) <= self.tolerance_ms {
                c.served_at = Some(c.answered_at);
            }
        }
        let mut trace = Trace {
            seed: 0,
            journal,
            observations,
            calls,
            calls_dropped: dropped_calls + dropped_observations,
            end_ms: machine_ms().saturating_sub(self.origin),
            finished_early: false,
            served: true,
            pipeline_names: Default::default(),
            instances,
            runners: Vec::new(),
            steps: 0,
            requests: 0,
            lost: Vec::new(),
            tolerance_ms: self.tolerance_ms,
        };
        crate::trace::infer::infer_work(&mut trace);
        trace.rebase(self.origin);
        trace
    }

    /// The report: the checks that calls and answers can judge, and the ownership log from
    /// what runners were told.
    fn report(&self) -> (Report, Trace) {
        let trace = self.trace();
        let mut report = Report::new("proxy", &self.scenario, &trace);
        report.violations.retain(|v| JUDGED.iter().any(|(i, _)| *i == v.invariant));
        (report, trace)
    }

    /// The report as JSON: what `serve` answers, plus which invariants were judged, which
    /// could not be, and whom each breach points at.
    fn report_json(&self) -> Value {
        self.report_json_of(&self.report().0)
    }

    fn report_json_of(&self, report: &Report) -> Value {
        let invariants: Vec<Value> = JUDGED
            .iter()
            .map(|(invariant, side)| {
                let broken: Vec<&crate::check::Violation> =
                    report.violations.iter().filter(|v| v.invariant == *invariant).collect();
                json!({"name": invariant, "held": broken.is_empty(), "side": side.words(), "violations": broken})
            })
            .collect();
        let not_judged: Vec<Invariant> =
            Invariant::ALL.into_iter().filter(|i| !JUDGED.iter().any(|(j, _)| j == i)).collect();
        json!({
            "upstream": self.upstream,
            "summary": report.summary,
            "expectations": report.expectations,
            "invariants": invariants,
            "not_judged": not_judged,
            "not_judged_why": "these invariants read the service's own journal, which a proxy cannot see",
            "passed": report.violations.is_empty(),
            "log": report.log,
        })
    }
}

/// The proxy makes control-plane events as real calls to the upstream, signed like every
/// forwarded call and recorded like them.
impl crate::control::Operator for Proxy {
    fn pipelines(&self) -> Vec<(String, String)> {
        self.edge.host.outside.pipelines()
    }

    fn copy_names(&self, name: &str) -> Vec<String> {
        vec![name.to_string()]
    }

    fn activities(&self) -> Option<Vec<(String, String)>> {
        None
    }

    async fn call(&self, op: crate::protocol::Operation, body: Value) -> Result<Value, crate::protocol::ServiceError> {
        use crate::faults::backend::Backend;
        use crate::protocol::{ErrorCode, ServiceError};
        let bytes = hyper::body::Bytes::from(body.to_string());
        let request = http::Request::post("/")
            .header("x-amz-target", format!("DataPipeline.{op}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(())
            .map_err(|e| ServiceError::new(ErrorCode::InternalServiceError, e.to_string()))?;
        let (parts, ()) = request.into_parts();
        let arrived = self.edge.host.now();
        let (answer, answered) = self.edge.host.deliver(&parts, &bytes).await;
        crate::faults::edge::record_operator_call(&self.edge, (arrived, answered), &parts, op, &bytes, &answer);
        match answer {
            upstream::Relayed::Answer { status, body, .. } => {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if status.is_success() {
                    return Ok(value);
                }
                let named = value["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
                let code = named.and_then(|n| ErrorCode::parse(&n)).unwrap_or(ErrorCode::InternalServiceError);
                Err(ServiceError::new(code, value["message"].as_str().unwrap_or_default().to_string()))
            }
            upstream::Relayed::Failed { why, .. } => Err(ServiceError::new(ErrorCode::InternalServiceError, why)),
            upstream::Relayed::Injected(e) => Err(e),
        }
    }
}

/// A bound proxy: listening, not yet forwarding ([`bind`], then [`Proxying::serve_until`]).
pub struct Proxying {
    proxy: Proxy,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    out: Option<PathBuf>,
}

/// Checks the options and binds the address (port 0 takes a free one).
pub async fn bind(options: ProxyOptions) -> Result<Proxying, ProxyError> {
    let proxy = proxy(&options)?;
    // Credentials that cannot be had stop the proxy now, not at its first forwarded call.
    proxy.edge.host.check_credentials().await.map_err(|e| ProxyError::Options(format!("upstream credentials: {e}")))?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| ProxyError::Failed(format!("cannot bind {}: {e}", options.addr)))?;
    let local = listener.local_addr().map_err(|e| ProxyError::Failed(e.to_string()))?;
    Ok(Proxying { proxy, listener, local, out: options.out })
}

impl Proxying {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The HTTP proxy its calls to the upstream go through (`HTTPS_PROXY`, or
    /// [`ProxyOptions::upstream_proxy`]), without credentials; None when it connects directly.
    pub fn upstream_proxy(&self) -> Option<&str> {
        self.proxy.through.as_deref()
    }

    /// Forwards until `shutdown` completes; then writes `log.txt`, `report.json` and
    /// `report.html` to the options' `out` directory if one was given.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ProxyError> {
        let Proxying { proxy, listener, out, .. } = self;
        let result = axum::serve(listener, routes::app(proxy.clone())).with_graceful_shutdown(shutdown).await;
        if let Some(dir) = &out {
            write_out(&proxy, dir).map_err(|e| ProxyError::Failed(format!("cannot write {}: {e}", dir.display())))?;
        }
        result.map_err(|e| ProxyError::Failed(e.to_string()))
    }
}

fn write_out(proxy: &Proxy, dir: &std::path::Path) -> std::io::Result<()> {
    let (report, trace) = proxy.report();
    crate::report::out_dir::write(dir, "dpsim proxy", &report, &proxy.report_json_of(&report), &trace)
}
