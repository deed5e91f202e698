//! The invariants, one function each.

use crate::check::Invariant;
use std::collections::{BTreeMap, BTreeSet};

use crate::journal::{Deadline, EventKind};
use crate::ownership::analysis::{LeaseEnd, attempt_number};
use crate::ownership::log::stamp;
use crate::scenario::model::Action;
use crate::time::{Millis, format_duration};
use crate::trace::component_of;
use crate::trace::{FaultOrigin, ObservationKind};

use super::{Input, Instance, Violation};

/// An invariant check.
pub(crate) type Check = fn(&Input) -> Vec<Violation>;

/// The check of an invariant ([`Invariant::Expectation`] has none: expectations are checked
/// by the report).
pub(crate) fn check_of(invariant: Invariant) -> Option<Check> {
    Some(match invariant {
        Invariant::SingleOwner => single_owner,
        Invariant::NoEarlyHandout => no_early_handout,
        Invariant::NoStarvation => no_starvation,
        Invariant::NoLostTask => no_lost_task,
        Invariant::CancelLearned => cancel_learned,
        Invariant::StaleNoChange => stale_no_change,
        Invariant::AttemptsBound => attempts_bound,
        Invariant::ZombieBound => zombie_bound,
        Invariant::History => super::history::history,
        Invariant::Liveness => super::history::liveness,
        Invariant::FaultTarget => fault_target,
        Invariant::OneInstancePerPeriod => super::periods::one_instance_per_period,
        Invariant::FinishesOnce => super::periods::finishes_once,
        Invariant::Expectation => return None,
    })
}

fn rel(at: Millis) -> Millis {
    crate::ownership::analysis::rel(at)
}

fn violation(
    input: &Input,
    invariant: Invariant,
    at: Millis,
    object: Option<Instance>,
    seq: Option<u64>,
    runner: Option<&str>,
    message: String,
) -> Violation {
    let task = match (seq, object) {
        (Some(seq), _) => Some(input.analysis.task_label(seq)),
        (None, Some((pipeline, o))) => Some(input.analysis.label(pipeline, o)),
        _ => None,
    };
    let trail = match (object, runner) {
        (Some(o), _) => input.trail_of_instance(o, at),
        (None, Some(r)) => input.trail_of_runner(r, at),
        _ => Vec::new(),
    };
    Violation { invariant, at, task, runner: runner.map(str::to_string), message, trail }
}

/// At most one live lease per task at any instant.
fn single_owner(input: &Input) -> Vec<Violation> {
    let mut by_instance: BTreeMap<Instance, Vec<&crate::ownership::analysis::Lease>> = BTreeMap::new();
    for l in input.analysis.leases.values() {
        by_instance.entry((&l.pipeline_id, &l.object_id)).or_default().push(l);
    }
    let mut out = Vec::new();
    for (object, leases) in by_instance {
        for pair in leases.windows(2) {
            let (p, n) = (pair[0], pair[1]);
            if p.ended_at.is_none_or(|end| end > n.assigned_at) {
                out.push(violation(
                    input,
                    Invariant::SingleOwner,
                    n.assigned_at,
                    Some(object),
                    Some(n.seq),
                    Some(&n.runner),
                    format!("t{} handed to {} while t{} of {} was still live", n.seq, n.runner, p.seq, p.runner),
                ));
            }
        }
    }
    out
}

