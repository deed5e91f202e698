//! The service's HTTP edge inside the simulation: message faults applied to real HTTP calls,
//! whatever client sends them, before the AWS front door.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use serde_json::Value;

use crate::protocol::{ErrorCode, Operation, Response, ServiceError};
use crate::runner::client::RUNNER_HEADER;
use crate::scenario::model::{DeadlineKind, MessageEffect, MessageFault};
use crate::time::Millis;
use crate::trace::{Call, CallOutcome};
use crate::wire::Host;
use crate::wire::http::{dispatch, operation, render};

use super::clock::sim_now;
use super::record::Recorder;
use crate::trace::ObservationKind;

/// An installed message fault and how often it has matched.
#[derive(Clone, Debug)]
struct Active {
    fault: MessageFault,
    seen: u32,
    applied: u32,
}

/// The message faults in force, and the generator that decides probabilistic ones.
#[derive(Clone, Debug)]
pub struct FaultTable(Arc<Mutex<(Vec<Active>, ChaCha8Rng)>>);

impl FaultTable {
    /// An empty table whose random choices derive from `seed`.
    pub fn new(seed: u64) -> FaultTable {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(4);
        FaultTable(Arc::new(Mutex::new((Vec::new(), rng))))
    }

    /// Installs a fault from now on.
    pub fn install(&self, fault: MessageFault) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0.push(Active { fault, seen: 0, applied: 0 });
    }

    /// Whether any installed fault can still apply.
    pub fn any_pending(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0.iter().any(|a| a.applied < a.fault.count)
    }

    /// The effect to apply to a call, if a fault matches it; counts the match.
    fn take(&self, call: &CallInfo) -> Option<(MessageEffect, u32)> {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (table, rng) = &mut *guard;
        for active in table.iter_mut() {
            let f = &active.fault;
            if active.applied >= f.count || !matches(f, call) {
                continue;
            }
            active.seen += 1;
            let lucky = f.probability.is_none_or(|p| rng.random_bool(p.clamp(0.0, 1.0)));
            if active.seen >= f.occurrence && lucky {
                active.applied += 1;
                return Some((f.effect.clone(), active.seen));
            }
        }
        None
    }
}

/// What the edge knows about a call before the service handles it.
#[derive(Clone, Debug, Default)]
struct CallInfo {
    operation: Option<Operation>,
    runner: Option<String>,
    component: Option<String>,
    ack_deadline: Option<u64>,
    progress_deadline: Option<u64>,
}

fn matches(f: &MessageFault, call: &CallInfo) -> bool {
    let op_ok = f.operation.as_deref().is_none_or(|op| call.operation.is_some_and(|o| o.as_str() == op));
    let runner_ok = f.runner.as_deref().is_none_or(|r| call.runner.as_deref() == Some(r));
    let task_ok = f.task.as_deref().is_none_or(|t| call.component.as_deref() == Some(t));
    op_ok && runner_ok && task_ok
}

/// Who sent a call and what it is about. Inside the simulation the caller's runner is known for
/// certain (the runner's client names it in a header); otherwise it is the hostname or
/// taskrunnerId the call gives, or the runner a named lease was handed to.
fn identify(host: &Host, parts: &http::request::Parts, op: Option<Operation>, body: &[u8]) -> CallInfo {
    let sender = parts.headers.get(RUNNER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut info = CallInfo { operation: op, runner: sender.clone(), ..CallInfo::default() };
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return info };
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    info.runner = info.runner.or_else(|| text("hostname")).or_else(|| text("taskrunnerId"));
    if let Some(task_id) = text("taskId")
        && let Some(t) = host.with_core(|core| core.task_info(&task_id))
    {
        info.runner = sender.or_else(|| t.hostname.map(|h| h.to_string()));
        info.component = Some(t.component);
        info.ack_deadline = Some(t.ack_deadline);
        info.progress_deadline = t.progress_deadline;
    }
    info
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
        MessageEffect::Duplicate => "duplicate".into(),
        MessageEffect::Error { code } => format!("answer {code}"),
    }
}

/// What the edge needs: the service, the faults in force, where to record, a call counter.
#[derive(Clone)]
pub struct Edge {
    /// The service.
    pub host: Host,
    /// Message faults in force.
    pub faults: FaultTable,
    /// Where applied faults are recorded.
    pub recorder: Recorder,
    /// HTTP requests received.
    pub requests: Arc<AtomicU64>,
}

