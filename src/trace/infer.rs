//! What a runner believed, inferred from its calls when its program does not say.
//!
//! A runner program that uses no belief hooks ([`crate::runner::RunnerEnv::working`]) still
//! leaves evidence at the service's edge: the PollForTask answer that handed it a lease, its
//! later calls naming that lease, and the answers that told it the lease was gone. From them
//! dpsim infers that it started working when the handout reached it, learned of a loss when a
//! `canceled: true`, TaskNotFoundException or PipelineDeletedException answer reached it, and
//! worked at least until its last call about the lease. That is a lower bound on its work (and
//! so on its zombie work): a runner that works on silently is not seen. Inferred lines say so
//! in the log.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::{ErrorCode, Operation};

use super::{CallOutcome, HandedOut, Observation, ObservationKind, Trace, task_seq};

/// Adds inferred work observations for every delivered handout whose runner reported none.
pub fn infer_work(trace: &mut Trace) {
    let reported: BTreeSet<(&str, u64)> = trace
        .observations
        .iter()
        .filter_map(|o| match (&o.kind, o.runner.as_deref()) {
            (ObservationKind::StartsWork { task, .. }, Some(r)) => Some((r, *task)),
            _ => None,
        })
        .collect();
    // Who was handed each lease, as the handouts the edge saw say: a call that names a lease
    // but not its sender (a ReportTaskProgress to `serve`) is its holder's.
    let holder: BTreeMap<u64, &str> = trace
        .calls
        .iter()
        .filter_map(|c| match (&c.outcome, c.runner.as_deref()) {
            (CallOutcome::Handout { task_id, .. }, Some(r)) => Some((task_seq(task_id), r)),
            _ => None,
        })
        .collect();
    // Calls about each lease, by the runner that made them, in order.
    let mut about: BTreeMap<(&str, u64), Vec<usize>> = BTreeMap::new();
    let handed_out = HandedOut::of(&trace.calls);
    for (i, c) in trace.calls.iter().enumerate() {
        let Some(seq) = c.task_id.as_deref().and_then(|t| handed_out.lease(t)) else { continue };
        if let Some(r) = c.runner.as_deref().or_else(|| holder.get(&seq).copied()) {
            about.entry((r, seq)).or_default().push(i);
        }
    }
    let mut inferred = Vec::new();
    for c in &trace.calls {
        let (CallOutcome::Handout { task_id, .. }, true, Some(runner)) = (&c.outcome, c.delivered, c.runner.as_deref())
        else {
            continue;
        };
        let seq = task_seq(task_id);
        if reported.contains(&(runner, seq)) {
            continue;
        }
        let observe = |at, kind| Observation { at, runner: Some(runner.to_string()), kind, inferred: true };
        inferred.push(observe(c.answered_at, ObservationKind::StartsWork { task: seq, work_ms: None }));
        let later: Vec<&super::Call> =
            about.get(&(runner, seq)).map(|v| v.iter().map(|&i| &trace.calls[i]).collect()).unwrap_or_default();
        let learned = later.iter().find(|l| l.delivered && loss(&l.outcome).is_some());
        if let Some(l) = learned {
            let how = loss(&l.outcome).unwrap_or_default().to_string();
            inferred.push(observe(l.answered_at, ObservationKind::LearnsLost { task: seq, how }));
        }
        let (stop_at, reason) = match later.last() {
            Some(last) if last.operation == Operation::SetTaskStatus && last.outcome == CallOutcome::Accepted => {
                (last.at, "set its status".to_string())
            }
            Some(last) => (last.at.max(c.answered_at), "its last call about the task".to_string()),
            None => (c.answered_at, "made no call about the task".to_string()),
        };
        inferred.push(observe(stop_at, ObservationKind::StopsWork { task: seq, reason }));
    }
    if !inferred.is_empty() {
        trace.observations.extend(inferred);
        trace.observations.sort_by_key(|o| o.at);
    }
}

/// How an answer tells a runner it lost its lease.
fn loss(outcome: &CallOutcome) -> Option<&'static str> {
    match outcome {
        CallOutcome::Report { canceled: true } => Some("canceled=true"),
        CallOutcome::Error { code: ErrorCode::TaskNotFoundException } => Some("TaskNotFoundException"),
        CallOutcome::Error { code: ErrorCode::PipelineDeletedException } => Some("PipelineDeletedException"),
        _ => None,
    }
}
