//! dpsim's own Task Runner on a real network: the same program (its policy and its driver,
//! unchanged) calling a real endpoint over TCP on the machine's clock, instead of the
//! simulated service on simulated time. It runs behind `dpsim proxy` (whose faults and checks
//! then cover it as they cover any runner), against `dpsim serve`, or against any plain-HTTP
//! Data Pipeline endpoint; for the real service's HTTPS endpoints, put `dpsim proxy` between.
//!
//! What it does and learns is told as [`RunnerEvent`]s, as it happens, naming the taskIds the
//! endpoint gave.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use serde::Serialize;

use crate::scenario::Scenario;
use crate::scenario::model::RunnerSpec;
use crate::time::Millis;
use crate::trace::{ObservationKind, Recorder};
use crate::wire::clock::{MachineClock, machine_ms};
use crate::wire::signing::Signer;
use crate::wire::sigv4::Credentials;

use super::client::Endpoint;
use super::control::RunnerControl;
use super::env::{EnvInner, RunnerEnv};

/// AWS's long-poll hold: a PollForTask may be held this long before it answers empty.
const AWS_POLL_HOLD: Duration = Duration::from_secs(90);

/// What a runner on a real network has beside what every runner has.
pub(crate) struct Network {
    pub endpoint: Arc<Endpoint>,
    /// When the runner started, on the machine's clock.
    pub started_ms: Millis,
    sink: Arc<dyn Fn(&RunnerEvent) + Send + Sync>,
}

impl Network {
    /// Tells the sink what `runner` did or learned, naming the endpoint's taskId.
    pub(crate) fn tell(&self, runner: &str, task_id: Option<&str>, kind: &ObservationKind) {
        (self.sink)(&RunnerEvent {
            at: crate::time::format_rfc3339(machine_ms()),
            runner: runner.to_string(),
            task_id: task_id.map(str::to_string),
            kind: kind.clone(),
        });
    }
}

/// One thing the runner did or learned, when (the machine's clock), and the taskId it
/// concerns. Serialises as one JSON object, what `dpsim runner` prints a line of:
/// `{"at":"2026-12-05T10:00:02.512Z","runner":"runner-a","task_id":"…","kind":"learns_lost",
/// "task":0,"how":"canceled=true"}` (`task` is dpsim's lease number, meaningful only for
/// taskIds dpsim's own service gave).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunnerEvent {
    /// When, as RFC 3339.
    pub at: String,
    /// The runner's name.
    pub runner: String,
    /// The taskId, for events about a task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// What happened, as the ownership log's observations say it.
    #[serde(flatten)]
    pub kind: ObservationKind,
}

/// Why a runner on a network could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum NetworkRunnerError {
    /// The endpoint cannot be called: not `http://host:port`, or HTTPS.
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why not.
        why: String,
    },
    /// The scenario has no such runner entry, or one this runner cannot be.
    Entry(String),
}

impl std::fmt::Display for NetworkRunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkRunnerError::Endpoint { endpoint, why } => write!(f, "endpoint {endpoint}: {why}"),
            NetworkRunnerError::Entry(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NetworkRunnerError {}

/// How a runner on a network ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerEnded {
    /// It heard `terminate: true` from a heartbeat's answer, as a Task Runner does.
    Terminated,
    /// Its `stop` future completed.
    Stopped,
}

/// dpsim's own Task Runner, to run against a real endpoint: long polls, acknowledges,
/// reports progress every `report_interval`, honours `canceled: true`, heartbeats, and has the
/// misbehaviours a scenario's runner entry gives it (`ignore_cancel`, `crash_after`, ...).
///
/// ```no_run
/// use dpsim::runner::{NetworkRunner, RunnerEnded};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let scenario = dpsim::scenario::load_file(std::path::Path::new("scenarios/lost-ack.json"))?;
/// let runner = NetworkRunner::from_scenario(&scenario, "runner-a")?;
/// let endpoint: http::Uri = "http://127.0.0.1:8124".parse()?;
/// let stop = async { tokio::time::sleep(std::time::Duration::from_secs(60)).await };
/// let ended = runner.run(&endpoint, stop, |event| println!("{}", serde_json::to_string(event).unwrap())).await?;
/// assert!(matches!(ended, RunnerEnded::Terminated | RunnerEnded::Stopped));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct NetworkRunner {
    spec: RunnerSpec,
    seed: u64,
    poll_hold: Duration,
    signer: Option<Signer>,
}

