//! Simulated time: the service's clock inside turmoil, and the instant tracing stamps.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::time::Millis;
use crate::wire::Clock;

/// The pinned epoch every simulation starts at: 2026-01-01T00:00:00Z.
pub const EPOCH_MS: Millis = 1_767_225_600_000;

/// The simulated time the driver last stepped to, for code outside any host (and tracing).
static DRIVER_NOW_MS: AtomicU64 = AtomicU64::new(EPOCH_MS);

/// Records the driver's simulated time.
pub fn set_driver_now(at: Millis) {
    DRIVER_NOW_MS.store(at, Ordering::Relaxed);
}

/// The current simulated instant: the running host's view inside turmoil, else the driver's.
pub fn sim_now() -> Millis {
    match turmoil::sim_elapsed() {
        Some(elapsed) => EPOCH_MS + elapsed.as_millis() as u64,
        None => DRIVER_NOW_MS.load(Ordering::Relaxed),
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
