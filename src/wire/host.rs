//! The service host: the core behind a lock, held polls waiting on channels, and the task that
//! applies deadlines as they fall due.
//!
//! This is the only place the core meets async code. Every core call goes through
//! [`Host::with_core`], which afterwards delivers the answers owed to held polls, so an answer
//! can never be produced without reaching the poll that waits for it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use crate::journal::Event;
use crate::protocol::output::PollForTaskOutput;
use crate::protocol::{ErrorCode, Operation, Request, Response, ServiceError};
use crate::service::{Effect, Outcome, Service, Settings};
use crate::time::Millis;

use super::clock::Clock;
use super::limits::RateLimiter;
use super::request_id::RequestIds;
use super::sigv4::Credentials;

struct HostState {
    core: Service,
    waiting: BTreeMap<u64, oneshot::Sender<(PollForTaskOutput, Millis)>>,
    request_ids: RequestIds,
    journal: Vec<Event>,
    keep_journal: bool,
    limiter: Option<RateLimiter>,
    /// The deadline the deadline task sleeps until (`Millis::MAX`: none), so calls wake it
    /// only when they set an earlier one.
    sleeping_until: Millis,
    /// The last `Date` header and the second it was made for; it changes once a second.
    date: (u64, String),
    /// Journal events forgotten to stay within the limit.
    journal_dropped: u64,
}

struct Inner {
    state: Mutex<HostState>,
    clock: Arc<dyn Clock>,
    deadlines_changed: Notify,
    /// Bumped whenever the clock jumps, so waits on a manual clock look again.
    clock_moved: watch::Sender<u64>,
    credentials: Option<Credentials>,
    journal_limit: usize,
}

/// A shareable handle on one running service.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

/// How to build a [`Host`].
#[derive(Clone, Debug, Default)]
pub struct HostConfig {
    /// The service's rules.
    pub settings: Settings,
    /// When set, every AWS call must carry a valid SigV4 signature for these credentials.
    pub credentials: Option<Credentials>,
    /// Keep the journal for [`Host::take_journal`] (the simulator does; `serve` only logs it).
    pub keep_journal: bool,
    /// Throttle calls above AWS's documented per-account rates.
    pub rate_limits: bool,
    /// Most journal events kept (the oldest are forgotten first); none means no bound.
    pub journal_limit: Option<usize>,
}

/// Gives up a held poll if the request future is dropped before its answer arrives.
struct AbandonOnDrop<'a> {
    host: &'a Host,
    poll: u64,
    answered: bool,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.host.abandon(self.poll);
        }
    }
}

