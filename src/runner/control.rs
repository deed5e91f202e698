//! The levers the simulation pulls on one runner process: pause, crash, slow work. The driver
//! sets them at exact simulated instants; the runner's environment and supervisor read them.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::time::Millis;

/// Levers on one runner, shared between the driver and the runner's host.
#[derive(Debug)]
pub struct RunnerControl {
    paused: watch::Sender<bool>,
    /// Crashed or not, and how many times a running process was restarted (killed and started
    /// afresh), so a restart is seen even when it never looks down.
    down: watch::Sender<(bool, u64)>,
    /// Set while the supervisor drops the program's future, so work guards stay silent.
    killing: std::sync::atomic::AtomicBool,
    state: Mutex<ControlState>,
}

#[derive(Debug)]
struct ControlState {
    work_factor: f64,
    /// Simulated time spent paused before the current pause, in ms.
    paused_total_ms: u64,
    /// When the current pause began, if paused.
    paused_since: Option<Millis>,
}

impl RunnerControl {
    /// A running, unpaused runner whose work takes `work_factor` times its declared time.
    pub fn new(work_factor: f64) -> Arc<RunnerControl> {
        Arc::new(RunnerControl {
            paused: watch::Sender::new(false),
            down: watch::Sender::new((false, 0)),
            killing: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(ControlState { work_factor, paused_total_ms: 0, paused_since: None }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Freezes the runner at `now` (a GC pause, a frozen VM).
    pub fn pause(&self, now: Millis) {
        let mut s = self.state();
        if s.paused_since.is_none() {
            s.paused_since = Some(now);
        }
        drop(s);
        self.paused.send_replace(true);
    }

    /// Unfreezes the runner at `now`.
    pub fn resume(&self, now: Millis) {
        let mut s = self.state();
        if let Some(since) = s.paused_since.take() {
            s.paused_total_ms += now.saturating_sub(since);
        }
        drop(s);
        self.paused.send_replace(false);
    }

    /// A receiver that follows the pause lever.
    pub fn paused_rx(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    /// The runner's own clock: simulated time minus the time it spent frozen. Sleeps count on
    /// it, so a frozen VM's timers do not run.
    pub fn running_ms(&self, now: Millis) -> Millis {
        let s = self.state();
        let frozen = s.paused_total_ms + s.paused_since.map_or(0, |since| now.saturating_sub(since));
        now.saturating_sub(frozen)
    }

    /// Crashes the runner process (it stays down until restarted).
    pub fn crash(&self) {
        self.down.send_modify(|(down, _)| *down = true);
    }

    /// Starts the runner process again: a crashed one comes back; a running one is killed and
    /// started afresh. True when it was running.
    pub fn restart(&self) -> bool {
        let mut was_running = false;
        self.down.send_modify(|(down, restarts)| {
            was_running = !*down;
            if was_running {
                *restarts += 1;
            }
            *down = false;
        });
        was_running
    }

    /// Whether the process is crashed, or being killed.
    pub fn is_down(&self) -> bool {
        self.down.borrow().0 || self.killing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Marks the moment the supervisor drops the program's future.
    pub(crate) fn set_killing(&self, killing: bool) {
        self.killing.store(killing, std::sync::atomic::Ordering::SeqCst);
    }

    /// A receiver that follows the crash lever: (down, restarts of a running process).
    pub fn down_rx(&self) -> watch::Receiver<(bool, u64)> {
        self.down.subscribe()
    }

    /// The multiplier of work times (`slow_work`).
    pub fn work_factor(&self) -> f64 {
        self.state().work_factor
    }

    /// Changes the multiplier of work times from now on.
    pub fn set_work_factor(&self, factor: f64) {
        self.state().work_factor = factor;
    }
}

/// Runs `fut` only while the runner is not paused: a frozen process makes no progress at all.
pub async fn gated<F: std::future::Future>(fut: F, mut paused: watch::Receiver<bool>) -> F::Output {
    tokio::pin!(fut);
    loop {
        let _ = paused.wait_for(|p| !*p).await;
        tokio::select! {
            biased;
            _ = paused.wait_for(|p| *p) => continue,
            out = &mut fut => return out,
        }
    }
}