/// A lease ends exactly at its deadline: never before (an early handout), never after.
fn no_early_handout(input: &Input) -> Vec<Violation> {
    let mut deadline: BTreeMap<u64, Millis> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &input.out.journal {
        let Some(seq) = e.task else { continue };
        match &e.kind {
            EventKind::Assigned { ack_deadline, .. } => {
                deadline.insert(seq, *ack_deadline);
            }
            EventKind::Acknowledged { progress_deadline } | EventKind::Renewed { progress_deadline } => {
                deadline.insert(seq, *progress_deadline);
            }
            EventKind::Expired { deadline: Deadline::Ack | Deadline::Progress } => {
                let due = deadline.get(&seq).copied().unwrap_or(0);
                if e.at != due {
                    let how = if e.at < due { "before" } else { "after" };
                    out.push(violation(
                        input,
                        Invariant::NoEarlyHandout,
                        rel(e.at),
                        e.instance(),
                        Some(seq),
                        e.runner.as_deref(),
                        format!("lease t{seq} expired {how} its deadline {}", stamp(rel(due))),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// After a task becomes ready, the first eligible poll gets it: no held poll is skipped and
/// none answers empty while a task of its worker group waits.
fn no_starvation(input: &Input) -> Vec<Violation> {
    let group_of = |(pipeline, object): Instance| input.worker_group(pipeline, component_of(object));
    let mut held: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut poll_group: BTreeMap<u64, String> = BTreeMap::new();
    // Worker group -> the instances of it that are ready, as (pipeline id, instance id).
    let mut ready: BTreeMap<String, BTreeSet<(&str, &str)>> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &input.out.journal {
        let instance = e.instance().unwrap_or_default();
        match &e.kind {
            EventKind::PollParked { poll, worker_group } => {
                held.entry(worker_group.clone()).or_default().insert(*poll);
                poll_group.insert(*poll, worker_group.clone());
            }
            EventKind::PollTimedOut { poll, .. } | EventKind::PollAbandoned { poll } => {
                let group = poll_group.remove(poll).unwrap_or_default();
                held.entry(group.clone()).or_default().remove(poll);
                let waiting = ready.get(&group).and_then(|r| r.first()).copied();
                if let (EventKind::PollTimedOut { shutdown: false, .. }, Some(w)) = (&e.kind, waiting) {
                    out.push(violation(
                        input,
                        Invariant::NoStarvation,
                        rel(e.at),
                        Some(w),
                        None,
                        e.runner.as_deref(),
                        format!(
                            "poll {poll} of {group:?} answered empty while {} was ready",
                            input.analysis.label(w.0, w.1)
                        ),
                    ));
                }
            }
            EventKind::Ready => {
                ready.entry(group_of(instance)).or_default().insert(instance);
            }
            EventKind::Assigned { poll, .. } => {
                let group = group_of(instance);
                if let Some(r) = ready.get_mut(&group) {
                    r.remove(&instance);
                }
                let waiting = held.entry(group.clone()).or_default();
                let oldest = waiting.first().copied();
                let skipped = match poll {
                    Some(p) => {
                        waiting.remove(p);
                        poll_group.remove(p);
                        oldest.filter(|o| o != p)
                    }
                    None => oldest,
                };
                if let Some(q) = skipped {
                    out.push(violation(
                        input,
                        Invariant::NoStarvation,
                        rel(e.at),
                        Some(instance),
                        e.task,
                        e.runner.as_deref(),
                        format!("task handed to a later poll while held poll {q} of {group:?} waited"),
                    ));
                }
            }
            EventKind::Canceled { .. }
            | EventKind::CascadeFailed
            | EventKind::InstanceFailed
            | EventKind::MarkedFinished
            | EventKind::RetryScheduled { .. }
            | EventKind::Expired { deadline: Deadline::Attempt } => {
                if let Some(r) = ready.get_mut(&group_of(instance)) {
                    r.remove(&instance);
                }
            }
            EventKind::Paused => {
                // A paused component: its instances in that pipeline wait.
                let (pipeline, component) = instance;
                for r in ready.values_mut() {
                    r.retain(|&(p, o)| p != pipeline || component_of(o) != component);
                }
            }
            EventKind::Deactivated { .. } | EventKind::Deleted => {
                let pipeline = e.pipeline_id.as_deref().unwrap_or_default();
                for r in ready.values_mut() {
                    r.retain(|&(p, _)| p != pipeline);
                }
            }
            _ => {}
        }
    }
    out
}

/// Every task ends finished, failed or canceled, or is still leased or waiting at the end.
fn no_lost_task(input: &Input) -> Vec<Violation> {
    input
        .out
        .lost
        .iter()
        .map(|(pipeline, object, why)| {
            violation(
                input,
                Invariant::NoLostTask,
                input.out.end_ms,
                Some((pipeline, object)),
                None,
                None,
                format!("lost at the end: {why}"),
            )
        })
        .collect()
}

/// The owner of a canceled task learns it at its next call about it.
fn cancel_learned(input: &Input) -> Vec<Violation> {
    let mut canceled: BTreeMap<u64, (String, Millis)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &input.out.journal {
        let Some(seq) = e.task else { continue };
        let runner = e.runner.as_deref().unwrap_or_default();
        match &e.kind {
            EventKind::Canceled { .. } => {
                canceled.insert(seq, (runner.to_string(), e.at));
            }
            EventKind::StaleCall { .. } => {
                canceled.remove(&seq);
            }
            EventKind::Acknowledged { .. }
            | EventKind::Renewed { .. }
            | EventKind::Finished
            | EventKind::Failed { .. } => {
                if let Some((owner, at)) = canceled.remove(&seq) {
                    out.push(violation(
                        input,
                        Invariant::CancelLearned,
                        rel(e.at),
                        e.instance(),
                        Some(seq),
                        Some(&owner),
                        format!(
                            "t{seq} was canceled at {} but {owner}'s next call was accepted ({})",
                            stamp(rel(at)),
                            e.kind.name()
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// A stale or forged taskId never changes state: nothing happens to a lease after it ended.
fn stale_no_change(input: &Input) -> Vec<Violation> {
    let mut ended: BTreeMap<u64, Millis> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &input.out.journal {
        let Some(seq) = e.task else { continue };
        match &e.kind {
            EventKind::Expired { .. } | EventKind::Canceled { .. } | EventKind::Finished | EventKind::Failed { .. } => {
                if let Some(&at) = ended.get(&seq) {
                    out.push(violation(
                        input,
                        Invariant::StaleNoChange,
                        rel(e.at),
                        e.instance(),
                        Some(seq),
                        e.runner.as_deref(),
                        format!("t{seq} ended at {} and then {}", stamp(rel(at)), e.kind.name()),
                    ));
                } else {
                    ended.insert(seq, e.at);
                }
            }
            EventKind::Acknowledged { .. } | EventKind::Renewed { .. } => {
                if let Some(&at) = ended.get(&seq) {
                    out.push(violation(
                        input,
                        Invariant::StaleNoChange,
                        rel(e.at),
                        e.instance(),
                        Some(seq),
                        e.runner.as_deref(),
                        format!("t{seq} ended at {} and was then {} by a stale call", stamp(rel(at)), e.kind.name()),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// Attempts never exceed maximumRetries + 1 (counted since the last RERUN).
fn attempts_bound(input: &Input) -> Vec<Violation> {
    let mut base: BTreeMap<Instance, u32> = BTreeMap::new();
    let mut seen: BTreeMap<Instance, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &input.out.journal {
        let Some(instance) = e.instance() else { continue };
        match &e.kind {
            EventKind::Rerun => {
                let highest = seen.get(&instance).copied().unwrap_or(0);
                base.insert(instance, highest);
            }
            EventKind::Assigned { .. } => {
                let n = attempt_number(e.attempt_id.as_deref().unwrap_or_default());
                seen.insert(instance, n);
                let since = n - base.get(&instance).copied().unwrap_or(0).min(n);
                let allowed =
                    input.rules(instance.0, component_of(instance.1)).map_or(u32::MAX, |a| a.maximum_retries + 1);
                if since > allowed {
                    out.push(violation(
                        input,
                        Invariant::AttemptsBound,
                        rel(e.at),
                        Some(instance),
                        e.task,
                        e.runner.as_deref(),
                        format!("attempt {since} handed out; maximumRetries allows {allowed}"),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// Zombie work of an undisturbed runner stays within one report interval plus one request
/// timeout. Runners that were paused, crashed, cut off, or whose calls failed during the
/// interval are exempt: they could not have learned sooner.
fn zombie_bound(input: &Input) -> Vec<Violation> {
    let mut out = Vec::new();
    for w in input.analysis.work.iter().filter(|w| w.zombie_ms > 0) {
        let Some(planned) = input.out.runners.iter().find(|r| r.name == w.runner) else {
            out.extend(told_yet_working(input, w));
            continue;
        };
        let spec = &input.scenario.runners[planned.spec];
        let bound = spec.report_interval.ms() + spec.request_timeout.ms();
        if w.zombie_ms <= bound {
            continue;
        }
        let start = w.to - w.zombie_ms;
        let window = start.saturating_sub(spec.report_interval.ms())..=w.to;
        let disturbed = input.out.observations.iter().any(|o| {
            let at = rel(o.at);
            if !window.contains(&at) {
                return false;
            }
            match &o.kind {
                ObservationKind::Applied { disturbs, .. } => disturbs.iter().any(|r| r == &w.runner),
                // Only failures that kept the runner from hearing the service disturb it; an
                // answered TaskNotFoundException is the service telling it.
                ObservationKind::CallFailed { transient, .. } => {
                    *transient && o.runner.as_deref() == Some(w.runner.as_str())
                }
                ObservationKind::MessageFault { .. } | ObservationKind::Crashed => {
                    o.runner.as_deref() == Some(w.runner.as_str())
                }
                _ => false,
            }
        });
        if disturbed {
            continue;
        }
        let lease = input.analysis.leases.get(&w.seq);
        let taken = lease.map(|l| match &l.end {
            LeaseEnd::Taken(how) => how.clone(),
            _ => String::new(),
        });
        out.push(violation(
            input,
            Invariant::ZombieBound,
            w.to,
            lease.map(|l| (l.pipeline_id.as_str(), l.object_id.as_str())),
            Some(w.seq),
            Some(&w.runner),
            format!(
                "{} worked {} on t{} after its lease ended ({}); an undisturbed runner stops within {} (report interval + request timeout; SDK retries: {})",
                w.runner,
                format_duration(w.zombie_ms),
                w.seq,
                taken.unwrap_or_default(),
                format_duration(bound),
                super::rules::CALL_TRIES
            ),
        ));
    }
    out
}

/// Default of [`crate::scenario::Scenario::zombie_bound`]: how long a runner known only through
/// its calls may go on about a task after it was told the task is gone.
pub const TOLD_ZOMBIE_BOUND_MS: Millis = 60_000;

/// `zombie_bound` for a runner dpsim knows only through its calls (`serve`): its report interval
/// is unknown, so the zombie work before it heard of the loss is not judged; the work it went on
/// with after a delivered answer told it the task was gone (inferred from its later calls about
/// the task) is, against the scenario's `zombie_bound` (default 1m).
fn told_yet_working(input: &Input, w: &crate::ownership::analysis::Work) -> Option<Violation> {
    let told = input.out.observations.iter().find_map(|o| match &o.kind {
        ObservationKind::LearnsLost { task, how }
            if *task == w.seq && o.runner.as_deref() == Some(w.runner.as_str()) =>
        {
            Some((rel(o.at), how.clone()))
        }
        _ => None,
    })?;
    let bound = input.scenario.zombie_bound.map_or(TOLD_ZOMBIE_BOUND_MS, |d| d.ms());
    let after = w.to.saturating_sub(told.0);
    if after <= bound {
        return None;
    }
    let lease = input.analysis.leases.get(&w.seq);
    Some(violation(
        input,
        Invariant::ZombieBound,
        w.to,
        lease.map(|l| (l.pipeline_id.as_str(), l.object_id.as_str())),
        Some(w.seq),
        Some(&w.runner),
        format!(
            "{} was told t{} was gone ({}) at {} and went on calling about it for {}; a runner stops when told, within {} (zombie_bound of runners known only by their calls)",
            w.runner,
            w.seq,
            told.1,
            stamp(told.0),
            format_duration(after),
            format_duration(bound)
        ),
    ))
}

/// A message fault hits only the calls it names (a runner's, an operation's): the edge records
/// whose call each fault hit, as the call itself said, and which fault it was, by where it was
/// written (the scenario's event, or the body an admin call posted); this holds the one against
/// the other. The harness's own table of installed faults is never consulted: a harness that
/// installed a fault for the wrong runner on a shared machine would have rewritten it there,
/// and change nothing visible anywhere else.
fn fault_target(input: &Input) -> Vec<Violation> {
    let mut out = Vec::new();
    for o in &input.out.observations {
        let ObservationKind::MessageFault { what, operation, fault, .. } = &o.kind else { continue };
        // The fault as written: the scenario's event, or the admin call's body, never the
        // table the harness built from it.
        let (named_runner, named_operation) = match fault {
            FaultOrigin::Event(i) => match input.scenario.events.get(*i).map(|e| &e.action) {
                Some(Action::Message(f)) => (f.runner.clone(), f.operation.map(|op| op.as_str().to_string())),
                other => {
                    out.push(Violation {
                        invariant: Invariant::FaultTarget,
                        at: rel(o.at),
                        task: None,
                        runner: o.runner.clone(),
                        message: format!(
                            "a message fault ({what} on {operation}) hit a call, but the scenario's event {i} is {}",
                            other.map_or("missing".to_string(), |a| format!("a {} event", a.kind()))
                        ),
                        trail: Vec::new(),
                    });
                    continue;
                }
            },
            FaultOrigin::Posted(body) => {
                let posted: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                let text = |k: &str| posted.get(k).and_then(|v| v.as_str()).map(str::to_string);
                (text("runner"), text("operation"))
            }
        };
        let wrong_runner = named_runner.as_ref().filter(|named| o.runner.as_deref() != Some(named.as_str()));
        let wrong_operation = named_operation.as_ref().filter(|op| *op != operation);
        if wrong_runner.is_none() && wrong_operation.is_none() {
            continue;
        }
        let named = format!(
            "{}{}",
            named_runner.as_deref().map_or(String::new(), |r| format!("naming {r} ")),
            named_operation.as_deref().map_or(String::new(), |op| format!("on {op} "))
        );
        out.push(Violation {
            invariant: Invariant::FaultTarget,
            at: rel(o.at),
            task: None,
            runner: o.runner.clone(),
            message: format!(
                "a message fault {named}({what}) hit {operation} from {}",
                o.runner.as_deref().unwrap_or("an unnamed caller")
            ),
            trail: input.trail_of_runner(named_runner.as_deref().unwrap_or("-"), rel(o.at)),
        });
    }
    out
}
