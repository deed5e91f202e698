//! The scenario file format: every type a scenario JSON file is made of.
//!
//! Parsing is strict (`deny_unknown_fields` everywhere); the JSON Schema that `dpsim schema`
//! prints is generated from these same types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::Dur;
use crate::protocol::ErrorCode;

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Optional JSON Schema reference for editors; ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub(crate) schema: Option<String>,
    /// What the scenario shows, in a sentence.
    #[serde(default)]
    pub(crate) description: String,
    /// Seed of every random choice (network jitter, backoff, ids). `--seed` overrides it.
    #[serde(default)]
    pub(crate) seed: u64,
    /// How much simulated time to run at most.
    pub(crate) duration: Dur,
    /// Simulated time per step (default 100ms). Timers inside a host are exact; messages and
    /// scheduled events land on tick boundaries.
    #[serde(default = "default_tick")]
    pub(crate) tick: Dur,
    /// How the simulation moves time: `skip_idle` (default) jumps over ticks in which nothing
    /// can happen, `fixed_tick` steps every tick. Both give the same run; `fixed_tick` is the
    /// slow reference.
    #[serde(default, skip_serializing_if = "Stepping::is_default")]
    pub(crate) stepping: Stepping,
    /// Stop as soon as every task is over and no event is pending (default true).
    #[serde(default = "yes")]
    pub(crate) stop_when_done: bool,
    /// For runners dpsim knows only through their calls (`serve`'s, whose report interval it
    /// does not know): how long a runner may keep calling about a task after an answer told it
    /// the task is gone (`canceled: true`, TaskNotFound, PipelineDeleted) before `zombie_bound`
    /// breaks (default 1m: a runner stops at once when told; a minute covers a call in flight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) zombie_bound: Option<Dur>,
    /// The service's rules.
    #[serde(default)]
    pub(crate) service: ServiceSpec,
    /// The harness's own broken modes, apart from the service's (`service.bug`): each exists
    /// only to prove that a check catches a harness that does something other than the
    /// scenario says. Never set it otherwise.
    #[serde(default, skip_serializing_if = "HarnessSpec::is_default")]
    pub(crate) harness: HarnessSpec,
    /// Network latency between machines and the service.
    #[serde(default)]
    pub(crate) network: NetworkSpec,
    /// The operator that sets pipelines up over the API.
    #[serde(default)]
    pub(crate) operator: OperatorSpec,
    /// Pipelines, as Data Pipeline definitions.
    pub(crate) pipelines: Vec<PipelineSpec>,
    /// Task runners: named ones and counted fleets.
    pub(crate) runners: Vec<RunnerSpec>,
    /// Events and faults on the timeline.
    #[serde(default)]
    pub(crate) events: Vec<TimedEvent>,
    /// What must be true after the run.
    #[serde(default)]
    pub(crate) expect: Vec<Expectation>,
    /// Invariants this scenario breaks on purpose (a misbehaving runner, say); the run
    /// passes only if exactly these are violated. See `dpsim` invariants in the README.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) expect_violations: Vec<crate::check::Invariant>,
    /// How much of the ownership log to print.
    #[serde(default)]
    pub(crate) log: LogDetail,
}

fn default_tick() -> Dur {
    Dur(100)
}

/// How the simulation moves simulated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stepping {
    /// Pass every run of idle ticks at once: when no host has a task queued or a timer due,
    /// no message is about to be delivered and no scenario event is due, the world moves
    /// straight to the next tick where something can happen. Gives exactly the run of
    /// [`Stepping::FixedTick`] (a test holds every shipped scenario to that), only faster.
    #[default]
    SkipIdle,
    /// Step every tick, one after the other: the reference skipping is held against.
    FixedTick,
}

impl Stepping {
    fn is_default(&self) -> bool {
        *self == Stepping::default()
    }
}

/// How much of the ownership log a report shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogDetail {
    /// Every transition.
    #[default]
    Full,
    /// Only what went wrong or changed hands (expiries, reassignments, cancels, stale calls,
    /// zombie work, faults); for fleets.
    Anomalies,
}

