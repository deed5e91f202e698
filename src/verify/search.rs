//! The exhaustive search: every plan of up to k faults, smallest plans first, each run and
//! judged; with pruning that never loses a distinct behaviour.
//!
//! Plans grow one fault at a time, and a plan only adds a fault that strikes after its last
//! one ([`Fault::key`]): so the run of a plan is, up to its newest fault, the run of its parent,
//! and the new fault's target is read off that run (it cannot be missing). Three things are
//! never run:
//! - **another order**: a set of faults already built in another order (a fault named by its
//!   call can strike later once another fault moved the run) is the same scenario file;
//! - **same state**: a plan whose run is the same as an earlier plan's, call for call, answer
//!   for answer, belief for belief, at the same instants, and whose faults still to act are the
//!   same, is in the same state at every moment: its extensions are that plan's extensions, so
//!   they are not built again;
//! - **target gone**: a fault of the fault-free run whose call (or moment) no longer exists
//!   once the plan's faults moved the run is dropped from the plan's extensions.

use crate::check::Invariant;
use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::check::Violation;
use crate::runner::Programs;
use crate::scenario::Scenario;
use crate::trace::{ObservationKind, Trace};

use super::space::{Fault, apply, faults_of};
use super::stable_hash::StableHasher;

/// How to search.
#[derive(Clone, Debug)]
pub struct Options {
    /// Most faults in a plan.
    pub faults: usize,
    /// Worker threads (the result does not depend on it).
    pub jobs: usize,
    /// Explore plans whose runs reach the same state once (state hashing); off only to measure
    /// what it saves.
    pub prune: bool,
    /// Count a failed expectation as a counterexample, as an invariant break is. By default
    /// expectations are checked on every plan and reported, but only invariants refute: a
    /// scenario's expectations tell the story of its fault-free run (a runner that crashes for
    /// good does not finish its task).
    pub strict: bool,
    /// Only faults that strike in this window (milliseconds since the start, end exclusive):
    /// to focus a long scenario on the stretch that matters. The bound then covers the faults
    /// of that window only.
    pub window: Option<std::ops::Range<u64>>,
    /// Run only shard I (from 0) of N of the largest plans ([`crate::shard::shard_of`] of their
    /// list, in search order), for one machine of many; every shard runs the smaller plans, which
    /// decide what the largest are. [`super::merge`] puts the shards back together into the
    /// result of one search.
    pub shard: Option<(u64, u64)>,
}

impl Default for Options {
    fn default() -> Self {
        Options { faults: 2, jobs: 1, prune: true, strict: false, window: None, shard: None }
    }
}

/// Plans of one size.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Level {
    /// Faults per plan.
    pub faults: usize,
    /// Plans built: run plus pruned.
    pub considered: usize,
    /// Plans run and judged.
    pub run: usize,
    /// Plans not run, by why.
    pub pruned: Pruned,
    /// Plans whose run broke an invariant (or, with `strict`, an expectation).
    pub broke: usize,
}

/// Plans not run, by why.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pruned {
    /// The same faults, reached in another order.
    pub other_order: usize,
    /// Extensions of a plan whose run reached the same state as an earlier plan's.
    pub same_state: usize,
    /// Faults of the fault-free run whose target no longer exists in the plan's run.
    pub target_gone: usize,
}

impl Pruned {
    fn add(&mut self, other: &Pruned) {
        self.other_order += other.other_order;
        self.same_state += other.same_state;
        self.target_gone += other.target_gone;
    }

    /// All plans not run.
    pub fn total(&self) -> usize {
        self.other_order + self.same_state + self.target_gone
    }
}

/// The smallest plan that breaks something.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Counterexample {
    /// Its faults, in the order they strike.
    pub faults: Vec<Fault>,
    /// The faults in words.
    pub labels: Vec<String>,
    /// What broke: the first violation of each invariant.
    pub violations: Vec<Violation>,
    /// The plan as a standalone scenario file.
    pub scenario: Scenario,
}

