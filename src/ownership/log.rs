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

/// Every `what` the ownership log prints: what a `count` expectation may name.
pub const EVENTS: &[&str] = &[
    "assigned",
    "reassigned",
    "acknowledged",
    "renewed",
    "expired",
    "retry scheduled",
    "finished",
    "failed",
    "instance failed",
    "cascade failed",
    "canceled",
    "marked finished",
    "rerun",
    "paused",
    "scheduled",
    "resumed",
    "stale call",
    "forged call",
    "activated",
    "deactivated",
    "deleted",
    "starts work",
    "stops work",
    "learns lost",
    "call failed",
    "terminated",
    "crashed",
    "restarted",
    "event",
    "fault",
];

/// One line of the ownership log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Time since the start.
    pub at: Millis,
    /// Task and attempt (`Copy@1`), or `-`.
    pub object: String,
    /// What happened (`assigned`, `learns lost`, `fault`, ...).
    pub what: String,
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
    let (what, detail, anomaly): (&str, String, bool) = match &e.kind {
        EventKind::Assigned { reassigned, ack_deadline, .. } => (
            if *reassigned { "reassigned" } else { "assigned" },
            format!("{}; ack by {}", e.cause, stamp(rel(*ack_deadline))),
            *reassigned,
        ),
        EventKind::Acknowledged { progress_deadline } => {
            ("acknowledged", format!("next report by {}", stamp(rel(*progress_deadline))), false)
        }
        EventKind::Renewed { progress_deadline } => {
            ("renewed", format!("next report by {}", stamp(rel(*progress_deadline))), false)
        }
        EventKind::Expired { .. } => ("expired", e.cause.to_string(), true),
        EventKind::RetryScheduled { ready_at, next_attempt } => {
            ("retry scheduled", format!("attempt {next_attempt} ready at {}; {}", stamp(rel(*ready_at)), e.cause), true)
        }
        EventKind::Finished => ("finished", String::new(), false),
        EventKind::Failed { status, error_id } => {
            ("failed", format!("{status}{}", error_id.as_ref().map(|i| format!(" {i}")).unwrap_or_default()), true)
        }
        EventKind::InstanceFailed => ("instance failed", e.cause.to_string(), true),
        EventKind::CascadeFailed => ("cascade failed", e.cause.to_string(), true),
        EventKind::Canceled { by } => ("canceled", format!("{}: {}", by.name(), e.cause), true),
        EventKind::MarkedFinished => ("marked finished", String::new(), true),
        EventKind::Rerun => ("rerun", String::new(), true),
        EventKind::Paused => ("paused", in_pipeline(a, e), true),
        EventKind::Scheduled { start, end } => (
            "scheduled",
            format!("period {} .. {}", crate::time::format_dp_time(*start), crate::time::format_dp_time(*end)),
            false,
        ),
        EventKind::Resumed => ("resumed", in_pipeline(a, e), true),
        EventKind::StaleCall { operation, answer } => ("stale call", format!("{operation} -> {answer}"), true),
        EventKind::ForgedCall { operation } => ("forged call", format!("{operation} -> TaskNotFoundException"), true),
        EventKind::Activated { instances } => ("activated", format!("{instances} instances; {}", e.cause), false),
        EventKind::Deactivated { cancel_active } => ("deactivated", format!("cancelActive={cancel_active}"), true),
        EventKind::Deleted => ("deleted", String::new(), true),
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
        what: what.into(),
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
            "starts work",
            format!("t{task}"),
            work_ms.map(|ms| format!("for {}", format_duration(ms))).unwrap_or_default(),
            false,
        ),
        ObservationKind::StopsWork { task, reason } => {
            let z = zombie(*task);
            let anomaly = !z.is_empty() || !reason.starts_with("set FINISHED");
            (a.task_label(*task), "stops work", format!("t{task}"), format!("{reason}{z}"), anomaly)
        }
        ObservationKind::LearnsLost { task, how } => {
            (a.task_label(*task), "learns lost", format!("t{task}"), how.clone(), true)
        }
        ObservationKind::CallFailed { operation, error, .. } => {
            ("-".into(), "call failed", String::new(), format!("{operation}: {error}"), true)
        }
        ObservationKind::Terminated => {
            ("-".into(), "terminated", String::new(), "heartbeat answered terminate=true".into(), true)
        }
        ObservationKind::Crashed => ("-".into(), "crashed", String::new(), String::new(), true),
        ObservationKind::Restarted => ("-".into(), "restarted", String::new(), String::new(), true),
        ObservationKind::Frozen => ("-".into(), "frozen", String::new(), String::new(), true),
        ObservationKind::Thawed => ("-".into(), "thawed", String::new(), String::new(), true),
        ObservationKind::Applied { what, .. } => ("-".into(), "event", String::new(), what.clone(), true),
        ObservationKind::MessageFault { what, operation, .. } => {
            ("-".into(), "fault", String::new(), format!("{what} {operation}"), true)
        }
    };
    let detail =
        if o.inferred { format!("{detail} (inferred from its calls)").trim_start().to_string() } else { detail };
    Line { at: rel(o.at), object, what: what.into(), runner, task, detail, anomaly }
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
    let w_what = shown.iter().map(|l| l.what.len()).max().unwrap_or(1);
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
            what: "renewed".into(),
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
