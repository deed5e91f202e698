//! The fault space of a run: every fault `verify` can place, read off the calls the service's
//! edge saw and the service's journal. Each fault is named by what it hits (a runner, an
//! operation, the n-th such call, the moment after a runner's n-th call), so that a plan is a
//! scenario file that replays on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::journal::EventKind;
use crate::protocol::Operation;
use crate::scenario::Dur;
use crate::scenario::model::{
    Action, At, DeadlineKind, Direction, MessageEffect, MessageFault, Scenario, TaskMoment, TimedEvent,
};
use crate::trace::{CallOutcome, ObservationKind, Trace, component_of, rel, task_seq};

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The call's request is lost before the service sees it.
    DropRequest,
    /// The service handles the call; its answer is lost.
    DropResponse,
    /// The call reaches the service twice.
    Duplicate,
    /// The call reaches the service one tick before its own lease deadline.
    DelayBeforeDeadline,
    /// The call reaches the service one tick after its own lease deadline.
    DelayAfterDeadline,
    /// The runner crashes after a call and never comes back.
    Crash,
    /// The runner crashes after a call and starts afresh a minute later.
    CrashRestart,
    /// The runner freezes after a call until a tick past its lease's next deadline.
    Pause,
    /// The runner's machine is cut off after a call until a tick past its lease's next deadline.
    Partition,
    /// The operator sends TRY_CANCEL for an activity after a runner's call.
    Cancel,
}

impl FaultKind {
    /// The name the output uses.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::DropRequest => "drop_request",
            FaultKind::DropResponse => "drop_response",
            FaultKind::Duplicate => "duplicate",
            FaultKind::DelayBeforeDeadline => "delay to deadline -1 tick",
            FaultKind::DelayAfterDeadline => "delay to deadline +1 tick",
            FaultKind::Crash => "crash_runner",
            FaultKind::CrashRestart => "crash_runner and restart",
            FaultKind::Pause => "pause across deadline",
            FaultKind::Partition => "partition across deadline",
            FaultKind::Cancel => "cancel",
        }
    }
}

/// One fault, named by what it hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What it does.
    pub kind: FaultKind,
    /// The runner whose call it hits, or after whose call it strikes.
    pub runner: String,
    /// The operation of the call it hits (faults on calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// Which call: the n-th call of `operation` by `runner` (faults on calls), or the n-th call of
    /// any operation by `runner` after which it strikes (the others), from 1.
    pub nth: u32,
    /// The activity a cancel names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// When it strikes, since the start: the call's arrival, or the moment after the call.
    pub at_ms: u64,
    /// When its effect ends (a restart, a resume, a repair, a held call's delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// The deadline a delayed call is held to.
    #[serde(skip)]
    pub(crate) deadline: Option<DeadlineKind>,
    /// For a delayed call: the runner entry's request timeout is raised to this, so that the
    /// runner is still waiting when the call lands (`runners[spec].request_timeout`).
    #[serde(skip)]
    pub(crate) request_timeout: Option<(usize, u64)>,
    /// Whether it hits a call that supports the run's outcome (a handout, an acknowledgement, a
    /// renewal, a status report, or the moment after one): lineage-driven ordering tries these
    /// first.
    pub support: bool,
}

impl Fault {
    /// The order plans add faults in: by the moment they strike, then by what they are. A plan
    /// only ever adds a fault that strikes after its last one, so that every set of faults is
    /// built once, and the run before the new fault is the parent's run.
    pub(crate) fn key(&self) -> (u64, FaultKind, &str, u32, Option<&str>) {
        (self.at_ms, self.kind, &self.runner, self.nth, self.task.as_deref())
    }

    /// The fault in words: `drop_response of runner-a's 2nd ReportTaskProgress (+00:02:00.100)`.
    pub fn label(&self) -> String {
        let when = crate::report::log::stamp(self.at_ms);
        match (&self.operation, &self.task) {
            (Some(op), _) => {
                format!("{} of {}'s {} {} ({when})", self.kind.name(), self.runner, ordinal(self.nth), op.as_str())
            }
            (None, Some(task)) => {
                format!("cancel {task} after {}'s {} call ({when})", self.runner, ordinal(self.nth))
            }
            (None, None) => {
                format!("{} {} after its {} call ({when})", self.kind.name(), self.runner, ordinal(self.nth))
            }
        }
    }