/// An expectation some plans broke.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectationFinding {
    /// The expectation, in words.
    pub expectation: String,
    /// What the first plan that broke it found instead.
    pub found: String,
    /// Plans under which it failed.
    pub plans: usize,
    /// The first such plan (smallest, in search order), in words.
    pub first: Vec<String>,
}

/// What a search found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verification {
    /// The bound: most faults per plan.
    pub bound: usize,
    /// Whether state hashing was on.
    pub prune: bool,
    /// The window faults were placed in, if one was given (ms since the start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<std::ops::Range<u64>>,
    /// Per plan size, from 0 (the fault-free run).
    pub levels: Vec<Level>,
    /// Plans built.
    pub considered: usize,
    /// Plans run.
    pub run: usize,
    /// Plans not run, by why.
    pub pruned: Pruned,
    /// Distinct runs (states at the end) among the plans run.
    pub distinct_states: usize,
    /// Faults the fault-free run offers.
    pub fault_space: usize,
    /// The first counterexample, smallest plans first; none when no plan within the bound
    /// breaks anything.
    pub counterexample: Option<Counterexample>,
    /// Expectations some plans broke (not counterexamples unless `strict`).
    pub expectations: Vec<ExpectationFinding>,
    /// Plans whose run failed (a simulation error), with the first error.
    pub errors: usize,
    /// The first error, with its plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Counterexamples whose fixed-tick replay disagreed (a harness defect, as chaos judges
    /// it): not counted as counterexamples.
    pub harness_defects: usize,
    /// The verdict, in one sentence.
    pub verdict: String,
    /// With [`Options::shard`]: what [`super::merge`] needs to put the shards together. The
    /// fields above are then this shard's view: every smaller plan, and its block of the largest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardPart>,
}

/// What a stretch of the search found, in search order: the fault-free run and the smaller
/// plans, or (a shard's block of) the largest plans. One search adds up its stretches with
/// [`Findings::then`], as [`super::merge`] adds up its shards'.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Findings {
    /// Plans run and judged.
    pub run: usize,
    /// Plans whose run broke an invariant (or, with `strict`, an expectation).
    pub broke: usize,
    /// Expectations some plans broke, by expectation.
    pub expectations: Vec<ExpectationFinding>,
    /// Plans whose run failed (a simulation error).
    pub errors: usize,
    /// The first error, with its plan.
    pub first_error: Option<String>,
    /// Counterexamples whose fixed-tick replay disagreed.
    pub harness_defects: usize,
    /// The counterexample: the search stops at it.
    pub counterexample: Option<Counterexample>,
}

impl Findings {
    /// Adds what the stretch after this one found; nothing once this one holds the
    /// counterexample (the search stops there).
    pub fn then(&mut self, next: &Findings) {
        if self.counterexample.is_some() {
            return;
        }
        self.run += next.run;
        self.broke += next.broke;
        self.errors += next.errors;
        self.harness_defects += next.harness_defects;
        if self.first_error.is_none() {
            self.first_error.clone_from(&next.first_error);
        }
        for e in &next.expectations {
            match self.expectations.iter_mut().find(|mine| mine.expectation == e.expectation) {
                Some(mine) => mine.plans += e.plans,
                None => self.expectations.push(e.clone()),
            }
        }
        self.expectations.sort_by(|a, b| a.expectation.cmp(&b.expectation));
        self.counterexample.clone_from(&next.counterexample);
    }
}

/// One shard's part of a search split over machines ([`Options::shard`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardPart {
    /// This shard, from 0.
    pub index: u64,
    /// Shards in all.
    pub of: u64,
    /// The scenario's name, for the merged output (set by the CLI; empty from the library).
    pub scenario: String,
    /// What was searched: dpsim's version, the base scenario (as a hash of its file), the bound
    /// and the options that change the result. Shards merge only if it is the same.
    pub search: String,
    /// The largest plans this shard ran: positions `[from, to)` in their list, in search order.
    pub plans: [usize; 2],
    /// What the fault-free run and the smaller plans found (the same in every shard).
    pub smaller: Findings,
    /// What this shard's block of the largest plans found.
    pub largest: Findings,
    /// Every state this shard's runs reached, as hashes: distinct end states over all shards
    /// are their union.
    pub states: Vec<String>,
}