/// Overrides of the service's rules (see the README's semantics table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Acknowledgement deadline (default 2 minutes).
    pub ack_timeout: Option<Dur>,
    /// Progress deadline when an activity sets no reportProgressTimeout (default 15 minutes).
    pub progress_timeout: Option<Dur>,
    /// PollForTask hold time (default 90s).
    pub poll_hold: Option<Dur>,
    /// maximumRetries when an activity omits it (default 2).
    pub default_maximum_retries: Option<u32>,
    /// retryDelay when an activity omits it (default 10 minutes).
    pub default_retry_delay: Option<Dur>,
    /// Smallest retryDelay a definition may set (default 2 minutes).
    pub minimum_retry_delay: Option<Dur>,
    /// Shortest schedule period a definition may set (default 15 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_schedule_period: Option<Dur>,
    /// maxActiveInstances of a scheduled activity that omits it (default 1, at most 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_active_instances: Option<u32>,
    /// How far before the activation a schedule's first period may start, its earlier periods
    /// backfilled at once (default 1 day; "0s" allows any backfill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_limit: Option<Dur>,
    /// A deliberately broken rule, only for proving that the checks catch it (see
    /// [`crate::service::Bug`]). Never set it otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<crate::service::Bug>,
}

/// The harness's broken modes (see [`Scenario`]'s `harness`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HarnessSpec {
    /// A deliberately broken step of the harness, only for proving that the checks catch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<HarnessBug>,
}

impl HarnessSpec {
    fn is_default(&self) -> bool {
        *self == HarnessSpec::default()
    }
}

/// A deliberately broken step of the harness (not of the service: the harness is not what a
/// scenario tests, so it is kept apart from `service.bug`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HarnessBug {
    /// A message fault that names a runner is installed for the first runner on that runner's
    /// machine instead (a harness that resolves names through machines): on a shared machine,
    /// the fault hits another runner's calls. `fault_target` catches it.
    FaultOnFirstRunnerOfMachine,
}

/// Network between the machines and the service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Smallest one-way message latency (default one tick).
    pub latency: Option<Dur>,
    /// Extra random latency, drawn per message from the seed (default none).
    pub jitter: Option<Dur>,
}

/// The operator host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Control-plane calls in flight at once while setting up (default 16).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

impl Default for OperatorSpec {
    fn default() -> Self {
        OperatorSpec { concurrency: default_concurrency() }
    }
}

fn default_concurrency() -> u32 {
    16
}

/// A pipeline: a definition as `aws datapipeline put-pipeline-definition` reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Pipeline name; also how events and expectations refer to it.
    pub name: String,
    /// `{"objects": [...]}`: paste a real definition. Activities may carry `myWorkTime`
    /// ("5 minutes"), the simulated time a runner works on each of their tasks (default 1m).
    pub definition: DefinitionFile,
    /// Identical pipelines to create (named `<name>-1`, `<name>-2`, ... when more than one).
    #[serde(default = "one")]
    pub copies: u32,
    /// ActivatePipeline calls per copy; each runs every activity once more (default 1).
    #[serde(default = "one")]
    pub activations: u32,
    /// When to activate (default at the start).
    #[serde(default)]
    pub activate_at: Dur,
}

impl PipelineSpec {
    /// The names its copies are created with (also their `uniqueId`s): the name itself, or
    /// `<name>-1`, `<name>-2`, ... when there is more than one.
    pub fn copy_names(&self) -> Vec<String> {
        if self.copies == 1 {
            vec![self.name.clone()]
        } else {
            (1..=self.copies).map(|copy| format!("{}-{copy}", self.name)).collect()
        }
    }
}

