//! The run's data: everything a simulation (or `serve`) produced, as plain data.
//!
//! Checks, reports, chaos and explore read only this: the service's journal, what the harness
//! observed (runner beliefs, faults applied, control-plane events) and the run's facts. Nothing
//! here touches the simulator.

pub(crate) mod infer;
pub(crate) mod recorder;

pub use crate::journal::{CancelSource, Deadline, Event, EventKind};
pub(crate) use recorder::Recorder;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::protocol::{ErrorCode, Operation};
use crate::scenario::{ActionKind, EffectKind};
use crate::time::Millis;

/// The pinned epoch every simulation starts at: 2026-01-01T00:00:00Z.
pub const EPOCH_MS: Millis = 1_767_225_600_000;

/// Milliseconds since the start of the run.
pub(crate) fn rel(at: Millis) -> Millis {
    at.saturating_sub(EPOCH_MS)
}

/// The lease number inside a dpsim taskId (`<seq>.<mac>`); 0 if it has another shape.
pub(crate) fn task_seq(task_id: &str) -> u64 {
    task_id.split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// An instance as the service described it at the end of a run: a record, for reports and
/// labels (checks judge from the calls, not from this).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InstanceSummary {
    /// Pipeline id.
    pub pipeline_id: String,
    /// Instance id.
    pub instance_id: String,
    /// Activity (component) id.
    pub component: String,
    /// `@status`.
    pub status: String,
    /// Attempts made.
    pub attempts: usize,
    /// `@scheduledStartTime` of an instance of a schedule's period (`None` for one created
    /// by an activation).
    pub period_start: Option<Millis>,
}

/// One runner of the simulated world, as the scenario's runner entries make them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRunner {
    /// Its name: hostname and taskrunnerId.
    pub name: String,
    /// The machine host it runs on.
    pub machine: String,
    /// Index of its entry in `runners`.
    pub spec: usize,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The seed used.
    pub seed: u64,
    /// The service's journal.
    pub journal: Vec<Event>,
    /// Runner beliefs, faults and control events, in order of observation.
    pub observations: Vec<Observation>,
    /// The task-runner calls the service's edge saw, with what it answered, in order.
    pub calls: Vec<Call>,
    /// Calls forgotten to keep the record bounded (`serve`); the history checker judges only a
    /// complete history.
    pub calls_dropped: u64,
    /// Simulated time when the run stopped, since the start.
    pub end_ms: u64,
    /// Whether it stopped because everything was done.
    pub finished_early: bool,
    /// Whether `serve` recorded it (a server serves until shut down; it has no duration).
    pub served: bool,
    /// Pipeline copy names by id.
    pub pipeline_names: BTreeMap<String, String>,
    /// Instances at the end.
    pub instances: Vec<InstanceSummary>,
    /// The runners and their machines.
    pub runners: Vec<PlannedRunner>,
    /// Steps taken.
    pub steps: u64,
    /// HTTP requests the service's edge received.
    pub requests: u64,
    /// Instances the service lost track of at the end (pipeline id, instance id, why); see
    /// `Service::lost_instances`.
    pub lost: Vec<(String, String, String)>,
    /// How far the recorded instants may lie from the service's own: 0 inside the service
    /// (the simulation, `serve`); a proxy's `--tolerance` for a history recorded from the
    /// outside, where every call takes a little time on the wire. The history checker then
    /// allows it around every lease deadline and readiness: a report accepted up to it after
    /// the deadline, or refused (and a task handed out again) up to it before, may have been
    /// decided on the service's side of the deadline; a poll answered within it of a task
    /// becoming ready was not left waiting.
    pub tolerance_ms: Millis,
}

