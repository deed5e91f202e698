//! The library's front door: run a scenario, with your own runner programs, and get the same
//! report `dpsim run` prints.
//!
//! ```no_run
//! use dpsim::runner::RunnerEnv;
//! use dpsim::simulation::Simulation;
//!
//! async fn my_runner(env: RunnerEnv) {
//!     let client = env.sdk_client();
//!     // ... poll, acknowledge, report, set the status, with the official SDK ...
//! #   let _ = client;
//! }
//!
//! let report = Simulation::from_file("scenarios/ack-response-lost.json")
//!     .unwrap()
//!     .program("my-runner", my_runner)
//!     .run()
//!     .unwrap();
//! println!("{}", report.log_text());
//! assert!(report.passed());
//! ```

use std::future::Future;
use std::path::Path;

use crate::chaos::SeedOutcome;
use crate::report::Report;
use crate::runner::{BUILTIN, Programs, RunnerEnv};
use crate::scenario::Stepping;
use crate::scenario::{Scenario, ScenarioError, load_file};
pub use crate::sim::{Progress, SimError};
use crate::trace::Trace;
use crate::verify::Verification;

/// A scenario with the runner programs its runner entries name.
#[derive(Clone, Debug)]
pub struct Simulation {
    name: String,
    scenario: Scenario,
    programs: Programs,
    seed: Option<u64>,
}

/// Why a simulation did not produce a report.
#[derive(Debug)]
pub enum SimulationError {
    /// The scenario is invalid, or names a program that is not registered.
    Scenario(ScenarioError),
    /// The simulation itself failed.
    Sim(SimError),
}

impl std::fmt::Display for SimulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimulationError::Scenario(e) => write!(f, "invalid scenario: {e}"),
            SimulationError::Sim(e) => write!(f, "simulation failed: {e}"),
        }
    }
}

impl std::error::Error for SimulationError {}

impl From<ScenarioError> for SimulationError {
    fn from(e: ScenarioError) -> Self {
        SimulationError::Scenario(e)
    }
}

impl From<SimError> for SimulationError {
    fn from(e: SimError) -> Self {
        SimulationError::Sim(e)
    }
}

impl Simulation {
    /// A simulation of an in-code scenario (built with serde, or [`crate::scenario::parse`]).
    pub fn new(scenario: Scenario) -> Simulation {
        Simulation { name: "scenario".into(), scenario, programs: Programs::default(), seed: None }
    }

    /// A simulation of a scenario file, named after the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Simulation, ScenarioError> {
        let path = path.as_ref();
        let scenario = load_file(path)?;
        Ok(Simulation { name: crate::scenario::name_of(path), ..Simulation::new(scenario) })
    }

    /// Names the run in its report.
    pub fn name(mut self, name: &str) -> Simulation {
        self.name = name.to_string();
        self
    }

    /// Registers a runner program under `name`, for runner entries with `"program": name`.
    pub fn program<F, Fut>(mut self, name: &str, program: F) -> Simulation
    where
        F: Fn(RunnerEnv) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.programs.register(name, program);
        self
    }

    /// Uses these programs (dpsim's own runner is always there).
    pub fn programs(mut self, programs: Programs) -> Simulation {
        self.programs = programs;
        if self.programs.get(BUILTIN).is_none() {
            self.programs.register(BUILTIN, crate::runner::builtin::run);
        }
        self
    }

    /// Overrides the scenario's seed.
    pub fn seed(mut self, seed: u64) -> Simulation {
        self.seed = Some(seed);
        self
    }

    /// Chooses how simulated time moves (default: [`Stepping::SkipIdle`]; both give the same
    /// result, [`Stepping::FixedTick`] is the slow reference).
    pub fn stepping(mut self, stepping: Stepping) -> Simulation {
        self.scenario.stepping = stepping;
        self
    }

    /// The name the run goes by in its report (the scenario file's name by default).
    pub fn run_name(&self) -> &str {
        &self.name
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The registered programs.
    pub fn registered(&self) -> &Programs {
        &self.programs
    }

    /// The seed the run uses.
    pub fn effective_seed(&self) -> u64 {
        self.seed.unwrap_or(self.scenario.seed)
    }

    /// Checks that every runner entry names a registered program.
    pub fn check(&self) -> Result<(), ScenarioError> {
        check_programs(&self.scenario, &self.programs)
    }

    /// Runs the scenario and returns the report: ownership log, summary, expectation
    /// verdicts, invariants, JSON.
    pub fn run(&self) -> Result<Report, SimulationError> {
        self.run_traced(None).map(|(report, _)| report)
    }

    /// Runs the scenario and returns the report and the run's raw trace (journal,
    /// observations), calling `progress` with simulated time as it goes.
    pub fn run_traced(&self, progress: Option<Progress>) -> Result<(Report, Trace), SimulationError> {
        self.check()?;
        let trace = crate::sim::run(&self.scenario, self.effective_seed(), &self.programs, progress)?;
        Ok((Report::new(&self.name, &self.scenario, &trace), trace))
    }

    /// Runs chaos seeds over this scenario as a base (see [`crate::chaos`]) on `jobs` threads.
    pub fn chaos(&self, seeds: std::ops::Range<u64>, jobs: usize) -> Result<Vec<SeedOutcome>, ScenarioError> {
        self.check()?;
        Ok(crate::chaos::sweep(&self.scenario, seeds, jobs, &self.programs, &|| {}))
    }
}

impl Simulation {
    /// Tries every plan of at most `faults` faults over this scenario with its programs,
    /// smallest first, as `dpsim verify` does (see [`crate::verify`]): the verdict, the search's
    /// counts, and the smallest counterexample as a standalone scenario. One thread; see
    /// [`Simulation::verify_with`] for more.
    pub fn verify(&self, faults: usize) -> Result<Verification, ScenarioError> {
        self.verify_with(&crate::verify::Options { faults, ..Default::default() })
    }

    /// [`Simulation::verify`] with every option: threads, state hashing, strict expectations.
    pub fn verify_with(&self, options: &crate::verify::Options) -> Result<Verification, ScenarioError> {
        self.check()?;
        let mut scenario = self.scenario.clone();
        scenario.seed = self.effective_seed();
        Ok(crate::verify::verify(&scenario, &self.programs, options))
    }
}

/// Checks that every runner entry of a scenario names a registered program; the error names
/// the entry's JSON path, like every other scenario error.
pub fn check_programs(scenario: &Scenario, programs: &Programs) -> Result<(), ScenarioError> {
    for (i, r) in scenario.runners.iter().enumerate() {
        let Some(name) = r.program.as_deref() else { continue };
        if programs.get(name).is_none() {
            let known: Vec<&str> = programs.names().collect();
            return Err(ScenarioError {
                file: None,
                path: format!("runners[{i}].program"),
                position: None,
                message: format!(
                    "no runner program is registered as {name:?}; registered: {} (register yours with Simulation::program)",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}
