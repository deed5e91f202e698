//! The service's edge, for any client: message faults applied to real HTTP calls before the
//! AWS front door, and every task-runner call recorded with its answer. The simulation's
//! turmoil server and `serve`'s real port both hand their requests to [`handle_call`].

use http::request::Parts;
use hyper::body::Bytes;
use serde_json::Value;

use std::sync::Arc;

use crate::protocol::shapes::PipelineObject;
use crate::protocol::{ErrorCode, Operation, Response, ServiceError};

use super::backend::Backend;
use crate::runner::client::RUNNER_HEADER;
use crate::scenario::model::{DeadlineKind, MessageEffect, MessageFault};
use crate::time::Millis;
use crate::trace::{Call, CallOutcome, ObservationKind, Recorder};
use crate::wire::Host;
use crate::wire::http::operation;

use super::table::FaultTable;

/// What the edge needs: where calls go (the service, or a real endpoint), the faults in
/// force, where to record, and the instant the world started (fault times such as `hold
/// until` count from it).
#[derive(Clone)]
pub struct EdgeCtx<B = Host> {
    /// Where calls go.
    pub host: B,
    /// Message faults in force.
    pub faults: FaultTable,
    /// Where applied faults and calls are recorded.
    pub recorder: Recorder,
    /// The world's start instant.
    pub origin: Millis,
}

/// What became of a call.
#[derive(Debug)]
pub enum Fate<A = Result<Response, ServiceError>> {
    /// The caller gets this answer.
    Answer(A),
    /// The caller hears nothing (a lost request or response): its connection stays silent.
    Silence,
}

/// Handles one request at the edge: applies the first matching message fault, calls the
/// service, records the call.
pub(crate) async fn handle_call<B: Backend>(ctx: &EdgeCtx<B>, parts: &Parts, body: &Bytes) -> Fate<B::Answer> {
    let EdgeCtx { host, faults, recorder, origin } = ctx;
    let op = operation(parts).ok();
    let arrived = host.now();
    // Identifying a call costs a JSON parse and a taskId check: only pay it when a fault waits.
    let call = if faults.any_pending() { identify(host, parts, op, body) } else { CallInfo::default() };
    let Some((effect, nth, written)) = faults.take(&call, arrived) else {
        let (result, answered) = host.deliver(parts, body).await;
        let times = Times { arrived, served: Some(arrived), answered };
        log_call(recorder, times, parts, op, body, Some(B::outcome(&result)), Delivery::Heard);
        return Fate::Answer(result);
    };
    let op_name = op.map_or("?".to_string(), |o| o.to_string());
    // Whose call it hit, as the call itself says: not the matcher's own conclusion.
    let hit = stated_sender(parts, body).or(call.runner.clone());
    recorder.record(
        hit.as_deref(),
        ObservationKind::MessageFault {
            what: format!("{} #{nth}", describe(&effect)),
            effect: effect.kind(),
            operation: op_name,
            fault: written,
        },
    );
    let (result, served, answered) = match effect {
        MessageEffect::DropRequest => {
            let times = Times { arrived, served: None, answered: arrived };
            log_call(recorder, times, parts, op, body, None, Delivery::Lost);
            return Fate::Silence;
        }
        MessageEffect::DropResponse => {
            let (result, answered) = host.deliver(parts, body).await;
            let times = Times { arrived, served: Some(arrived), answered };
            log_call(recorder, times, parts, op, body, Some(B::outcome(&result)), Delivery::Lost);
            return Fate::Silence;
        }
        MessageEffect::Delay { by, until } => {
            let at = match (by, until) {
                (Some(by), _) => arrived.saturating_add(by.ms()),
                (None, Some(m)) => {
                    let deadline = match m.deadline {
                        DeadlineKind::AckDeadline => call.ack_deadline,
                        DeadlineKind::ProgressDeadline => call.progress_deadline,
                    };
                    deadline.map_or(arrived, |d| d.saturating_add(m.after.ms()).saturating_sub(m.before.ms()))
                }
                (None, None) => arrived,
            };
            host.sleep_until(at).await;
            let served = host.now();
            let (result, answered) = host.deliver(parts, body).await;
            (result, Some(served), answered)
        }
        MessageEffect::Hold { until } => {
            host.sleep_until(origin.saturating_add(until.ms())).await;
            let served = host.now();
            let (result, answered) = host.deliver(parts, body).await;
            (result, Some(served), answered)
        }
        MessageEffect::Duplicate { after } => {
            let (first, answered) = host.deliver(parts, body).await;
            // The copy must not hold up the original's answer (a held PollForTask would).
            let copy_at = host.now().saturating_add(after.ms());
            let (ctx, parts, body) = (ctx.clone(), parts.clone(), body.clone());
            crate::wire::spawn_detached(async move {
                ctx.host.sleep_until(copy_at).await;
                let arrived = ctx.host.now();
                let (result, answered) = ctx.host.deliver(&parts, &body).await;
                let times = Times { arrived, served: Some(arrived), answered };
                log_call(&ctx.recorder, times, &parts, op, &body, Some(B::outcome(&result)), Delivery::Copy);
            });
            (first, Some(arrived), answered)
        }
        MessageEffect::Error { code } => {
            let code = ErrorCode::parse(&code).unwrap_or(ErrorCode::InternalServiceError);
            (host.injected(ServiceError::new(code, format!("injected {code} by a message fault"))), None, arrived)
        }
    };
    log_call(
        recorder,
        Times { arrived, served, answered },
        parts,
        op,
        body,
        Some(B::outcome(&result)),
        Delivery::Heard,
    );
    Fate::Answer(result)
}

