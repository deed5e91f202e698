//! Where the wire layer reads time: the service's clock, and the clock signatures are checked
//! against.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::Millis;

/// A source of the service's current instant.
pub trait Clock: Send + Sync + 'static {
    /// The service's current instant.
    fn now(&self) -> Millis;

    /// The clients' clock: what the `Date` header shows and what SigV4 request times are
    /// judged against. A client signs with its own clock (the machine's, corrected at most by
    /// the skew it learns from `Date`), never with a simulated one, so `serve`'s clocks answer
    /// the machine's time here however far the simulated clock was moved; a signature from an
    /// hour ago is still refused. Inside the simulation the runners' clock is the simulated one,
    /// which is the default.
    fn signing_now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now())
    }

    /// True for a clock that moves only when told to: timed waits then wait for it, not for
    /// the machine's time.
    fn is_manual(&self) -> bool {
        false
    }
}

/// The machine's clock, in milliseconds since the Unix epoch: for the edges that face real
/// time (`serve`'s wall clock, the proxy, dpsim's runner on a network), never the simulation.
pub(crate) fn machine_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The machine's clock as a [`Clock`]: what the proxy and a runner on a network record with.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MachineClock;

impl Clock for MachineClock {
    fn now(&self) -> Millis {
        machine_ms()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: Millis) -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(at)))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }

    fn is_manual(&self) -> bool {
        true
    }
}
