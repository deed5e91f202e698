//! The driver loop: step the world, apply each timeline event before the step that starts at
//! its time, collect the journal and observations, stop when the scenario ends or all is done.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::journal::EventKind;
use crate::protocol::Operation;
use crate::runner::programs::Programs;
use crate::scenario::model::{Scenario, Stepping};
use crate::trace::{Call, CallOutcome, ObservationKind, Trace, task_seq};

use super::anchors::{Pending, pending, resolve};
use super::apply::{apply, disturbed};
use super::clock::{EPOCH_MS, set_driver_now, set_step, stray_reading};
use super::{Progress, SimError, world};
use crate::timers;

/// Runs a scenario with a seed and its runners' programs; returns what happened. Time moves
/// as the scenario's `stepping` says; the result is the same either way.
///
/// With `skip_idle`, the driver leaps over stretches in which no timer it knows of falls due
/// and no message is in flight. A host that set a timer the driver did not know about (a
/// program's own `tokio::time::sleep`) or that runs tasks outside its `LocalSet` makes a leap
/// unsound; the world says so, and the run is replayed from the start with fixed ticks, which
/// is slower and gives exactly what a sound run gives.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    programs: &Programs,
    mut progress: Option<Progress>,
) -> Result<Trace, SimError> {
    let first = progress.as_mut().map(|p| &mut **p as &mut dyn FnMut(u64, u64));
    match run_stepping(scenario, seed, programs, scenario.stepping, first) {
        Err(Stop::Unsound) => {
            tracing::debug!("an idle leap passed a timer the driver did not know; replaying with fixed ticks");
            run_stepping(scenario, seed, programs, Stepping::FixedTick, progress).map_err(Stop::into_error)
        }
        other => other.map_err(Stop::into_error),
    }
}

/// Why a run stopped before its end.
enum Stop {
    /// The simulation failed.
    Failed(SimError),
    /// An idle leap was not the same as single steps (see [`run`]).
    Unsound,
}

impl Stop {
    fn into_error(self) -> SimError {
        match self {
            Stop::Failed(e) => e,
            Stop::Unsound => SimError("idle leap unsound with fixed ticks".to_string()),
        }
    }
}

impl From<SimError> for Stop {
    fn from(e: SimError) -> Self {
        Stop::Failed(e)
    }
}

fn run_stepping(
    scenario: &Scenario,
    seed: u64,
    programs: &Programs,
    stepping: Stepping,
    progress: Option<Progress>,
) -> Result<Trace, Stop> {
    let _timers = timers::install();
    let mut world = world::build(scenario, seed, programs)?;
    let mut leapt = false;
    let mut pending = pending(&scenario.events);
    let mut journal = Vec::new();
    let mut observations = Vec::new();
    // Tasks each runner is working on, and how many runners work at all: kept incrementally
    // because the driver asks every step.
    let mut working: BTreeMap<String, u32> = BTreeMap::new();
    let mut busy_runners = 0usize;
    // Runners without belief hooks: the leases each was handed and has not yet ended by a
    // SetTaskStatus or a new poll. Once a runner reports work itself, its own word counts.
    let mut hooked: BTreeSet<String> = BTreeSet::new();
    let mut unhooked_work: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut calls = Vec::new();
    // Whether every instance may be over; only a terminal event can make it so.
    let mut maybe_done = false;
    let duration = scenario.duration.ms();
    let tick = scenario.tick.ms().max(1);
    let mut steps = 0;
    let mut finished_early = false;
    let mut progress = progress;
    loop {
        let now = world.sim.elapsed().as_millis() as u64;
        set_driver_now(EPOCH_MS + now);
        // Apply due events in (time, file order), before the step that starts at their time.
        if pending.iter().any(|p| p.at.is_some_and(|at| at <= now)) {
            let (mut due, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|p| p.at.is_some_and(|at| at <= now));
            pending = rest;
            due.sort_by_key(|p| (p.at, p.index));
            for p in &due {
                let what = apply(&mut world, p.index, &p.action, EPOCH_MS + now);
                let disturbs = disturbed(&world, &p.action);
                let late = p.at.is_some_and(|at| at < now);
                let what =
                    if late { format!("{what} (scheduled {}ms earlier)", now - p.at.unwrap_or(now)) } else { what };
                world.recorder.record_at(
                    EPOCH_MS + now,
                    None,
                    ObservationKind::Applied { what, disturbs, event: Some(p.action.kind()) },
                );
            }
            maybe_done = true;
        }
        if now >= duration {
            break;
        }
        if scenario.stop_when_done
            && maybe_done
            && steps > 0
            && busy_runners == 0
            && unhooked_work.is_empty()
            && world.setup_done.load(Ordering::SeqCst)
            && !pending.iter().any(|p| p.at.is_some())
        {
            if world.host.with_core(|c| c.open_instances() == 0 && !c.periods_pending()) {
                finished_early = true;
                break;
            }
            maybe_done = false;
        }
        // tokio orders tasks spawned outside a host's LocalSet by counters that idle time moves:
        // with any, leaps stop, and a run that already leapt is replayed with fixed ticks.
        let spawned = stepping == Stepping::SkipIdle && world.sim.spawned_tasks() > 0;
        if spawned && leapt {
            return Err(Stop::Unsound);
        }
        let ticks = match stepping {
            Stepping::SkipIdle if !spawned => idle_ticks(&world.sim, now, tick, duration, &pending),
            _ => 1,
        };
        set_step(EPOCH_MS + now, EPOCH_MS + now + ticks * tick);
        let leap = world.sim.leap(ticks).map_err(|e| SimError(format!("simulation failed at +{now} ms: {e}")))?;
        if !leap.sound {
            return Err(Stop::Unsound);
        }
        if let Some(stray) = stray_reading() {
            return Err(Stop::Failed(SimError(stray.to_string())));
        }
        leapt |= ticks > 1;
        steps += 1;
        let new_events = world.host.take_journal();
        maybe_done |= new_events.iter().any(|e| ends_instance(&e.kind));
        for p in pending.iter_mut() {
            resolve(p, &new_events);
        }
        journal.extend(new_events);
        for o in world.recorder.take() {
            if let (ObservationKind::StartsWork { .. }, Some(r)) = (&o.kind, &o.runner)
                && hooked.insert(r.clone())
            {
                maybe_done |= unhooked_work.remove(r).is_some();
            }
            if let Some(r) = &o.runner {
                let n = working.entry(r.clone()).or_default();
                let before = *n;
                match o.kind {
                    ObservationKind::StartsWork { .. } => *n += 1,
                    ObservationKind::StopsWork { .. } => *n = n.saturating_sub(1),
                    ObservationKind::Crashed => *n = 0,
                    _ => {}
                }
                match (before, *n) {
                    (0, 1..) => busy_runners += 1,
                    (1.., 0) => busy_runners -= 1,
                    _ => {}
                }
                maybe_done |= before > 0 && *n == 0;
            }
            observations.push(o);
        }
        for c in world.recorder.take_calls() {
            maybe_done |= track_unhooked(&c, &hooked, &mut unhooked_work);
            calls.push(c);
        }
        if let Some(report) = progress.as_mut() {
            report(now, duration);
        }
    }
    if let Some(stray) = stray_reading() {
        return Err(Stop::Failed(SimError(stray.to_string())));
    }
    observations.extend(world.recorder.take());
    journal.extend(world.host.take_journal());
    calls.extend(world.recorder.take_calls());
    let instances = world.host.with_core(|c| c.instance_summaries());
    let lost = world.host.with_core(|c| c.lost_instances());
    let mut pipeline_names = BTreeMap::new();
    for p in &scenario.pipelines {
        for (name, id) in world.directory.copies(&p.name) {
            pipeline_names.insert(id, name);
        }
    }
    let mut trace = Trace {
        seed,
        journal,
        observations,
        calls,
        calls_dropped: 0,
        end_ms: world.sim.elapsed().as_millis() as u64,
        finished_early,
        served: false,
        pipeline_names,
        instances,
        runners: world.plan,
        steps,
        requests: world.requests.load(Ordering::Relaxed),
        lost,
        tolerance_ms: 0,
    };
    crate::trace::infer::infer_work(&mut trace);
    Ok(trace)
}

