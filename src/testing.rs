//! What a user's `#[test]` calls: a run that fails the test with everything needed to see why,
//! chaos with shrinking, explore and the timeline picture, as one call each on a
//! [`Simulation`].
//!
//! ```no_run
//! use dpsim::runner::RunnerEnv;
//! use dpsim::simulation::Simulation;
//!
//! async fn my_runner(env: RunnerEnv) {
//!     let _client = env.sdk_client();
//! }
//!
//! #[test]
//! fn ack_lost_is_reassigned() {
//!     let report = Simulation::from_file("scenarios/ack-lost.json").unwrap().program("my-runner", my_runner).run_test();
//!     insta::assert_snapshot!(report.log_text());
//! }
//! ```
//!
//! Environment a test run reads (so CI can shard and nightly jobs can sweep longer, without
//! a code change): `DPSIM_SEED` (one run's seed), `DPSIM_SEEDS` (`start..end`, a chaos sweep's
//! seeds), `DPSIM_JOBS` (chaos worker threads, default 2), `DPSIM_OUT` (where failure
//! artefacts go, default `target/dpsim` under the crate).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::chaos::SeedOutcome;
use crate::chaos::shrink::{Shrunk, shrink};
use crate::check::Invariant;
use crate::explore::Variant;
use crate::report::Report;
use crate::scenario::ScenarioError;
use crate::simulation::{Simulation, SimulationError};
use crate::trace::Trace;

/// Simulations a chaos failure's shrinking may run.
pub const SHRINK_RUNS: usize = 200;

/// A chaos sweep, with its first failing seed shrunk.
#[derive(Clone, Debug)]
pub struct ChaosResult {
    /// Every seed's outcome, in seed order.
    pub outcomes: Vec<SeedOutcome>,
    /// The first seed that broke an invariant, shrunk to its fewest faults.
    pub first_failure: Option<ChaosFailure>,
}

/// A failing chaos seed.
#[derive(Clone, Debug)]
pub struct ChaosFailure {
    /// The seed.
    pub seed: u64,
    /// The first invariant it broke; `None` when it broke none (see `error`).
    pub invariant: Option<Invariant>,
    /// Why it failed without breaking an invariant: the simulation error, or a harness defect.
    pub error: Option<String>,
    /// The smallest plan that still breaks the invariant, as a standalone scenario; `None`
    /// when the run failed without an invariant to shrink against.
    pub shrunk: Option<Shrunk>,
}

impl ChaosResult {
    /// The seeds that broke something.
    pub fn failed_seeds(&self) -> Vec<u64> {
        self.outcomes.iter().filter(|o| o.failed()).map(|o| o.seed).collect()
    }
}

impl Simulation {
    /// Runs the scenario as a test: returns the report when every expectation and invariant
    /// held; otherwise writes the timeline page and panics with the ownership log, the failed
    /// expectations and invariants, where the page is, and a one-line repro. `DPSIM_SEED`
    /// overrides the seed.
    pub fn run_test(&self) -> Report {
        let sim = match env_u64("DPSIM_SEED") {
            Some(seed) => self.clone().seed(seed),
            None => self.clone(),
        };
        let (report, trace) = sim.run_traced(None).unwrap_or_else(|e| panic!("dpsim: {e}\n{}", repro(&sim)));
        if report.passed() {
            return report;
        }
        let page = out_dir().join(format!("{}-seed-{}.html", file_safe(sim.run_name()), trace.seed));
        let written = write(&page, &sim.timeline_html(&report, &trace));
        let fragment = crate::report::first_violation_fragment(&report).unwrap_or_default();
        // Many violations: the grouped summary first, so the message's first screen explains it.
        let head =
            if report.violations.len() > crate::report::HANDFUL { report.summary_text() + "\n" } else { String::new() };
        panic!(
            "dpsim: expectations or invariants failed\n\n{head}{}\n{}{}\nreport page: {written}{fragment}\n{}",
            report.log_text(),
            report.summary_text(),
            report.violations_text(),
            repro(&sim)
        );
    }

    /// Runs chaos seeds over this scenario as a base on `jobs` threads, and shrinks the first
    /// failing seed to its fewest faults (at most [`SHRINK_RUNS`] simulations), as `dpsim
    /// chaos` does.
    pub fn chaos_shrunk(&self, seeds: Range<u64>, jobs: usize) -> Result<ChaosResult, ScenarioError> {
        let outcomes = self.chaos(seeds, jobs)?;
        let first_failure = outcomes.iter().find(|o| o.failed()).map(|o| {
            let invariant = o.violations.first().map(|v| v.invariant);
            let shrunk = invariant.and_then(|inv| shrink(self.scenario(), o.seed, inv, SHRINK_RUNS, self.registered()));
            ChaosFailure {
                seed: o.seed,
                invariant,
                error: o.error.clone().or_else(|| o.harness_defect.clone()),
                shrunk,
            }
        });
        Ok(ChaosResult { outcomes, first_failure })
    }

