//! dpsim: a deterministic simulation and test harness for the AWS Data Pipeline task-runner
//! protocol (PollForTask, ReportTaskProgress, SetTaskStatus, ReportTaskRunnerHeartbeat).
//!
//! A simulated network hosts a virtual Data Pipeline service and task runners under a
//! simulated clock. A scenario file says what happens (pipelines, runners, lost messages,
//! partitions, crashes, cancels); dpsim replays it deterministically, records every change of
//! task ownership in an **ownership log**, and checks it against the lease rules. The same
//! scenario and seed give byte-identical output, every run, on every machine.
//!
//! # Testing your own runner
//!
//! A runner program is an async function of a [`RunnerEnv`]: the environment hands it an
//! `aws-sdk-datapipeline` client that talks over the simulated network
//! ([`RunnerEnv::sdk_client`]), its name, hostname and worker group, and simulated time.
//! Register it on a [`Simulation`] under the name a scenario's runner entry gives as its
//! `"program"`, and run:
//!
//! ```no_run
//! use dpsim::runner::RunnerEnv;
//! use dpsim::Simulation;
//!
//! async fn my_runner(env: RunnerEnv) {
//!     let client = env.sdk_client();
//!     // ... poll, acknowledge with a first ReportTaskProgress, work, report, SetTaskStatus ...
//! #   let _ = client;
//! }
//!
//! let report = Simulation::from_file("tests/scenarios/ack-lost.json")
//!     .unwrap()
//!     .program("my-runner", my_runner)
//!     .run_test(); // panics with the log, the failures and a one-line repro if anything broke
//! println!("{}", report.log_text());
//! ```
//!
//! [`Simulation::run_test`], [`Simulation::chaos_test`] and [`Simulation::verify_test`] are
//! the `#[test]` forms; [`Simulation::run`], [`Simulation::chaos`] and [`Simulation::verify`]
//! return the results for a tool to read. See [`testing`] for the environment variables CI can
//! set.
//!
//! # Scenarios without code
//!
//! dpsim's own virtual Task Runner ([`runner::BUILTIN`], the default program) models the AWS
//! Task Runner, so a scenario file alone is a test:
//!
//! ```
//! let scenario = dpsim::scenario::parse(r#"{
//!   "seed": 1, "duration": "1h",
//!   "pipelines": [{"name": "copy", "definition": {"objects": [
//!     {"id": "Default", "name": "Default", "scheduleType": "ondemand"},
//!     {"id": "Copy", "name": "Copy", "type": "ShellCommandActivity", "workerGroup": "wg-1"}]}}],
//!   "runners": [{"name": "runner-a", "worker_group": "wg-1"}],
//!   "expect": [{"kind": "final_status", "task": "Copy", "status": "FINISHED"}]
//! }"#).unwrap();
//! let report = dpsim::Simulation::new(scenario).run().unwrap();
//! assert!(report.passed(), "{}", report.summary_text());
//! assert!(report.log_text().contains("finished"));
//! ```
//!
//! # What a run gives
//!
//! - a [`Report`]: the ownership log as lines and text, a summary, the verdict of every
//!   expectation, every broken invariant ([`check::Violation`], named by [`check::Invariant`]),
//!   the coverage probes hit, and JSON;
//! - a [`Trace`] ([`Simulation::run_traced`]): the run as plain data (the service's journal,
//!   the calls its edge saw and what it answered, what runners did and believed, the faults
//!   applied), what every check and report reads;
//! - from chaos, a [`chaos::SeedOutcome`] per seed, a [`chaos::ChaosSummary`], and failing
//!   seeds shrunk to their fewest faults ([`testing::ChaosResult`]);
//! - from verify, a [`verify::Verification`]: a bounded proof, or the smallest
//!   counterexample as a standalone scenario.
//!
//! # Modules
//!
//! - [`simulation`]: the front door, [`Simulation`]; [`testing`] adds its `#[test]` forms.
//! - [`runner`]: what a runner program is written against.
//! - [`scenario`]: scenario files: loading with precise errors, the JSON Schema, variants.
//! - [`report`], [`trace`], [`check`]: what a run produced and what broke.
//! - [`chaos`], [`verify`], [`explore`], [`fuzz`]: generated faults, exhaustive plans,
//!   deadline boundaries, generated requests.
//! - [`serve`]: the virtual service on a real port, for runners in any language.
//! - [`proxy`]: the same faults and checks in front of a real endpoint; dpsim's own runner
//!   runs against one too ([`runner::NetworkRunner`]).
//! - [`protocol`], [`time`], [`shard`]: the operations and error codes, time formats, and
//!   how a sweep or search splits over machines.
//!
//! The `dpsim` command line is a user of this API like any tool; it is built with the `cli`
//! feature (on by default). A crate that depends on the library turns it off:
//! `dpsim = { version = "0.1", default-features = false }`.

#![warn(missing_docs)]

pub mod chaos;
pub mod check;
pub mod explore;
pub mod fuzz;
pub mod protocol;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod shard;
pub mod simulation;
pub mod testing;
pub mod time;
pub mod trace;
pub mod verify;

mod control;
mod faults;
mod journal;
mod ownership;
mod service;
mod sim;
mod timers;
mod wire;

#[doc(hidden)]
pub mod bench;

#[cfg(test)]
mod tests;

pub use report::Report;
pub use runner::RunnerEnv;
pub use scenario::{Scenario, ScenarioError};
pub use simulation::{Simulation, SimulationError};
pub use trace::Trace;
