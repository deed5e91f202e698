//! The virtual Task Runner: heartbeat, long-poll, acknowledge, report progress, work, set
//! status, honour `canceled`; with the misbehaviours real runners have.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

use hyper::body::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use tokio::sync::watch;

use crate::protocol::Operation;
use crate::scenario::model::RunnerSpec;

use super::client::{ApiClient, CallError, body};
use super::record::{Recorder, SimEventKind};

/// Default work time of an activity without `myWorkTime`.
pub const DEFAULT_WORK_MS: u64 = 60_000;
/// Calls are tried this many times on transient errors, like the AWS SDKs' standard mode.
pub const MAX_ATTEMPTS: u32 = 3;

/// Levers the driver pulls on one runner.
#[derive(Debug)]
pub struct RunnerControl {
    /// Frozen (no heartbeats, reports, polls or work) while true.
    pub paused: watch::Sender<bool>,
    /// Crashed (not running) while true.
    pub down: watch::Sender<bool>,
    /// Multiplier of work times.
    pub work_factor: Mutex<f64>,
}

impl RunnerControl {
    /// A running, unpaused runner.
    pub fn new(work_factor: f64) -> Arc<RunnerControl> {
        Arc::new(RunnerControl {
            paused: watch::Sender::new(false),
            down: watch::Sender::new(false),
            work_factor: Mutex::new(work_factor),
        })
    }
}

/// Everything one runner needs.
#[derive(Clone)]
pub struct RunnerCtx {
    /// Hostname and taskrunnerId.
    pub name: String,
    /// Its settings.
    pub spec: RunnerSpec,
    /// Service poll hold time, to size the poll timeout.
    pub poll_hold_ms: u64,
    /// Its levers.
    pub control: Arc<RunnerControl>,
    /// Where it records what it believes.
    pub recorder: Recorder,
    /// Seed of its own random choices (backoff jitter).
    pub seed: u64,
}

/// Why a runner process ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Told to terminate.
    Terminated,
    /// Crashed by its own `crash_after` behaviour.
    Crashed,
}

/// Waits while the runner is paused; every step of a runner goes through here.
async fn unpaused(paused: &mut watch::Receiver<bool>) {
    let _ = paused.wait_for(|p| !*p).await;
}

/// Sleeps `ms` of the runner's own (unpaused) time: a frozen VM's timers do not run.
async fn sleep_running(paused: &mut watch::Receiver<bool>, ms: u64) {
    let mut left = Duration::from_millis(ms);
    loop {
        unpaused(paused).await;
        let start = tokio::time::Instant::now();
        tokio::select! {
            biased;
            _ = paused.wait_for(|p| *p) => {
                left = left.saturating_sub(start.elapsed());
            }
            _ = tokio::time::sleep(left) => return,
        }
    }
}

struct Runner {
    ctx: RunnerCtx,
    client: ApiClient,
    paused: watch::Receiver<bool>,
    rng: ChaCha8Rng,
    backoff_ms: u64,
}

/// A PollForTask answer, decoded only as far as a runner needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollAnswer {
    task_object: Option<Handout>,
}

/// A handed-out task: its id, attempt, and the objects left undecoded until needed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Handout {
    task_id: String,
    attempt_id: String,
    objects: BTreeMap<String, Box<RawValue>>,
}

