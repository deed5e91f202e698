//! The history checker: every answer the service's edge gave, judged against the referee's
//! model of the rules ([`super::referee`]), as Jepsen's checkers judge a history. It reads only
//! the calls and answers the edge recorded (the runners' and the operator's), with their
//! times, and the service's settings; it never asks the service.
//!
//! Safety (`history`):
//! - a task is handed out only when ready: its dependencies finished, its start and
//!   retryDelay passed, its pipeline active and not deleted, its component not paused, the
//!   instance not terminal (unless rerun) and held by no live lease (one owner at a time), to
//!   a poll of its worker group;
//! - its attempt number is the one the retry budget gives (a new attempt only after a failure,
//!   never more than `maximumRetries` + 1 since creation or RERUN);
//! - a report is accepted while the lease is live, and answered `canceled: true` at or after
//!   its deadline and once anything ended it (status set, TRY_CANCEL, deactivation with
//!   cancelActive, deletion, cascade, attemptTimeout, a newer lease); a live lease is never
//!   answered `canceled: true`;
//! - SetTaskStatus succeeds only through the live lease, and is refused only when it is over.
//!
//! Liveness (`liveness`): a ready task and an eligible waiting poll never wait side by side:
//! a lease not renewed is taken back at its deadline and handed at once to a poll that waits.
//!
//! Two events in the same millisecond may have been decided in either order (a held poll's
//! answer is recorded after the call that released it); the checker allows both orders and
//! judges waiting only across millisecond boundaries.

use crate::check::Invariant;
use std::collections::BTreeMap;

use crate::ownership::log::stamp;
use crate::protocol::{ErrorCode, Operation};
use crate::time::Millis;
use crate::trace::{Call, CallOutcome, HandedOut, rel, task_seq};

use super::probes::{Hits, Probe};
use super::referee::{LeaseEnd, Model};
use super::{Input, Violation};

/// What one walk of the history found: the verdicts, and the probes it hit.
#[derive(Debug, Default)]
pub(super) struct Judged {
    verdicts: Vec<Violation>,
    hits: Hits,
}

/// The safety verdicts (`history`).
pub fn history(input: &Input) -> Vec<Violation> {
    judged(input).verdicts.iter().filter(|v| v.invariant == Invariant::History).cloned().collect()
}

/// The liveness verdicts (`liveness`).
pub fn liveness(input: &Input) -> Vec<Violation> {
    judged(input).verdicts.iter().filter(|v| v.invariant == Invariant::Liveness).cloned().collect()
}

/// The probes the walk hit (rules put to the test, deadline boundaries, how leases ended).
pub(super) fn walk_hits<'i>(input: &'i Input) -> &'i Hits {
    &judged(input).hits
}

/// Both invariants' verdicts and the probes, from one walk of the history made once per input.
fn judged<'i>(input: &'i Input) -> &'i Judged {
    input.referee.get_or_init(|| judge(input))
}

fn judge(input: &Input) -> Judged {
    if input.out.calls_dropped > 0 {
        // A history with a hole would make the model disagree where nothing was wrong.
        return Judged::default();
    }
    let mut walk = Walk::new(input);
    walk.faults_end = super::progress::faults_end(input);
    walk.run();
    let mut out = std::mem::take(&mut walk.out);
    if let Some(end) = walk.faults_end {
        let open = walk.open_at_faults_end.take().unwrap_or_else(|| super::progress::open_now(&walk.model));
        out.extend(super::progress::judge(input, &walk.model, end, &open));
    }
    let mut hits = std::mem::take(&mut walk.hits);
    super::probes::model_hits(&walk.model, &mut hits);
    Judged { verdicts: out, hits }
}

/// A point of the history: a call's answer, or the moment a poll started to wait.
struct Point<'a> {
    at: Millis,
    call: &'a Call,
    poll_start: bool,
    index: usize,
}

/// A poll waiting at the service.
struct Waiting {
    runner: Option<String>,
    since: Millis,
    flagged: bool,
}

