//! The proxy's lease model, built from the outside: from what runners were told, never from
//! the service's own account (there is none to read). A PollForTask answer hands a lease out
//! (its acknowledgement deadline counted from the answer with the rules the proxy was given);
//! an accepted ReportTaskProgress acknowledges or renews it; `canceled: true`, TaskNotFound,
//! PipelineDeleted or an accepted status end it; the same attempt handed out again means the
//! earlier lease ended at its deadline (an expiry seen from the outside) or, before its
//! deadline, that the service handed out a live lease. The fault matcher asks it which runner
//! holds a taskId and when its deadlines fall; the report reads its records as the journal of
//! what the outside saw, so the ownership log, the work inferred from calls and the
//! single-owner rule read them as they read a service's.
//!
//! Leases get the proxy's own numbers (`t1`, `t2`, ...), whatever the upstream's taskIds look
//! like; the trace's calls name them by an alias `<number>.<taskId>`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::request::Parts;
use hyper::body::Bytes;
use serde_json::Value;

use crate::check::rules::{Numbers, activities};
use crate::faults::backend::TaskView;
use crate::journal::{Deadline, Event, EventKind};
use crate::protocol::shapes::PipelineObject;
use crate::protocol::{ErrorCode, Operation};
use crate::time::Millis;
use crate::trace::{CallOutcome, InstanceSummary};
use crate::wire::http::operation;

/// The deadlines the proxy holds leases to (the history checker's own numbers: from
/// `--settings`, else AWS's defaults; a pipeline's `reportProgressTimeout` from its
/// definition), and how far apart its instants and the service's may be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    pub numbers: Numbers,
    /// `--tolerance`.
    pub tolerance_ms: Millis,
}

/// One lease as the outside saw it.
#[derive(Clone, Debug)]
struct Lease {
    seq: u64,
    runner: Option<String>,
    pipeline_id: String,
    instance_id: String,
    component: String,
    attempt_id: String,
    ack_deadline: Millis,
    progress_deadline: Option<Millis>,
    ended: bool,
}

impl Lease {
    /// When it ends by the rules unless renewed, and which deadline that is.
    fn deadline(&self) -> (Millis, Deadline) {
        match self.progress_deadline {
            Some(p) => (p, Deadline::Progress),
            None => (self.ack_deadline, Deadline::Ack),
        }
    }
}

#[derive(Default)]
struct Model {
    rules: Option<Rules>,
    leases: BTreeMap<String, Lease>,
    /// The taskIds each attempt was handed out under, in order.
    attempts: BTreeMap<String, Vec<String>>,
    events: Vec<Event>,
    instances: BTreeMap<(String, String), InstanceSummary>,
    /// Pipelines created through the proxy, as (id, name), for control-plane events by name.
    pipelines: Vec<(String, String)>,
    /// The longest gap between reports of each pipeline's activities, from the definitions
    /// put through the proxy (`reportProgressTimeout`, inherited as the checker resolves it).
    progress_ms: BTreeMap<(String, String), Millis>,
}

impl Model {
    /// How long after an accepted report of `lease` the next one is due.
    fn progress_ms(&self, lease: &Lease, rules: &Rules) -> Millis {
        let key = (lease.pipeline_id.clone(), lease.component.clone());
        self.progress_ms.get(&key).copied().unwrap_or(rules.numbers.progress_ms)
    }
}

/// The shared model.
#[derive(Clone, Default)]
pub(crate) struct Outside(Arc<Mutex<Model>>);

/// The activity an attempt id names: `@Copy_2026-01-01T00:00:00_Attempt=1` is `Copy`.
fn component_of(attempt_id: &str) -> String {
    let bare = attempt_id.trim_start_matches('@');
    bare.split('_').next().unwrap_or(bare).to_string()
}

/// The instance an attempt id belongs to: `@Copy_2026-01-01T00:00:00_Attempt=1` is
/// `@Copy_2026-01-01T00:00:00`.
fn instance_of(attempt_id: &str) -> String {
    attempt_id.rsplit_once("_Attempt=").map_or(attempt_id, |(instance, _)| instance).to_string()
}

impl Model {
    fn record(&mut self, at: Millis, lease: &Lease, kind: EventKind, cause: impl Into<Cow<'static, str>>) {
        let seq = self.events.len() as u64;
        self.events.push(Event {
            at,
            seq,
            pipeline_id: Some(lease.pipeline_id.as_str().into()),
            object_id: Some(lease.instance_id.as_str().into()),
            attempt_id: Some(lease.attempt_id.as_str().into()),
            task: Some(lease.seq),
            runner: lease.runner.as_deref().map(Into::into),
            kind,
            cause: cause.into(),
        });
    }