/// A pipeline definition file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionFile {
    /// Objects: `id`, `name` (defaults to id), and fields; `{"ref": "X"}` is a reference and a
    /// list repeats the key.
    pub objects: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Parameter declarations (stored, not evaluated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Parameter values (stored, not evaluated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One runner, or a fleet of identical runners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerSpec {
    /// Runner name (its hostname and taskrunnerId); a fleet's runners are `<name>-1`, ...
    pub name: String,
    /// Runners in this fleet (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Machine hosts the fleet is spread over (default: one per runner up to 10).
    pub machines: Option<u32>,
    /// Name of the machine to run on, to share one between runner entries.
    pub machine: Option<String>,
    /// The runner program to run, registered under this name through the library API
    /// (`Simulation::program`); default dpsim's own virtual Task Runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// Worker group polled.
    pub worker_group: String,
    /// Heartbeat interval (default 15 minutes).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_interval: Dur,
    /// Progress-report interval while working (default 5 minutes).
    #[serde(default = "default_report")]
    pub report_interval: Dur,
    /// Timeout of a call other than PollForTask (default 20s).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Dur,
    /// First retry delay after a failed call; doubles up to `backoff_max` (default 1s).
    #[serde(default = "default_backoff")]
    pub backoff: Dur,
    /// Longest retry delay (default 30s).
    #[serde(default = "default_backoff_max")]
    pub backoff_max: Dur,
    /// When the runner starts (default at once).
    #[serde(default)]
    pub start_at: Dur,
    /// Misbehaviours.
    #[serde(default)]
    pub behaviour: Behaviour,
}

fn default_heartbeat() -> Dur {
    Dur(15 * 60_000)
}
fn default_report() -> Dur {
    Dur(5 * 60_000)
}
fn default_request_timeout() -> Dur {
    Dur(20_000)
}
fn default_backoff() -> Dur {
    Dur(1_000)
}
fn default_backoff_max() -> Dur {
    Dur(30_000)
}

/// What a runner does wrong, or differently.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Never sends the first progress report.
    #[serde(default)]
    pub never_ack: bool,
    /// Keeps working when told `canceled: true`.
    #[serde(default)]
    pub ignore_canceled: bool,
    /// Keeps working after TaskNotFoundException or PipelineDeletedException.
    #[serde(default)]
    pub keep_working_after_loss: bool,
    /// Reports FAILED instead of FINISHED when the work is done.
    #[serde(default)]
    pub fail_tasks: bool,
    /// Multiplies every work time (2.0 = twice as slow).
    pub work_factor: Option<f64>,
    /// Crashes this long after starting each task; restarts after `restart_after`.
    pub crash_after: Option<Dur>,
    /// How long a crashed runner stays down (default 1 minute).
    pub restart_after: Option<Dur>,
}

/// When an event happens: a time from the start, or a moment of the protocol.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum At {
    /// Simulated time since the start.
    Time(Dur),
    /// Relative to a protocol moment.
    Anchor(Anchor),
}

/// By hand rather than `untagged`: a string is a time and an object an anchor, so a mistake in
/// either is reported as that one's error (a bad duration, an unknown anchor key, at its path)
/// instead of "did not match any variant".
impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<At, D::Error> {
        use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer, value::StrDeserializer};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = At;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a time since the start (\"90s\", \"1h30m\") or an anchor object ({\"anchor\": \"ack_deadline\", \"task\": \"Copy\", \"before\": \"1s\"})",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<At, E> {
                Dur::deserialize(StrDeserializer::<E>::new(v)).map(At::Time)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<At, A::Error> {
                Anchor::deserialize(MapAccessDeserializer::new(map)).map(At::Anchor)
            }
        }
        d.deserialize_any(V)
    }
}

/// A protocol moment, found in the journal as the run goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// Which moment.
    pub anchor: AnchorKind,
    /// Only moments of this activity (component id).
    pub task: Option<String>,
    /// Only moments of this runner.
    pub runner: Option<String>,
    /// Which matching moment, 1 for the first (default 1).
    #[serde(default = "one")]
    pub occurrence: u32,
    /// Added to the moment; negative to come before (e.g. "-1s" is written as `before`).
    #[serde(default)]
    pub after: Dur,
    /// Subtracted from the moment.
    #[serde(default)]
    pub before: Dur,
}

/// Protocol moments an event can be placed relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnchorKind {
    /// A task was handed to a runner.
    Assigned,
    /// The acknowledgement deadline of a handout (known at the handout).
    AckDeadline,
    /// A task was acknowledged.
    Acknowledged,
    /// A progress report was accepted (the acknowledgement or a renewal).
    Reported,
    /// The progress deadline set by an acknowledgement or renewal.
    ProgressDeadline,
    /// A lease expired.
    Expired,
    /// A task finished.
    Finished,
}

/// An event on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimedEvent {
    /// When.
    pub at: At,
    /// What.
    #[serde(rename = "do")]
    pub action: Action,
}