/// Something a runner did or learned, or something the harness did to the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservationKind {
    /// A runner starts working on a task it was handed.
    StartsWork {
        /// Lease number.
        task: u64,
        /// Work time it expects, if it said.
        #[serde(skip_serializing_if = "Option::is_none")]
        work_ms: Option<u64>,
    },
    /// A runner stops working on a task.
    StopsWork {
        /// Lease number.
        task: u64,
        /// Why.
        reason: String,
    },
    /// A runner learns it lost a task.
    LearnsLost {
        /// Lease number.
        task: u64,
        /// How it learned (canceled=true, TaskNotFoundException, ...).
        how: String,
    },
    /// A runner's call failed (timeout, connection, injected error).
    CallFailed {
        /// True when the runner did not hear the service (timeout, network, throttling, a
        /// 500): it could not have learned anything from this call.
        transient: bool,
        /// Operation.
        operation: String,
        /// Error.
        error: String,
    },
    /// A runner heard `terminate: true` and stopped.
    Terminated,
    /// A runner process crashed.
    Crashed,
    /// A runner was frozen (`pause`): it does nothing, yet still believes what it believed.
    Frozen,
    /// A frozen runner runs again (`resume`).
    Thawed,
    /// A runner process started again.
    Restarted,
    /// A fault or control event was applied.
    Applied {
        /// What, in words.
        what: String,
        /// The scenario event's `kind` (`crash_service`, `cancel`, ...); none for a note about
        /// an event (the operator's calls for it failed).
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<ActionKind>,
        /// The runners it cuts off, freezes or crashes; every runner when the service itself
        /// goes down. Checks use it to tell a runner that could not learn from one that would not.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        disturbs: Vec<String>,
    },
    /// A message fault matched a call at the service's edge.
    MessageFault {
        /// What was done to the call.
        what: String,
        /// The effect's `type` (`drop_request`, `duplicate`, ...).
        effect: EffectKind,
        /// The operation.
        operation: String,
        /// Where the fault was written: the scenario event, or the admin call that posted it.
        /// The observation's runner is the one whose call it hit, as the call itself said (its
        /// runner header, hostname or taskrunnerId), so a check can hold the two against each
        /// other without asking the harness what it installed.
        fault: FaultOrigin,
    },
}

/// Where a message fault was written, as the checks look it up: never the table the harness
/// built from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOrigin {
    /// The scenario's event at this index of its `events` (a served scenario's too).
    Event(usize),
    /// The body of the admin call that installed it (`POST /_dpsim/faults` or
    /// `/_dpsim/faults/errors`), as posted.
    Posted(String),
}

/// One observed event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// When.
    pub at: Millis,
    /// Runner (or machine) it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// What.
    #[serde(flatten)]
    pub kind: ObservationKind,
    /// True when dpsim inferred it from the runner's calls at the edge (an un-instrumented
    /// runner program), rather than the runner reporting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
}

