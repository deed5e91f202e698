//! Timers the simulation knows about: tokio timers that also write their deadline, in
//! simulated time, into a per-run register, so that the driver can leap over idle time to
//! the earliest of them.
//!
//! Why a register: tokio, as published, does not tell anyone when a runtime's next timer is
//! due. dpsim's own code (service, edge, operator, built-in runner, SDK sleep and timeouts)
//! sleeps through this module; a timer it does not know about (a user's own
//! `tokio::time::sleep`) is still correct: the leap that passes it is caught as unsound and
//! the run is replayed with fixed ticks (see `sim::driver`). Outside a simulation (in
//! `serve`) these are plain tokio timers. Its own module, below `sim`, `wire` and `runner`,
//! because all three sleep through it and only the driver reads it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Bound;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

thread_local! {
    /// The register of the simulation running on this thread, if any. A run executes on one
    /// thread; parallel runs (tests, chaos workers) each have their own.
    static REGISTER: RefCell<Option<Register>> = const { RefCell::new(None) };
}

/// Deadlines in simulated time since the run's start, with a key that tells timers apart.
struct Register {
    run: u64,
    next_key: u64,
    deadlines: BTreeSet<(Duration, u64)>,
}

/// Keeps the register of one run installed on this thread; removes it when dropped.
pub struct Installed {
    run: u64,
}

impl Drop for Installed {
    fn drop(&mut self) {
        REGISTER.with(|r| {
            let mut r = r.borrow_mut();
            if r.as_ref().is_some_and(|reg| reg.run == self.run) {
                *r = None;
            }
        });
    }
}

/// Installs a fresh register for a run on this thread.
pub fn install() -> Installed {
    thread_local! { static RUNS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }
    let run = RUNS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    REGISTER.with(|r| *r.borrow_mut() = Some(Register { run, next_key: 0, deadlines: BTreeSet::new() }));
    Installed { run }
}

/// The earliest deadline after `now` of a known timer still pending, in simulated time since
/// the run's start. A deadline at or before `now` has fired already: its task was woken (the
/// world knows that) or is not being polled (a paused runner's), and holds nothing up.
pub fn earliest_after(now: Duration) -> Option<Duration> {
    REGISTER.with(|r| {
        let r = r.borrow();
        let reg = r.as_ref()?;
        // Keys are (deadline, key): everything after (now, the largest key) is due after now.
        reg.deadlines.range((Bound::Excluded((now, u64::MAX)), Bound::Unbounded)).next().map(|(at, _)| *at)
    })
}

/// A tokio sleep whose deadline the register knows from its creation until it completes or
/// is dropped.
pub struct Sleep {
    sleep: Pin<Box<tokio::time::Sleep>>,
    entry: Option<(u64, Duration, u64)>,
}

/// Sleeps `duration`, known to the simulation.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Sleeps until `deadline`, known to the simulation.
pub fn sleep_until(deadline: Instant) -> Sleep {
    let entry = REGISTER.with(|r| {
        let mut r = r.borrow_mut();
        let reg = r.as_mut()?;
        // Simulated time of the deadline: the running host's now, plus what is left. Outside
        // a host (no simulated now) the timer is not one the driver waits for.
        let now = turmoil::sim_elapsed()?;
        let at = now + deadline.saturating_duration_since(Instant::now());
        reg.next_key += 1;
        reg.deadlines.insert((at, reg.next_key));
        Some((reg.run, at, reg.next_key))
    });
    Sleep { sleep: Box::pin(tokio::time::sleep_until(deadline)), entry }
}

impl Sleep {
    fn forget(&mut self) {
        if let Some((run, at, key)) = self.entry.take() {
            REGISTER.with(|r| {
                if let Ok(mut r) = r.try_borrow_mut()
                    && let Some(reg) = r.as_mut().filter(|reg| reg.run == run)
                {
                    reg.deadlines.remove(&(at, key));
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ready = self.sleep.as_mut().poll(cx);
        if ready.is_ready() {
            self.forget();
        }
        ready
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.forget();
    }
}

/// A future that did not complete within its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `future` for at most `duration` (a known timer), as `tokio::time::timeout` does: the
/// future is polled first, so one that is ready at the deadline wins.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut limit = sleep(duration);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        Pin::new(&mut limit).poll(cx).map(|()| Err(Elapsed))
    })
    .await
}
