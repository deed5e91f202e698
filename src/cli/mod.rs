//! The command line's subcommands, each a function from its arguments to an exit status.
//!
//! - [`run`]: `dpsim run`: load, simulate with progress, print and write the report.
//! - [`chaos`]: `dpsim chaos`: sweeps, summaries, failing seeds as files, shrinking.
//! - [`compare`]: `dpsim chaos --compare/--set`: two configurations, the same seeds and plans.
//! - [`explore`]: `dpsim explore`: the deadline-boundary table.
//! - [`verify`]: `dpsim verify`: every plan of up to k faults, the verdict and counterexample.
//! - [`merge`]: `dpsim merge`: shards of a chaos sweep or a verify search, into one result.
//! - [`serve`]: `dpsim serve`: the service on a real port with an advanceable clock.

pub mod chaos;
pub mod compare;
pub mod explore;
pub mod merge;
pub mod run;
pub mod serve;
pub mod verify;
