//! Work gets done: in a run whose faults end, every task reaches a terminal state within a
//! bound derived from the rules, judged on the referee's model (what the edge saw), not on the
//! service's account of itself.
//!
//! The bound, after the last fault ends at F, with `m` sound runners of a worker group (alive
//! at the end, not misbehaving) is Graham's bound for greedy list scheduling, which the
//! liveness rule (a ready task never waits beside a waiting poll) makes the service follow:
//! `F + W/m + C`, where W sums each open instance's worst case and C is the worst dependency
//! chain. An instance's worst case is `(maximumRetries + 1 - failures) × (attempt + retryDelay)`
//! with one attempt = `backoff_max + ack timeout + work × factor + report interval + progress
//! timeout`: a lease is handed out, worked or lost, and taken back at its deadline.
//!
//! Not judged: runs whose faults do not end (a message fault without a window, a machine
//! left partitioned, a runner left crashed or paused, the service left down, a pipeline left
//! deactivated or an activity left paused), and worker groups with a runner that never
//! acknowledges (it may take a task back forever) or with no sound runner.

use crate::check::Invariant;
use std::collections::BTreeMap;

use crate::ownership::log::stamp;
use crate::scenario::model::{Action, At};
use crate::time::{Millis, format_duration};
use crate::trace::{EPOCH_MS, ObservationKind, rel};

use super::referee::Model;
use super::{Input, Violation};

/// The instances open when the faults ended, with the failures each had then, and how many
/// instances existed then (those created later are all work left).
pub struct OpenAt {
    open: Vec<(usize, u32)>,
    known: usize,
}

/// The instances of the model still open, with their failures so far.
pub fn open_now(model: &Model) -> OpenAt {
    let open = (0..model.insts.len())
        .filter(|&i| !model.insts[i].status.is_terminal())
        .map(|i| (i, model.insts[i].failures))
        .collect();
    OpenAt { open, known: model.insts.len() }
}

/// The violations of "work gets done": `model` walked to the end of the run, `at_faults_end`
/// its open instances when the faults ended at `faults_end`.
pub fn judge(input: &Input, model: &Model, faults_end: Millis, at_faults_end: &OpenAt) -> Vec<Violation> {
    let scenario = input.scenario;
    // Sound runners, and the slowest of them, per worker group.
    let mut sound: BTreeMap<&str, (u32, f64, u64)> = BTreeMap::new();
    let mut never_acks: Vec<&str> = Vec::new();
    for r in &scenario.runners {
        let b = &r.behaviour;
        if b.never_ack {
            never_acks.push(&r.worker_group);
            continue;
        }
        if b.crash_after.is_some() && b.restart_after.is_none() {
            continue;
        }
        let e = sound.entry(&r.worker_group).or_insert((0, 1.0, 0));
        e.0 += r.count;
        e.1 = e.1.max(b.work_factor.unwrap_or(1.0));
        e.2 = e.2.max(r.backoff_max.ms() + r.report_interval.ms() + r.start_at.ms());
    }
    let open: Vec<usize> = open_now(model).open.into_iter().map(|(i, _)| i).collect();
    if open.is_empty() {
        return Vec::new();
    }
    let failures: BTreeMap<usize, u32> = at_faults_end.open.iter().copied().collect();
    let left: Vec<usize> =
        at_faults_end.open.iter().map(|(i, _)| *i).chain(at_faults_end.known..model.insts.len()).collect();
    // Worst case of each instance on its own, then along its chain of dependents.
    let worst = |i: usize| -> Option<u64> {
        let inst = &model.insts[i];
        let failures = failures.get(&i).copied().unwrap_or(0);
        let (_, factor, slack) = sound.get(inst.rules.group.as_str())?;
        let work = (inst.rules.work_ms.unwrap_or(super::rules::DEFAULT_WORK_MS) as f64 * factor) as u64;
        let attempt =
            slack.saturating_add(input.numbers.ack_ms).saturating_add(work).saturating_add(inst.rules.progress_ms);
        let left = (u64::from(inst.rules.maximum_retries) + 1).saturating_sub(u64::from(failures)).max(1);
        Some(left.saturating_mul(attempt.saturating_add(inst.rules.retry_delay_ms)))
    };
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut chain = 0u64;
    let mut chains = BTreeMap::new();
    for &i in &left {
        let group = model.insts[i].rules.group.as_str();
        if never_acks.contains(&group) {
            return Vec::new();
        }
        let Some(w) = worst(i) else { return Vec::new() };
        let t = total.entry(group).or_default();
        *t = t.saturating_add(w);
        chain = chain.max(chain_of(model, i, &worst, &mut chains));
    }
    let spread: u64 = total.iter().map(|(g, w)| w / u64::from(sound[g].0.max(1))).sum();
    // Instances a schedule creates after the faults end are released later: greedy list
    // scheduling with release times ends by the last release plus the same two terms.
    let released = left.iter().map(|&i| model.insts[i].created).max().unwrap_or(faults_end).max(faults_end);
    let bound = released.saturating_add(spread).saturating_add(chain);
    let end = EPOCH_MS + input.out.end_ms;
    if end < bound {
        return Vec::new();
    }
    open.iter()
        .take(1)
        .map(|&i| {
            let inst = &model.insts[i];
            Violation {
                invariant: Invariant::Liveness,
                at: rel(bound),
                task: Some(input.analysis.label(&inst.pipeline, &inst.id)),
                runner: None,
                message: format!(
                    "work gets done: {} is still {} at the end ({} open task(s)), though the faults ended at {}, the last task came at {} and the rules bound the work left by {}",
                    inst.id,
                    inst.status.name(),
                    open.len(),
                    stamp(rel(faults_end)),
                    stamp(rel(released)),
                    format_duration(bound - released)
                ),
                trail: input.trail_of_instance((&inst.pipeline, &inst.id), rel(bound)),
            }
        })
        .collect()
}