/// A control-plane call the operator makes from inside the service's process (`serve`'s
/// admin routes and scenario script): it skips the front door (no signature, no message fault)
/// but is recorded like every call the edge saw, so the history checker's model knows of the
/// TRY_CANCEL, deactivation or deletion it made.
pub async fn operator_call(ctx: &EdgeCtx, op: Operation, body: &[u8]) -> Result<Response, ServiceError> {
    let arrived = ctx.host.now();
    let (result, answered) = match crate::protocol::Request::parse(op, body) {
        Ok(request) => ctx.host.call_timed(request).await,
        Err(e) => (Err(e), arrived),
    };
    let (parts, ()) = http::Request::new(()).into_parts();
    let times = Times { arrived, served: Some(arrived), answered };
    log_call(&ctx.recorder, times, &parts, Some(op), body, Some(Host::outcome(&result)), Delivery::Heard);
    result
}

/// Records a call an operator made through a backend (the proxy's control-plane events, sent
/// upstream), as the edge records every call, so the history checker knows of it.
pub(crate) fn record_operator_call<B: Backend>(
    ctx: &EdgeCtx<B>,
    times: (Millis, Millis),
    parts: &Parts,
    op: Operation,
    body: &[u8],
    answer: &B::Answer,
) {
    let times = Times { arrived: times.0, served: Some(times.0), answered: times.1 };
    log_call(&ctx.recorder, times, parts, Some(op), body, Some(B::outcome(answer)), Delivery::Heard);
}

/// What the edge knows about a call before the service handles it.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallInfo {
    operation: Option<Operation>,
    runner: Option<String>,
    component: Option<String>,
    ack_deadline: Option<u64>,
    progress_deadline: Option<u64>,
}

impl CallInfo {
    /// Whether a fault's filters select this call.
    pub(crate) fn matches(&self, f: &MessageFault) -> bool {
        let op_ok = f.operation.is_none_or(|op| self.operation == Some(op));
        let runner_ok = f.runner.as_deref().is_none_or(|r| self.runner.as_deref() == Some(r));
        let task_ok = f.task.as_deref().is_none_or(|t| self.component.as_deref() == Some(t));
        op_ok && runner_ok && task_ok
    }
}