    /// The scenario events that place it.
    pub(crate) fn events(&self, tick: u64) -> Vec<TimedEvent> {
        let at = |ms: u64, action: Action| TimedEvent { at: At::Time(Dur(ms)), action };
        let runner = self.runner.clone();
        let until = self.until_ms.unwrap_or(self.at_ms);
        let message = |effect: MessageEffect| {
            at(
                0,
                Action::Message(MessageFault {
                    operation: self.operation,
                    runner: Some(self.runner.clone()),
                    task: None,
                    occurrence: self.nth,
                    count: 1,
                    probability: None,
                    lasting: None,
                    effect,
                }),
            )
        };
        let held = |before: u64, after: u64| MessageEffect::Delay {
            by: None,
            until: Some(TaskMoment {
                deadline: self.deadline.unwrap_or(DeadlineKind::AckDeadline),
                before: Dur(before),
                after: Dur(after),
            }),
        };
        match self.kind {
            FaultKind::DropRequest => vec![message(MessageEffect::DropRequest)],
            FaultKind::DropResponse => vec![message(MessageEffect::DropResponse)],
            FaultKind::Duplicate => vec![message(MessageEffect::Duplicate { after: Dur(0) })],
            FaultKind::DelayBeforeDeadline => vec![message(held(tick, 0))],
            FaultKind::DelayAfterDeadline => vec![message(held(0, tick))],
            FaultKind::Crash => vec![at(self.at_ms, Action::CrashRunner { runner })],
            FaultKind::CrashRestart => vec![
                at(self.at_ms, Action::CrashRunner { runner: runner.clone() }),
                at(until, Action::RestartRunner { runner }),
            ],
            FaultKind::Pause => {
                vec![at(self.at_ms, Action::Pause { runner: runner.clone() }), at(until, Action::Resume { runner })]
            }
            FaultKind::Partition => vec![
                at(
                    self.at_ms,
                    Action::Partition { machine: runner.clone(), direction: Direction::Both, refuse: false },
                ),
                at(until, Action::Repair { machine: runner }),
            ],
            FaultKind::Cancel => {
                vec![at(self.at_ms, Action::Cancel { task: self.task.clone().unwrap_or_default(), pipeline: None })]
            }
        }
    }

