//! The simulated world: turmoil hosts for the service, the operator and the runner machines,
//! and the driver loop that steps it and applies the scenario's timeline at exact times.
//!
//! Only this module, the runner environment and the wire's async host touch turmoil or tokio;
//! what a run produces is plain data, a [`Trace`](crate::trace::Trace).
//!
//! - [`world`]: building the world (hosts, edge, operator, runner processes).
//! - [`driver`]: the loop that steps it.
//! - [`apply`]: applying one timeline event.
//! - [`anchors`]: events placed at protocol moments.
//! - [`edge`]: the service's HTTP edge, where message faults apply.
//! - [`operator`]: the control-plane client.
//! - [`clock`]: simulated time.

pub mod anchors;
pub mod apply;
pub mod clock;
pub mod driver;
pub mod edge;
pub mod operator;
pub mod world;

pub use crate::scenario::model::Stepping;
pub use driver::run;

/// A run that could not complete.
#[derive(Debug)]
pub struct SimError(pub(crate) String);

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// Progress callback: simulated ms so far, total ms.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);
