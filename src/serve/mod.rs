//! `serve`: the virtual service on a real port, for task runners in any language. The same
//! router and core as the simulation, behind the same message-fault edge, with a clock a test
//! owns, live message faults, an optional scripted world (a scenario file), and the ownership
//! log of what it saw, all through the admin routes under `/_dpsim/` (the README's "Admin
//! interface" lists them).
//!
//! ```no_run
//! # async fn serve() -> Result<(), dpsim::serve::ServeError> {
//! use dpsim::serve::{ClockMode, ServeOptions};
//!
//! let options = ServeOptions { addr: "127.0.0.1:0".parse().unwrap(), clock: ClockMode::Manual, ..ServeOptions::default() };
//! let serving = dpsim::serve::bind(options).await?;
//! println!("endpoint: http://{}", serving.local_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! // ... point runners at the endpoint; `stop.send(())` ends it and writes `out` ...
//! serving.serve_until(async { let _ = stopped.await; }).await
//! # }
//! ```

pub(crate) mod admin;
pub(crate) mod clock;
pub(crate) mod openapi;
mod run;
pub(crate) mod script;
mod switch;

pub use crate::wire::sigv4::Credentials;
pub(crate) use run::server;
pub use run::{ClockMode, ServeError, ServeOptions, Serving, bind};
pub(crate) use switch::{Accepted, Served};

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;

use crate::faults::{EdgeCtx, FaultTable};
use crate::report::Report;
use crate::scenario::Scenario;
use crate::time::Millis;
use crate::trace::{Recorder, Trace};
use crate::wire::{Clock, Host, HostConfig, ManualClock};

use clock::ServeClock;

/// Most journal events, observations and calls `serve` keeps for its log and report; older
/// ones are forgotten first (the log says how many).
pub(crate) const TRACE_LIMIT: usize = 200_000;

/// The start of the manual clock unless `--start` says otherwise: 2026-01-01T00:00:00Z, the
/// instant every simulation starts at, so a scenario's log reads the same in both.
pub(crate) const MANUAL_START_MS: Millis = crate::trace::EPOCH_MS;

/// One world of a running `serve`, shared between its routes: the service, its faults and
/// records, and its clock. `POST /_dpsim/reset` replaces it with a [`Server::fresh`] one.
#[derive(Clone)]
pub(crate) struct Server {
    /// The service behind its edge.
    pub edge: EdgeCtx,
    /// The clock.
    pub clock: Arc<ServeClock>,
    /// The scenario its report judges by (an empty one without `--scenario`).
    pub scenario: Arc<Scenario>,
    /// Who may call the admin routes under `--auth`.
    pub admin: admin::AdminAuth,
    /// How the world was made, to make it again.
    pub recipe: Arc<ServerConfig>,
    /// Set when a reset retires this world: its open calls are closed.
    pub retired: Arc<tokio::sync::watch::Sender<bool>>,
    /// Calls refused in this world because their connection was opened before it.
    pub refused: Arc<AtomicU64>,
}

/// How to build a [`Server`].
pub(crate) struct ServerConfig {
    /// Service rules and the AWS front door's options.
    pub host: HostConfig,
    /// The clock to run on.
    pub clock: Arc<ServeClock>,
    /// The scenario the report judges by, if not the empty one.
    pub scenario: Option<Scenario>,
    /// The scenario whose pipelines and timeline are played, if any.
    pub played: Option<Arc<Scenario>>,
    /// A token that opens the admin routes under `--auth`.
    pub admin_token: Option<String>,
}

/// An empty scenario: what `serve` judges its log against without `--scenario`.
pub(crate) fn empty_scenario() -> Scenario {
    crate::scenario::parse(r#"{"duration": "1h", "pipelines": [], "runners": []}"#)
        .expect("the empty scenario is valid")
}

impl Server {
    /// Builds the server; its world starts at the clock's current instant.
    pub fn new(config: ServerConfig) -> Server {
        let clock = config.clock.clone();
        let credentials: Option<Credentials> = config.host.credentials.clone();
        let mut host_config = config.host.clone();
        host_config.keep_journal = true;
        host_config.journal_limit = Some(TRACE_LIMIT);
        let seed = host_config.settings.seed;
        let host = Host::new(host_config, clock.clone());
        let origin = clock.now();
        let recorder = Recorder::bounded(clock.clone(), TRACE_LIMIT);
        let edge = EdgeCtx { host, faults: FaultTable::new(seed), recorder, origin };
        Server {
            edge,
            clock,
            scenario: Arc::new(config.scenario.clone().unwrap_or_else(empty_scenario)),
            admin: admin::AdminAuth { credentials, token: config.admin_token.clone() },
            recipe: Arc::new(config),
            retired: Arc::new(tokio::sync::watch::Sender::new(false)),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A new world from the same recipe, as a fresh process would start it: the same seed,
    /// settings and scenario; a manual clock back at its first instant (a wall clock cannot
    /// go back, so the new world starts where it reads).
    pub fn fresh(&self) -> Server {
        let recipe = &self.recipe;
        let clock = match recipe.clock.as_ref() {
            ServeClock::Manual(_) => Arc::new(ServeClock::Manual(ManualClock::new(self.edge.origin))),
            ServeClock::Wall(_) => recipe.clock.clone(),
        };
        Server::new(ServerConfig {
            host: recipe.host.clone(),
            clock,
            scenario: recipe.scenario.clone(),
            played: recipe.played.clone(),
            admin_token: recipe.admin_token.clone(),
        })
    }

    /// The service.
    pub fn host(&self) -> &Host {
        &self.edge.host
    }

    /// The full app on this world alone (tests that drive the router without a socket; a
    /// reset through it switches the app's own copy).
    pub fn app(&self) -> Router {
        Served::new(self.clone()).app()
    }

    /// What `serve` saw so far, as a run's trace (times since its start).
    pub fn trace(&self) -> (Trace, u64) {
        let (journal, dropped_events) = self.host().journal_snapshot();
        let (observations, calls, dropped_observations, dropped_calls) = self.edge.recorder.snapshot();
        let (instances, lost, names) =
            self.host().with_core(|c| (c.instance_summaries(), c.lost_instances(), c.pipeline_names()));
        let now = self.host().now();
        let mut trace = Trace {
            seed: self.host().with_core(|c| c.settings().seed),
            journal,
            observations,
            calls,
            calls_dropped: dropped_calls,
            end_ms: now.saturating_sub(self.edge.origin),
            finished_early: false,
            served: true,
            pipeline_names: names.into_iter().collect(),
            instances,
            runners: Vec::new(),
            steps: 0,
            requests: 0,
            lost,
            tolerance_ms: 0,
        };
        crate::trace::infer::infer_work(&mut trace);
        trace.rebase(self.edge.origin);
        (trace, dropped_events + dropped_observations + dropped_calls)
    }

    /// The report of what `serve` saw: the ownership log, counts, the scenario's expectations
    /// and every invariant that can be judged from the service's side.
    pub fn report(&self) -> (Report, u64) {
        let (report, _, dropped) = self.report_and_trace();
        (report, dropped)
    }

    /// [`Server::report`] with the trace it was made from.
    pub(crate) fn report_and_trace(&self) -> (Report, Trace, u64) {
        let (trace, dropped) = self.trace();
        (Report::new("serve", &self.scenario, &trace), trace, dropped)
    }

    /// Answers every held poll `{}`, as at shutdown.
    pub fn release_held_polls(&self) {
        self.host().with_core(|core| core.release_held_polls());
    }
}
