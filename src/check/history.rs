//! The history checker: every answer the service's edge gave a task-runner call, judged
//! against a small model of the lease rules that never asks the service (as Jepsen's checkers
//! judge a history). It reads only the calls and answers the edge recorded, with their times,
//! and the scenario's settings and definitions.
//!
//! The model of one lease: it starts when the PollForTask that handed it out is answered; its
//! deadline is that moment plus the acknowledgement timeout, then each accepted report plus the
//! activity's progress timeout. It is over for certain at its deadline, at an accepted
//! SetTaskStatus, and once the service said so (a `canceled: true` or TaskNotFoundException
//! answer on it). The model cannot see cancels or timeouts the operator or the definition
//! cause, so it only ever asks for what must follow from what it saw:
//!
//! - a report on a lease at or after its deadline answers `canceled: true`;
//! - once a lease is over, every later report on it answers `canceled: true` and every later
//!   SetTaskStatus is refused;
//! - one owner at a time: once an instance is handed out again, no earlier lease of it has a
//!   report or status accepted;
//! - once a SetStatus TRY_CANCEL, a DeactivatePipeline with cancelActive or a DeletePipeline
//!   is answered, the leases it ends are over (so the rules above apply to them), a canceled
//!   instance is not handed out again unless it is rerun, and nothing of a deleted pipeline
//!   is handed out.

use std::collections::BTreeMap;

use crate::ownership::log::stamp;
use crate::protocol::{ErrorCode, Operation};
use crate::time::Millis;
use crate::trace::{CallOutcome, component_of, rel, task_seq};

use super::{Input, Violation};

