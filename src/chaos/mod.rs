//! Chaos: sweep seeds over a base scenario, each seed drawing its own faults (and, swarm
//! style, which kinds of fault it allows), check the invariants, and shrink failures to small
//! scenario files.
//!
//! A base is a scenario without faults whose expectations hold under any plan. [`sweep`] runs
//! seeds on threads ([`crate::Simulation::chaos`] is the same with your programs);
//! [`ChaosSummary`] gives the figures; [`shrink`] makes a failing seed's plan as small as it
//! goes while it still breaks the invariant; [`compare`] runs two configurations on the same
//! seeds and plans. A seed that broke an invariant is replayed with fixed ticks before it
//! counts, so a defect of the harness is never reported as one of the protocol.

pub mod compare;
pub(crate) mod compare_page;
pub(crate) mod plan;
mod seeds;
pub(crate) mod shrink;
pub(crate) mod stats;
mod summary;

pub use seeds::{SeedRangeError, parse_seeds};
pub use shrink::{Shrunk, shrink};
pub use stats::Distribution;
pub use summary::{ChaosSummary, MergeError, MergedSweep, Samples, merge_summaries};

use crate::check::Invariant;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::check::Violation;
use crate::report::Report;
use crate::runner::Programs;
use crate::scenario::Scenario;
use crate::trace::Trace;

use plan::{Bounds, ChaosPlan};
use stats::RunStats;

/// The outcome of one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Faults in its plan.
    pub faults: usize,
    /// Invariants it broke (beyond what the base expects), first violation of each.
    pub violations: Vec<Violation>,
    /// A simulation error, if the run could not complete.
    pub error: Option<String>,
    /// The run broke invariants that its replay with fixed ticks did not: a defect of the
    /// harness or of a runner program that is not deterministic, never a protocol violation.
    /// Its `violations` are then empty; this says what each run found.
    pub harness_defect: Option<String>,
    /// The coverage probes the run hit, with how often.
    pub probes: BTreeMap<&'static str, u32>,
    /// Figures for the distributions.
    #[serde(skip)]
    pub(crate) stats: RunStats,
}

impl SeedOutcome {
    /// True when the seed broke something.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty() || self.error.is_some() || self.harness_defect.is_some()
    }

    /// Turns the seed's violations into a harness defect: a replay (in a fresh process, say)
    /// disagreed with them, so they say nothing about the protocol.
    pub fn disown(&mut self, why: String) {
        self.violations.clear();
        self.harness_defect = Some(why);
    }
}

/// A proptest value tree for a seed's plan: deterministic in the seed, and shrinkable.
pub(crate) fn plan_tree(base: &Scenario, seed: u64) -> impl ValueTree<Value = ChaosPlan> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    plan::strategy(&Bounds::of(base)).new_tree(&mut runner).expect("plans always generate")
}

/// The plan a seed draws.
pub(crate) fn plan_for(base: &Scenario, seed: u64) -> ChaosPlan {
    plan_tree(base, seed).current()
}

/// Runs one scenario to its trace and report. A panic inside the simulation (a host's task, a
/// runner program) fails this run only, as an error: a sweep goes on, and reports the run with
/// its repro file.
pub(crate) fn run_and_report(scenario: &Scenario, programs: &Programs) -> Result<(Trace, Report), String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::sim::run(scenario, scenario.seed, programs, None)
    }));
    let out = match run {
        Ok(result) => result.map_err(|e| e.to_string())?,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            return Err(format!("the simulation panicked: {message}"));
        }
    };
    let report = Report::new("chaos", scenario, &out);
    Ok((out, report))
}

/// The first violation of each invariant a report shows, beyond those the scenario expects.
pub(crate) fn unexpected(scenario: &Scenario, report: &Report) -> BTreeMap<Invariant, Violation> {
    let mut first: BTreeMap<Invariant, Violation> = BTreeMap::new();
    for v in report.violations.iter().filter(|v| !scenario.expect_violations.contains(&v.invariant)) {
        first.entry(v.invariant).or_insert_with(|| v.clone());
    }
    first
}

/// Runs one scenario and returns the invariants it broke beyond those it expects.
pub(crate) fn violations_of(scenario: &Scenario, programs: &Programs) -> Result<(Vec<Violation>, RunStats), String> {
    let (out, report) = run_and_report(scenario, programs)?;
    let stats = RunStats::of(&out, &report);
    let mut first = unexpected(scenario, &report);
    // The base's expectations hold under every plan drawn over it.
    if let Some(failed) = report.expectations.iter().find(|e| !e.ok) {
        first.entry(Invariant::Expectation).or_insert_with(|| Violation {
            invariant: Invariant::Expectation,
            at: out.end_ms,
            task: None,
            runner: None,
            message: format!("{}: found {}", failed.expectation, failed.found),
            trail: Vec::new(),
        });
    }
    Ok((first.into_values().collect(), stats))
}

