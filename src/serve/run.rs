//! `serve`'s options and its life: build the server, bind the port, play the scenario if one
//! is given, and serve until told to stop; then answer held polls `{}` and write `out`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::scenario::{Scenario, ScenarioError, Target, load_file_for};
use crate::serve::clock::{OffsetClock, ServeClock};
use crate::serve::{Accepted, MANUAL_START_MS, Served, Server, ServerConfig};
use crate::service::Settings;
use crate::time::Millis;
use crate::wire::sigv4::Credentials;
use crate::wire::{HostConfig, ManualClock};

/// Which clock `serve` runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// The machine's time plus whatever `/_dpsim/clock/advance` added (the default: a normal
    /// server, whose held polls time out on their own).
    Wall,
    /// Still: time moves only through `/_dpsim/clock/advance` (reproducible tests).
    Manual,
}

/// What `dpsim serve` is told: its flags, as fields.
pub struct ServeOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// SigV4 credentials to check.
    pub auth: Option<Credentials>,
    /// A token that opens the admin routes under `--auth`.
    pub admin_token: Option<String>,
    /// PollForTask hold time.
    pub poll_hold_ms: Option<u64>,
    /// Seed of ids; none: from OS entropy.
    pub seed: Option<u64>,
    /// Apply AWS's rate limits.
    pub rate_limits: bool,
    /// The clock.
    pub clock: ClockMode,
    /// The manual clock's first instant.
    pub start: Option<Millis>,
    /// A scenario to play.
    pub scenario: Option<PathBuf>,
    /// Where to write log.txt and report.json at shutdown.
    pub out: Option<PathBuf>,
    /// How long a runner may go on calling about a task after it was told the task is gone
    /// (overrides the scenario's `zombie_bound`; default 1m).
    pub zombie_bound: Option<Millis>,
}

impl Default for ServeOptions {
    /// `dpsim serve` with no flags: 127.0.0.1:8123, the wall clock, no auth, a seed from OS
    /// entropy.
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8123)),
            auth: None,
            admin_token: None,
            poll_hold_ms: None,
            seed: None,
            rate_limits: false,
            clock: ClockMode::Wall,
            start: None,
            scenario: None,
            out: None,
            zombie_bound: None,
        }
    }
}

/// A seed nobody can guess, so taskIds cannot be forged by whoever has the binary.
fn entropy_seed() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_or_else(|_| u64::from(std::process::id()), |()| u64::from_le_bytes(bytes))
}

/// Why `serve` stopped with an error.
#[derive(Debug)]
pub enum ServeError {
    /// The `--scenario` file is invalid: exit status 2, as `dpsim run` gives.
    Scenario(ScenarioError),
    /// It could not serve (the address, `--out`): exit status 1.
    Failed(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Scenario(e) => write!(f, "invalid scenario: {e}"),
            ServeError::Failed(e) => f.write_str(e),
        }
    }
}

/// Builds the server `serve` runs (also for tests and benchmarks); fails only on an invalid
/// `--scenario`.
pub(crate) fn server(args: &ServeOptions) -> Result<(Server, Option<Scenario>), ScenarioError> {
    let scenario = match &args.scenario {
        Some(path) => Some(load_file_for(path, Target::Serve)?),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(entropy_seed);
    let mut settings = match &scenario {
        Some(s) => crate::scenario::settings(s, seed),
        None => Settings { seed, ..Settings::default() },
    };
    if let Some(ms) = args.poll_hold_ms {
        settings.poll_hold_ms = ms;
    }
    let clock = Arc::new(match args.clock {
        ClockMode::Wall => ServeClock::Wall(OffsetClock::start()),
        ClockMode::Manual => ServeClock::Manual(ManualClock::new(args.start.unwrap_or(MANUAL_START_MS))),
    });
    let host = HostConfig {
        settings,
        credentials: args.auth.clone(),
        keep_journal: true,
        rate_limits: args.rate_limits,
        journal_limit: None,
    };
    // The report judges the runners by this scenario: with the bound set when it was given.
    let judged = args.zombie_bound.map(|ms| {
        let mut s = scenario.clone().unwrap_or_else(crate::serve::empty_scenario);
        s.zombie_bound = Some(crate::scenario::Dur(ms));
        s
    });
    let server = Server::new(ServerConfig {
        host,
        clock,
        scenario: judged.or_else(|| scenario.clone()),
        played: scenario.clone().map(Arc::new),
        admin_token: args.admin_token.clone(),
    });
    Ok((server, scenario))
}

/// A bound `serve`: listening, not yet answering ([`bind`], then [`Serving::serve_until`]).
pub struct Serving {
    server: Server,
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    out: Option<PathBuf>,
}

/// Builds the server the options describe and binds its address (port 0 takes a free one).
/// Fails on an invalid `scenario` file ([`ServeError::Scenario`]) or an address it cannot
/// bind.
pub async fn bind(options: ServeOptions) -> Result<Serving, ServeError> {
    let (server, _) = server(&options).map_err(ServeError::Scenario)?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| ServeError::Failed(format!("cannot bind {}: {e}", options.addr)))?;
    let local = listener.local_addr().map_err(|e| ServeError::Failed(e.to_string()))?;
    Ok(Serving { server, listener, local, out: options.out })
}

impl Serving {
    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves (and plays the scenario, if one was given) until `shutdown` completes; then
    /// answers held polls `{}`, stops, and writes `log.txt` and `report.json` to the options'
    /// `out` directory if one was given.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Serving { server, listener, out, .. } = self;
        let served = Served::new(server);
        served.start().await;
        let stopping = served.clone();
        let app = served.app().into_make_service_with_connect_info::<Accepted>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Held polls would keep graceful shutdown waiting up to the hold time.
                stopping.stop();
            })
            .await;
        served.stop();
        if let Some(dir) = &out {
            let world = served.current();
            write_out(&world, dir).map_err(|e| ServeError::Failed(format!("cannot write {}: {e}", dir.display())))?;
        }
        result.map_err(|e| ServeError::Failed(e.to_string()))
    }
}

/// Writes the ownership log, the JSON report and the report page of what `serve` saw.
pub(crate) fn write_out(server: &Server, dir: &std::path::Path) -> std::io::Result<()> {
    let (report, trace, forgotten) = server.report_and_trace();
    let json = crate::serve::admin::report_json_of(server, &report, forgotten);
    crate::report::out_dir::write(dir, "dpsim serve", &report, &json, &trace)
}