impl Host {
    /// A host whose service starts at the clock's current instant.
    pub fn new(config: HostConfig, clock: Arc<dyn Clock>) -> Host {
        let now = clock.now();
        let seed = config.settings.seed;
        Host {
            inner: Arc::new(Inner {
                state: Mutex::new(HostState {
                    core: Service::new(config.settings, now),
                    waiting: BTreeMap::new(),
                    request_ids: RequestIds::new(seed),
                    journal: Vec::new(),
                    keep_journal: config.keep_journal,
                    limiter: config.rate_limits.then(RateLimiter::default),
                    sleeping_until: Millis::MAX,
                    date: (u64::MAX, String::new()),
                    journal_dropped: 0,
                }),
                clock,
                deadlines_changed: Notify::new(),
                clock_moved: watch::Sender::new(0),
                credentials: config.credentials,
                journal_limit: config.journal_limit.unwrap_or(usize::MAX).max(1),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HostState> {
        // A panic while holding the lock already failed the run; keep serving what we can.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The service's current instant.
    pub fn now(&self) -> Millis {
        self.inner.clock.now()
    }

    /// The clock the host reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Credentials signatures are checked against, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner.credentials.as_ref()
    }

    /// The `Date` header: the clients' clock ([`Clock::signing_now`]), from which an SDK that
    /// corrects clock skew learns how to sign.
    pub fn http_date(&self) -> String {
        let now = self
            .clock()
            .signing_now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let second = now / crate::time::SECOND_MS;
        let mut state = self.lock();
        if state.date.0 != second {
            state.date = (second, crate::time::format_http_date(now));
        }
        state.date.1.clone()
    }

    /// The next `x-amzn-RequestId`.
    pub fn next_request_id(&self) -> String {
        self.lock().request_ids.next_id()
    }

    /// Runs `f` on the core, then delivers held-poll answers and collects the journal.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Service) -> R) -> R {
        let mut state = self.lock();
        let result = f(&mut state.core);
        self.flush(&mut state);
        self.wake_if_earlier(&state);
        result
    }

    /// Wakes the deadline task when the core now has a deadline before the one it sleeps on.
    fn wake_if_earlier(&self, state: &HostState) {
        if state.core.next_deadline().is_some_and(|at| at < state.sleeping_until) {
            self.inner.deadlines_changed.notify_one();
        }
    }

    fn flush(&self, state: &mut HostState) {
        for effect in state.core.take_effects() {
            match effect {
                Effect::PollAnswered { poll, output, at } => {
                    if let Some(tx) = state.waiting.remove(&poll) {
                        // A receiver dropped at this point is a client gone mid-answer: like a
                        // lost response, the ack deadline takes care of the task.
                        let _ = tx.send((output, at));
                    }
                }
            }
        }
        let events = state.core.take_journal();
        for e in &events {
            tracing::debug!(target: "dpsim::journal", at = e.at, kind = e.kind.name(), object = ?e.object_id, task = ?e.task, runner = ?e.runner, cause = %e.cause);
        }
        if state.keep_journal {
            state.journal.extend(events);
            let limit = self.inner.journal_limit;
            if state.journal.len() > limit {
                // Forget the oldest half at once, so trimming costs O(1) per event.
                let excess = state.journal.len() - limit / 2;
                state.journal.drain(..excess);
                state.journal_dropped += excess as u64;
            }
        }
    }

    /// The error the front door answers `op` with instead of calling the service, if any:
    /// throttling when rate limits are on. (Injected errors are message faults, at the edge.)
    pub fn admission(&self, op: Operation) -> Result<(), ServiceError> {
        let now = self.now();
        let mut state = self.lock();
        let admitted = state.limiter.as_mut().is_none_or(|limiter| limiter.admit(op, now));
        if admitted { Ok(()) } else { Err(ServiceError::new(ErrorCode::ThrottlingException, "Rate exceeded")) }
    }

    /// Handles a validated request, waiting for the answer of a held poll.
    pub async fn call(&self, request: Request) -> Result<Response, ServiceError> {
        self.call_timed(request).await.0
    }

    /// Like [`Host::call`], and also the service's clock when it decided the answer: a held
    /// poll is answered by a later event, and under a manual clock that moment may lie before
    /// the instant the caller resumes.
    pub async fn call_timed(&self, request: Request) -> (Result<Response, ServiceError>, Millis) {
        let now = self.now();
        let (outcome, rx) = {
            let mut state = self.lock();
            let outcome = state.core.handle(now, request);
            // Register before the lock is released, so the answer cannot be produced unseen.
            let rx = match &outcome {
                Ok(Outcome::PollHeld(poll)) => {
                    let (tx, rx) = oneshot::channel();
                    state.waiting.insert(*poll, tx);
                    Some(rx)
                }
                _ => None,
            };
            self.flush(&mut state);
            self.wake_if_earlier(&state);
            (outcome, rx)
        };
        match outcome {
            Err(e) => (Err(e), now),
            Ok(Outcome::Done(response)) => (Ok(response), now),
            Ok(Outcome::PollHeld(poll)) => {
                let mut guard = AbandonOnDrop { host: self, poll, answered: false };
                let rx = rx.expect("registered above");
                let (output, at) = rx.await.unwrap_or_else(|_| (PollForTaskOutput::default(), self.now()));
                guard.answered = true;
                (Ok(Response::PollForTask(output)), at)
            }
        }
    }

    fn abandon(&self, poll: u64) {
        let now = self.now();
        let mut state = self.lock();
        if state.waiting.remove(&poll).is_some() {
            state.core.abandon_poll(now, poll);
            self.flush(&mut state);
        }
    }

    /// Tells the host its clock jumped: applies every deadline that fell due, in order, wakes
    /// the deadline task and every wait on the clock.
    pub fn clock_changed(&self) {
        let now = self.now();
        self.with_core(|core| core.advance(now));
        self.inner.deadlines_changed.notify_one();
        self.inner.clock_moved.send_modify(|n| *n += 1);
    }

    /// Waits until the service's clock reads `at`: simulated or wall time passing, or a manual
    /// clock being moved there.
    pub async fn sleep_until(&self, at: Millis) {
        if self.inner.clock.is_manual() {
            let mut moved = self.inner.clock_moved.subscribe();
            let _ = moved.wait_for(|_| self.now() >= at).await;
            return;
        }
        loop {
            let now = self.now();
            if now >= at {
                return;
            }
            crate::timers::sleep(Duration::from_millis(at - now)).await;
        }
    }

    /// Takes the journal kept since the last call.
    pub fn take_journal(&self) -> Vec<Event> {
        std::mem::take(&mut self.lock().journal)
    }

    /// How many events the journal keeps now (without copying them).
    pub fn journal_len(&self) -> usize {
        self.lock().journal.len()
    }

    /// A copy of the journal kept, and how many older events were forgotten.
    pub fn journal_snapshot(&self) -> (Vec<Event>, u64) {
        let state = self.lock();
        (state.journal.clone(), state.journal_dropped)
    }

    /// Applies deadlines as they fall due, forever. Spawn it beside the server.
    pub async fn run_deadlines(self) {
        loop {
            let wait_ms = {
                let mut state = self.lock();
                let next = state.core.next_deadline();
                state.sleeping_until = next.unwrap_or(Millis::MAX);
                next.map(|at| at.saturating_sub(self.now()))
            };
            let changed = self.inner.deadlines_changed.notified();
            // A manual clock moves only through clock_changed, which applies deadlines itself.
            let wait_ms = if self.inner.clock.is_manual() { None } else { wait_ms };
            match wait_ms {
                Some(0) => {}
                Some(ms) => {
                    tokio::select! {
                        biased;
                        _ = changed => {}
                        _ = crate::timers::sleep(Duration::from_millis(ms)) => {}
                    }
                }
                None => changed.await,
            }
            // Not through with_core: the driver must not wake itself.
            let now = self.now();
            let mut state = self.lock();
            state.core.advance(now);
            self.flush(&mut state);
        }
    }
}