impl Verification {
    /// True when no plan within the bound broke anything and every plan ran.
    pub fn proved(&self) -> bool {
        self.counterexample.is_none() && self.errors == 0 && self.harness_defects == 0
    }
}

/// A plan waiting to be extended: its faults and the faults its run offers after its last one.
struct Node {
    plan: Vec<Fault>,
    offers: Vec<Fault>,
    /// Every fault its run offers, by [`name_of`], before its last fault or after.
    names: BTreeSet<String>,
}

/// What running one plan gave.
struct Judged {
    breaks: Vec<Violation>,
    failed_expectations: Vec<(String, String)>,
    state: u64,
    offers: Vec<Fault>,
    names: BTreeSet<String>,
    error: Option<String>,
}

/// Plans run between two looks for a counterexample: fixed, so that where the search stops does
/// not depend on the number of threads.
const CHUNK: usize = 128;

/// Every plan of up to `options.faults` faults over `base`, smallest first.
pub fn verify(base: &Scenario, programs: &Programs, options: &Options) -> Verification {
    // Each state reached, with the earliest last fault of a plan extended from it: a plan in
    // the same state is pruned only if its last fault strikes no earlier (its extensions are
    // then among that plan's).
    let mut states: HashMap<u64, Option<Key>> = HashMap::new();
    let mut built: HashSet<String> = HashSet::new();
    let root = judge(base, &[], programs, true, options);
    let fault_space = root.offers.len();
    let base_names: Vec<(String, u64)> = root.offers.iter().map(|f| (name_of(f), f.at_ms)).collect();
    let mut frontier = vec![Node { plan: Vec::new(), offers: root.offers.clone(), names: root.names.clone() }];
    // What the plans below the bound found, and what the largest plans (this shard's block of
    // them) found.
    let mut smaller = Findings::default();
    let mut largest = Findings::default();
    smaller.then(&findings_of(base, Vec::new(), &root, programs));
    let mut stop = smaller.counterexample.is_some();
    if root.error.is_none() {
        states.insert(root.state, None);
    }
    let mut levels = vec![Level { faults: 0, considered: 1, run: 1, broke: smaller.broke, ..Level::default() }];
    let mut block = [0, 0];
    // Extensions of the last size's plans not built for the same state: plans of this size.
    let mut same_state = 0;
    for size in 1..=options.faults {
        if stop || (frontier.is_empty() && same_state == 0) {
            break;
        }
        let mut level = Level { faults: size, ..Level::default() };
        level.pruned.same_state = std::mem::take(&mut same_state);
        // Build the plans of this size.
        let mut plans: Vec<Vec<Fault>> = Vec::new();
        for node in &frontier {
            if let Some(last) = node.plan.last() {
                // Faults of the fault-free run after this plan's last that its run no longer has.
                level.pruned.target_gone += base_names
                    .iter()
                    .filter(|(name, at)| *at >= last.at_ms && !node.names.contains(name))
                    .filter(|(name, _)| !node.plan.iter().any(|f| &name_of(f) == name))
                    .count();
            }
            for f in &node.offers {
                let mut plan = node.plan.clone();
                plan.push(f.clone());
                if built.insert(identity(base, &plan)) {
                    plans.push(plan);
                } else {
                    level.pruned.other_order += 1;
                }
            }
        }
        // Lineage-driven order: plans that take away more of the outcome's supports first.
        plans.sort_by_key(|p| p.iter().filter(|f| !f.support).count());
        let extend = size < options.faults;
        if !extend && let Some(shard) = options.shard {
            let mine = crate::shard::shard_of(0..plans.len() as u64, shard);
            block = [mine.start as usize, mine.end as usize];
            plans = plans.drain(block[0]..block[1]).collect();
        }
        let mut found = Findings::default();
        let mut next = Vec::new();
        for chunk in plans.chunks(CHUNK) {
            let judged = crate::chaos::per_seed(0..chunk.len() as u64, options.jobs, &|| {}, |i| {
                judge(base, &chunk[i as usize], programs, extend, options)
            });
            for ((_, j), plan) in judged.into_iter().zip(chunk) {
                found.then(&findings_of(base, plan.clone(), &j, programs));
                if found.counterexample.is_some() {
                    stop = true;
                    break;
                }
                if j.error.is_some() {
                    continue;
                }
                let key = plan.last().map(owned_key);
                let covered = match states.get(&j.state) {
                    Some(earliest) => *earliest <= key,
                    None => false,
                };
                if !covered {
                    states.insert(j.state, key);
                }
                if !extend {
                    continue;
                }
                if options.prune && covered {
                    same_state += j.offers.len();
                } else {
                    next.push(Node { plan: plan.clone(), offers: j.offers, names: j.names });
                }
            }
            if stop {
                break;
            }
        }
        level.run = found.run;
        level.broke = found.broke;
        level.considered = level.run + level.pruned.total();
        levels.push(level);
        if extend {
            smaller.then(&found);
        } else {
            largest = found;
        }
        frontier = next;
    }
    let mut result = Verification {
        bound: options.faults,
        prune: options.prune,
        window: options.window.clone(),
        levels,
        considered: 0,
        run: 0,
        pruned: Pruned::default(),
        distinct_states: 0,
        fault_space,
        counterexample: None,
        expectations: Vec::new(),
        errors: 0,
        first_error: None,
        harness_defects: 0,
        verdict: String::new(),
        shard: None,
    };
    let mut found = smaller.clone();
    found.then(&largest);
    conclude(&mut result, found, states.len());
    if let Some((index, of)) = options.shard {
        let mut hashes: Vec<String> = states.keys().map(|h| format!("{h:016x}")).collect();
        hashes.sort();
        result.shard = Some(ShardPart {
            index,
            of,
            scenario: String::new(),
            search: fingerprint(base, options),
            plans: block,
            smaller,
            largest,
            states: hashes,
        });
    }
    result
}