struct Walk<'a> {
    input: &'a Input<'a>,
    model: Model,
    /// Polls waiting, by worker group, by call index.
    waiting: BTreeMap<String, BTreeMap<usize, Waiting>>,
    /// Answers that said a lease was over: judged at the end of their millisecond.
    said_over: Vec<(u64, &'a Call)>,
    out: Vec<Violation>,
    /// When the run's faults ended (None: they never do), and the open instances then.
    faults_end: Option<Millis>,
    open_at_faults_end: Option<super::progress::OpenAt>,
    /// The taskIds handed out: a call naming any other id is about no lease.
    handed_out: HandedOut<'a>,
    /// The scenario's tick: the width of a deadline boundary.
    tick: Millis,
    /// The probes hit so far.
    hits: Hits,
}

impl<'a> Walk<'a> {
    fn new(input: &'a Input<'a>) -> Walk<'a> {
        Walk {
            input,
            model: Model::new(input.numbers).with_grace(input.out.tolerance_ms),
            waiting: BTreeMap::new(),
            said_over: Vec::new(),
            out: Vec::new(),
            faults_end: None,
            open_at_faults_end: None,
            handed_out: HandedOut::of(&input.out.calls),
            tick: input.scenario.tick.ms().max(1),
            hits: Hits::default(),
        }
    }

    fn run(&mut self) {
        let mut points: Vec<Point> = Vec::new();
        for (index, call) in self.input.out.calls.iter().enumerate() {
            let waits = matches!(call.outcome, CallOutcome::Handout { .. } | CallOutcome::NoTask);
            if let (Operation::PollForTask, true, Some(served)) = (call.operation, waits, call.served_at)
                && served < call.answered_at
            {
                points.push(Point { at: served, call, poll_start: true, index });
            }
            points.push(Point { at: call.answered_at, call, poll_start: false, index });
        }
        // The service decided each call when it answered it; record order breaks ties.
        points.sort_by_key(|p| (p.at, p.index, !p.poll_start));
        let mut next = 0;
        while next < points.len() || self.model.next_timer().is_some() {
            let t = match (points.get(next), self.model.next_timer()) {
                (Some(p), Some(timer)) => p.at.min(timer),
                (Some(p), None) => p.at,
                (None, Some(timer)) => timer,
                (None, None) => break,
            };
            if next >= points.len() && t > self.input.out.end_ms.saturating_add(crate::trace::EPOCH_MS) {
                break;
            }
            if self.open_at_faults_end.is_none() && self.faults_end.is_some_and(|end| t > end) {
                // Everything up to the faults' end has been applied: the model stands as it did then.
                let end = self.faults_end.unwrap_or(t);
                self.model.fire_until(end);
                self.open_at_faults_end = Some(super::progress::open_now(&self.model));
            }
            self.model.fire_until(t);
            while let Some(p) = points.get(next).filter(|p| p.at == t) {
                next += 1;
                if p.poll_start {
                    self.poll_waits(p);
                } else {
                    self.answer(p.call, p.index);
                }
                self.model.fire_until(t);
            }
            self.end_of_millisecond(t);
        }
    }

    /// Records a violation about the model's instance `i`.
    fn flag(&mut self, invariant: Invariant, at: Millis, i: usize, runner: Option<&str>, message: String) {
        let at = rel(at);
        let inst = &self.model.insts[i];
        let task = Some(self.input.analysis.label(&inst.pipeline, &inst.id));
        let trail = self.input.trail_of_instance((&inst.pipeline, &inst.id), at);
        self.out.push(Violation { invariant, at, task, runner: runner.map(str::to_string), message, trail });
    }

    fn poll_waits(&mut self, p: &Point) {
        let group = p.call.worker_group.clone().unwrap_or_default();
        let waiting = Waiting { runner: p.call.runner.clone(), since: p.at, flagged: false };
        self.waiting.entry(group).or_default().insert(p.index, waiting);
    }

    fn answer(&mut self, c: &'a Call, index: usize) {
        let at = c.answered_at;
        let pipeline = c.pipeline_id.as_deref().unwrap_or_default();
        match (&c.operation, &c.outcome) {
            (Operation::PutPipelineDefinition, CallOutcome::Accepted) => {
                if let Some(objects) = &c.definition {
                    self.model.put_definition(pipeline, objects);
                }
            }
            (Operation::ActivatePipeline, CallOutcome::Accepted) => self.model.activate(pipeline, c.start_ms),
            (Operation::DeactivatePipeline, CallOutcome::Accepted) => {
                self.model.deactivate(pipeline, c.cancel_active != Some(false));
            }
            (Operation::DeletePipeline, CallOutcome::Accepted) => self.model.delete(pipeline),
            (Operation::SetStatus, CallOutcome::Accepted) => {
                if c.status.as_deref() == Some("TRY_CANCEL") {
                    self.cancel_boundary(pipeline, &c.object_ids, at);
                }
                self.model.set_status_call(pipeline, c.status.as_deref().unwrap_or_default(), &c.object_ids);
            }
            (Operation::PollForTask, CallOutcome::Handout { task_id, pipeline_id, attempt_id }) => {
                self.stop_waiting(c, index);
                self.handout(c, task_seq(task_id), pipeline_id, attempt_id);
            }
            (Operation::PollForTask, _) => self.stop_waiting(c, index),
            (Operation::ReportTaskProgress, outcome) => {
                let Some(seq) = c.task_id.as_deref().and_then(|t| self.handed_out.lease(t)) else { return };
                let Some(lease) = self.model.leases.get(&seq) else { return };
                let inst = lease.inst;
                self.report_boundary(c, seq);
                let Some(lease) = self.model.leases.get(&seq) else { return };
                match outcome {
                    CallOutcome::Report { canceled: false } => match lease.over.clone() {
                        None if !lease.acked
                            && at < lease.deadline
                            && at.saturating_add(self.model.numbers().ack_ms / 2) >= lease.deadline =>
                        {
                            // Late, but in time: in the second half of the acknowledgement window.
                            self.hits.hit(Probe::AckLateWithinDeadline);
                            self.hits.hit(Probe::ReportLiveAccepted);
                            self.model.renew(seq);
                        }
                        Some((when, why)) => {
                            let message = format!(
                                "ReportTaskProgress on t{seq} was answered canceled=false, but the lease was over since {} ({why}): every later report answers canceled=true",
                                stamp(rel(when))
                            );
                            self.flag(Invariant::History, at, inst, c.runner.as_deref(), message);
                        }
                        None => {
                            self.hits.hit(Probe::ReportLiveAccepted);
                            self.model.renew(seq);
                        }
                    },
                    CallOutcome::Report { canceled: true }
                    | CallOutcome::Error { code: ErrorCode::TaskNotFoundException } => self.said_over.push((seq, c)),
                    _ => {}
                }
            }
            (Operation::SetTaskStatus, outcome) => {
                let Some(seq) = c.task_id.as_deref().and_then(|t| self.handed_out.lease(t)) else { return };
                let Some(lease) = self.model.leases.get(&seq) else { return };
                let inst = lease.inst;
                if c.duplicate && lease.over.is_some() {
                    self.hits.hit(Probe::DuplicateAfterLeaseEnd);
                }
                let status = c.status.clone().unwrap_or_default();
                let other_live = self.model.insts[inst].lease.filter(|&l| l != seq);
                if lease.over.is_some()
                    && other_live.is_some_and(|l| self.model.leases.get(&l).is_some_and(|l| l.over.is_none()))
                {
                    self.hits.hit(Probe::StatusAfterEndWhileLive);
                }
                match outcome {
                    CallOutcome::Accepted => match lease.over.clone() {
                        Some((when, why)) => {
                            let message = format!(
                                "SetTaskStatus {status} on t{seq} was accepted, but the lease was over since {} ({why}): only the live lease sets a status",
                                stamp(rel(when))
                            );
                            self.flag(Invariant::History, at, inst, c.runner.as_deref(), message);
                        }
                        None => {
                            self.hits.hit(Probe::StatusLiveAccepted);
                            self.model.task_status(seq, &status);
                        }
                    },
                    CallOutcome::Error { code: ErrorCode::TaskNotFoundException } => self.said_over.push((seq, c)),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn stop_waiting(&mut self, c: &Call, index: usize) {
        let group = c.worker_group.clone().unwrap_or_default();
        if let Some(polls) = self.waiting.get_mut(&group) {
            polls.remove(&index);
            if polls.is_empty() {
                self.waiting.remove(&group);
            }
        }
    }

    fn handout(&mut self, c: &Call, seq: u64, pipeline: &str, attempt_id: &str) {
        let at = c.answered_at;
        let (object, number) = match attempt_id.rsplit_once("_Attempt=") {
            Some((o, n)) => (o, n.parse::<u32>().ok()),
            None => (attempt_id, None),
        };
        let Some(i) = self.model.instance(pipeline, object) else { return };
        let runner = c.runner.as_deref();
        let group = &self.model.insts[i].rules.group;
        if c.worker_group.as_deref().is_some_and(|g| g != group) {
            let message = format!(
                "t{seq} was handed to a poll for worker group {:?}; its tasks go to {group:?}",
                c.worker_group.as_deref().unwrap_or_default()
            );
            self.flag(Invariant::History, at, i, runner, message);
        }
        self.handout_boundary(c, i);
        if let Some(live) = self.model.insts[i].lease {
            // On the outside's clock, a re-handout up to the tolerance before the deadline.
            self.model.expire_within_grace(live);
        }
        if !self.model.may_hand_out(i) {
            let why = self.model.why_not_ready(i);
            let message = format!("t{seq} was handed out, but {why}: a task is handed out only when ready");
            self.flag(Invariant::History, at, i, runner, message);
        }
        let expected = self.model.hand_out(i, seq);
        self.hits.hit(if expected.is_some_and(|n| n > 1) { Probe::RetryAttemptJudged } else { Probe::HandoutJudged });
        if let (Some(n), Some(expected)) = (number, expected)
            && n != expected
        {
            let inst = &self.model.insts[i];
            let message = format!(
                "t{seq} was handed out as attempt {n}; the rules give attempt {expected} ({} failure(s) since it was created or rerun, maximumRetries {}; a missed acknowledgement is no failure)",
                inst.failures, inst.rules.maximum_retries
            );
            self.flag(Invariant::History, at, i, runner, message);
        }
    }

    /// The boundary probes of a report or status about lease `seq`, before it is judged: how
    /// close to the lease's deadline it came, and whether it was a late duplicate.
    fn report_boundary(&mut self, c: &Call, seq: u64) {
        let Some(lease) = self.model.leases.get(&seq) else { return };
        let (at, tick) = (c.answered_at, self.tick);
        if c.duplicate && lease.over.is_some() {
            self.hits.hit(Probe::DuplicateAfterLeaseEnd);
        }
        match &lease.over {
            None if at < lease.deadline && at.saturating_add(tick) >= lease.deadline => {
                self.hits.hit(Probe::ReportTickBeforeDeadline);
            }
            Some((ended, end)) if end.is_deadline() && at == *ended => {
                self.hits.hit(Probe::ReportAtDeadline);
                if *end == LeaseEnd::AckDeadline {
                    self.hits.hit(Probe::AckAtDeadline);
                }
            }
            Some((ended, end)) if end.is_deadline() && at > *ended && at - ended <= tick => {
                self.hits.hit(Probe::ReportTickAfterDeadline);
            }
            _ => {}
        }
    }

    /// Whether a TRY_CANCEL came within one tick of a deadline of a named instance's lease.
    fn cancel_boundary(&mut self, pipeline: &str, objects: &[String], at: Millis) {
        for object in objects {
            let Some(i) = self.model.instance(pipeline, object) else { continue };
            let Some(lease) = self.model.insts[i].last_lease.and_then(|seq| self.model.leases.get(&seq)) else {
                continue;
            };
            let near = match &lease.over {
                None => lease.deadline.abs_diff(at) <= self.tick,
                Some((ended, end)) => end.is_deadline() && at.saturating_sub(*ended) <= self.tick,
            };
            if near {
                self.hits.hit(Probe::CancelRacesExpiry);
            }
        }
    }

    /// The boundary probes of a handout of instance `i`: a retry at the end of its retryDelay,
    /// a waiting poll served the moment the task became ready, or the moment a lease passed
    /// its deadline.
    fn handout_boundary(&mut self, c: &Call, i: usize) {
        let (at, tick) = (c.answered_at, self.tick);
        let inst = &self.model.insts[i];
        if inst.failures > 0 && inst.rules.retry_delay_ms > 0 && at >= inst.not_before && at - inst.not_before <= tick {
            self.hits.hit(Probe::RetryAtRetryDelay);
        }
        let Some(served) = c.served_at.filter(|s| *s < at) else { return };
        if inst.ready_since.is_some_and(|ready| ready >= served) {
            self.hits.hit(Probe::WaitingPollServed);
        }
        let expired = inst.last_lease.and_then(|seq| self.model.leases.get(&seq)).and_then(|l| l.over.as_ref());
        if expired.is_some_and(|(ended, end)| end.is_deadline() && *ended == at) {
            self.hits.hit(Probe::HeldPollReleasedByDeadline);
        }
    }

    /// Judges what needed the whole millisecond: answers that said a lease was over, and
    /// polls left waiting beside a ready task.
    fn end_of_millisecond(&mut self, t: Millis) {
        for (seq, c) in std::mem::take(&mut self.said_over) {
            self.model.expire_within_grace(seq);
            let Some(lease) = self.model.leases.get(&seq) else { continue };
            if lease.over.is_some() {
                self.hits.hit(match c.operation {
                    Operation::SetTaskStatus => Probe::StatusEndedRefused,
                    _ => Probe::ReportEndedRefused,
                });
                continue;
            }
            let inst = lease.inst;
            let answer = match c.outcome {
                CallOutcome::Report { .. } => "canceled=true".to_string(),
                _ => "TaskNotFoundException".to_string(),
            };
            let message = format!(
                "{} on t{seq} was answered {answer}, but the lease was live (deadline {}) and nothing had ended it: a report before the deadline is accepted unless the task was canceled",
                c.operation,
                stamp(rel(lease.deadline))
            );
            self.flag(Invariant::History, c.answered_at, inst, c.runner.as_deref(), message);
            self.model.end_lease(seq, LeaseEnd::ServiceSaid);
        }
        let mut found = Vec::new();
        let input = self.input;
        // A history recorded from the outside: a poll answered within the tolerance of the
        // task becoming ready was not left waiting (the wire took that long).
        let tolerance = input.out.tolerance_ms;
        let waited = |index: usize| input.out.calls[index].answered_at > t.saturating_add(tolerance);
        for (group, polls) in &mut self.waiting {
            let Some(&i) = self.model.ready.get(group).and_then(|r| r.first()) else { continue };
            for (index, w) in polls.iter_mut().filter(|(index, w)| !w.flagged && w.since <= t && waited(**index)) {
                w.flagged = true;
                found.push((i, *index, w.runner.clone(), w.since));
            }
        }
        for (i, index, runner, since) in found {
            let inst = &self.model.insts[i];
            let answered = &self.input.out.calls[index];
            let outcome = match &answered.outcome {
                CallOutcome::Handout { task_id, .. } => {
                    format!("it got t{} at {}", task_seq(task_id), stamp(rel(answered.answered_at)))
                }
                _ => format!("it was answered with no task at {}", stamp(rel(answered.answered_at))),
            };
            let message = format!(
                "a PollForTask for worker group {:?} waiting since {} was not handed {} although it was ready since {}; {outcome}: a ready task goes to a waiting poll at once",
                inst.rules.group,
                stamp(rel(since)),
                inst.id,
                stamp(rel(inst.ready_since.unwrap_or(t))),
            );
            self.flag(Invariant::Liveness, t, i, runner.as_deref(), message);
        }
    }
}
