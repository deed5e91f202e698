//! Shrinking a failing seed with proptest's value trees: fewer faults, fewer runners, fewer
//! activations, smaller times, for as long as the same invariant still breaks.

use proptest::strategy::ValueTree;

use crate::scenario::Scenario;

use super::plan::{ChaosPlan, apply};
use super::{plan_tree, violations_of};

/// A minimal failing run.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest plan found that still breaks the invariant.
    pub plan: ChaosPlan,
    /// That plan applied to the base: a standalone scenario.
    pub scenario: Scenario,
    /// Simulations run while shrinking.
    pub runs: usize,
}

/// Shrinks the plan of `seed` while `invariant` stays broken, running at most `max_runs`
/// simulations. None when the seed does not break it in the first place.
pub fn shrink(base: &Scenario, seed: u64, invariant: &str, max_runs: usize) -> Option<Shrunk> {
    let breaks = |plan: &ChaosPlan| {
        let scenario = apply(base, seed, plan);
        violations_of(&scenario).is_ok_and(|(v, _)| v.iter().any(|x| x.invariant == invariant))
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
    Some(Shrunk { plan: best, scenario, runs })
}
