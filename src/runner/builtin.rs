//! dpsim's own virtual Task Runner, as a program on the public runner API like any user's:
//! a heartbeat loop and a work loop (long-poll, acknowledge, report every `report_interval`,
//! work, set the status, honour `canceled`), with the misbehaviours real runners have. Its
//! decisions are in [`super::policy`]; this driver only performs calls and sleeps.

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::body::Bytes;
use rand_chacha::ChaCha8Rng;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::protocol::Operation;

use super::client::{ApiClient, CallError, body};
use super::env::{RunnerEnv, Working};
use super::policy::{self, Backoff, Heard, Retry, Step, WorkPlan};

/// Why one run of the runner process ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// Told to terminate.
    Terminated,
    /// Crashed by its own `crash_after` behaviour.
    Crashed,
}

/// The program: runs the runner process, and starts it again after a `crash_after` crash.
pub async fn run(env: RunnerEnv) {
    loop {
        match process(&env).await {
            Exit::Terminated => return,
            Exit::Crashed => {
                env.crashed();
                let wait = env.spec().behaviour.restart_after.map_or(60_000, |d| d.ms());
                crate::timers::sleep(Duration::from_millis(wait)).await;
                env.restarted();
            }
        }
    }
}

/// One life of the runner process: heartbeats beside the work loop.
async fn process(env: &RunnerEnv) -> Exit {
    let heartbeat = Loop::new(env, 0x6865_6172_7462_6561, env.api_client().one_shot()).heartbeats();
    let work = Loop::new(env, 0x776f_726b, env.api_client()).work();
    tokio::select! {
        biased;
        exit = heartbeat => exit,
        exit = work => exit,
    }
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

/// One of the runner's two loops, with its own connection and random stream.
struct Loop {
    env: RunnerEnv,
    client: ApiClient,
    rng: ChaCha8Rng,
    backoff: Backoff,
}

impl Loop {
    fn new(env: &RunnerEnv, salt: u64, client: ApiClient) -> Loop {
        Loop { env: env.clone(), client, rng: env.rng(salt), backoff: Backoff::new(env.spec()) }
    }

    async fn pause(&mut self, ms: u64) {
        self.env.sleep(Duration::from_millis(ms)).await;
    }

    /// One call with SDK-style retries of transient errors.
    async fn call<T: DeserializeOwned>(&mut self, op: Operation, body: Bytes, timeout_ms: u64) -> Result<T, CallError> {
        let mut attempt = 1;
        loop {
            match self.client.call(op, body.clone(), Duration::from_millis(timeout_ms)).await {
                Ok(v) => {
                    self.backoff.reset();
                    return Ok(v);
                }
                Err(e) => {
                    self.env.call_failed(op.as_str(), &e.describe(), e.is_transient());
                    match policy::retry(&e, attempt, &mut self.backoff, &mut self.rng) {
                        Retry::GiveUp => return Err(e),
                        Retry::After(ms) => {
                            attempt += 1;
                            self.pause(ms).await;
                        }
                    }
                }
            }
        }
    }

    async fn heartbeats(mut self) -> Exit {
        let interval = self.env.spec().heartbeat_interval.ms();
        let timeout = self.env.spec().request_timeout.ms();
        loop {
            let name = self.env.name().to_string();
            let body =
                body(&HeartbeatBody { taskrunner_id: &name, worker_group: self.env.worker_group(), hostname: &name });
            if let Ok(Terminate { terminate: true }) =
                self.call(Operation::ReportTaskRunnerHeartbeat, body, timeout).await
            {
                self.env.terminating();
                return Exit::Terminated;
            }
            self.pause(interval).await;
        }
    }

    async fn work(mut self) -> Exit {
        let timeout = self.env.poll_hold().as_millis() as u64 + self.env.spec().request_timeout.ms();
        loop {
            let body = body(&PollBody { worker_group: self.env.worker_group(), hostname: self.env.hostname() });
            let task = match self.call::<PollAnswer>(Operation::PollForTask, body, timeout).await {
                Ok(answer) => answer.task_object,
                Err(_) => {
                    let wait = self.backoff.next(&mut self.rng);
                    self.pause(wait).await;
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
        let declared = fields.iter().find(|f| f.key == "myWorkTime").and_then(|f| f.string_value.as_deref());
        policy::work_time(declared, self.env.work_factor())
    }

    async fn report(&mut self, task_id: &str) -> Heard {
        let timeout = self.env.spec().request_timeout.ms();
        let body = body(&ReportBody { task_id, fields: [FieldBody { key: "percentComplete", string_value: "50" }] });
        let answer = self.call::<Canceled>(Operation::ReportTaskProgress, body, timeout).await.map(|c| c.canceled);
        policy::heard(&answer)
    }

    /// Works on one task; Some(exit) when the runner process ends.
    async fn work_on(&mut self, task: &Handout) -> Option<Exit> {
        let work_ms = self.work_time(task);
        let mut working = self.env.working_for(&task.task_id, Duration::from_millis(work_ms));
        let behaviour = self.env.spec().behaviour.clone();
        let mut plan = WorkPlan::new(self.env.spec(), work_ms);
        loop {
            match plan.next_step() {
                Step::Report => {
                    if let Heard::Lost(cause) = self.report(&task.task_id).await {
                        working.lost(cause.as_str());
                        if policy::stops_on(&behaviour, cause) {
                            working.stop("lost the task");
                            return None;
                        }
                    }
                }
                Step::Work(ms) => {
                    self.pause(ms).await;
                    plan.worked(ms);
                }
                Step::CrashAfter(ms) => {
                    self.pause(ms).await;
                    working.stop("crashed");
                    return Some(Exit::Crashed);
                }
                Step::SetStatus => {
                    self.set_status(&task.task_id, &behaviour, working).await;
                    return None;
                }
            }
        }
    }

    async fn set_status(&mut self, task_id: &str, behaviour: &crate::scenario::model::Behaviour, mut working: Working) {
        let (status, error_id, error_message) = policy::final_status(behaviour);
        let body = body(&StatusBody { task_id, task_status: status, error_id, error_message });
        let timeout = self.env.spec().request_timeout.ms();
        let reason = match self.call::<IgnoredAny>(Operation::SetTaskStatus, body, timeout).await {
            Ok(_) => format!("set {status}"),
            Err(e @ CallError::Aws { .. }) => {
                working.lost(&e.describe());
                format!("set {status} rejected: {}", e.describe())
            }
            Err(e) => format!("set {status} not delivered: {}", e.describe()),
        };
        working.stop(&reason);
    }
}