/// The longest worst case along the chain of dependents that starts at `i`, each instance's
/// worked out once (`known`): paths through a ladder of diamonds double with every rung.
fn chain_of(model: &Model, i: usize, worst: &dyn Fn(usize) -> Option<u64>, known: &mut BTreeMap<usize, u64>) -> u64 {
    if let Some(&c) = known.get(&i) {
        return c;
    }
    let own = worst(i).unwrap_or(0);
    let below = model.insts[i].dependents.iter().map(|&d| chain_of(model, d, worst, known)).max().unwrap_or(0);
    let c = own.saturating_add(below);
    known.insert(i, c);
    c
}

/// When the run's last fault ended, or None when some fault never ends.
pub fn faults_end(input: &Input) -> Option<Millis> {
    let mut end = EPOCH_MS;
    let mut broken: BTreeMap<String, bool> = BTreeMap::new();
    let mut events: Vec<_> = input.scenario.events.iter().collect();
    events.sort_by_key(|e| match &e.at {
        At::Time(d) => d.ms(),
        At::Anchor(_) => 0,
    });
    for e in events {
        let at = match &e.at {
            At::Time(d) => EPOCH_MS + d.ms(),
            At::Anchor(_) => EPOCH_MS,
        };
        end = end.max(at);
        let mut set = |key: String, on: bool| {
            broken.insert(key, on);
        };
        match &e.action {
            Action::Message(f) => match f.lasting {
                Some(d) => end = end.max(at.saturating_add(d.ms())),
                None if f.probability.is_some() || f.count == u32::MAX => return None,
                None => {}
            },
            Action::Partition { machine, .. } | Action::Hold { machine } => set(format!("net {machine}"), true),
            Action::Repair { machine } | Action::Release { machine } => set(format!("net {machine}"), false),
            Action::CrashMachine { machine } => set(format!("machine {machine}"), true),
            Action::RestartMachine { machine } => set(format!("machine {machine}"), false),
            Action::CrashService => set("service".into(), true),
            Action::RestartService => set("service".into(), false),
            Action::Pause { runner } | Action::CrashRunner { runner } => set(format!("runner {runner}"), true),
            Action::Resume { runner } | Action::RestartRunner { runner } => set(format!("runner {runner}"), false),
            Action::Terminate { .. } | Action::Delete { .. } => return None,
            Action::Deactivate { pipeline, .. } => set(format!("pipeline {pipeline}"), true),
            Action::Activate { pipeline } => set(format!("pipeline {pipeline}"), false),
            // Per pipeline as named (none: all): a resume elsewhere leaves this pause on, and a
            // pause and resume named differently leave the run unjudged rather than misjudged.
            Action::PauseActivity { task, pipeline } => set(format!("activity {pipeline:?} {task}"), true),
            Action::ResumeActivity { task, pipeline } => set(format!("activity {pipeline:?} {task}"), false),
            _ => {}
        }
    }
    if broken.values().any(|b| *b) {
        return None;
    }
    // Anchored events and message faults that are used up happen when they happen.
    for o in &input.out.observations {
        if matches!(o.kind, ObservationKind::Applied { .. } | ObservationKind::MessageFault { .. }) {
            end = end.max(o.at);
        }
    }
    Some(end)
}