/// Every fault and control-plane event; applied in one place, printed in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[strum_discriminants(
    name(ActionKind),
    doc = "A scenario event's `kind` (`partition`, `crash_service`, `cancel`, ...): what kind of fault or control-plane event it is. Named, serialised and printed as scenario files write it.",
    derive(Hash, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr),
    serde(rename_all = "snake_case"),
    strum(serialize_all = "snake_case")
)]
pub enum Action {
    /// Cut a machine off from the service (both ways, or one way).
    Partition {
        /// Machine (or a runner's machine, by runner name).
        machine: String,
        /// Only one direction.
        #[serde(default)]
        direction: Direction,
        /// Refuse connections across it at once (a reachable host with nothing listening, a
        /// firewall that rejects), instead of the default silent drop in which packets vanish
        /// and calls time out, as in a real partition. One-way partitions always refuse new
        /// connections from the cut side (turmoil drops the SYN and the connect fails at once).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        refuse: bool,
    },
    /// Undo a partition.
    Repair {
        /// Machine.
        machine: String,
    },
    /// Hold messages between a machine and the service (delivered on release).
    Hold {
        /// Machine.
        machine: String,
    },
    /// Deliver held messages.
    Release {
        /// Machine.
        machine: String,
    },
    /// Set the latency between a machine and the service.
    Latency {
        /// Machine.
        machine: String,
        /// One-way latency.
        latency: Dur,
    },
    /// Crash a machine: every runner on it stops at once.
    CrashMachine {
        /// Machine.
        machine: String,
    },
    /// Restart a crashed machine: its runners start afresh.
    RestartMachine {
        /// Machine.
        machine: String,
    },
    /// Crash the service host (its state survives, as AWS's would).
    CrashService,
    /// Restart the service host.
    RestartService,
    /// A fault on messages at the service's HTTP edge.
    Message(MessageFault),
    /// Freeze a runner: no heartbeats, reports, polls or work until resumed.
    Pause {
        /// Runner.
        runner: String,
    },
    /// Unfreeze a runner.
    Resume {
        /// Runner.
        runner: String,
    },
    /// Crash one runner (it forgets its task).
    CrashRunner {
        /// Runner.
        runner: String,
    },
    /// Start a crashed runner again.
    RestartRunner {
        /// Runner.
        runner: String,
    },
    /// Change a runner's work speed from now on.
    SlowWork {
        /// Runner.
        runner: String,
        /// Multiplier of work times.
        factor: f64,
    },
    /// SetStatus TRY_CANCEL on the instances of an activity.
    Cancel {
        /// Activity id.
        task: String,
        /// Pipeline name (default: every pipeline that has the activity).
        pipeline: Option<String>,
    },
    /// SetStatus RERUN on the activity's finished, failed and canceled instances.
    Rerun {
        /// Activity id.
        task: String,
        /// Pipeline name (default: every pipeline that has the activity).
        pipeline: Option<String>,
    },
    /// SetStatus PAUSE on an activity: its instances are not handed out until it is resumed
    /// (leases already out run on).
    PauseActivity {
        /// Activity id.
        task: String,
        /// Pipeline name (default: every pipeline that has the activity).
        pipeline: Option<String>,
    },
    /// SetStatus RESUME on an activity paused by `pause_activity`.
    ResumeActivity {
        /// Activity id.
        task: String,
        /// Pipeline name (default: every pipeline that has the activity).
        pipeline: Option<String>,
    },
    /// DeactivatePipeline.
    Deactivate {
        /// Pipeline name.
        pipeline: String,
        /// Cancel running objects (default true).
        #[serde(default = "yes")]
        cancel_active: bool,
    },
    /// ActivatePipeline again.
    Activate {
        /// Pipeline name.
        pipeline: String,
    },
    /// DeletePipeline.
    Delete {
        /// Pipeline name.
        pipeline: String,
    },
    /// Ask a runner to terminate at its next heartbeat.
    Terminate {
        /// Runner.
        runner: String,
    },
}

