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
//! dpsim's own runner is the program registered as [`BUILTIN`]; runner entries without a
//! `"program"` run it. The same runner runs outside the simulation too, against a real
//! endpoint (`dpsim serve`, `dpsim proxy` in front of a deployment), as [`NetworkRunner`]
//! (`dpsim runner` on the command line).

pub(crate) mod builtin;
pub(crate) mod client;
pub(crate) mod control;
pub(crate) mod env;
pub(crate) mod network;
pub(crate) mod policy;
pub(crate) mod process;
pub(crate) mod programs;
pub(crate) mod sdk;

pub use env::{RunnerEnv, Working};
pub use network::{NetworkRunner, NetworkRunnerError, RunnerEnded, RunnerEvent};
pub use programs::{BUILTIN, Program, Programs};
