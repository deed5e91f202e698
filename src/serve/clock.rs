//! `serve`'s clocks: the machine's time plus an offset that only grows (`--clock wall`), or a
//! still clock that moves only when a test moves it (`--clock manual`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use crate::time::Millis;
use crate::wire::{Clock, ManualClock};

/// Real time since start, plus an offset that only grows.
#[derive(Debug)]
pub struct OffsetClock {
    started_at: Millis,
    started: Instant,
    offset_ms: AtomicU64,
}

impl OffsetClock {
    /// A clock that reads the machine's time now.
    pub fn start() -> OffsetClock {
        let started_at = crate::wire::clock::machine_ms();
        OffsetClock { started_at, started: Instant::now(), offset_ms: AtomicU64::new(0) }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Millis {
        self.started_at + self.started.elapsed().as_millis() as u64 + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// The clock `serve` runs on.
#[derive(Debug)]
pub enum ServeClock {
    /// The machine's time plus an offset.
    Wall(OffsetClock),
    /// Still until moved.
    Manual(ManualClock),
}

impl ServeClock {
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        match self {
            ServeClock::Wall(c) => {
                c.offset_ms.fetch_add(ms, Ordering::SeqCst);
            }
            ServeClock::Manual(c) => c.advance(ms),
        }
    }

    /// Moves the clock forward to `at` (never backwards).
    pub fn advance_to(&self, at: Millis) {
        let now = self.now();
        self.advance(at.saturating_sub(now));
    }
}

impl Clock for ServeClock {
    fn now(&self) -> Millis {
        match self {
            ServeClock::Wall(c) => c.now(),
            ServeClock::Manual(c) => c.now(),
        }
    }

    fn is_manual(&self) -> bool {
        matches!(self, ServeClock::Manual(_))
    }

    /// The machine's time: the clients sign with it whatever the service's clock reads (see
    /// [`Clock::signing_now`]).
    fn signing_now(&self) -> SystemTime {
        SystemTime::now()
    }
}
