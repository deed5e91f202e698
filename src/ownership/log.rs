//! The ownership log: one line per transition, ordered by virtual time then sequence.
//!
//! It merges the service's journal (what the service decided) with the runners' beliefs
//! (starts work, learns it lost the task) and the faults applied, so a reader sees both sides.

use serde::{Deserialize, Serialize};

use crate::journal::{Event, EventKind};
use crate::scenario::model::LogDetail;
use crate::time::{Millis, format_duration};
use crate::trace::Trace;
use crate::trace::{Observation, ObservationKind};

use super::analysis::{Analysis, attempt_number, rel};

/// What a line of the ownership log says happened (its `what` column): printed, serialised
/// and named by `count` expectations as the text it has always had (`stale call`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogEvent {
    /// The service handed a task to a runner.
    Assigned,
    /// The service handed out an attempt it had handed out before.
    Reassigned,
    /// The first progress report of a lease was accepted.
    Acknowledged,
    /// A later progress report was accepted.
    Renewed,
    /// A lease passed its ack or progress deadline.
    Expired,
    /// A failed attempt's next attempt was scheduled.
    RetryScheduled,
    /// A task was set FINISHED.
    Finished,
    /// A task was set FAILED (or FALSE).
    Failed,
    /// An instance ran out of retries.
    InstanceFailed,
    /// An instance failed because an upstream will not finish.
    CascadeFailed,
    /// A lease ended by TRY_CANCEL, deactivation or deletion.
    Canceled,
    /// An instance was set MARK_FINISHED.
    MarkedFinished,
    /// An instance was set RERUN.
    Rerun,
    /// An activity was paused.
    Paused,
    /// A schedule period's instance was created.
    Scheduled,
    /// An activity was resumed.
    Resumed,
    /// A call on a lease that is no longer live was answered.
    StaleCall,
    /// A call named a taskId the service never issued.
    ForgedCall,
    /// A pipeline was activated.
    Activated,
    /// A pipeline was deactivated.
    Deactivated,
    /// A pipeline was deleted.
    Deleted,
    /// A runner starts working on a task.
    StartsWork,
    /// A runner stops working on a task.
    StopsWork,
    /// A runner learns it lost a task.
    LearnsLost,
    /// A runner's call failed (timeout, network, an error answer).
    CallFailed,
    /// A runner heard `terminate: true` and stopped.
    Terminated,
    /// A runner process crashed.
    Crashed,
    /// A runner process started again.
    Restarted,
    /// A runner was frozen (measured, not shown: its `event` line says it).
    Frozen,
    /// A frozen runner runs again (measured, not shown).
    Thawed,
    /// A fault or control-plane event was applied.
    Event,
    /// A message fault hit a call.
    Fault,
}

impl LogEvent {
    /// Every `what` the ownership log prints: what a `count` expectation may name.
    pub const ALL: [LogEvent; 30] = [
        LogEvent::Assigned,
        LogEvent::Reassigned,
        LogEvent::Acknowledged,
        LogEvent::Renewed,
        LogEvent::Expired,
        LogEvent::RetryScheduled,
        LogEvent::Finished,
        LogEvent::Failed,
        LogEvent::InstanceFailed,
        LogEvent::CascadeFailed,
        LogEvent::Canceled,
        LogEvent::MarkedFinished,
        LogEvent::Rerun,
        LogEvent::Paused,
        LogEvent::Scheduled,
        LogEvent::Resumed,
        LogEvent::StaleCall,
        LogEvent::ForgedCall,
        LogEvent::Activated,
        LogEvent::Deactivated,
        LogEvent::Deleted,
        LogEvent::StartsWork,
        LogEvent::StopsWork,
        LogEvent::LearnsLost,
        LogEvent::CallFailed,
        LogEvent::Terminated,
        LogEvent::Crashed,
        LogEvent::Restarted,
        LogEvent::Event,
        LogEvent::Fault,
    ];

