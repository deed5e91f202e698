//! Ownership facts of a run, from its plain-data trace: leases, work intervals, zombie work,
//! and the ownership log's lines. Checks and reports both read them; neither imports the other
//! for it.
//!
//! - [`analysis`]: leases, work, zombie work and frozen belief.
//! - [`log`]: the ownership log, one line per transition.

pub mod analysis;
pub mod log;