    /// A chaos sweep as a test: seeds from `DPSIM_SEEDS` (`start..end`) or else `default`,
    /// `DPSIM_JOBS` threads (default 2). A failing seed is shrunk and written as a standalone
    /// scenario into `dir` (`<name>-seed-<N>.json`, next to the test), and the test panics
    /// naming it; the result is returned when every seed held.
    pub fn chaos_test(&self, default: Range<u64>, dir: impl AsRef<Path>) -> ChaosResult {
        let seeds = match std::env::var("DPSIM_SEEDS") {
            Ok(s) => crate::chaos::parse_seeds(&s).unwrap_or_else(|e| panic!("dpsim: DPSIM_SEEDS: {e}")),
            Err(_) => default,
        };
        let jobs = env_u64("DPSIM_JOBS").map_or(2, |j| j.max(1) as usize);
        let result = self.chaos_shrunk(seeds.clone(), jobs).unwrap_or_else(|e| panic!("dpsim: invalid scenario: {e}"));
        let Some(failure) = &result.first_failure else { return result };
        let failed = result.failed_seeds();
        let mut message = format!(
            "dpsim chaos over seeds {}..{}: {} of {} seeds failed ({failed:?}); seed {} broke {}",
            seeds.start,
            seeds.end,
            failed.len(),
            result.outcomes.len(),
            failure.seed,
            match (&failure.invariant, &failure.error) {
                (Some(invariant), _) => invariant.to_string(),
                (None, Some(error)) => error.clone(),
                (None, None) => "nothing".to_string(),
            }
        );
        if let Some(shrunk) = &failure.shrunk {
            let file = dir.as_ref().join(format!("{}-seed-{}.json", file_safe(self.run_name()), failure.seed));
            let written = write(&file, &shrunk.scenario.to_file_text());
            message += &format!(
                "\nshrunk to {} fault(s) in {} runs: {written}\nreplay it with Simulation::from_file on that file",
                shrunk.plan.faults.len(),
                shrunk.runs
            );
        }
        panic!("{message}\nrepro: DPSIM_SEEDS={}..{} {}", failure.seed, failure.seed + 1, test_command());
    }

    /// [`Simulation::verify`] as a test: every plan of at most `faults` faults (`DPSIM_FAULTS`
    /// overrides the bound, for a deeper nightly run; `DPSIM_JOBS` threads, default 2). Returns
    /// the result when no plan breaks an invariant; otherwise writes the counterexample, already
    /// the smallest, as a standalone scenario into `dir` (`<name>-counterexample.json`, next to
    /// the test) and panics with its faults, what it broke and where the file is.
    pub fn verify_test(&self, faults: usize, dir: impl AsRef<Path>) -> crate::verify::Verification {
        let jobs = env_u64("DPSIM_JOBS").map_or(2, |j| j.max(1) as usize);
        let faults = env_u64("DPSIM_FAULTS").map_or(faults, |k| k as usize);
        let options = crate::verify::Options { faults, jobs, ..Default::default() };
        let result = self.verify_with(&options).unwrap_or_else(|e| panic!("dpsim: invalid scenario: {e}"));
        if result.proved() {
            return result;
        }
        let mut message = format!("dpsim verify {}: {}", self.run_name(), result.verdict);
        if let Some(c) = &result.counterexample {
            let file = dir.as_ref().join(format!("{}-counterexample.json", file_safe(self.run_name())));
            let written = write(&file, &c.scenario.to_file_text());
            for l in &c.labels {
                message += &format!("\n  - {l}");
            }
            for v in &c.violations {
                message += &format!("\n  breaks {} at {}: {}", v.invariant, crate::report::log::stamp(v.at), v.message);
            }
            message += &format!("\ncounterexample: {written}\nreplay it with Simulation::from_file on that file");
        }
        if let Some(e) = &result.first_error {
            message += &format!("\n{} plan(s) failed to run; first: {e}", result.errors);
        }
        panic!("{message}");
    }

    /// Explores every lease deadline of the scenario with its programs, as `dpsim explore`
    /// does: the competing events one tick before, at and after each.
    pub fn explore(&self) -> Result<Vec<Variant>, SimulationError> {
        self.check()?;
        Ok(crate::explore::explore(self.scenario(), self.registered())?)
    }

    /// The timeline picture of a run as a standalone HTML page (summary, SVG timeline,
    /// ownership log), the `report.html` that `dpsim run --out` writes. `report` and `trace`
    /// come from [`Simulation::run_traced`].
    pub fn timeline_html(&self, report: &Report, trace: &Trace) -> String {
        crate::report::page(self.run_name(), report, trace)
    }
}

/// The one-line command that runs the current test again.
fn repro(sim: &Simulation) -> String {
    format!("repro: DPSIM_SEED={} {}", sim.effective_seed(), test_command())
}

/// `cargo test` naming the running test binary and test (libtest names each test's thread).
fn test_command() -> String {
    let binary = std::env::current_exe().ok().and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    // Test binaries are named `<target>-<hash>`.
    let target = binary.as_deref().and_then(|b| b.rsplit_once('-')).map(|(t, _)| t.to_string());
    let test = std::thread::current().name().filter(|n| *n != "main").map(str::to_string);
    match (target, test) {
        (Some(t), Some(name)) => format!("cargo test --test {t} -- --exact {name}"),
        (_, Some(name)) => format!("cargo test -- --exact {name}"),
        _ => "cargo test".to_string(),
    }
}

/// Where failure artefacts go: `DPSIM_OUT`, else `target/dpsim` under the crate being tested.
fn out_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DPSIM_OUT") {
        return PathBuf::from(dir);
    }
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    root.join("target").join("dpsim")
}

/// Writes `text` to `path`; says where it went, or why it could not.
fn write(path: &Path, text: &str) -> String {
    let done = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(path, text));
    match done {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not written to {}: {e})", path.display()),
    }
}

fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// A number from the environment; set but not a number is a clear failure, not a default.
fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("dpsim: {name}={value:?} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(file_safe("a/b c"), "a_b_c");
    }
}
