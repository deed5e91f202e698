//! dpsim: a deterministic simulation and test harness for the AWS Data Pipeline task-runner
//! protocol.
//!
//! Module map:
//! - [`time`]: simulated instants, Data Pipeline periods, AWS time formats.
//! - [`protocol`]: the AWS model: operations, typed requests and responses, validation, errors.
//! - [`service`]: the sans-IO service core: pipelines, instances, attempts, leases, deadlines.
//! - [`journal`]: the events the core emits for every state change.
//! - [`wire`]: the AWS JSON 1.1 HTTP front (router, errors, request ids, Date, SigV4).
//! - [`serve`]: `dpsim serve`: the service on a real port with an advanceable clock.
//! - [`scenario`]: scenario files: format, strict loading, JSON Schema, world plan.
//! - [`sim`]: the turmoil world (service, operator, runner machines) and its driver loop.
//! - [`report`]: ownership analysis (leases, work, zombies), the log, expectations, JSON.
//! - [`check`]: named invariants over a run (single owner, no early handout, ...).
//! - [`chaos`]: seed sweeps that draw their own faults, run statistics, shrinking.
//! - [`cli_run`]: `dpsim run`: load, simulate with progress, print and write the report.
//! - [`cli_chaos`]: `dpsim chaos`: sweeps, summaries, failing seeds as files, shrinking.
//! - [`explore`]: `dpsim explore`: competing events one tick around every lease deadline.
//! - [`sim_time`]: tracing timestamps in simulated time.

pub mod chaos;
pub mod check;
pub mod cli_chaos;
pub mod cli_run;
pub mod explore;
pub mod journal;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod serve;
pub mod service;
pub mod sim;
pub mod sim_time;
pub mod time;
pub mod wire;