/// Who sent a call and what it is about. Inside the simulation the caller's runner is known for
/// certain (the runner's client names it in a header); otherwise it is the hostname or
/// taskrunnerId the call gives, or the runner a named lease was handed to.
fn identify<B: Backend>(host: &B, parts: &Parts, op: Option<Operation>, body: &[u8]) -> CallInfo {
    let sender = parts.headers.get(RUNNER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut info = CallInfo { operation: op, runner: sender.clone(), ..CallInfo::default() };
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return info };
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    info.runner = info.runner.or_else(|| text("hostname")).or_else(|| text("taskrunnerId"));
    if let Some(task_id) = text("taskId")
        && let Some(t) = host.task(&task_id)
    {
        info.runner = sender.or(t.runner);
        info.component = Some(t.component);
        info.ack_deadline = t.ack_deadline;
        info.progress_deadline = t.progress_deadline;
    }
    info
}

/// The runner a call says it comes from: the runner header dpsim's clients send, else the
/// hostname or taskrunnerId in its body.
fn stated_sender(parts: &Parts, body: &[u8]) -> Option<String> {
    if let Some(sender) = parts.headers.get(RUNNER_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(sender.to_string());
    }
    let names: Names = serde_json::from_slice(body).ok()?;
    names.hostname.or(names.taskrunner_id).map(|n| n.into_owned())
}

/// A message fault in words, as the log prints it when it is installed.
pub fn describe_fault(f: &MessageFault) -> String {
    let mut what = format!("message fault: {}", describe(&f.effect));
    let operation = f.operation.map(|o| o.as_str().to_string());
    for (k, v) in [("on", &operation), ("from", &f.runner), ("about", &f.task)] {
        if let Some(v) = v {
            what += &format!(" {k} {v}");
        }
    }
    if f.occurrence > 1 {
        what += &format!(", from match #{}", f.occurrence);
    }
    if f.count > 1 {
        what += &format!(", {} times", f.count);
    }
    if let Some(p) = f.probability {
        what += &format!(", each with probability {p}");
    }
    what
}

/// A message effect in words (`drop request`, `delay until ack deadline - 100ms`).
pub fn describe(effect: &MessageEffect) -> String {
    match effect {
        MessageEffect::DropRequest => "drop request".into(),
        MessageEffect::DropResponse => "drop response".into(),
        MessageEffect::Delay { by: Some(by), .. } => format!("delay {by}"),
        MessageEffect::Delay { until: Some(m), .. } => {
            let when = match m.deadline {
                DeadlineKind::AckDeadline => "ack deadline",
                DeadlineKind::ProgressDeadline => "progress deadline",
            };
            let shift = if m.before.ms() > 0 {
                format!(" - {}", m.before)
            } else if m.after.ms() > 0 {
                format!(" + {}", m.after)
            } else {
                String::new()
            };
            format!("delay until {when}{shift}")
        }
        MessageEffect::Delay { .. } => "delay".into(),
        MessageEffect::Hold { until } => format!("hold until +{until}"),
        MessageEffect::Duplicate { after } if after.ms() > 0 => format!("duplicate after {after}"),
        MessageEffect::Duplicate { .. } => "duplicate".into(),
        MessageEffect::Error { code } => format!("answer {code}"),
    }
}

/// The taskId a task call names, read without decoding the rest of the body.
#[derive(serde::Deserialize)]
struct Names<'a> {
    #[serde(rename = "taskId", borrow)]
    task_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    hostname: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "taskrunnerId", borrow)]
    taskrunner_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "taskStatus", borrow)]
    task_status: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "pipelineId", borrow)]
    pipeline_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "objectIds", default)]
    object_ids: Option<Vec<String>>,
    #[serde(borrow)]
    status: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "cancelActive")]
    cancel_active: Option<bool>,
    #[serde(rename = "workerGroup", borrow)]
    worker_group: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "pipelineObjects")]
    pipeline_objects: Option<Vec<PipelineObject>>,
    #[serde(rename = "startTimestamp")]
    start_timestamp: Option<f64>,
}

/// When a call reached the edge, reached the service (never, when a fault kept it away) and
/// was answered.
#[derive(Clone, Copy)]
struct Times {
    arrived: Millis,
    served: Option<Millis>,
    answered: Millis,
}