    /// The text the log prints.
    pub fn name(self) -> &'static str {
        match self {
            LogEvent::Assigned => "assigned",
            LogEvent::Reassigned => "reassigned",
            LogEvent::Acknowledged => "acknowledged",
            LogEvent::Renewed => "renewed",
            LogEvent::Expired => "expired",
            LogEvent::RetryScheduled => "retry scheduled",
            LogEvent::Finished => "finished",
            LogEvent::Failed => "failed",
            LogEvent::InstanceFailed => "instance failed",
            LogEvent::CascadeFailed => "cascade failed",
            LogEvent::Canceled => "canceled",
            LogEvent::MarkedFinished => "marked finished",
            LogEvent::Rerun => "rerun",
            LogEvent::Paused => "paused",
            LogEvent::Scheduled => "scheduled",
            LogEvent::Resumed => "resumed",
            LogEvent::StaleCall => "stale call",
            LogEvent::ForgedCall => "forged call",
            LogEvent::Activated => "activated",
            LogEvent::Deactivated => "deactivated",
            LogEvent::Deleted => "deleted",
            LogEvent::StartsWork => "starts work",
            LogEvent::StopsWork => "stops work",
            LogEvent::LearnsLost => "learns lost",
            LogEvent::CallFailed => "call failed",
            LogEvent::Terminated => "terminated",
            LogEvent::Crashed => "crashed",
            LogEvent::Restarted => "restarted",
            LogEvent::Frozen => "frozen",
            LogEvent::Thawed => "thawed",
            LogEvent::Event => "event",
            LogEvent::Fault => "fault",
        }
    }
}

impl std::fmt::Display for LogEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for LogEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for LogEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LogEvent, D::Error> {
        let name = String::deserialize(d)?;
        LogEvent::ALL
            .into_iter()
            .chain([LogEvent::Frozen, LogEvent::Thawed])
            .find(|e| e.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("no log line says {name:?}")))
    }
}

/// One line of the ownership log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Time since the start.
    pub at: Millis,
    /// Task and attempt (`Copy@1`), or `-`.
    pub object: String,
    /// What happened (`assigned`, `learns lost`, `fault`, ...).
    pub what: LogEvent,
    /// The runner, or `-`.
    pub runner: String,
    /// The lease (`t3`), or empty.
    pub task: String,
    /// Why, or details.
    pub detail: String,
    /// True for transitions worth a reviewer's eye in a fleet: losses, faults, stale calls.
    pub anomaly: bool,
}

