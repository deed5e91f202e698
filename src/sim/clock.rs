//! Simulated time: the service's clock inside turmoil, and the instant tracing stamps.

use std::cell::Cell;

use crate::time::Millis;
use crate::wire::Clock;

pub use crate::trace::EPOCH_MS;

thread_local! {
    /// The simulated time the driver last stepped to, for code outside any host (and
    /// tracing). Per thread: a simulation runs on one thread, and parallel runs (tests, chaos
    /// workers) must not see each other's time.
    static DRIVER_NOW_MS: Cell<Millis> = const { Cell::new(EPOCH_MS) };
}

/// Records the driver's simulated time.
pub fn set_driver_now(at: Millis) {
    DRIVER_NOW_MS.with(|now| now.set(at));
}

/// The current simulated instant: the running host's view inside turmoil, else the driver's.
pub fn sim_now() -> Millis {
    match turmoil::sim_elapsed() {
        Some(elapsed) => EPOCH_MS + elapsed.as_millis() as u64,
        None => DRIVER_NOW_MS.with(Cell::get),
    }
}

/// The service's clock inside the simulation.
#[derive(Clone, Debug, Default)]
pub struct SimClock;

impl Clock for SimClock {
    fn now(&self) -> Millis {
        sim_now()
    }
}