    /// Whether it acts over time (a held call, a frozen, crashed or cut-off runner): two runs
    /// alike so far can differ later if such effects differ.
    pub(crate) fn lasting(&self) -> bool {
        self.kind == FaultKind::Crash || self.until_ms.is_some()
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// How long a crashed runner stays down before a `CrashRestart` starts it again.
pub(crate) const RESTART_AFTER_MS: u64 = 60_000;

/// How long after a call's answer the faults between calls strike: the answer has reached the
/// runner (one tick of latency) and the runner has acted on it.
const AFTER_CALL_TICKS: u64 = 2;

/// Extra time a delayed call's runner waits beyond the moment the call lands.
const DELAY_TIMEOUT_MARGIN_MS: u64 = 60_000;

/// A lease as the journal tells it: who holds it, its deadlines over time, and its end.
#[derive(Default)]
struct Lease {
    runner: String,
    component: String,
    assigned: u64,
    ack_deadline: u64,
    /// (when set, the progress deadline it set), in order; the first is the acknowledgement.
    reports: Vec<(u64, u64)>,
    ended: Option<u64>,
    finished: bool,
}

impl Lease {
    /// The deadline in force at `t` (since the start) and its kind, if the lease is open then.
    fn deadline_at(&self, t: u64) -> Option<(DeadlineKind, u64)> {
        if t < self.assigned || self.ended.is_some_and(|e| e <= t) {
            return None;
        }
        // Strictly before: a report's own deadline is the one in force when it arrives.
        match self.reports.iter().rev().find(|(set, _)| *set < t) {
            Some((_, d)) => Some((DeadlineKind::ProgressDeadline, *d)),
            None => Some((DeadlineKind::AckDeadline, self.ack_deadline)),
        }
    }
}

fn leases(trace: &Trace) -> BTreeMap<u64, Lease> {
    let mut leases: BTreeMap<u64, Lease> = BTreeMap::new();
    for e in &trace.journal {
        let Some(seq) = e.task else { continue };
        let at = rel(e.at);
        match &e.kind {
            EventKind::Assigned { ack_deadline, .. } => {
                let lease = leases.entry(seq).or_default();
                lease.runner = e.runner.as_deref().unwrap_or_default().to_string();
                lease.component = e.object_id.as_deref().map(component_of).unwrap_or_default().to_string();
                lease.assigned = at;
                lease.ack_deadline = rel(*ack_deadline);
            }
            EventKind::Acknowledged { progress_deadline } | EventKind::Renewed { progress_deadline } => {
                leases.entry(seq).or_default().reports.push((at, rel(*progress_deadline)));
            }
            EventKind::Expired { .. } | EventKind::Failed { .. } | EventKind::Canceled { .. } => {
                leases.entry(seq).or_default().ended.get_or_insert(at);
            }
            EventKind::Finished => {
                let lease = leases.entry(seq).or_default();
                lease.ended.get_or_insert(at);
                lease.finished = true;
            }
            _ => {}
        }
    }
    leases
}

/// Every fault that can be placed in `trace`, the run of `scenario`, in [`Fault::key`] order.
pub(crate) fn faults_of(scenario: &Scenario, trace: &Trace) -> Vec<Fault> {
    let tick = scenario.tick.ms().max(1);
    let leases = leases(trace);
    // When each activity's last lease ended, if it did: a cancel after that hits nothing.
    let mut open_until: BTreeMap<&str, Option<u64>> = BTreeMap::new();
    for lease in leases.values() {
        let slot = open_until.entry(lease.component.as_str()).or_insert(Some(0));
        *slot = match (*slot, lease.ended) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    let entry_of = |runner: &str| trace.runners.iter().find(|p| p.name == runner).map(|p| p.spec);
    let mut out = Vec::new();
    let mut per_op: BTreeMap<(&str, Operation), u32> = BTreeMap::new();
    let mut per_runner: BTreeMap<&str, u32> = BTreeMap::new();
    let mut cancel_moments = std::collections::BTreeSet::new();
    let mut moments = std::collections::BTreeSet::new();
    for call in &trace.calls {
        let Some(runner) = call.runner.as_deref() else { continue };
        if call.duplicate || !call.operation.is_runner_call() || entry_of(runner).is_none() {
            continue;
        }
        let nth_op = per_op.entry((runner, call.operation)).or_default();
        *nth_op += 1;
        let nth_call = per_runner.entry(runner).or_default();
        *nth_call += 1;
        let arrived = rel(call.at);
        let lease = call.lease().and_then(|seq| leases.get(&seq).map(|l| (seq, l)));
        let support = matches!(call.outcome, CallOutcome::Handout { .. }) || call.task_id.is_some();
        let on_call = |kind: FaultKind| Fault {
            kind,
            runner: runner.to_string(),
            operation: Some(call.operation),
            nth: *nth_op,
            task: None,
            at_ms: arrived,
            until_ms: None,
            deadline: None,
            request_timeout: None,
            support,
        };
        for kind in [FaultKind::DropRequest, FaultKind::DropResponse, FaultKind::Duplicate] {
            out.push(on_call(kind));
        }
        // A report or a status held to its own lease's deadline, when the runner still waits
        // for it: only when none of its entry's calls timed out before, so that a longer
        // timeout changes nothing in the run up to here.
        if let (Some(task_id), Some((_, lease))) = (&call.task_id, lease)
            && task_seq(task_id) > 0
            && let Some((deadline, due)) = lease.deadline_at(arrived)
            && due > arrived + tick
            && let Some(spec) = entry_of(runner)
            && !timed_out_before(trace, scenario, spec, call.at)
        {
            let wait = (due + tick - arrived + DELAY_TIMEOUT_MARGIN_MS).div_ceil(1000) * 1000;
            let timeout = scenario.runners[spec].request_timeout.ms().max(wait);
            for (kind, lands) in
                [(FaultKind::DelayBeforeDeadline, due - tick), (FaultKind::DelayAfterDeadline, due + tick)]
            {
                out.push(Fault {
                    until_ms: Some(lands),
                    deadline: Some(deadline),
                    request_timeout: Some((spec, timeout)),
                    ..on_call(kind)
                });
            }
        }
        // Between this call and the runner's next.
        let after = rel(call.answered_at) + AFTER_CALL_TICKS * tick;
        let between = |kind: FaultKind, until_ms: Option<u64>, task: Option<String>| Fault {
            kind,
            runner: runner.to_string(),
            operation: None,
            nth: *nth_call,
            task,
            at_ms: after,
            until_ms,
            deadline: None,
            request_timeout: None,
            support,
        };
        // Two calls answered at the same instant have one moment after them.
        if !moments.insert((runner, after)) {
            continue;
        }
        out.push(between(FaultKind::Crash, None, None));
        out.push(between(FaultKind::CrashRestart, Some(after + RESTART_AFTER_MS), None));
        let next_deadline =
            leases.values().filter(|l| l.runner == runner).filter_map(|l| l.deadline_at(after)).map(|(_, d)| d).min();
        if let Some(due) = next_deadline.filter(|due| *due > after) {
            out.push(between(FaultKind::Pause, Some(due + tick), None));
            out.push(between(FaultKind::Partition, Some(due + tick), None));
        }
        for (component, until) in &open_until {
            if until.is_none_or(|u| after < u) && cancel_moments.insert((after, *component)) {
                out.push(between(FaultKind::Cancel, None, Some(component.to_string())));
            }
        }
    }
    out.sort_by(|a, b| a.key().cmp(&b.key()));
    out
}

/// Whether a runner of entry `spec` had a call time out (or fail without hearing the service)
/// before `at`.
fn timed_out_before(trace: &Trace, scenario: &Scenario, spec: usize, at: u64) -> bool {
    let names = crate::scenario::world_plan::runner_names(&scenario.runners[spec]);
    trace.observations.iter().any(|o| {
        o.at < at
            && matches!(o.kind, ObservationKind::CallFailed { transient: true, .. })
            && o.runner.as_ref().is_some_and(|r| names.contains(r))
    })
}

/// A base scenario with a plan's faults placed: the standalone scenario of the plan.
pub(crate) fn apply(base: &Scenario, plan: &[Fault]) -> Scenario {
    let mut s = base.clone();
    for f in plan {
        if let Some((spec, timeout)) = f.request_timeout {
            let r = &mut s.runners[spec];
            r.request_timeout = Dur(r.request_timeout.ms().max(timeout));
        }
        s.events.extend(f.events(base.tick.ms().max(1)));
    }
    s
}