/// Fills in a search's totals, findings and verdict from its levels, what its plans found, and
/// its number of distinct end states: for one search and for merged shards alike.
pub(super) fn conclude(result: &mut Verification, found: Findings, distinct_states: usize) {
    result.considered = result.levels.iter().map(|l| l.considered).sum();
    result.run = result.levels.iter().map(|l| l.run).sum();
    result.pruned = Pruned::default();
    for l in &result.levels {
        result.pruned.add(&l.pruned);
    }
    result.distinct_states = distinct_states;
    result.expectations = found.expectations;
    result.errors = found.errors;
    result.first_error = found.first_error;
    result.harness_defects = found.harness_defects;
    result.counterexample = found.counterexample;
    result.verdict = verdict(result);
}

/// What a search is, for shards to check they belong together: dpsim's version, the base
/// scenario's file as a hash, and every option that changes the result.
fn fingerprint(base: &Scenario, options: &Options) -> String {
    let mut h = StableHasher::new("dpsim verify base");
    h.str(&base.to_file_text());
    format!(
        "dpsim {}, base {:016x}, at most {} faults, pruning {}, strict {}, window {:?}",
        env!("CARGO_PKG_VERSION"),
        h.finish(),
        options.faults,
        if options.prune { "on" } else { "off" },
        options.strict,
        options.window
    )
}

