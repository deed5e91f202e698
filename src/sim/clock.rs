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
    /// The instants a host may read while the driver runs the current step: its start to its
    /// end (both the driver's instant between steps, when events apply).
    static STEP_MS: Cell<(Millis, Millis)> = const { Cell::new((EPOCH_MS, EPOCH_MS)) };
    /// The first reading of a host's clock outside the step being run, if any.
    static STRAY: Cell<Option<StrayReading>> = const { Cell::new(None) };
}

/// A host read the simulated clock outside the step the driver was running: the world's
/// clocks disagree, and every timestamp after it is suspect. This is a defect of the
/// harness, never of the protocol under test, and a run that had one fails as an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrayReading {
    /// What the host's clock said.
    pub read: Millis,
    /// The step being run: its start and end.
    pub step: (Millis, Millis),
}

impl std::fmt::Display for StrayReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rel = |ms: Millis| ms.saturating_sub(EPOCH_MS);
        write!(
            f,
            "harness defect: a host read the simulated clock as +{} ms while the driver ran the step \
             +{}..+{} ms (the clocks of the simulated world disagree)",
            rel(self.read),
            rel(self.step.0),
            rel(self.step.1)
        )
    }
}

/// Starts a run on this thread: the driver's time is the epoch, and no stray reading is known.
pub fn begin_run() {
    set_driver_now(EPOCH_MS);
    STRAY.with(|s| s.set(None));
}

/// Records the driver's simulated time, between steps: a host's clock read now (a crash's
/// teardown, a bounce) must say exactly this.
pub fn set_driver_now(at: Millis) {
    DRIVER_NOW_MS.with(|now| now.set(at));
    STEP_MS.with(|step| step.set((at, at)));
}

/// Records the step the driver is about to run: hosts read instants from `from` to `to`.
pub fn set_step(from: Millis, to: Millis) {
    STEP_MS.with(|step| step.set((from, to)));
}

/// The first stray reading of this run, if any (see [`StrayReading`]).
pub fn stray_reading() -> Option<StrayReading> {
    STRAY.with(Cell::get)
}

/// The current simulated instant: the running host's view inside turmoil, else the driver's.
/// A host's view outside the step being run is recorded as a [`StrayReading`].
pub fn sim_now() -> Millis {
    match turmoil::sim_elapsed() {
        Some(elapsed) => {
            let read = EPOCH_MS + elapsed.as_millis() as u64;
            let step = STEP_MS.with(Cell::get);
            if !(step.0..=step.1).contains(&read) {
                STRAY.with(|s| {
                    if s.get().is_none() {
                        s.set(Some(StrayReading { read, step }));
                    }
                });
            }
            read
        }
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
