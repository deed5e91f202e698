//! What the report page draws, as one JSON value built from the report and the run's trace:
//! violation groups with their first violation in full, expectations, leases, work, calls,
//! deadlines, faults and control events, and the ownership log. Rows are arrays, not objects,
//! so a 10,000-task run stays a few megabytes; `page.js` names each column.
//!
//! Times are milliseconds since the start. Runners and lanes are indexes into `runners` and
//! `lanes`; leases are their numbers (`t16` is 16).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::journal::EventKind;
use crate::ownership::analysis::{Analysis, LeaseEnd, rel};
use crate::report::Report;
use crate::scenario::ActionKind;
use crate::trace::{CallOutcome, ObservationKind, Trace, task_seq};

/// A lease number from a log line's lease column (`t16`).
fn lease_of(name: &str) -> Option<u64> {
    name.strip_prefix('t').and_then(|n| n.parse().ok())
}

fn log_row(line: &crate::report::Line) -> Value {
    json!([line.at, line.object, line.what, line.runner, line.task, line.detail, u8::from(line.anomaly)])
}

/// A call's answer in a few words.
fn answer(outcome: &CallOutcome) -> String {
    match outcome {
        CallOutcome::Handout { task_id, .. } => format!("handed t{}", task_seq(task_id)),
        CallOutcome::NoTask => "no task".into(),
        CallOutcome::Report { canceled } => format!("canceled={canceled}"),
        CallOutcome::Accepted => "accepted".into(),
        CallOutcome::Heartbeat { terminate } => format!("terminate={terminate}"),
        CallOutcome::Error { code } => code.to_string(),
        CallOutcome::NotReceived => "never reached the service".into(),
    }
}

/// A control-plane event (what an operator does), as against a fault of the machines.
fn is_control(kind: ActionKind) -> bool {
    use ActionKind::*;
    matches!(kind, Cancel | Rerun | PauseActivity | ResumeActivity | Deactivate | Activate | Delete | Terminate)
}

/// Index of each name, in first-seen order (the order the lists below give them).
struct Names(BTreeMap<String, usize>, Vec<String>);

impl Names {
    fn new() -> Names {
        Names(BTreeMap::new(), Vec::new())
    }

    fn of(&mut self, name: &str) -> usize {
        if let Some(i) = self.0.get(name) {
            return *i;
        }
        self.1.push(name.to_string());
        self.0.insert(name.to_string(), self.1.len() - 1);
        self.1.len() - 1
    }
}

/// The page's data for a run.
pub(crate) fn build(title: &str, report: &Report, trace: &Trace) -> Value {
    let a = Analysis::of(trace);
    let mut runners = Names::new();
    for r in &trace.runners {
        runners.of(&r.name);
    }
    let mut lanes = Names::new();
    for i in &trace.instances {
        lanes.of(&a.label(&i.pipeline_id, &i.instance_id));
    }
    let leases: Vec<Value> = a
        .leases
        .values()
        .map(|l| {
            let end = match &l.end {
                LeaseEnd::Open => "still live at the end".to_string(),
                LeaseEnd::ByOwner => "ended by its owner's status".to_string(),
                LeaseEnd::Taken(why) => why.clone(),
            };
            json!([
                l.seq,
                lanes.of(&a.label(&l.pipeline_id, &l.object_id)),
                runners.of(&l.runner),
                l.assigned_at,
                l.ended_at,
                end,
                a.task_label(l.seq),
                u8::from(l.reassigned)
            ])
        })
        .collect();
    let work: Vec<Value> =
        a.work.iter().map(|w| json!([w.seq, runners.of(&w.runner), w.from, w.to, w.zombie_ms])).collect();
    let calls: Vec<Value> = trace
        .calls
        .iter()
        .filter(|c| c.operation.is_runner_call())
        .map(|c| {
            let lease = match &c.outcome {
                CallOutcome::Handout { task_id, .. } => Some(task_seq(task_id)),
                _ => c.task_id.as_deref().map(task_seq),
            };
            let mut said = answer(&c.outcome);
            if !c.delivered {
                said += " (the answer was lost)";
            }
            let runner = c.runner.as_deref().map(|r| runners.of(r));
            json!([rel(c.at), runner, c.operation.as_str(), lease, said, rel(c.answered_at)])
        })
        .collect();
    let deadlines: Vec<Value> = trace
        .journal
        .iter()
        .filter_map(|e| {
            let (at, kind) = match &e.kind {
                EventKind::Assigned { ack_deadline, .. } => (*ack_deadline, "acknowledgement deadline"),
                EventKind::Acknowledged { progress_deadline } | EventKind::Renewed { progress_deadline } => {
                    (*progress_deadline, "progress deadline")
                }
                _ => return None,
            };
            Some(json!([e.task?, rel(at), kind]))
        })
        .collect();
    let marks: Vec<Value> = trace
        .observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Applied { what, event, .. } => {
                let kind = if event.is_some_and(is_control) { "control" } else { "fault" };
                Some(json!([rel(o.at), kind, what, o.runner]))
            }
            ObservationKind::MessageFault { what, operation, .. } => {
                Some(json!([rel(o.at), "message", format!("{what} {operation}"), o.runner]))
            }
            _ => None,
        })
        .collect();
    let violations: Vec<Value> = report
        .violations
        .iter()
        .map(|v| {
            // The lease concerned: the last one the transitions that led to it name.
            let lease = v.trail.iter().rev().find_map(|l| lease_of(&l.task));
            json!({
                "invariant": v.invariant, "at": v.at, "task": v.task, "runner": v.runner,
                "message": v.message, "lease": lease,
                "trail": v.trail.iter().map(log_row).collect::<Vec<_>>(),
                "expected": report.expected_violations.contains(&v.invariant),
            })
        })
        .collect();
    json!({
        "title": title,
        "seed": trace.seed,
        "end": trace.end_ms,
        "served": trace.served,
        "passed": report.passed(),
        "summary": report.summary_text(),
        "groups": report.violation_groups(),
        "violations": violations,
        "expectations": report.expectations,
        "runners": runners.1,
        "lanes": lanes.1,
        "leases": leases,
        "work": work,
        "calls": calls,
        "deadlines": deadlines,
        "marks": marks,
        "log": report.log.iter().map(log_row).collect::<Vec<_>>(),
    })
}
