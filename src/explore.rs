//! Deadline-boundary exploration: for every lease deadline a scenario produces, rerun it with
//! the competing event moved one tick before, exactly at, and one tick after the deadline, and
//! check the invariants and expectations of each variant. Competing events: the call that
//! beats the deadline (the acknowledgement, or the next progress report), a TRY_CANCEL, and a
//! fresh runner's poll.

use serde::Serialize;

use crate::check::Invariant;
use crate::journal::EventKind;
use crate::protocol::Operation;
use crate::report::Report;
use crate::report::analysis::rel;
use crate::report::log::{LogEvent, stamp};
use crate::runner::Programs;
use crate::scenario::Dur;
use crate::scenario::model::{
    Action, Anchor, AnchorKind, At, DeadlineKind, MessageEffect, MessageFault, RunnerSpec, Scenario, TaskMoment,
    TimedEvent,
};
use crate::sim::SimError;
use crate::trace::component_of;

/// Most deadlines explored per run (the earliest ones).
pub(crate) const MAX_DEADLINES: usize = 12;

/// One explored variant.
#[derive(Clone, Debug, Serialize)]
pub struct Variant {
    /// Which deadline: `ack t1 (Copy, runner-a) +00:02:00.600`.
    pub deadline: String,
    /// The competing event and where it was put: `ack at -1 tick`.
    pub variant: String,
    /// What happened to the lease.
    pub outcome: String,
    /// Invariants broken (beyond those the scenario expects).
    pub violations: Vec<Invariant>,
    /// Expectations that failed (they were written for the unmodified scenario).
    pub failed_expectations: usize,
}

/// A deadline found in the base run.
struct Found {
    kind: DeadlineKind,
    seq: u64,
    component: String,
    /// The scenario pipeline (by the name events use) whose instance the lease is of.
    pipeline: Option<String>,
    runner: String,
    /// Which moment of this component and runner installs the competing call: the handout
    /// (ack deadlines) or the accepted report (progress deadlines), counted from 1.
    occurrence: u32,
    at: u64,
}

fn deadlines(base: &Scenario, programs: &Programs) -> Result<Vec<Found>, SimError> {
    let out = crate::sim::run(base, base.seed, programs, None)?;
    let mut found = Vec::new();
    let mut handouts: std::collections::BTreeMap<(String, String), u32> = Default::default();
    let mut reports: std::collections::BTreeMap<(String, String), u32> = Default::default();
    for e in &out.journal {
        let (Some(seq), Some(object), Some(runner)) = (e.task, e.object_id.as_deref(), e.runner.as_deref()) else {
            continue;
        };
        let component = component_of(object).to_string();
        // The copy's name (`p-2`) back to the scenario's pipeline (`p`).
        let copy = e.pipeline_id.as_deref().and_then(|id| out.pipeline_names.get(id));
        let pipeline =
            copy.and_then(|c| base.pipelines.iter().find(|p| p.copy_names().contains(c))).map(|p| p.name.clone());
        let (kind, counter, at) = match &e.kind {
            EventKind::Assigned { ack_deadline, .. } => (DeadlineKind::AckDeadline, &mut handouts, *ack_deadline),
            // Every accepted report sets a progress deadline that the next report competes with.
            EventKind::Acknowledged { progress_deadline } | EventKind::Renewed { progress_deadline } => {
                (DeadlineKind::ProgressDeadline, &mut reports, *progress_deadline)
            }
            _ => continue,
        };
        let n = counter.entry((component.clone(), runner.to_string())).or_default();
        *n += 1;
        found.push(Found { kind, seq, component, pipeline, runner: runner.into(), occurrence: *n, at });
    }
    found.truncate(MAX_DEADLINES);
    Ok(found)
}

fn anchor(f: &Found, kind: AnchorKind) -> Anchor {
    Anchor {
        anchor: kind,
        task: Some(f.component.clone()),
        runner: Some(f.runner.clone()),
        occurrence: f.occurrence,
        after: Dur(0),
        before: Dur(0),
    }
}

