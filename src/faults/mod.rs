//! Message faults: one fault path for the simulation's edge, `serve` and `dpsim proxy`. A fault is a
//! scenario's `do` object of kind `message`; the table matches it against each call (by
//! operation, runner, task, occurrence, count, probability) and the edge applies its effect.
//!
//! - [`backend`]: where the edge delivers calls (the service core, or a real endpoint).
//! - [`table`]: the faults in force, with ids and counters.
//! - [`edge`]: the edge itself: match, apply, call the service, record the call.

pub(crate) mod backend;
pub mod edge;
pub mod table;

pub(crate) use edge::handle_call;
pub use edge::{EdgeCtx, Fate, describe_fault};
pub use table::FaultTable;