/// What one plan's run found, as the stretch of the search it is on its own: added to the
/// level's findings with [`Findings::then`], like every other stretch.
fn findings_of(base: &Scenario, plan: Vec<Fault>, j: &Judged, programs: &Programs) -> Findings {
    let labels: Vec<String> = plan.iter().map(Fault::label).collect();
    let mut found = Findings { run: 1, ..Findings::default() };
    if let Some(e) = &j.error {
        found.errors = 1;
        found.first_error = Some(format!("{e} (plan: {})", plan_text(&labels)));
        return found;
    }
    found.expectations = j
        .failed_expectations
        .iter()
        .map(|(expectation, seen)| ExpectationFinding {
            expectation: expectation.clone(),
            found: seen.clone(),
            plans: 1,
            first: labels.clone(),
        })
        .collect();
    if j.breaks.is_empty() {
        return found;
    }
    found.broke = 1;
    let mut scenario = apply(base, &plan);
    let invariants: Vec<Violation> =
        j.breaks.iter().filter(|v| v.invariant != Invariant::Expectation).cloned().collect();
    // The false-alarm guard: the same violations again with fixed ticks (expectations aside).
    if !invariants.is_empty() && crate::chaos::confirm_invariants(&scenario, programs, &invariants).is_err() {
        found.harness_defects = 1;
        return found;
    }
    let broke: Vec<&str> = j.breaks.iter().map(|v| v.invariant.name()).collect();
    scenario.description = format!(
        "dpsim verify counterexample, {} fault(s): {}; breaks {}. Base: {}",
        plan.len(),
        plan_text(&labels),
        broke.join(", "),
        base.description
    );
    found.counterexample = Some(Counterexample { faults: plan, labels, violations: j.breaks.clone(), scenario });
    found
}

/// A plan's fault labels in one line (`no fault` for the fault-free plan).
pub fn plan_text(labels: &[String]) -> String {
    if labels.is_empty() { "no fault".into() } else { labels.join("; ") }
}

/// Runs one plan: what it broke, its state, and (when it is to be extended) the faults its run
/// offers after its last fault.
fn judge(base: &Scenario, plan: &[Fault], programs: &Programs, extend: bool, options: &Options) -> Judged {
    let scenario = apply(base, plan);
    let (trace, report) = match crate::chaos::run_and_report(&scenario, programs) {
        Ok(run) => run,
        Err(e) => {
            return Judged {
                breaks: Vec::new(),
                failed_expectations: Vec::new(),
                state: 0,
                offers: Vec::new(),
                names: BTreeSet::new(),
                error: Some(e),
            };
        }
    };
    let mut breaks: Vec<Violation> = crate::chaos::unexpected(&scenario, &report).into_values().collect();
    let failed_expectations: Vec<(String, String)> =
        report.expectations.iter().filter(|e| !e.ok).map(|e| (e.expectation.clone(), e.found.clone())).collect();
    if options.strict
        && let Some((expectation, found)) = failed_expectations.first()
    {
        breaks.push(Violation {
            invariant: Invariant::Expectation,
            at: trace.end_ms,
            task: None,
            runner: None,
            message: format!("{expectation}: found {found}"),
            trail: Vec::new(),
        });
    }
    let last = plan.last().map(|f| f.key());
    let (offers, names) = if extend {
        let mut all = faults_of(&scenario, &trace);
        if let Some(window) = &options.window {
            all.retain(|f| window.contains(&f.at_ms));
        }
        let names = all.iter().map(name_of).collect();
        let offers = all.into_iter().filter(|f| last.as_ref().is_none_or(|l| f.key() > *l)).collect();
        (offers, names)
    } else {
        (Vec::new(), BTreeSet::new())
    };
    Judged { breaks, failed_expectations, state: state_of(&trace, plan), offers, names, error: None }
}

/// [`Fault::key`], owned.
type Key = (u64, super::space::FaultKind, String, u32, Option<String>);

fn owned_key(f: &Fault) -> Key {
    (f.at_ms, f.kind, f.runner.clone(), f.nth, f.task.clone())
}