/// The variants of one deadline: the competing call, then a cancel, at -1, 0, +1 tick.
fn variants_of(base: &Scenario, f: &Found) -> Vec<(String, Scenario)> {
    let tick = base.tick.ms();
    let mut out = Vec::new();
    for (name, shift) in [("-1 tick", -1i64), ("at", 0), ("+1 tick", 1)] {
        let (before, after) = if shift < 0 { (Dur(tick), Dur(0)) } else { (Dur(0), Dur(tick * shift as u64)) };
        // The call that competes with the deadline: the acknowledgement for an ack deadline,
        // the next report for a progress deadline. It is held at the edge until the moment.
        let (installed_at, call) = match f.kind {
            DeadlineKind::AckDeadline => (AnchorKind::Assigned, "ack"),
            DeadlineKind::ProgressDeadline => (AnchorKind::Reported, "next report"),
        };
        let mut s = base.clone();
        for r in s.runners.iter_mut() {
            // The held call must not time out before it is delivered.
            r.request_timeout = Dur(r.request_timeout.ms().max(r.report_interval.ms() + 20 * 60_000));
        }
        s.events.push(TimedEvent {
            at: At::Anchor(anchor(f, installed_at)),
            action: one_call(
                Operation::ReportTaskProgress,
                Some(f.runner.clone()),
                Some(f.component.clone()),
                MessageEffect::Delay { by: None, until: Some(TaskMoment { deadline: f.kind, before, after }) },
            ),
        });
        out.push((format!("{call} {name}"), s));
        // The operator looks the instances up first, so it starts early and its SetStatus is
        // held at the edge until the moment: the cancel lands exactly there.
        let moment = (rel(f.at) + after.ms()).saturating_sub(before.ms());
        let mut s = base.clone();
        s.events.push(TimedEvent {
            at: At::Time(Dur(moment.saturating_sub(CANCEL_LEAD_MS))),
            // The lease's own pipeline (all its copies: events name scenario pipelines).
            action: Action::Cancel { task: f.component.clone(), pipeline: f.pipeline.clone() },
        });
        s.events.push(TimedEvent {
            at: At::Time(Dur(0)),
            action: one_call(Operation::SetStatus, None, None, MessageEffect::Hold { until: Dur(moment) }),
        });
        out.push((format!("cancel {name}"), s));
        // A fresh runner of the same worker group whose poll reaches the service at the moment.
        let mut s = base.clone();
        let Some(spec) =
            s.runners.iter().find(|r| crate::scenario::world_plan::runner_names(r).contains(&f.runner)).cloned()
        else {
            continue;
        };
        s.runners.push(RunnerSpec {
            name: POLLER.into(),
            count: 1,
            machines: None,
            machine: None,
            start_at: Dur(moment.saturating_sub(5_000)),
            request_timeout: Dur(spec.request_timeout.ms().max(10 * 60_000)),
            behaviour: Default::default(),
            ..spec
        });
        s.events.push(TimedEvent {
            at: At::Time(Dur(0)),
            action: one_call(
                Operation::PollForTask,
                Some(POLLER.into()),
                None,
                MessageEffect::Hold { until: Dur(moment) },
            ),
        });
        out.push((format!("poll {name}"), s));
    }
    out
}

/// A message fault on the next matching call only.
fn one_call(operation: Operation, runner: Option<String>, task: Option<String>, effect: MessageEffect) -> Action {
    Action::Message(MessageFault {
        operation: Some(operation),
        runner,
        task,
        occurrence: 1,
        count: 1,
        probability: None,
        lasting: None,
        effect,
    })
}

/// How long before the moment the operator starts a competing cancel.
const CANCEL_LEAD_MS: u64 = 10_000;

/// The extra runner whose poll competes with a deadline.
const POLLER: &str = "explore-poller";

/// What happened to lease `seq` in a run.
fn outcome(report: &Report, seq: u64) -> String {
    let t = format!("t{seq}");
    let mut lines = report.log.iter().filter(|l| l.task == t);
    let ended = lines
        .find(|l| matches!(l.what, LogEvent::Expired | LogEvent::Canceled | LogEvent::Finished | LogEvent::Failed));
    let acked = report.log.iter().any(|l| l.task == t && l.what == LogEvent::Acknowledged);
    let lease = match ended {
        Some(l) => {
            format!(
                "{} at {}{}",
                l.what,
                stamp(l.at),
                if acked && l.what == LogEvent::Expired { " (after ack)" } else { "" }
            )
        }
        None if acked => "kept".into(),
        None => "never acknowledged".into(),
    };
    let poller =
        report.log.iter().find(|l| l.runner == POLLER && matches!(l.what, LogEvent::Assigned | LogEvent::Reassigned));
    match poller {
        Some(l) => format!("{lease}; {POLLER} got {} at {}", l.task, stamp(l.at)),
        None => lease,
    }
}

/// Explores every deadline of a scenario.
pub(crate) fn explore(base: &Scenario, programs: &Programs) -> Result<Vec<Variant>, SimError> {
    let mut rows = Vec::new();
    for f in deadlines(base, programs)? {
        let label = format!(
            "{} t{} ({}, {}) {}",
            match f.kind {
                DeadlineKind::AckDeadline => "ack",
                DeadlineKind::ProgressDeadline => "progress",
            },
            f.seq,
            f.component,
            f.runner,
            stamp(rel(f.at))
        );
        for (variant, scenario) in variants_of(base, &f) {
            let out = crate::sim::run(&scenario, scenario.seed, programs, None)?;
            let report = Report::new("explore", &scenario, &out);
            let violations = report
                .violations
                .iter()
                .filter(|v| !scenario.expect_violations.contains(&v.invariant))
                .map(|v| v.invariant)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            rows.push(Variant {
                deadline: label.clone(),
                variant,
                outcome: outcome(&report, f.seq),
                violations,
                failed_expectations: report.expectations.iter().filter(|v| !v.ok).count(),
            });
        }
    }
    Ok(rows)
}
