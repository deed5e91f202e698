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

    /// The instant SigV4 request times are compared with. Clients sign with their own clocks,
    /// so a simulated service clock must not make every signature look expired.
    fn signing_now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now())
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

    /// Sets the clock (never backwards).
    pub fn set(&self, at: Millis) {
        self.0.fetch_max(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