/// A fault by what it hits, without the instant: the same name in two runs is the same target.
fn name_of(f: &Fault) -> String {
    format!("{:?} {} {:?} {} {:?}", f.kind, f.runner, f.operation, f.nth, f.task)
}

/// A plan as the scenario file it makes, whatever order its faults were added in.
fn identity(base: &Scenario, plan: &[Fault]) -> String {
    let scenario = apply(base, plan);
    let mut events: Vec<String> =
        scenario.events.iter().map(|e| serde_json::to_string(e).expect("events serialise")).collect();
    events.sort();
    let timeouts: Vec<u64> = scenario.runners.iter().map(|r| r.request_timeout.ms()).collect();
    format!("{events:?} {timeouts:?}")
}

/// The state a run ends in, as a hash: every call with its answer and instants, the journal,
/// every runner's beliefs and lifecycle (the fault labels left out, so that two faults with the
/// same effect meet), and the plan's faults that act over time (a frozen, crashed or cut-off
/// runner, a held call), with the runners' request timeouts.
fn state_of(trace: &Trace, plan: &[Fault]) -> u64 {
    let mut h = StableHasher::new("dpsim verify state");
    let beliefs: Vec<_> = trace
        .observations
        .iter()
        .filter(|o| !matches!(o.kind, ObservationKind::Applied { .. } | ObservationKind::MessageFault { .. }))
        .collect();
    // One JSON value: self-delimiting.
    serde_json::to_writer(&mut h, &(&trace.calls, &trace.journal, &beliefs)).expect("traces serialise");
    // Every fault with an effect over time, whether or not it is over: when a fault struck
    // depends on the run it was read off, and the same plan must hash the same whatever order
    // its faults were added in.
    let mut lasting: Vec<_> = plan.iter().filter(|f| f.lasting()).map(|f| (f.kind, &f.runner, f.until_ms)).collect();
    lasting.sort();
    h.u64(lasting.len() as u64);
    for (kind, runner, until_ms) in lasting {
        h.str(kind.name()).str(runner).opt_u64(until_ms);
    }
    let mut timeouts: Vec<_> = plan.iter().filter_map(|f| f.request_timeout).collect();
    timeouts.sort();
    h.u64(timeouts.len() as u64);
    for (spec, timeout_ms) in timeouts {
        h.u64(spec as u64).u64(timeout_ms);
    }
    h.u64(trace.end_ms);
    h.finish()
}

/// The verdict in one sentence, with the bound stated exactly.
fn verdict(r: &Verification) -> String {
    let faults = |n: usize| if n == 1 { "1 fault".to_string() } else { format!("{n} faults") };
    if let Some(c) = &r.counterexample {
        let what: Vec<&str> = c.violations.iter().map(|v| v.invariant.name()).collect();
        return format!(
            "counterexample: a plan of {} breaks {} ({} plans run)",
            faults(c.faults.len()),
            what.join(", "),
            r.run
        );
    }
    let within = match &r.window {
        Some(w) => format!(" striking in {}..{}", crate::report::log::stamp(w.start), crate::report::log::stamp(w.end)),
        None => String::new(),
    };
    let scope = format!(
        "{} plans of at most {} over {} placeable faults{within} ({} run, {} pruned)",
        r.considered,
        faults(r.bound),
        r.fault_space,
        r.run,
        r.pruned.total()
    );
    if r.errors > 0 || r.harness_defects > 0 {
        return format!(
            "not proved: {} plan(s) failed to run and {} counterexample(s) did not replay; of {scope}, none broke an invariant",
            r.errors, r.harness_defects
        );
    }
    if r.expectations.is_empty() {
        return format!("no plan of at most {} breaks an invariant or expectation: {scope}", faults(r.bound));
    }
    format!(
        "no plan of at most {} breaks an invariant: {scope}; {} expectation(s) of the fault-free story fail under some plans (--strict counts them)",
        faults(r.bound),
        r.expectations.len()
    )
}