impl std::fmt::Debug for NetworkRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("NetworkRunner")
            .field("name", &self.spec.name)
            .field("worker_group", &self.spec.worker_group)
            .field("signed", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl NetworkRunner {
    /// A well-behaved runner named `name` polling `worker_group`, with a scenario runner
    /// entry's defaults (report every 5 minutes, heartbeat every 15, 20-second call timeout).
    pub fn new(name: &str, worker_group: &str) -> NetworkRunner {
        let entry = serde_json::json!({"name": name, "worker_group": worker_group});
        let spec = serde_json::from_value(entry).expect("a runner entry of a name and a worker group parses");
        NetworkRunner::with_spec(spec)
    }

    /// The runner entry named `entry` in `scenario`: its worker group, intervals, timeouts,
    /// backoff and behaviours. A fleet entry (`count` above 1) gives one runner of that name.
    pub fn from_scenario(scenario: &Scenario, entry: &str) -> Result<NetworkRunner, NetworkRunnerError> {
        let Some((i, spec)) = scenario.runners.iter().enumerate().find(|(_, r)| r.name == entry) else {
            let names: Vec<&str> = scenario.runners.iter().map(|r| r.name.as_str()).collect();
            return Err(NetworkRunnerError::Entry(format!(
                "the scenario has no runner entry named {entry:?} (it has {names:?})"
            )));
        };
        if let Some(program) = &spec.program {
            return Err(NetworkRunnerError::Entry(format!(
                "runners[{i}].program: {program:?} is a program registered in a simulation; only dpsim's own runner \
                 runs on a network"
            )));
        }
        Ok(NetworkRunner { seed: scenario.seed(), ..NetworkRunner::with_spec(spec.clone()) })
    }

    fn with_spec(spec: RunnerSpec) -> NetworkRunner {
        NetworkRunner { spec, seed: 0, poll_hold: AWS_POLL_HOLD, signer: None }
    }

    /// Renames the runner (its hostname and taskrunnerId).
    pub fn named(mut self, name: &str) -> NetworkRunner {
        self.spec.name = name.to_string();
        self
    }

    /// Seeds its random draws (retry jitter); the scenario's seed by default, else 0.
    pub fn seed(mut self, seed: u64) -> NetworkRunner {
        self.seed = seed;
        self
    }

    /// How long the endpoint may hold a PollForTask (AWS's 90 s by default): the poll's
    /// timeout is this plus the entry's `request_timeout`.
    pub fn poll_hold(mut self, hold: Duration) -> NetworkRunner {
        self.poll_hold = hold;
        self
    }

    /// Signs every call with SigV4 for `region` (an endpoint under `--auth`, the real service).
    pub fn signing(mut self, credentials: Credentials, session_token: Option<String>, region: &str) -> NetworkRunner {
        self.signer = Some(Signer { credentials, session_token, region: region.to_string() });
        self
    }

    /// The runner's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Runs the runner against `endpoint` (`http://host:port`) until it hears
    /// `terminate: true` or `stop` completes, telling `on_event` what it does and learns as it
    /// happens. Runs on the calling task (a `LocalSet` of its own inside), on any tokio runtime
    /// with time and IO enabled.
    pub async fn run(
        self,
        endpoint: &Uri,
        stop: impl Future<Output = ()>,
        on_event: impl Fn(&RunnerEvent) + Send + Sync + 'static,
    ) -> Result<RunnerEnded, NetworkRunnerError> {
        let endpoint = Arc::new(self.endpoint(endpoint)?);
        let start_at = Duration::from_millis(self.spec.start_at.ms());
        let work_factor = self.spec.behaviour.work_factor.unwrap_or(1.0);
        let env = RunnerEnv {
            inner: Arc::new(EnvInner {
                name: self.spec.name.clone(),
                spec: self.spec,
                poll_hold_ms: self.poll_hold.as_millis() as u64,
                seed: self.seed,
                control: RunnerControl::new(work_factor),
                // Events go to the sink as they happen; nothing reads the recorder.
                recorder: Recorder::bounded(Arc::new(MachineClock), 1),
                network: Some(Network { endpoint, started_ms: machine_ms(), sink: Arc::new(on_event) }),
            }),
        };
        let local = tokio::task::LocalSet::new();
        let running = local.run_until(async {
            tokio::time::sleep(start_at).await;
            super::builtin::run(env).await;
        });
        tokio::select! {
            () = running => Ok(RunnerEnded::Terminated),
            () = stop => Ok(RunnerEnded::Stopped),
        }
    }

    fn endpoint(&self, uri: &Uri) -> Result<Endpoint, NetworkRunnerError> {
        let refuse = |why: &str| NetworkRunnerError::Endpoint { endpoint: uri.to_string(), why: why.to_string() };
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(refuse(
                    "dpsim's runner speaks plain HTTP; put `dpsim proxy --upstream` in front of an HTTPS endpoint",
                ));
            }
            _ => return Err(refuse("expected http://host:port")),
        }
        let Some(authority) = uri.authority() else { return Err(refuse("expected http://host:port")) };
        if !matches!(uri.path(), "" | "/") {
            return Err(refuse("Data Pipeline is called at the endpoint's root; give no path"));
        }
        let authority = if authority.port().is_some() { authority.to_string() } else { format!("{authority}:80") };
        let root: Uri = format!("http://{authority}/").parse().map_err(|_| refuse("expected http://host:port"))?;
        Ok(Endpoint { authority, uri: root, signer: self.signer.clone() })
    }
}
