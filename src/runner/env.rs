//! What a runner program gets from the simulation: its identity, a client, simulated time and
//! sleeps, a seeded random generator, and the belief hooks that feed the ownership log.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::model::RunnerSpec;
use crate::sim::clock::sim_now;
use crate::time::Millis;
use crate::trace::Recorder;
use crate::trace::{EPOCH_MS, ObservationKind, task_seq};

use super::client::ApiClient;
use super::control::{RunnerControl, gated};

/// Everything one runner program needs, handed to it each time its process starts.
///
/// Cloning is cheap; clones share the runner's identity, levers and recorder.
#[derive(Clone)]
pub struct RunnerEnv {
    pub(crate) inner: Arc<EnvInner>,
}

pub(crate) struct EnvInner {
    pub(crate) name: String,
    pub(crate) spec: RunnerSpec,
    pub(crate) poll_hold_ms: u64,
    pub(crate) seed: u64,
    pub(crate) control: Arc<RunnerControl>,
    pub(crate) recorder: Recorder,
    /// Set for dpsim's runner on a real network: its endpoint, wall clock and event sink.
    pub(crate) network: Option<super::network::Network>,
}

impl std::fmt::Debug for RunnerEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerEnv").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl RunnerEnv {
    /// The runner's name: a fleet's runners are `<name>-1`, `<name>-2`, ...
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The hostname to give in PollForTask and heartbeats (the runner's name: ownership is
    /// logged by it).
    pub fn hostname(&self) -> &str {
        &self.inner.name
    }

    /// The worker group the scenario gives this runner.
    pub fn worker_group(&self) -> &str {
        &self.inner.spec.worker_group
    }

    /// The scenario's entry for this runner (intervals and timeouts a program may follow).
    pub(crate) fn spec(&self) -> &RunnerSpec {
        &self.inner.spec
    }

    /// How long the service holds a PollForTask with nothing ready.
    pub fn poll_hold(&self) -> Duration {
        Duration::from_millis(self.inner.poll_hold_ms)
    }

    /// A lean AWS JSON 1.1 client of the virtual service (what dpsim's own runner uses).
    pub(crate) fn api_client(&self) -> ApiClient {
        ApiClient::for_runner(&self.inner.name).at_endpoint(self.inner.network.as_ref().map(|n| n.endpoint.clone()))
    }

    /// A generator seeded from the scenario seed and this runner; `salt` picks a stream, so
    /// the heartbeat loop and the work loop can draw independently.
    pub fn rng(&self, salt: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.inner.seed ^ salt)
    }

    /// The simulated wall clock (every run starts at 2026-01-01T00:00:00Z).
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_ms())
    }

    /// Simulated time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        let started = self.inner.network.as_ref().map_or(EPOCH_MS, |n| n.started_ms);
        Duration::from_millis(self.now_ms().saturating_sub(started))
    }

    /// The simulated clock; the machine's for a runner on a real network.
    fn now_ms(&self) -> Millis {
        match &self.inner.network {
            None => sim_now(),
            Some(_) => crate::wire::clock::machine_ms(),
        }
    }

    /// Sleeps `duration` of the runner's own time: time it spends paused does not count, as a
    /// frozen VM's timers do not run.
    pub async fn sleep(&self, duration: Duration) {
        let control = &self.inner.control;
        let target = control.running_ms(self.now_ms()) + duration.as_millis() as u64;
        loop {
            let running = control.running_ms(self.now_ms());
            if running >= target {
                return;
            }
            crate::timers::sleep(Duration::from_millis(target - running)).await;
        }
    }

    /// How many times slower than declared its work runs now (`slow_work`; 1.0 by default).
    pub fn work_factor(&self) -> f64 {
        self.inner.control.work_factor()
    }

    /// Spawns a task of this runner process: it freezes while the runner is paused and dies
    /// with the process when the runner or its machine crashes.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        tokio::task::spawn_local(gated(fut, self.inner.control.paused_rx()))
    }

    /// Belief hook: the runner starts working on `task_id`. Until the returned guard is
    /// stopped or dropped, the ownership log counts the runner as working on the task, and
    /// measures zombie work against it. Without hooks, dpsim infers work from the calls it
    /// sees (and says so in the log).
    pub fn working(&self, task_id: &str) -> Working {
        self.start_work(task_id, None)
    }

    /// Like [`RunnerEnv::working`], naming how long the runner expects the work to take.
    pub fn working_for(&self, task_id: &str, expected: Duration) -> Working {
        self.start_work(task_id, Some(expected.as_millis() as u64))
    }

    fn start_work(&self, task_id: &str, work_ms: Option<u64>) -> Working {
        let task = task_seq(task_id);
        let task_id = self.inner.network.as_ref().map(|_| task_id.to_string());
        self.record_about(task_id.as_deref(), ObservationKind::StartsWork { task, work_ms });
        Working { env: self.clone(), task, task_id, learned: false, stopped: false }
    }

    /// Hook: a call failed, without an answer from the service (`transient`: a timeout, a
    /// network error, throttling, a 500) or with an error answer. The SDK client records these
    /// itself.
    pub fn call_failed(&self, operation: &str, error: &str, transient: bool) {
        self.record(ObservationKind::CallFailed {
            transient,
            operation: operation.to_string(),
            error: error.to_string(),
        });
    }

    /// Hook: the runner heard `terminate: true` and is shutting down.
    pub fn terminating(&self) {
        self.record(ObservationKind::Terminated);
    }

    /// Hook: the runner process crashed by itself (a `crash_after` behaviour, a panic it
    /// caught); follow with [`RunnerEnv::restarted`] when it comes back.
    pub fn crashed(&self) {
        self.record(ObservationKind::Crashed);
    }

    /// Hook: the runner process started again after crashing by itself.
    pub fn restarted(&self) {
        self.record(ObservationKind::Restarted);
    }

    pub(crate) fn record(&self, kind: ObservationKind) {
        self.record_about(None, kind);
    }

    /// Records `kind`; on a real network also tells the runner's event sink, naming the
    /// taskId as the endpoint gave it (its lease number is dpsim's own numbering).
    fn record_about(&self, task_id: Option<&str>, kind: ObservationKind) {
        if let Some(network) = &self.inner.network {
            network.tell(&self.inner.name, task_id, &kind);
        }
        self.inner.recorder.record(Some(&self.inner.name), kind);
    }

    pub(crate) fn control(&self) -> &Arc<RunnerControl> {
        &self.inner.control
    }
}