/// What a timeline event acts on: the one answer to "which machine or runner does this hit",
/// for the loader, the driver and the shrinker alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A machine, named directly or by one of its runners.
    Machine(&'a str),
    /// One runner process.
    Runner(&'a str),
    /// The service host.
    Service,
    /// Calls at the service's edge: only one runner's, or whichever calls match.
    Messages(Option<&'a str>),
    /// Pipelines by scenario name (None: every pipeline that has the activity).
    Pipeline(Option<&'a str>),
}

impl Action {
    /// What this event acts on.
    pub fn target(&self) -> Target<'_> {
        match self {
            Action::Partition { machine, .. }
            | Action::Repair { machine }
            | Action::Hold { machine }
            | Action::Release { machine }
            | Action::Latency { machine, .. }
            | Action::CrashMachine { machine }
            | Action::RestartMachine { machine } => Target::Machine(machine),
            Action::Pause { runner }
            | Action::Resume { runner }
            | Action::CrashRunner { runner }
            | Action::RestartRunner { runner }
            | Action::SlowWork { runner, .. }
            | Action::Terminate { runner } => Target::Runner(runner),
            Action::CrashService | Action::RestartService => Target::Service,
            Action::Message(f) => Target::Messages(f.runner.as_deref()),
            Action::Cancel { pipeline, .. }
            | Action::Rerun { pipeline, .. }
            | Action::PauseActivity { pipeline, .. }
            | Action::ResumeActivity { pipeline, .. } => Target::Pipeline(pipeline.as_deref()),
            Action::Deactivate { pipeline, .. } | Action::Activate { pipeline } | Action::Delete { pipeline } => {
                Target::Pipeline(Some(pipeline))
            }
        }
    }
}

impl Action {
    /// The event's `kind`, as a scenario names it (`crash_service`, `message`, ...).
    pub fn kind(&self) -> ActionKind {
        self.into()
    }
}

impl MessageEffect {
    /// The effect's `type`, as a scenario names it (`drop_request`, `duplicate`, ...).
    pub fn kind(&self) -> EffectKind {
        self.into()
    }
}

impl Action {
    /// The SetStatus an operator event sends, and the activity it names.
    pub fn set_status(&self) -> Option<(StatusChange, &str, Option<&str>)> {
        let (change, task, pipeline) = match self {
            Action::Cancel { task, pipeline } => (StatusChange::TryCancel, task, pipeline),
            Action::Rerun { task, pipeline } => (StatusChange::Rerun, task, pipeline),
            Action::PauseActivity { task, pipeline } => (StatusChange::Pause, task, pipeline),
            Action::ResumeActivity { task, pipeline } => (StatusChange::Resume, task, pipeline),
            _ => return None,
        };
        Some((change, task.as_str(), pipeline.as_deref()))
    }
}

/// A SetStatus an operator sends about an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// TRY_CANCEL its open instances.
    TryCancel,
    /// RERUN its finished, failed and canceled instances.
    Rerun,
    /// PAUSE the activity.
    Pause,
    /// RESUME the activity.
    Resume,
}

impl StatusChange {
    /// The API's status.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusChange::TryCancel => "TRY_CANCEL",
            StatusChange::Rerun => "RERUN",
            StatusChange::Pause => "PAUSE",
            StatusChange::Resume => "RESUME",
        }
    }

    /// The SetStatus bodies for one pipeline, given the activity's instance ids. PAUSE and
    /// RESUME name the activity; RERUN goes one instance at a time, since the service refuses
    /// a whole call naming an instance that is still open.
    pub fn bodies(self, pipeline_id: &str, task: &str, instances: &[serde_json::Value]) -> Vec<serde_json::Value> {
        let status = self.as_str();
        let body =
            |ids: serde_json::Value| serde_json::json!({"pipelineId": pipeline_id, "objectIds": ids, "status": status});
        match self {
            StatusChange::Pause | StatusChange::Resume => vec![body(serde_json::json!([task]))],
            StatusChange::TryCancel if instances.is_empty() => Vec::new(),
            StatusChange::TryCancel => vec![body(serde_json::Value::from(instances.to_vec()))],
            StatusChange::Rerun => instances.iter().map(|i| body(serde_json::json!([i]))).collect(),
        }
    }
}

/// Direction of a one-way partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways.
    #[default]
    Both,
    /// Only messages from the machine to the service are lost.
    ToService,
    /// Only messages from the service to the machine are lost.
    FromService,
}

/// A message fault: which calls it matches, and what it does to them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageFault {
    /// Only calls of this operation (e.g. "ReportTaskProgress").
    pub operation: Option<crate::protocol::Operation>,
    /// Only calls from this runner (hostname, taskrunnerId, or the owner of the named task).
    pub runner: Option<String>,
    /// Only calls about this activity's tasks.
    pub task: Option<String>,
    /// Skip matching calls before the Nth (default 1: the first match from now on).
    #[serde(default = "one")]
    pub occurrence: u32,
    /// How many matching calls the fault applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Apply to each matching call only with this probability (0 to 1), drawn from the seed;
    /// with a large `count` this is a loss or delay rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Stop matching this long after the fault is installed (default: never), so that a loss
    /// or delay rate can last a window of the run.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub lasting: Option<Dur>,
    /// What happens to them.
    pub effect: MessageEffect,
}