/// One lease, as the model knows it.
struct Lease {
    instance: (String, String),
    component: String,
    runner: Option<String>,
    deadline: Millis,
    /// Why and when the model knows it is over.
    over: Option<(Millis, &'static str)>,
    /// Progress timeout of its activity, when the scenario says it.
    progress_ms: Option<u64>,
}

/// The history checker's verdicts.
pub fn history(input: &Input) -> Vec<Violation> {
    let settings = crate::scenario::settings(input.scenario, input.out.seed);
    let mut leases: BTreeMap<u64, Lease> = BTreeMap::new();
    // The latest lease handed out for each (pipeline, instance).
    let mut latest: BTreeMap<(String, String), (u64, Millis)> = BTreeMap::new();
    // Instances canceled by an answered TRY_CANCEL, until a RERUN; pipelines deleted.
    let mut canceled: BTreeMap<(String, String), Millis> = BTreeMap::new();
    let mut deleted: BTreeMap<String, Millis> = BTreeMap::new();
    let mut out = Vec::new();
    let mut calls: Vec<&crate::trace::Call> = input.out.calls.iter().collect();
    // The service decided each call when it answered it.
    calls.sort_by_key(|c| c.answered_at);
    for c in calls {
        let at = c.answered_at;
        let mut flag = |object: &str, runner: Option<&str>, message: String| {
            out.push(Violation {
                invariant: "history",
                at: rel(at),
                task: Some(input.analysis.label(object)),
                runner: runner.map(str::to_string),
                message,
                trail: input.trail_of_instance(object, rel(at)),
            });
        };
        match (&c.operation, &c.outcome) {
            (Operation::PollForTask, CallOutcome::Handout { task_id, pipeline_id, attempt_id }) => {
                let seq = task_seq(task_id);
                let object = attempt_id.rsplit_once("_Attempt=").map_or(attempt_id.as_str(), |(o, _)| o).to_string();
                let component = component_of(&object).to_string();
                let progress_ms = input.activities.get(&component).and_then(|a| a.progress_timeout_ms);
                let instance = (pipeline_id.clone(), object);
                // At the same millisecond the model cannot tell which the service did first (a
                // held poll's answer is recorded after the call that released it): only a
                // handout strictly after the cancel or deletion is judged.
                if let Some(when) = deleted.get(pipeline_id).filter(|when| **when < at) {
                    flag(
                        &instance.1,
                        c.runner.as_deref(),
                        format!(
                            "t{seq} was handed out though its pipeline was deleted at {}: nothing of a deleted pipeline is handed out",
                            stamp(rel(*when))
                        ),
                    );
                } else if let Some(when) = canceled.get(&instance).filter(|when| **when < at) {
                    flag(
                        &instance.1,
                        c.runner.as_deref(),
                        format!(
                            "t{seq} was handed out though its instance was canceled at {} (TRY_CANCEL) and not rerun",
                            stamp(rel(*when))
                        ),
                    );
                }
                latest.insert(instance.clone(), (seq, at));
                leases.insert(
                    seq,
                    Lease {
                        instance,
                        component,
                        runner: c.runner.clone(),
                        deadline: at.saturating_add(settings.ack_timeout_ms),
                        over: None,
                        progress_ms,
                    },
                );
            }
            (Operation::ReportTaskProgress, outcome) => {
                let Some(seq) = c.task_id.as_deref().map(task_seq) else { continue };
                let Some(lease) = leases.get_mut(&seq) else { continue };
                match outcome {
                    CallOutcome::Report { canceled: false } => {
                        let rule = if at >= lease.deadline {
                            Some(format!(
                                "a report at or after the lease's deadline {} answers canceled=true",
                                stamp(rel(lease.deadline))
                            ))
                        } else {
                            lease.over.map(|(when, why)| {
                                format!(
                                    "the lease was over since {} ({why}): every later report answers canceled=true",
                                    stamp(rel(when))
                                )
                            })
                        };
                        let newer = latest.get(&lease.instance).filter(|(s, _)| *s != seq).map(|(s, when)| (*s, *when));
                        let runner = lease.runner.clone();
                        let component = lease.component.clone();
                        let object = lease.instance.1.clone();
                        match (rule, newer) {
                            (Some(rule), _) => {
                                flag(
                                    &object,
                                    runner.as_deref(),
                                    format!("ReportTaskProgress on t{seq} was answered canceled=false; {rule}"),
                                );
                            }
                            (None, Some((s, when))) if when <= at => flag(
                                &object,
                                runner.as_deref(),
                                format!(
                                    "one owner at a time: {component}'s t{s} was handed out at {}, yet a report on the earlier t{seq} was accepted",
                                    stamp(rel(when))
                                ),
                            ),
                            _ => {
                                let lease = leases.get_mut(&seq).expect("looked up above");
                                if let Some(ms) = lease.progress_ms {
                                    lease.deadline = at.saturating_add(ms);
                                } else {
                                    // The timeout is unknown (serve, clashing definitions): no
                                    // deadline is judged for this lease from now on.
                                    lease.deadline = Millis::MAX;
                                }
                            }
                        }
                    }
                    CallOutcome::Report { canceled: true } => {
                        lease.over.get_or_insert((at, "the service answered canceled=true"));
                    }
                    _ => {}
                }
            }
            (Operation::SetTaskStatus, outcome) => {
                let Some(seq) = c.task_id.as_deref().map(task_seq) else { continue };
                let Some(lease) = leases.get_mut(&seq) else { continue };
                match outcome {
                    CallOutcome::Accepted => {
                        let rule = if at >= lease.deadline {
                            Some(format!("the lease's deadline {} had passed", stamp(rel(lease.deadline))))
                        } else {
                            lease
                                .over
                                .map(|(when, why)| format!("the lease was over since {} ({why})", stamp(rel(when))))
                        };
                        let newer =
                            latest.get(&lease.instance).filter(|(s, when)| *s != seq && *when <= at).map(|(s, _)| *s);
                        let status = c.status.clone().unwrap_or_default();
                        let runner = lease.runner.clone();
                        let object = lease.instance.1.clone();
                        lease.over.get_or_insert((at, "its status was set"));
                        if let Some(rule) = rule {
                            flag(
                                &object,
                                runner.as_deref(),
                                format!(
                                    "SetTaskStatus {status} on t{seq} was accepted though {rule}: only the live lease sets a status"
                                ),
                            );
                        } else if let Some(s) = newer {
                            flag(
                                &object,
                                runner.as_deref(),
                                format!(
                                    "one owner at a time: t{s} was handed out, yet SetTaskStatus {status} on the earlier t{seq} was accepted"
                                ),
                            );
                        }
                    }
                    CallOutcome::Error { code: ErrorCode::TaskNotFoundException } => {
                        lease.over.get_or_insert((at, "the service answered TaskNotFoundException"));
                    }
                    _ => {}
                }
            }
            (Operation::SetStatus, CallOutcome::Accepted) => {
                let (Some(pipeline), Some(status)) = (c.pipeline_id.as_deref(), c.status.as_deref()) else { continue };
                for object in &c.object_ids {
                    let instance = (pipeline.to_string(), object.clone());
                    match status {
                        "TRY_CANCEL" => {
                            canceled.entry(instance.clone()).or_insert(at);
                            end_leases(&mut leases, |l| l.instance == instance, at, "TRY_CANCEL was answered");
                        }
                        "RERUN" => {
                            canceled.remove(&instance);
                        }
                        _ => {}
                    }
                }
            }
            (Operation::DeactivatePipeline, CallOutcome::Accepted) if c.cancel_active != Some(false) => {
                let Some(pipeline) = c.pipeline_id.as_deref() else { continue };
                end_leases(&mut leases, |l| l.instance.0 == pipeline, at, "deactivate with cancelActive was answered");
            }
            (Operation::DeletePipeline, CallOutcome::Accepted) => {
                let Some(pipeline) = c.pipeline_id.as_deref() else { continue };
                deleted.entry(pipeline.to_string()).or_insert(at);
                end_leases(&mut leases, |l| l.instance.0 == pipeline, at, "the pipeline's deletion was answered");
            }
            _ => {}
        }
    }
    out
}

/// Marks over, at `at`, every lease handed out so far that `which` selects.
fn end_leases(leases: &mut BTreeMap<u64, Lease>, which: impl Fn(&Lease) -> bool, at: Millis, why: &'static str) {
    for l in leases.values_mut().filter(|l| which(l)) {
        l.over.get_or_insert((at, why));
    }
}
