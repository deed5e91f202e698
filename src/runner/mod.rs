//! Task runners inside the simulation: the public API a runner program is written against, and
//! dpsim's own virtual Task Runner, which is a program on that same API.
//!
//! A program is an async function of a [`RunnerEnv`]. It gets a ready SDK client
//! ([`RunnerEnv::sdk_client`]) or dpsim's lean JSON client, its name, hostname and worker
//! group, simulated time and sleeps, a seeded random generator, and belief hooks
//! ([`RunnerEnv::working`]) that tell the ownership log when it starts and stops working on a
//! task. Register it in [`Programs`] and name it in a scenario's runner entry
//! (`"program": "my-runner"`); run it with [`crate::simulation::Simulation`].
//!
//! - [`env`](mod@env): the runner environment and the belief hooks.
//! - [`programs`]: programs by name; [`BUILTIN`] is dpsim's own runner.
//! - [`sdk`]: the official `aws-sdk-datapipeline` client over the simulated network.
//! - [`client`]: the lean AWS JSON 1.1 client dpsim's own runner uses.
//! - [`policy`]: dpsim's runner's decisions, sans-IO.
//! - [`builtin`]: dpsim's runner's driver.
//! - [`control`]: the levers the simulation pulls (pause, crash, slow work).
//! - [`process`]: a runner process on its machine: start, freeze, crash, restart.

pub mod builtin;
pub mod client;
pub mod control;
pub mod env;
pub mod policy;
pub mod process;
pub mod programs;
pub mod sdk;

pub use env::{RunnerEnv, Working};
pub use programs::{BUILTIN, Program, Programs};
