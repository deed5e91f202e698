//! Shrinking a failing seed with proptest's value trees: fewer faults, fewer runners, fewer
//! activations, smaller times, for as long as the same invariant still breaks; then each
//! remaining fault is moved onto the nearest lease deadline boundary where it still breaks.

use proptest::strategy::ValueTree;

use crate::check::Invariant;
use crate::journal::EventKind;
use crate::runner::Programs;
use crate::scenario::model::{Action, At};
use crate::scenario::{Dur, Scenario};

use super::plan::{ChaosPlan, apply};
use super::{plan_tree, violations_of};

/// A minimal failing run.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest plan found that still breaks the invariant.
    pub(crate) plan: ChaosPlan,
    /// That plan applied to the base: a standalone scenario.
    pub scenario: Scenario,
    /// Simulations run while shrinking.
    pub runs: usize,
    /// Faults moved onto a lease deadline boundary (one tick before, at, or one tick after).
    pub snapped: usize,
}

impl Shrunk {
    /// The faults left in the plan.
    pub fn faults(&self) -> usize {
        self.plan.effective().len()
    }

    /// The runners of the fleet the shrunk plan keeps (when the base has a fleet).
    pub fn runners(&self) -> u32 {
        self.plan.runners
    }

    /// The activations per pipeline the shrunk plan keeps.
    pub fn activations(&self) -> u32 {
        self.plan.activations
    }
}

/// Shrinks the plan of `seed` while `invariant` stays broken, running at most `max_runs`
/// simulations. None when the seed does not break it in the first place.
pub fn shrink(
    base: &Scenario,
    seed: u64,
    invariant: Invariant,
    max_runs: usize,
    programs: &Programs,
) -> Option<Shrunk> {
    let breaks = |plan: &ChaosPlan| {
        let scenario = apply(base, seed, plan);
        violations_of(&scenario, programs).is_ok_and(|(v, _)| v.iter().any(|x| x.invariant == invariant))
    };
    let mut tree = plan_tree(base, seed);
    let mut best = tree.current();
    if !breaks(&best) {
        return None;
    }
    let mut runs = 1;
    // proptest's own loop: simplify while it still fails, complicate back when it passes.
    let mut more = tree.simplify();
    while more && runs < max_runs {
        let candidate = tree.current();
        runs += 1;
        if breaks(&candidate) {
            best = candidate;
            more = tree.simplify();
        } else {
            more = tree.complicate();
        }
    }
    // A last greedy pass makes the plan 1-minimal: no single fault can go.
    let mut i = 0;
    while i < best.faults.len() {
        let mut fewer = best.clone();
        fewer.faults.remove(i);
        runs += 1;
        if breaks(&fewer) {
            best = fewer;
        } else {
            i += 1;
        }
    }
    best.faults = best.effective().into_iter().cloned().collect();
    let scenario = apply(base, seed, &best);
    let (scenario, snapped, snap_runs) = snap_to_boundaries(scenario, invariant, programs);
    Some(Shrunk { plan: best, scenario, runs: runs + snap_runs, snapped })
}

/// Most deadlines tried per fault when snapping, nearest first.
const SNAP_CANDIDATES: usize = 4;

/// Moves each fault's start (with its end, keeping the duration) onto the nearest lease
/// deadline boundary, one tick before, at, or one tick after, where the invariant still breaks:
/// the smallest scenario then shows the race at the exact moment it is lost.
fn snap_to_boundaries(mut scenario: Scenario, invariant: Invariant, programs: &Programs) -> (Scenario, usize, usize) {
    let breaks =
        |s: &Scenario| violations_of(s, programs).is_ok_and(|(v, _)| v.iter().any(|x| x.invariant == invariant));
    let Ok(out) = crate::sim::run(&scenario, scenario.seed, programs, None) else { return (scenario, 0, 0) };
    let mut deadlines: Vec<u64> = out
        .journal
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Assigned { ack_deadline, .. } => Some(ack_deadline),
            EventKind::Acknowledged { progress_deadline } | EventKind::Renewed { progress_deadline } => {
                Some(progress_deadline)
            }
            _ => None,
        })
        .map(crate::report::analysis::rel)
        .collect();
    deadlines.sort_unstable();
    deadlines.dedup();
    let tick = scenario.tick.ms();
    let (mut snapped, mut runs) = (0, 1);
    for i in 0..scenario.events.len() {
        let At::Time(start) = scenario.events[i].at.clone() else { continue };
        if !starts_fault(&scenario.events[i].action) {
            continue;
        }
        // The matching end is the next event `apply` wrote, when it is one.
        let end = scenario.events.get(i + 1).filter(|e| ends_fault(&e.action)).map(|_| i + 1);
        let mut nearest = deadlines.clone();
        nearest.sort_by_key(|d| d.abs_diff(start.ms()));
        'search: for d in nearest.into_iter().take(SNAP_CANDIDATES) {
            for at in [d.saturating_sub(tick), d, d + tick] {
                if at == start.ms() {
                    continue;
                }
                let mut candidate = scenario.clone();
                candidate.events[i].at = At::Time(Dur(at));
                if let Some(j) = end
                    && let At::Time(old_end) = &scenario.events[j].at
                {
                    candidate.events[j].at = At::Time(Dur(at + old_end.ms().saturating_sub(start.ms())));
                }
                runs += 1;
                if breaks(&candidate) {
                    scenario = candidate;
                    snapped += 1;
                    break 'search;
                }
            }
        }
    }
    (scenario, snapped, runs)
}

fn starts_fault(a: &Action) -> bool {
    matches!(
        a,
        Action::Partition { .. }
            | Action::Pause { .. }
            | Action::CrashRunner { .. }
            | Action::CrashService
            | Action::Cancel { .. }
    )
}

fn ends_fault(a: &Action) -> bool {
    matches!(a, Action::Repair { .. } | Action::Resume { .. } | Action::RestartRunner { .. } | Action::RestartService)
}