/// Handles one HTTP request at the simulated service's edge.
pub async fn handle(
    edge: Edge,
    request: http::Request<Incoming>,
) -> Result<http::Response<axum::body::Body>, Infallible> {
    let Edge { host, faults, recorder, requests } = edge;
    requests.fetch_add(1, Ordering::Relaxed);
    let request_id = host.next_request_id();
    let (parts, body) = request.into_parts();
    let body: Bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(render(
                &host,
                request_id,
                Err(ServiceError::new(ErrorCode::SerializationException, "unreadable body")),
            ));
        }
    };
    let op = operation(&parts).ok();
    let arrived = sim_now();
    // Identifying a call costs a JSON parse and a taskId check: only pay it when a fault waits.
    let call = if faults.any_pending() { identify(&host, &parts, op, &body) } else { CallInfo::default() };
    let Some((effect, nth)) = faults.take(&call) else {
        let result = dispatch(&host, &parts, &body).await;
        log_call(&recorder, arrived, &parts, op, &body, Some(&result), true);
        return Ok(render(&host, request_id, result));
    };
    let op_name = op.map_or("?".to_string(), |o| o.to_string());
    recorder.record(
        call.runner.as_deref(),
        ObservationKind::MessageFault { what: format!("{} #{nth}", describe(&effect)), operation: op_name },
    );
    let result = match effect {
        MessageEffect::DropRequest => {
            log_call(&recorder, arrived, &parts, op, &body, None, false);
            std::future::pending().await
        }
        MessageEffect::DropResponse => {
            let result = dispatch(&host, &parts, &body).await;
            log_call(&recorder, arrived, &parts, op, &body, Some(&result), false);
            std::future::pending().await
        }
        MessageEffect::Delay { by, until } => {
            let wait = match (by, until) {
                (Some(by), _) => by.ms(),
                (None, Some(m)) => {
                    let deadline = match m.deadline {
                        DeadlineKind::AckDeadline => call.ack_deadline,
                        DeadlineKind::ProgressDeadline => call.progress_deadline,
                    };
                    let target = deadline.map(|d| (d + m.after.ms()).saturating_sub(m.before.ms()));
                    target.map_or(0, |t| t.saturating_sub(sim_now()))
                }
                (None, None) => 0,
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            dispatch(&host, &parts, &body).await
        }
        MessageEffect::Hold { until } => {
            let at = super::clock::EPOCH_MS + until.ms();
            tokio::time::sleep(Duration::from_millis(at.saturating_sub(sim_now()))).await;
            dispatch(&host, &parts, &body).await
        }
        MessageEffect::Duplicate => {
            let first = dispatch(&host, &parts, &body).await;
            let _ = dispatch(&host, &parts, &body).await;
            first
        }
        MessageEffect::Error { code } => {
            let code = ErrorCode::parse(&code).unwrap_or(ErrorCode::InternalServiceError);
            Err(ServiceError::new(code, format!("injected {code} by the scenario")))
        }
    };
    log_call(&recorder, arrived, &parts, op, &body, Some(&result), true);
    Ok(render(&host, request_id, result))
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
}

/// Records a task-runner call and its answer in the trace (control-plane calls are the
/// operator's and are not recorded here).
fn log_call(
    recorder: &Recorder,
    arrived: Millis,
    parts: &http::request::Parts,
    op: Option<Operation>,
    body: &[u8],
    result: Option<&Result<Response, ServiceError>>,
    delivered: bool,
) {
    let Some(op) = op.filter(|o| o.is_runner_call()) else { return };
    let names: Option<Names> = serde_json::from_slice(body).ok();
    let sender = parts.headers.get(RUNNER_HEADER).and_then(|v| v.to_str().ok());
    let runner = sender.map(str::to_string).or_else(|| {
        names.as_ref().and_then(|n| n.hostname.as_deref().or(n.taskrunner_id.as_deref()).map(str::to_string))
    });
    let task_id = names.and_then(|n| n.task_id).map(|id| id.into_owned());
    let outcome = match result {
        None => CallOutcome::NotReceived,
        Some(Err(e)) => CallOutcome::Error { code: e.code },
        Some(Ok(Response::PollForTask(out))) => match &out.task_object {
            Some(task) => CallOutcome::Handout { task_id: task.task_id.clone() },
            None => CallOutcome::NoTask,
        },
        Some(Ok(Response::ReportTaskProgress(out))) => CallOutcome::Report { canceled: out.canceled },
        Some(Ok(Response::ReportTaskRunnerHeartbeat(out))) => CallOutcome::Heartbeat { terminate: out.terminate },
        Some(Ok(_)) => CallOutcome::Accepted,
    };
    recorder.record_call(Call {
        at: arrived,
        answered_at: sim_now(),
        runner,
        operation: op,
        task_id,
        outcome,
        delivered,
    });
}