    fn set_status(&mut self, lease: &Lease, status: &str) {
        if let Some(i) = self.instances.get_mut(&(lease.pipeline_id.clone(), lease.instance_id.clone())) {
            i.status = status.to_string();
        }
    }

    /// The lease ends at its deadline, seen from the outside at `now`.
    fn expire(&mut self, task_id: &str, now: Millis, why: &'static str) {
        let Some(lease) = self.leases.get_mut(task_id).filter(|l| !l.ended) else { return };
        lease.ended = true;
        let lease = lease.clone();
        let (deadline, which) = lease.deadline();
        self.record(deadline.min(now), &lease, EventKind::Expired { deadline: which }, why);
    }
}

impl Outside {
    /// A model holding leases to `rules`.
    pub(crate) fn new(rules: Rules) -> Outside {
        Outside(Arc::new(Mutex::new(Model { rules: Some(rules), ..Model::default() })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Model> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What is known of the lease a taskId names.
    pub(crate) fn task(&self, task_id: &str) -> Option<TaskView> {
        let m = self.lock();
        let l = m.leases.get(task_id)?;
        Some(TaskView {
            runner: l.runner.clone(),
            component: l.component.clone(),
            ack_deadline: Some(l.ack_deadline),
            progress_deadline: l.progress_deadline,
        })
    }

    /// The pipelines created through the proxy and not deleted, as (id, name).
    pub(crate) fn pipelines(&self) -> Vec<(String, String)> {
        self.lock().pipelines.clone()
    }

    /// The lease number the proxy gave a taskId.
    pub(crate) fn seq_of(&self, task_id: &str) -> Option<u64> {
        self.lock().leases.get(task_id).map(|l| l.seq)
    }

    /// The records so far, in time order (an expiry is known only later, at its deadline's
    /// time), and the instances seen.
    pub(crate) fn records(&self) -> (Vec<Event>, Vec<InstanceSummary>) {
        let m = self.lock();
        let mut events = m.events.clone();
        events.sort_by_key(|e| (e.at, e.seq));
        for (n, e) in events.iter_mut().enumerate() {
            e.seq = n as u64;
        }
        (events, m.instances.values().cloned().collect())
    }

    /// Learns from one answer a runner was told (or, for a lost answer, would have been).
    pub(crate) fn learn(&self, parts: &Parts, body: &Bytes, outcome: &CallOutcome, answer: &[u8], now: Millis) {
        let Some(op) = operation(parts).ok() else { return };
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let asked = |k: &str| request.get(k).and_then(Value::as_str).map(str::to_string);
        let mut m = self.lock();
        let Some(rules) = m.rules else { return };
        match (op, outcome) {
            (Operation::CreatePipeline, CallOutcome::Accepted) => {
                let answer: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
                if let (Some(id), Some(name)) = (answer["pipelineId"].as_str(), asked("name"))
                    && !m.pipelines.iter().any(|(known, _)| known == id)
                {
                    m.pipelines.push((id.to_string(), name));
                }
            }
            (Operation::PutPipelineDefinition, CallOutcome::Accepted) => {
                let Some(pipeline) = asked("pipelineId") else { return };
                let Ok(objects) = serde_json::from_value::<Vec<PipelineObject>>(request["pipelineObjects"].clone())
                else {
                    return;
                };
                m.progress_ms.retain(|(p, _), _| *p != pipeline);
                for (component, activity) in activities(&objects, &rules.numbers) {
                    m.progress_ms.insert((pipeline.clone(), component), activity.progress_ms);
                }
            }
            (Operation::DeletePipeline, CallOutcome::Accepted) => {
                let id = asked("pipelineId");
                m.pipelines.retain(|(known, _)| Some(known) != id.as_ref());
            }
            (Operation::PollForTask, CallOutcome::Handout { task_id, attempt_id, pipeline_id }) => {
                let earlier = m.attempts.get(attempt_id).cloned().unwrap_or_default();
                for old in &earlier {
                    // Past its deadline (within the tolerance): it expired, as the outside sees
                    // it. Before: the service handed out an attempt whose lease was live, and
                    // the earlier lease stays live in the record, for single_owner to judge.
                    let due = m.leases.get(old).map(|l| l.deadline().0);
                    if due.is_some_and(|d| now.saturating_add(rules.tolerance_ms) >= d) {
                        m.expire(old, now, "its deadline passed (seen from outside: the attempt was handed out again)");
                    }
                }
                let lease = Lease {
                    seq: m.leases.len() as u64 + 1,
                    runner: asked("hostname"),
                    pipeline_id: pipeline_id.clone(),
                    instance_id: instance_of(attempt_id),
                    component: component_of(attempt_id),
                    attempt_id: attempt_id.clone(),
                    ack_deadline: now.saturating_add(rules.numbers.ack_ms),
                    progress_deadline: None,
                    ended: false,
                };
                let key = (lease.pipeline_id.clone(), lease.instance_id.clone());
                let summary = m.instances.entry(key).or_insert_with(|| InstanceSummary {
                    pipeline_id: lease.pipeline_id.clone(),
                    instance_id: lease.instance_id.clone(),
                    component: lease.component.clone(),
                    status: String::new(),
                    attempts: 0,
                    period_start: None,
                });
                summary.status = "RUNNING".into();
                summary.attempts =
                    summary.attempts.max(crate::ownership::analysis::attempt_number(attempt_id) as usize);
                let kind = EventKind::Assigned {
                    reassigned: !earlier.is_empty(),
                    ack_deadline: lease.ack_deadline,
                    poll: None,
                };
                m.record(now, &lease, kind, "poll");
                m.attempts.entry(attempt_id.clone()).or_default().push(task_id.clone());
                m.leases.insert(task_id.clone(), lease);
            }
            (Operation::ReportTaskProgress, CallOutcome::Report { canceled }) => {
                let Some(task_id) = asked("taskId") else { return };
                let Some(lease) = m.leases.get(&task_id).cloned() else { return };
                if *canceled {
                    if !lease.ended && now.saturating_add(rules.tolerance_ms) >= lease.deadline().0 {
                        m.expire(&task_id, now, "its deadline passed (seen from outside: canceled=true)");
                    } else if !lease.ended {
                        // Ended before its deadline by something the proxy did not see (a
                        // TRY_CANCEL, a deactivation): it ends now, as far as the outside knows.
                        if let Some(l) = m.leases.get_mut(&task_id) {
                            l.ended = true;
                        }
                        let kind = EventKind::Canceled { by: crate::journal::CancelSource::TryCancel };
                        m.record(now, &lease, kind, "ended by the service (seen from outside: canceled=true)");
                    }
                    let kind = EventKind::StaleCall { operation: op, answer: "canceled=true".into() };
                    m.record(now, &lease, kind, "");
                } else if !lease.ended {
                    let progress_deadline = now.saturating_add(m.progress_ms(&lease, &rules));
                    let kind = if lease.progress_deadline.is_none() {
                        EventKind::Acknowledged { progress_deadline }
                    } else {
                        EventKind::Renewed { progress_deadline }
                    };
                    if let Some(l) = m.leases.get_mut(&task_id) {
                        l.progress_deadline = Some(progress_deadline);
                    }
                    m.record(now, &lease, kind, "report");
                }
            }
            (Operation::SetTaskStatus, CallOutcome::Accepted) => {
                let Some(task_id) = asked("taskId") else { return };
                let Some(lease) = m.leases.get_mut(&task_id) else { return };
                lease.ended = true;
                let lease = lease.clone();
                let status = asked("taskStatus").unwrap_or_default();
                let kind = if status == "FINISHED" {
                    EventKind::Finished
                } else {
                    EventKind::Failed { status: status.clone(), error_id: asked("errorId") }
                };
                m.record(now, &lease, kind, "SetTaskStatus");
                m.set_status(&lease, if status == "FINISHED" { "FINISHED" } else { "FAILED" });
            }
            (Operation::ReportTaskProgress | Operation::SetTaskStatus, CallOutcome::Error { code })
                if matches!(code, ErrorCode::TaskNotFoundException | ErrorCode::PipelineDeletedException) =>
            {
                let Some(task_id) = asked("taskId") else { return };
                let Some(lease) = m.leases.get_mut(&task_id) else { return };
                lease.ended = true;
                let lease = lease.clone();
                let kind = EventKind::StaleCall { operation: op, answer: code.to_string() };
                m.record(now, &lease, kind, "");
            }
            _ => {}
        }
    }
}