/// The scenario a seed runs: the base with the seed's plan applied.
pub fn seed_scenario(base: &Scenario, seed: u64) -> Scenario {
    plan::apply(base, seed, &plan_for(base, seed))
}

/// The invariants a list of violations names, for messages.
pub(crate) fn invariant_names(violations: &[Violation]) -> String {
    if violations.is_empty() {
        return "nothing".into();
    }
    violations.iter().map(|v| v.invariant.name()).collect::<Vec<_>>().join(", ")
}

/// Chaos's false-alarm guard: replays a run that broke invariants with fixed-tick stepping
/// (no idle leap, so nothing the leaps could get wrong) and requires the same violations, at the
/// same instants, with the same words. A disagreement is a defect of the harness (or a runner
/// program that is not deterministic), never of the protocol under test: the error says so.
pub(crate) fn confirm(scenario: &Scenario, programs: &Programs, found: &[Violation]) -> Result<(), String> {
    confirm_by(scenario, found, |replay| violations_of(replay, programs).map(|(v, _)| v))
}

/// [`confirm`] for a run judged by its invariants alone (`dpsim verify`, where a failed
/// expectation is not a violation unless asked).
pub(crate) fn confirm_invariants(scenario: &Scenario, programs: &Programs, found: &[Violation]) -> Result<(), String> {
    confirm_by(scenario, found, |replay| {
        run_and_report(replay, programs).map(|(_, report)| unexpected(replay, &report).into_values().collect())
    })
}

fn confirm_by(
    scenario: &Scenario,
    found: &[Violation],
    judge: impl Fn(&Scenario) -> Result<Vec<Violation>, String>,
) -> Result<(), String> {
    let mut replay = scenario.clone();
    replay.stepping = crate::sim::Stepping::FixedTick;
    let same = |again: &[Violation]| {
        again.len() == found.len()
            && again.iter().zip(found).all(|(a, b)| (a.invariant, a.at, &a.message) == (b.invariant, b.at, &b.message))
    };
    match judge(&replay).map(|v| (v, ())) {
        Ok((again, _)) if same(&again) => Ok(()),
        Ok((again, _)) => Err(format!(
            "harness defect: the run broke {} but its replay with fixed ticks broke {}: the simulation disagrees with itself (an idle leap that was not sound, a timer it did not know, or a runner program that is not deterministic), which says nothing about the protocol",
            invariant_names(found),
            invariant_names(&again)
        )),
        Err(e) => Err(format!(
            "harness defect: the run broke {} but its replay with fixed ticks failed: {e}",
            invariant_names(found)
        )),
    }
}

/// Runs one seed over a base; a seed that breaks invariants is confirmed by a replay
/// with fixed ticks before it counts.
pub fn run_seed(base: &Scenario, seed: u64, programs: &Programs) -> (SeedOutcome, Scenario) {
    let plan = plan_for(base, seed);
    let scenario = plan::apply(base, seed, &plan);
    let mut outcome = match violations_of(&scenario, programs) {
        Ok((violations, stats)) => SeedOutcome {
            seed,
            faults: plan.effective().len(),
            violations,
            error: None,
            harness_defect: None,
            probes: stats.probes.clone(),
            stats,
        },
        Err(e) => SeedOutcome {
            seed,
            faults: plan.effective().len(),
            violations: Vec::new(),
            error: Some(e),
            harness_defect: None,
            probes: BTreeMap::new(),
            stats: RunStats::default(),
        },
    };
    if !outcome.violations.is_empty()
        && let Err(defect) = confirm(&scenario, programs, &outcome.violations)
    {
        outcome.disown(defect);
    }
    (outcome, scenario)
}

/// Runs seeds on `jobs` threads; `progress` is told after each seed. Results in seed order.
pub fn sweep(
    base: &Scenario,
    seeds: std::ops::Range<u64>,
    jobs: usize,
    programs: &Programs,
    progress: &(dyn Fn() + Sync),
) -> Vec<SeedOutcome> {
    let base = Arc::new(base.clone());
    per_seed(seeds, jobs, progress, |seed| run_seed(&base, seed, programs).0).into_iter().map(|(_, o)| o).collect()
}

/// Runs `run` for every seed on `jobs` threads (each takes the next seed when it is free);
/// `progress` is told after each seed. Results in seed order, whatever the threads did.
pub(crate) fn per_seed<T: Send>(
    seeds: std::ops::Range<u64>,
    jobs: usize,
    progress: &(dyn Fn() + Sync),
    run: impl Fn(u64) -> T + Sync,
) -> Vec<(u64, T)> {
    let next = AtomicU64::new(seeds.start);
    let results: Mutex<BTreeMap<u64, T>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= seeds.end {
                        return;
                    }
                    let result = run(seed);
                    results.lock().unwrap_or_else(|p| p.into_inner()).insert(seed, result);
                    progress();
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().collect()
}