/// A runner's belief that it works on a task; see [`RunnerEnv::working`].
///
/// Stop it with [`Working::stop`] and a reason; dropping it stops it with "stopped" (unless the
/// process is crashing, which the log shows on its own).
#[must_use = "work ends when the guard is dropped"]
pub struct Working {
    env: RunnerEnv,
    task: u64,
    /// The taskId, kept only on a real network (where events name it).
    task_id: Option<String>,
    learned: bool,
    stopped: bool,
}

impl Working {
    /// The lease number (the taskId's sequence).
    pub fn task(&self) -> u64 {
        self.task
    }

    /// Belief hook: the runner learned it no longer owns the task, and how (`canceled=true`,
    /// `TaskNotFoundException`). Recorded once; it may keep working (a zombie) until stopped.
    pub fn lost(&mut self, how: &str) {
        if !self.learned {
            self.learned = true;
            let kind = ObservationKind::LearnsLost { task: self.task, how: how.to_string() };
            self.env.record_about(self.task_id.as_deref(), kind);
        }
    }

    /// Whether [`Working::lost`] was called.
    pub fn has_lost(&self) -> bool {
        self.learned
    }

    /// Belief hook: the runner stops working on the task, and why (`set FINISHED`, `lost the
    /// task`).
    pub fn stop(mut self, reason: &str) {
        self.stopped = true;
        let kind = ObservationKind::StopsWork { task: self.task, reason: reason.to_string() };
        self.env.record_about(self.task_id.as_deref(), kind);
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        if !self.stopped && !self.env.control().is_down() {
            let kind = ObservationKind::StopsWork { task: self.task, reason: "stopped".into() };
            self.env.record_about(self.task_id.as_deref(), kind);
        }
    }
}
