//! `dpsim verify`: every plan of up to k faults over a scenario, exhaustively, for any runner:
//! a bounded proof instead of a random sample.
//!
//! The faults come from the runs themselves ([`Fault`], [`FaultKind`]): each call the service's edge saw can be
//! lost (request or answer), duplicated, or held to a tick either side of its own lease
//! deadline; after each call a runner can crash (for good, or to restart a minute later), freeze
//! or be cut off across its lease's next deadline, and the operator can cancel an open activity.
//! The search ([`verify()`]) tries every plan, smallest first, faults on the calls that support
//! the run's outcome first (lineage-driven fault injection, after Alvaro, Rosen and Hellerstein,
//! SIGMOD 2015), checks every invariant (liveness included) and expectation on each, and
//! prunes only plans that cannot behave differently from one already run. A search can be split
//! over machines ([`Options::shard`]) and put back together ([`merge`](fn@merge)).

pub(crate) mod merge;
pub(crate) mod search;
pub(crate) mod space;
mod stable_hash;

pub use merge::{ShardMergeError, merge};
pub use search::{
    Counterexample, ExpectationFinding, Findings, Level, Options, Pruned, ShardPart, Verification, plan_text, verify,
};
pub use space::{Fault, FaultKind};