/// How many ticks from `now` pass with nothing happening: the steps before the earliest known
/// timer falls due and before a message in flight becomes deliverable (none while a host has a woken task), cut at the step that
/// starts at or after the next scenario event and at the scenario's end (at least 1). A timer
/// due exactly at a step's end fires at its end, as in a single step.
fn idle_ticks(sim: &turmoil::Sim<'_>, now: u64, tick: u64, duration: u64, pending: &[Pending]) -> u64 {
    let ticks_until = |at: u64| at.saturating_sub(now).div_ceil(tick);
    let events = pending.iter().filter_map(|p| p.at).map(ticks_until);
    let timer = timers::earliest_after(Duration::from_millis(now)).map_or(u64::MAX, |at| {
        let due = at.saturating_sub(Duration::from_millis(now));
        u64::try_from(due.as_nanos() / Duration::from_millis(tick).as_nanos()).unwrap_or(u64::MAX)
    });
    let network = sim.idle_steps().unwrap_or(u64::MAX);
    let world = timer.min(network);
    // turmoil takes at most u32::MAX ticks in one step; a longer idle stretch takes more steps.
    events.chain([ticks_until(duration), world, u64::from(u32::MAX)]).min().unwrap_or(1).max(1)
}

/// Follows the work of runners without belief hooks through their calls; true when a runner
/// may have stopped working.
fn track_unhooked(c: &Call, hooked: &BTreeSet<String>, work: &mut BTreeMap<String, BTreeSet<u64>>) -> bool {
    let Some(runner) = c.runner.as_deref().filter(|r| !hooked.contains(*r)) else { return false };
    let mut ended = false;
    match (&c.operation, &c.outcome) {
        (Operation::PollForTask, outcome) => {
            ended = work.remove(runner).is_some();
            if let (CallOutcome::Handout { task_id, .. }, true) = (outcome, c.delivered) {
                work.entry(runner.to_string()).or_default().insert(task_seq(task_id));
            }
        }
        (Operation::SetTaskStatus, _) => {
            if let (Some(id), Some(leases)) = (c.task_id.as_deref(), work.get_mut(runner)) {
                ended = leases.remove(&task_seq(id));
                if leases.is_empty() {
                    work.remove(runner);
                }
            }
        }
        _ => {}
    }
    ended
}

/// Events after which every instance might be over.
fn ends_instance(kind: &EventKind) -> bool {
    kind.ends_instance() || matches!(kind, EventKind::Deleted | EventKind::Activated { .. })
}