/// What a message fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[strum_discriminants(
    name(EffectKind),
    doc = "A message fault's effect `type` (`drop_request`, `duplicate`, ...). Named, serialised and printed as scenario files write it.",
    derive(Hash, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr),
    serde(rename_all = "snake_case"),
    strum(serialize_all = "snake_case")
)]
pub enum MessageEffect {
    /// The request is lost before the service sees it; the caller hears nothing.
    DropRequest,
    /// The service processes the request; the response is lost.
    DropResponse,
    /// The request reaches the service later: after `by`, or at a moment of the call's own task.
    Delay {
        /// Fixed delay.
        by: Option<Dur>,
        /// Deliver at this moment of the task the call names.
        until: Option<TaskMoment>,
    },
    /// The request is delivered twice: the caller hears the first answer at once, and a copy
    /// reaches the service `after` later (default at once), as a retransmission would.
    Duplicate {
        /// How long after the original the copy arrives.
        #[serde(default)]
        after: Dur,
    },
    /// The request reaches the service at a fixed time since the start.
    Hold {
        /// When to deliver it.
        until: Dur,
    },
    /// The call is answered with an error without reaching the service.
    Error {
        /// AWS error code, e.g. InternalServiceError or ThrottlingException.
        code: String,
    },
}

/// A moment of the lease a call's taskId names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskMoment {
    /// `ack_deadline` or `progress_deadline`.
    pub deadline: DeadlineKind,
    /// Come this much earlier.
    #[serde(default)]
    pub before: Dur,
    /// Come this much later.
    #[serde(default)]
    pub after: Dur,
}

/// A lease deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// The acknowledgement deadline.
    AckDeadline,
    /// The current progress deadline.
    ProgressDeadline,
}

/// Something that must hold after the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// Who holds the live lease of an activity's task at a time ("none" for nobody).
    Owner {
        /// Activity id.
        task: String,
        /// Time since the start.
        at: Dur,
        /// Runner name, or "none".
        runner: String,
    },
    /// The task is handed to a different runner within a window.
    HandedOver {
        /// Activity id.
        task: String,
        /// Runner losing it (optional).
        from: Option<String>,
        /// Runner getting it (optional).
        to: Option<String>,
        /// Window start.
        after: Dur,
        /// Window end.
        before: Dur,
    },
    /// Final `@status` of the activity's instances ("*" for all tasks).
    FinalStatus {
        /// Activity id, or "*".
        task: String,
        /// FINISHED, FAILED, CANCELED, ...; several joined by `|` for any of them
        /// (`FINISHED|CANCELED`).
        status: String,
    },
    /// Number of attempts of the activity's instance.
    Attempts {
        /// Activity id.
        task: String,
        /// Exact count.
        count: u32,
    },
    /// No zombie work longer than this (optionally for one runner).
    MaxZombie {
        /// Longest allowed.
        duration: Dur,
        /// Only this runner.
        runner: Option<String>,
    },
    /// At least one zombie interval of at least this long (to show zombies exist).
    ZombieAtLeast {
        /// Shortest required.
        duration: Dur,
        /// Only this runner.
        runner: Option<String>,
    },
    /// Every instance of the activity whose schedule period came due by `due_by` (default
    /// `by`) has finished by `by`: the schedule has caught up (with at least one such instance).
    CaughtUp {
        /// Activity id, or "*".
        task: String,
        /// Periods due by this time since the start...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_by: Option<Dur>,
        /// ...have finished by this time since the start.
        by: Dur,
    },
    /// A number of journal events of a kind (e.g. "expired", "stale call").
    Count {
        /// Event kind as printed in the log.
        event: String,
        /// Exact count.
        count: u32,
    },
}

/// The AWS error codes a message fault may inject, for validation.
pub fn error_code(name: &str) -> Option<ErrorCode> {
    ErrorCode::parse(name)
}

impl ActionKind {
    /// The name scenario files give it (`crash_service`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl EffectKind {
    /// The name scenario files give it (`drop_request`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for EffectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