/// The fields of one object, as much as a runner reads.
#[derive(Deserialize)]
struct ObjectFields {
    fields: Vec<KeyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyValue {
    key: String,
    string_value: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PollBody<'a> {
    worker_group: &'a str,
    hostname: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeartbeatBody<'a> {
    taskrunner_id: &'a str,
    worker_group: &'a str,
    hostname: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldBody {
    key: &'static str,
    string_value: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportBody<'a> {
    task_id: &'a str,
    fields: [FieldBody; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    task_id: &'a str,
    task_status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

#[derive(Deserialize)]
struct Canceled {
    canceled: bool,
}

#[derive(Deserialize)]
struct Terminate {
    terminate: bool,
}

/// What a progress report told the runner.
enum Heard {
    KeepGoing,
    Lost(String),
}

impl Runner {
    fn record(&self, kind: SimEventKind) {
        self.ctx.recorder.record(Some(&self.ctx.name), kind);
    }

    async fn backoff(&mut self) {
        let spec = &self.ctx.spec;
        let jitter = self.rng.random_range(0..=self.backoff_ms / 2);
        let wait = self.backoff_ms + jitter;
        self.backoff_ms = (self.backoff_ms * 2).min(spec.backoff_max.ms());
        sleep_running(&mut self.paused, wait).await;
    }

    /// One call with SDK-style retries of transient errors.
    async fn call<T: DeserializeOwned>(&mut self, op: Operation, body: Bytes, timeout_ms: u64) -> Result<T, CallError> {
        let mut attempt = 1;
        loop {
            unpaused(&mut self.paused).await;
            let result = self.client.call(op, body.clone(), Duration::from_millis(timeout_ms)).await;
            unpaused(&mut self.paused).await;
            match result {
                Ok(v) => {
                    self.backoff_ms = self.ctx.spec.backoff.ms();
                    return Ok(v);
                }
                Err(e) => {
                    self.record(SimEventKind::CallFailed { operation: op.to_string(), error: e.describe() });
                    if !e.is_transient() || attempt >= MAX_ATTEMPTS {
                        return Err(e);
                    }
                    attempt += 1;
                    self.backoff().await;
                }
            }
        }
    }

    async fn heartbeat_loop(mut self) -> Exit {
        let interval = self.ctx.spec.heartbeat_interval.ms();
        loop {
            let body = body(&HeartbeatBody {
                taskrunner_id: &self.ctx.name,
                worker_group: &self.ctx.spec.worker_group,
                hostname: &self.ctx.name,
            });
            let timeout = self.ctx.spec.request_timeout.ms();
            if let Ok(Terminate { terminate: true }) =
                self.call(Operation::ReportTaskRunnerHeartbeat, body, timeout).await
            {
                self.record(SimEventKind::Terminated);
                return Exit::Terminated;
            }
            sleep_running(&mut self.paused, interval).await;
        }
    }

    async fn work_loop(mut self) -> Exit {
        loop {
            let body = body(&PollBody { worker_group: &self.ctx.spec.worker_group, hostname: &self.ctx.name });
            let timeout = self.ctx.poll_hold_ms + self.ctx.spec.request_timeout.ms();
            let task = match self.call::<PollAnswer>(Operation::PollForTask, body, timeout).await {
                Ok(answer) => answer.task_object,
                Err(_) => {
                    self.backoff().await;
                    continue;
                }
            };
            let Some(task) = task else { continue };
            if let Some(exit) = self.work_on(&task).await {
                return exit;
            }
        }
    }

    fn work_time(&self, task: &Handout) -> u64 {
        let fields = task
            .objects
            .get(&task.attempt_id)
            .and_then(|raw| serde_json::from_str::<ObjectFields>(raw.get()).ok())
            .map(|o| o.fields)
            .unwrap_or_default();
        let declared = fields
            .iter()
            .find(|f| f.key == "myWorkTime")
            .and_then(|f| f.string_value.as_deref())
            .and_then(|t| crate::scenario::duration::parse_duration(t).ok())
            .unwrap_or(DEFAULT_WORK_MS);
        let factor = *self.ctx.control.work_factor.lock().unwrap_or_else(|p| p.into_inner());
        (declared as f64 * factor).round() as u64
    }

    async fn report(&mut self, task_id: &str) -> Heard {
        let timeout = self.ctx.spec.request_timeout.ms();
        let body = body(&ReportBody { task_id, fields: [FieldBody { key: "percentComplete", string_value: "50" }] });
        match self.call::<Canceled>(Operation::ReportTaskProgress, body, timeout).await {
            Ok(Canceled { canceled: true }) => Heard::Lost("canceled=true".into()),
            Ok(_) => Heard::KeepGoing,
            Err(CallError::Aws { code, .. })
                if code == "TaskNotFoundException" || code == "PipelineDeletedException" =>
            {
                Heard::Lost(code)
            }
            // An unanswered report is not news: keep working, report again next interval.
            Err(_) => Heard::KeepGoing,
        }
    }

    /// Works on one task; Some(exit) when the runner process ends.
    async fn work_on(&mut self, task: &Handout) -> Option<Exit> {
        let task_id = task.task_id.clone();
        let seq = task_seq(&task_id);
        let attempt_id = task.attempt_id.clone();
        let work_ms = self.work_time(task);
        self.record(SimEventKind::StartsWork { task: seq, attempt_id, work_ms });
        let behaviour = self.ctx.spec.behaviour.clone();
        let mut lost = false;
        let heard = |this: &mut Self, h: Heard, lost: &mut bool| -> bool {
            if let Heard::Lost(how) = h {
                if !*lost {
                    this.record(SimEventKind::LearnsLost { task: seq, how: how.clone() });
                    *lost = true;
                }
                let keep =
                    if how == "canceled=true" { behaviour.ignore_canceled } else { behaviour.keep_working_after_loss };
                return !keep;
            }
            false
        };
        if !behaviour.never_ack {
            let h = self.report(&task_id).await;
            if heard(self, h, &mut lost) {
                self.record(SimEventKind::StopsWork { task: seq, reason: "lost the task".into() });
                return None;
            }
        }
        let mut left = work_ms;
        let mut since_start = 0;
        let interval = self.ctx.spec.report_interval.ms();
        while left > 0 {
            let mut step = left.min(interval);
            if let Some(crash) = behaviour.crash_after
                && since_start + step >= crash.ms()
            {
                step = crash.ms().saturating_sub(since_start);
                sleep_running(&mut self.paused, step).await;
                self.record(SimEventKind::StopsWork { task: seq, reason: "crashed".into() });
                return Some(Exit::Crashed);
            }
            sleep_running(&mut self.paused, step).await;
            left -= step;
            since_start += step;
            if left > 0 && !behaviour.never_ack {
                let h = self.report(&task_id).await;
                if heard(self, h, &mut lost) {
                    self.record(SimEventKind::StopsWork { task: seq, reason: "lost the task".into() });
                    return None;
                }
            }
        }
        let status = if behaviour.fail_tasks { "FAILED" } else { "FINISHED" };
        let failing = behaviour.fail_tasks;
        let body = body(&StatusBody {
            task_id: &task_id,
            task_status: status,
            error_id: failing.then_some("SimulatedFailure"),
            error_message: failing.then_some("the scenario makes this runner fail its tasks"),
        });
        let timeout = self.ctx.spec.request_timeout.ms();
        let reason = match self.call::<IgnoredAny>(Operation::SetTaskStatus, body, timeout).await {
            Ok(_) => format!("set {status}"),
            Err(e @ CallError::Aws { .. }) => {
                if !lost {
                    self.record(SimEventKind::LearnsLost { task: seq, how: e.describe() });
                }
                format!("set {status} rejected: {}", e.describe())
            }
            Err(e) => format!("set {status} not delivered: {}", e.describe()),
        };
        self.record(SimEventKind::StopsWork { task: seq, reason });
        None
    }
}

/// The lease number inside a taskId (`<seq>.<mac>`); 0 if it has another shape.
pub fn task_seq(task_id: &str) -> u64 {
    task_id.split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Runs one runner process until it is terminated or crashes.
pub async fn run(ctx: RunnerCtx) -> Exit {
    let start = ctx.spec.start_at.ms();
    let mut paused = ctx.control.paused.subscribe();
    if start > 0 {
        sleep_running(&mut paused, start.saturating_sub(crate::sim::clock::sim_now() - super::clock::EPOCH_MS)).await;
    }
    let make = |salt: u64, client: ApiClient| Runner {
        rng: ChaCha8Rng::seed_from_u64(ctx.seed ^ salt),
        client,
        paused: ctx.control.paused.subscribe(),
        backoff_ms: ctx.spec.backoff.ms(),
        ctx: ctx.clone(),
    };
    let heartbeat = make(0x6865_6172_7462_6561, ApiClient::one_shot()).heartbeat_loop();
    let work = make(0x776f_726b, ApiClient::new()).work_loop();
    tokio::select! {
        biased;
        exit = heartbeat => exit,
        exit = work => exit,
    }
}

/// Keeps a runner process alive across crashes and restarts, as its machine's init would.
pub async fn supervise(ctx: RunnerCtx) {
    let mut down = ctx.control.down.subscribe();
    loop {
        let _ = down.wait_for(|d| !*d).await;
        let exit = tokio::select! {
            biased;
            _ = down.wait_for(|d| *d) => {
                ctx.recorder.record(Some(&ctx.name), SimEventKind::Crashed);
                continue;
            }
            exit = run(ctx.clone()) => exit,
        };
        match exit {
            Exit::Terminated => return,
            Exit::Crashed => {
                ctx.recorder.record(Some(&ctx.name), SimEventKind::Crashed);
                let wait = ctx.spec.behaviour.restart_after.map_or(60_000, |d| d.ms());
                tokio::time::sleep(Duration::from_millis(wait)).await;
                ctx.recorder.record(Some(&ctx.name), SimEventKind::Restarted);
            }
        }
    }
}