/// Control-plane calls that change which tasks exist and who may hold them; the history
/// checker reads them.
fn changes_leases(op: Operation) -> bool {
    matches!(
        op,
        Operation::SetStatus
            | Operation::DeactivatePipeline
            | Operation::DeletePipeline
            | Operation::ActivatePipeline
            | Operation::PutPipelineDefinition
    )
}

/// Longest name, and most object ids, the log keeps of a refused request.
const MAX_LOGGED_NAME: usize = 1024;
const MAX_LOGGED_IDS: usize = 100;

/// A name cut to [`MAX_LOGGED_NAME`] bytes (at a character boundary).
fn clip(mut s: String) -> String {
    if s.len() > MAX_LOGGED_NAME {
        let mut end = MAX_LOGGED_NAME;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Records a task-runner call and its answer in the trace (control-plane calls are the
/// operator's and are not recorded here).
fn log_call(
    recorder: &Recorder,
    times: Times,
    parts: &Parts,
    op: Option<Operation>,
    body: &[u8],
    result: Option<(CallOutcome, bool)>,
    delivery: Delivery,
) {
    let Some(op) = op.filter(|o| o.is_runner_call() || changes_leases(*o)) else { return };
    // A body that is not even JSON of the right shape names nothing.
    let mut names: Option<Names> = serde_json::from_slice(body).ok();
    let control = changes_leases(op);
    let pipeline_id = names.as_ref().and_then(|n| n.pipeline_id.as_deref()).filter(|_| control).map(str::to_string);
    let object_ids = names.as_ref().and_then(|n| n.object_ids.clone()).filter(|_| control).unwrap_or_default();
    let cancel_active = names.as_ref().and_then(|n| n.cancel_active).filter(|_| control);
    let worker_group = names.as_ref().and_then(|n| n.worker_group.as_deref()).map(str::to_string);
    let accepted = matches!(result, Some((_, true)));
    let definition = names
        .as_mut()
        .and_then(|n| n.pipeline_objects.take())
        .filter(|_| accepted && op == Operation::PutPipelineDefinition)
        .map(Arc::new);
    // Fractions of a second are dropped, as the service drops them.
    let start_ms = names
        .as_ref()
        .and_then(|n| n.start_timestamp)
        .filter(|_| op == Operation::ActivatePipeline)
        .map(|t| (t.max(0.0) as u64).saturating_mul(1000));
    let sender = parts.headers.get(RUNNER_HEADER).and_then(|v| v.to_str().ok());
    let runner = sender.map(str::to_string).or_else(|| {
        names.as_ref().and_then(|n| n.hostname.as_deref().or(n.taskrunner_id.as_deref()).map(str::to_string))
    });
    let status = names.as_ref().and_then(|n| n.task_status.as_deref().or(n.status.as_deref())).map(str::to_string);
    let task_id = names.and_then(|n| n.task_id).map(|id| id.into_owned());
    let outcome = result.map_or(CallOutcome::NotReceived, |(outcome, _)| outcome);
    // A request the service refused was never validated: what it named is kept only in part,
    // so that hostile bodies (10 MB names, a million object ids) cost the log little.
    let (worker_group, runner, task_id, status, pipeline_id, object_ids) = if accepted {
        (worker_group, runner, task_id, status, pipeline_id, object_ids)
    } else {
        (
            worker_group.map(clip),
            runner.map(clip),
            task_id.map(clip),
            status.map(clip),
            pipeline_id.map(clip),
            object_ids.into_iter().take(MAX_LOGGED_IDS).map(clip).collect(),
        )
    };
    recorder.record_call(Call {
        at: times.arrived,
        served_at: times.served,
        answered_at: times.answered,
        worker_group,
        definition,
        start_ms,
        runner,
        operation: op,
        task_id,
        status,
        pipeline_id,
        object_ids,
        cancel_active,
        outcome,
        delivered: delivery == Delivery::Heard,
        duplicate: delivery == Delivery::Copy,
    });
}

/// Whether the caller heard a call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// The caller got the answer.
    Heard,
    /// A fault kept the request or the answer from it.
    Lost,
    /// The copy a `duplicate` fault delivered: its answer goes nowhere.
    Copy,
}
