//! Message faults: one fault path for the simulation's edge and `serve`. A fault is a
//! scenario's `do` object of kind `message`; the table matches it against each call (by
//! operation, runner, task, occurrence, count, probability) and the edge applies its effect.
//!
//! - [`table`]: the faults in force, with ids and counters.
//! - [`edge`]: the edge itself: match, apply, call the service, record the call.

pub mod edge;
pub mod table;

pub use edge::{EdgeCtx, Fate, describe_fault, handle_call};
pub use table::FaultTable;