/// An instant of a run as the ownership log stamps it: `+HH:MM:SS.mmm` since the start.
///
/// ```
/// assert_eq!(dpsim::time::stamp(120_600), "+00:02:00.600");
/// ```
pub fn stamp(ms: Millis) -> String {
    format!("+{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// `in etl`, for an event about a component of one of several pipelines (a component id alone
/// does not say which).
fn in_pipeline(a: &Analysis, e: &Event) -> String {
    match e.pipeline_id.as_deref().and_then(|id| a.pipeline_names.get(id)) {
        Some(name) if a.pipeline_names.len() > 1 => format!("in {name}"),
        _ => String::new(),
    }
}

fn journal_line(a: &Analysis, e: &Event) -> Option<Line> {
    use LogEvent as W;
    let (what, detail, anomaly): (LogEvent, String, bool) = match &e.kind {
        EventKind::Assigned { reassigned, ack_deadline, .. } => (
            if *reassigned { W::Reassigned } else { W::Assigned },
            format!("{}; ack by {}", e.cause, stamp(rel(*ack_deadline))),
            *reassigned,
        ),
        EventKind::Acknowledged { progress_deadline } => {
            (W::Acknowledged, format!("next report by {}", stamp(rel(*progress_deadline))), false)
        }
        EventKind::Renewed { progress_deadline } => {
            (W::Renewed, format!("next report by {}", stamp(rel(*progress_deadline))), false)
        }
        EventKind::Expired { .. } => (W::Expired, e.cause.to_string(), true),
        EventKind::RetryScheduled { ready_at, next_attempt } => {
            (W::RetryScheduled, format!("attempt {next_attempt} ready at {}; {}", stamp(rel(*ready_at)), e.cause), true)
        }
        EventKind::Finished => (W::Finished, String::new(), false),
        EventKind::Failed { status, error_id } => {
            (W::Failed, format!("{status}{}", error_id.as_ref().map(|i| format!(" {i}")).unwrap_or_default()), true)
        }
        EventKind::InstanceFailed => (W::InstanceFailed, e.cause.to_string(), true),
        EventKind::CascadeFailed => (W::CascadeFailed, e.cause.to_string(), true),
        EventKind::Canceled { by } => (W::Canceled, format!("{}: {}", by.name(), e.cause), true),
        EventKind::MarkedFinished => (W::MarkedFinished, String::new(), true),
        EventKind::Rerun => (W::Rerun, String::new(), true),
        EventKind::Paused => (W::Paused, in_pipeline(a, e), true),
        EventKind::Scheduled { start, end } => (
            W::Scheduled,
            format!("period {} .. {}", crate::time::format_dp_time(*start), crate::time::format_dp_time(*end)),
            false,
        ),
        EventKind::Resumed => (W::Resumed, in_pipeline(a, e), true),
        EventKind::StaleCall { operation, answer } => (W::StaleCall, format!("{operation} -> {answer}"), true),
        EventKind::ForgedCall { operation } => (W::ForgedCall, format!("{operation} -> TaskNotFoundException"), true),
        EventKind::Activated { instances } => (W::Activated, format!("{instances} instances; {}", e.cause), false),
        EventKind::Deactivated { cancel_active } => (W::Deactivated, format!("cancelActive={cancel_active}"), true),
        EventKind::Deleted => (W::Deleted, String::new(), true),
        EventKind::PipelineCreated
        | EventKind::DefinitionPut
        | EventKind::Ready
        | EventKind::Heartbeat { .. }
        | EventKind::PollParked { .. }
        | EventKind::PollTimedOut { .. }
        | EventKind::PollAbandoned { .. } => return None,
    };
    // Labelled only now: most events (polls, heartbeats) make no line.
    let pipeline = e.pipeline_id.as_deref().unwrap_or_default();
    let object = if matches!(e.kind, EventKind::Activated { .. } | EventKind::Deactivated { .. } | EventKind::Deleted) {
        let id = e.pipeline_id.as_deref().unwrap_or("-");
        a.pipeline_names.get(id).cloned().unwrap_or_else(|| id.to_string())
    } else {
        match (&e.object_id, &e.attempt_id) {
            // The lease's label, worked out once, when the event is about the lease's attempt.
            (Some(_), Some(att)) if e.task.and_then(|t| a.leases.get(&t)).is_some_and(|l| l.attempt_id == **att) => {
                a.task_label(e.task.unwrap_or_default())
            }
            (Some(o), Some(att)) => format!("{}@{}", a.label(pipeline, o), attempt_number(att)),
            (Some(o), None) => a.label(pipeline, o),
            (None, _) => "-".into(),
        }
    };
    Some(Line {
        at: rel(e.at),
        object,
        what,
        runner: e.runner.as_deref().unwrap_or("-").to_string(),
        task: e.task.map(|t| format!("t{t}")).unwrap_or_default(),
        detail,
        anomaly,
    })
}

fn observation_line(a: &Analysis, o: &Observation) -> Line {
    let runner = o.runner.clone().unwrap_or_else(|| "-".into());
    let zombie = |seq: u64| match a.zombie_ms(&runner, seq) {
        (0, 0) => String::new(),
        (ms, 0) => format!("; {} of zombie work", format_duration(ms)),
        (ms, frozen) => format!(
            "; {} of zombie work (and {} frozen, still believing it held the task)",
            format_duration(ms),
            format_duration(frozen)
        ),
    };
    let (object, what, task, detail, anomaly) = match &o.kind {
        ObservationKind::StartsWork { task, work_ms, .. } => (
            a.task_label(*task),
            LogEvent::StartsWork,
            format!("t{task}"),
            work_ms.map(|ms| format!("for {}", format_duration(ms))).unwrap_or_default(),
            false,
        ),
        ObservationKind::StopsWork { task, reason } => {
            let z = zombie(*task);
            let anomaly = !z.is_empty() || !reason.starts_with("set FINISHED");
            (a.task_label(*task), LogEvent::StopsWork, format!("t{task}"), format!("{reason}{z}"), anomaly)
        }
        ObservationKind::LearnsLost { task, how } => {
            (a.task_label(*task), LogEvent::LearnsLost, format!("t{task}"), how.clone(), true)
        }
        ObservationKind::CallFailed { operation, error, .. } => {
            ("-".into(), LogEvent::CallFailed, String::new(), format!("{operation}: {error}"), true)
        }
        ObservationKind::Terminated => {
            ("-".into(), LogEvent::Terminated, String::new(), "heartbeat answered terminate=true".into(), true)
        }
        ObservationKind::Crashed => ("-".into(), LogEvent::Crashed, String::new(), String::new(), true),
        ObservationKind::Restarted => ("-".into(), LogEvent::Restarted, String::new(), String::new(), true),
        ObservationKind::Frozen => ("-".into(), LogEvent::Frozen, String::new(), String::new(), true),
        ObservationKind::Thawed => ("-".into(), LogEvent::Thawed, String::new(), String::new(), true),
        ObservationKind::Applied { what, .. } => ("-".into(), LogEvent::Event, String::new(), what.clone(), true),
        ObservationKind::MessageFault { what, operation, .. } => {
            ("-".into(), LogEvent::Fault, String::new(), format!("{what} {operation}"), true)
        }
    };
    let detail =
        if o.inferred { format!("{detail} (inferred from its calls)").trim_start().to_string() } else { detail };
    Line { at: rel(o.at), object, what, runner, task, detail, anomaly }
}

/// The log lines of a run, in order.
pub fn lines(out: &Trace, a: &Analysis) -> Vec<Line> {
    let mut lines: Vec<Line> = out.journal.iter().filter_map(|e| journal_line(a, e)).collect();
    // A runner's freezing is already an `event` line; it matters for measuring, not reading.
    let shown =
        out.observations.iter().filter(|o| !matches!(o.kind, ObservationKind::Frozen | ObservationKind::Thawed));
    lines.extend(shown.map(|o| observation_line(a, o)));
    // Stable: at the same instant, the service's decisions come before what runners saw.
    lines.sort_by_key(|l| l.at);
    lines
}

/// Renders lines as aligned text.
pub fn render(lines: &[Line], detail: LogDetail) -> String {
    let shown: Vec<&Line> = lines.iter().filter(|l| detail == LogDetail::Full || l.anomaly).collect();
    let w_object = shown.iter().map(|l| l.object.len()).max().unwrap_or(1).max(6);
    let w_what = shown.iter().map(|l| l.what.name().len()).max().unwrap_or(1);
    let w_runner = shown.iter().map(|l| l.runner.len()).max().unwrap_or(1);
    let w_task = shown.iter().map(|l| l.task.len()).max().unwrap_or(1).max(3);
    // Past 99 hours a stamp grows a digit: right-align the column to the widest one.
    let w_stamp = shown.iter().map(|l| stamp(l.at).len()).max().unwrap_or(0);
    let mut out = String::new();
    for l in shown {
        let row = format!(
            "{:>w_stamp$}  {:<w_object$}  {:<w_what$}  {:<w_runner$}  {:<w_task$}  {}",
            stamp(l.at),
            l.object,
            l.what,
            l.runner,
            l.task,
            l.detail
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_column_stays_aligned_past_99_hours() {
        let line = |at| Line {
            at,
            object: "Copy@1".into(),
            what: LogEvent::Renewed,
            runner: "r".into(),
            task: "t1".into(),
            detail: "ok".into(),
            anomaly: false,
        };
        let text = render(&[line(1_000), line(166_680 * 3_600_000)], LogDetail::Full);
        let columns: Vec<usize> = text.lines().map(|l| l.find("Copy@1").unwrap()).collect();
        assert_eq!(columns[0], columns[1], "{text}");
        assert!(text.contains("+166680:00:00.000  Copy@1"), "{text}");
    }
}
