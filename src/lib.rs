//! dpsim: a deterministic simulation and test harness for the AWS Data Pipeline task-runner
//! protocol.
//!
//! Start at [`simulation::Simulation`]: load a scenario, register your runner programs
//! (written against [`runner::RunnerEnv`], with the official `aws-sdk-datapipeline` client),
//! run, and read the [`report::Report`].
//!
//! Module map:
//! - [`simulation`]: the library's front door: a scenario plus runner programs, run to a report.
//! - [`testing`]: what a user's `#[test]` calls: a run that fails with its log, timeline and
//!   repro; chaos with shrinking; explore; the timeline page.
//! - [`runner`]: the public runner API (environment, SDK client, belief hooks) and dpsim's
//!   own virtual Task Runner, a program on that API.
//! - [`time`]: simulated instants, Data Pipeline periods, AWS time formats.
//! - [`protocol`]: the AWS model: operations, typed requests and responses, validation, errors.
//! - [`service`]: the sans-IO service core: pipelines, schedules and their periods, instances,
//!   attempts, leases, deadlines.
//! - [`journal`]: the events the core emits for every state change.
//! - [`trace`]: the run's plain data (journal, observations, facts) that checks and reports read.
//! - [`faults`]: message faults, one path for the simulation's edge and `serve`.
//! - [`wire`]: the AWS JSON 1.1 HTTP front (router, errors, request ids, Date, SigV4).
//! - [`serve`]: the service on a real port for runners in any language: clock, live faults, log.
//! - [`scenario`]: scenario files: format, strict loading, JSON Schema, world plan.
//! - [`sim`]: the turmoil world (service, operator, runner machines) and its driver loop,
//!   which skips idle simulated time.
//! - [`ownership`]: ownership facts from a trace: leases, work, zombie work, the log's lines.
//! - [`report`]: the report of a run: summary, expectations, invariants, timeline, JSON.
//! - [`check`]: named invariants over a run (single owner, no early handout, ...).
//! - [`chaos`]: seed sweeps that draw their own faults, run statistics, shrinking, and
//!   experiments comparing two configurations on the same plans.
//! - [`cli`]: the subcommands: `run`, `chaos`, `explore`, `serve`.
//! - [`fuzz`]: `dpsim fuzz`: generated HTTP requests and scenario mutations, measured.
//! - [`explore`]: `dpsim explore`: competing events one tick around every lease deadline.
//! - [`verify`]: `dpsim verify`: every plan of up to k faults, exhaustively, smallest first.
//! - [`shard`]: `--shard I/N`: which seeds or plans each machine takes, for `dpsim merge`.
//! - [`sim_time`]: tracing timestamps in simulated time.

#![warn(missing_docs)]

pub mod chaos;
pub mod check;
pub mod explore;
pub mod faults;
pub mod fuzz;
pub mod journal;
pub mod ownership;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod service;
pub mod shard;
pub mod sim;
pub mod simulation;
pub mod testing;
pub mod time;
pub mod trace;
pub mod verify;
pub mod wire;