/// The component id of an instance id `@<component>_<YYYY-MM-DDTHH:MM:SS>[_<n>]`.
pub(crate) fn component_of(instance_id: &str) -> &str {
    let rest = instance_id.strip_prefix('@').unwrap_or(instance_id);
    let is_time = |t: &[u8]| {
        t.len() >= 19
            && t[..19].iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    // Component ids may contain '_' and digits: take the last '_' that starts a timestamp.
    let bytes = rest.as_bytes();
    for (i, _) in rest.match_indices('_').collect::<Vec<_>>().into_iter().rev() {
        if is_time(&bytes[i + 1..]) {
            return &rest[..i];
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::component_of;

    #[test]
    fn component_ids_come_out_of_instance_ids() {
        assert_eq!(component_of("@Copy_2026-01-01T00:00:00"), "Copy");
        assert_eq!(component_of("@Copy_2026-01-01T00:00:00_20"), "Copy");
        assert_eq!(component_of("@My_Copy_2_2026-01-01T00:00:00_523"), "My_Copy_2");
        assert_eq!(component_of("weird"), "weird");
    }
}

/// What the service answered a task-runner call, as its edge saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum CallOutcome {
    /// PollForTask handed out a task.
    Handout {
        /// The taskId handed out.
        task_id: String,
        /// The pipeline it belongs to.
        pipeline_id: String,
        /// The attempt handed out.
        attempt_id: String,
    },
    /// PollForTask answered `{}`.
    NoTask,
    /// ReportTaskProgress answered `canceled`.
    Report {
        /// The `canceled` flag.
        canceled: bool,
    },
    /// SetTaskStatus was accepted.
    Accepted,
    /// A heartbeat answered `terminate`.
    Heartbeat {
        /// The `terminate` flag.
        terminate: bool,
    },
    /// An AWS error.
    Error {
        /// Its code.
        code: ErrorCode,
    },
    /// The request never reached the service (a fault dropped it).
    NotReceived,
}

/// One task-runner call at the service's edge: who sent it, about which lease, and the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Call {
    /// When the request reached the edge.
    pub at: Millis,
    /// When the service got it (later than `at` when a fault held it back); None when a fault
    /// kept it from the service (a lost request, an injected error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_at: Option<Millis>,
    /// When the service decided the answer (a held poll's, when a task or the hold's end came).
    pub answered_at: Millis,
    /// The worker group a PollForTask asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
    /// The objects of an accepted PutPipelineDefinition: the history checker's model reads
    /// the rules of the tasks from them.
    #[serde(skip)]
    pub definition: Option<std::sync::Arc<Vec<crate::protocol::shapes::PipelineObject>>>,
    /// The `startTimestamp` an ActivatePipeline gave, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<Millis>,
    /// The runner that sent it (inside the simulation, known for certain; in `serve`, the
    /// hostname or taskrunnerId the call gave).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// The operation.
    pub operation: Operation,
    /// The taskId the call names (ReportTaskProgress, SetTaskStatus).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The status a SetTaskStatus or SetStatus set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The pipeline a control-plane call names (SetStatus, DeactivatePipeline, DeletePipeline,
    /// ActivatePipeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    /// The objects a SetStatus names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_ids: Vec<String>,
    /// DeactivatePipeline's cancelActive (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_active: Option<bool>,
    /// The answer.
    #[serde(flatten)]
    pub outcome: CallOutcome,
    /// False when a fault kept the answer from the caller.
    pub delivered: bool,
    /// True for the copy a `duplicate` fault delivered (the caller never hears its answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// The taskIds the service handed out, by lease number: a taskId names a lease only if it is
/// the one handed out. `task_seq` alone would take a forged `5.forged` (or another service's
/// id) for lease 5.
#[derive(Clone, Debug, Default)]
pub(crate) struct HandedOut<'a>(BTreeMap<u64, &'a str>);

impl<'a> HandedOut<'a> {
    /// The handouts among `calls`.
    pub fn of(calls: &'a [Call]) -> HandedOut<'a> {
        HandedOut(
            calls
                .iter()
                .filter_map(|c| match &c.outcome {
                    CallOutcome::Handout { task_id, .. } => Some((task_seq(task_id), task_id.as_str())),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The lease a taskId names, if the service handed that taskId out.
    pub fn lease(&self, task_id: &str) -> Option<u64> {
        let seq = task_seq(task_id);
        (self.0.get(&seq) == Some(&task_id)).then_some(seq)
    }
}

impl Call {
    /// The lease number the call is about: the one its taskId names, or the one it was handed.
    /// A forged taskId names a number too, which no handout gave.
    pub fn lease(&self) -> Option<u64> {
        match (&self.task_id, &self.outcome) {
            (Some(id), _) | (None, CallOutcome::Handout { task_id: id, .. }) => Some(task_seq(id)),
            _ => None,
        }
    }
}

impl Trace {
    /// Moves every instant so that `origin` reads as the start of the run (the log stamps
    /// times since [`EPOCH_MS`]): for a world, like `serve`'s, that did not start there.
    pub fn rebase(&mut self, origin: Millis) {
        use crate::journal::EventKind;
        let shift = |t: &mut Millis| *t = t.saturating_sub(origin).saturating_add(EPOCH_MS);
        for e in &mut self.journal {
            shift(&mut e.at);
            match &mut e.kind {
                EventKind::Assigned { ack_deadline: t, .. }
                | EventKind::Acknowledged { progress_deadline: t }
                | EventKind::Renewed { progress_deadline: t }
                | EventKind::RetryScheduled { ready_at: t, .. } => shift(t),
                _ => {}
            }
        }
        for o in &mut self.observations {
            shift(&mut o.at);
        }
        for c in &mut self.calls {
            shift(&mut c.at);
            shift(&mut c.answered_at);
            for t in [&mut c.served_at, &mut c.start_ms].into_iter().flatten() {
                shift(t);
            }
        }
    }
}
