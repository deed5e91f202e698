//! Schedules, judged from the calls the edge saw (never the service's own account):
//!
//! - `one_instance_per_period`: every instance of a scheduled activity that a runner was
//!   handed is one of its schedule's periods (its id names the period's start, on the
//!   schedule's grid, within `occurrences`/`endDateTime`), and no period was handed out as two
//!   instances. A period that never got its instance at all is a ready task no poll is given:
//!   `liveness` and `history` judge that, from the same definitions and activation times.
//! - `finishes_once`: no instance is accepted as FINISHED twice (by SetTaskStatus or
//!   MARK_FINISHED) without an accepted RERUN between.

use crate::check::Invariant;
use std::collections::BTreeMap;

use crate::protocol::Operation;
use crate::time::{Millis, format_dp_time, parse_dp_time, whole_second};

use super::rules::{Scheduling, activities};
use crate::trace::{Call, CallOutcome, component_of, rel};

use super::{Input, Instance, Violation};

/// The instance an attempt id belongs to (`@Copy_2026-01-01T03:00:00_Attempt=2`).
fn instance_of(attempt_id: &str) -> &str {
    attempt_id.rsplit_once("_Attempt=").map_or(attempt_id, |(i, _)| i)
}

fn violation(input: &Input, invariant: Invariant, c: &Call, instance: Instance, message: String) -> Violation {
    Violation {
        invariant,
        at: rel(c.answered_at),
        task: Some(input.analysis.label(instance.0, instance.1)),
        runner: c.runner.clone(),
        message,
        trail: input.trail_of_instance(instance, rel(c.answered_at)),
    }
}

/// Every handed-out instance of a scheduled activity is a period of its schedule, once.
pub fn one_instance_per_period(input: &Input) -> Vec<Violation> {
    // Per pipeline: its scheduled activities (from the last definition put before the first
    // activation) and the first activation's start.
    let mut schedules: BTreeMap<&str, BTreeMap<String, std::sync::Arc<Scheduling>>> = BTreeMap::new();
    let mut activated: BTreeMap<&str, Millis> = BTreeMap::new();
    // (pipeline, activity, period start) -> the instance id handed out for it.
    let mut seen: BTreeMap<(&str, String, Millis), String> = BTreeMap::new();
    let mut out = Vec::new();
    for c in input.calls_in_order() {
        let pipeline = c.pipeline_id.as_deref().unwrap_or_default();
        match (&c.operation, &c.outcome) {
            (Operation::PutPipelineDefinition, CallOutcome::Accepted) if !activated.contains_key(pipeline) => {
                let Some(objects) = &c.definition else { continue };
                let scheduled = activities(objects, &input.numbers)
                    .into_iter()
                    .filter_map(|(id, a)| Some((id, a.scheduling?)))
                    .collect();
                schedules.insert(pipeline, scheduled);
            }
            (Operation::ActivatePipeline, CallOutcome::Accepted) => {
                activated.entry(pipeline).or_insert(whole_second(c.start_ms.unwrap_or(c.answered_at)));
            }
            (Operation::PollForTask, CallOutcome::Handout { attempt_id, pipeline_id, .. }) => {
                let pipeline = pipeline_id.as_str();
                let instance = instance_of(attempt_id.as_str());
                // `@<activity>_<period start>`; anything after the start is no period.
                let activity = component_of(instance);
                let Some(sch) = schedules.get(pipeline).and_then(|s| s.get(activity)) else { continue };
                let when = instance.get(activity.len() + 2..).unwrap_or_default();
                let Some(&first_activation) = activated.get(pipeline) else { continue };
                let origin = sch.grid.origin(first_activation);
                let period = parse_dp_time(when).filter(|&start| sch.grid.index_of(origin, start).is_some());
                let Some(period_start) = period else {
                    out.push(violation(
                        input,
                        Invariant::OneInstancePerPeriod,
                        c,
                        (pipeline, instance),
                        format!(
                            "{instance} was handed out, but it is no period of schedule {} (every {} from {})",
                            sch.grid.id,
                            crate::time::format_duration(sch.grid.every_ms),
                            format_dp_time(origin)
                        ),
                    ));
                    continue;
                };
                let key = (pipeline, activity.to_string(), period_start);
                match seen.get(&key) {
                    Some(other) if other != instance => out.push(violation(
                        input,
                        Invariant::OneInstancePerPeriod,
                        c,
                        (pipeline, instance),
                        format!(
                            "the period {} of {activity} was handed out as two instances: {other} and {instance}",
                            format_dp_time(period_start)
                        ),
                    )),
                    Some(_) => {}
                    None => {
                        seen.insert(key, instance.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// No instance finishes twice without an accepted RERUN between.
pub fn finishes_once(input: &Input) -> Vec<Violation> {
    let mut instance_of_task: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    // (pipeline, instance) -> when it finished, until a RERUN.
    let mut finished: BTreeMap<(&str, &str), Millis> = BTreeMap::new();
    let mut out = Vec::new();
    for c in input.calls_in_order() {
        match (&c.operation, &c.outcome) {
            (Operation::PollForTask, CallOutcome::Handout { task_id, pipeline_id, attempt_id }) => {
                instance_of_task.insert(task_id.as_str(), (pipeline_id.as_str(), instance_of(attempt_id.as_str())));
            }
            (Operation::SetTaskStatus, CallOutcome::Accepted) if c.status.as_deref() == Some("FINISHED") => {
                let Some(&(pipeline, instance)) = c.task_id.as_deref().and_then(|t| instance_of_task.get(t)) else {
                    continue;
                };
                finish(input, c, pipeline, instance, &mut finished, &mut out);
            }
            (Operation::SetStatus, CallOutcome::Accepted) => {
                let Some(pipeline) = c.pipeline_id.as_deref() else { continue };
                for object in &c.object_ids {
                    match c.status.as_deref() {
                        Some("RERUN") => {
                            finished.remove(&(pipeline, object.as_str()));
                        }
                        Some("MARK_FINISHED") => finish(input, c, pipeline, object, &mut finished, &mut out),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn finish<'c>(
    input: &Input,
    c: &'c Call,
    pipeline: &'c str,
    instance: &'c str,
    finished: &mut BTreeMap<(&'c str, &'c str), Millis>,
    out: &mut Vec<Violation>,
) {
    if let Some(&before) = finished.get(&(pipeline, instance)) {
        out.push(violation(
            input,
            Invariant::FinishesOnce,
            c,
            (pipeline, instance),
            format!(
                "{instance} was accepted as FINISHED again, though it finished at {} and was not rerun",
                crate::ownership::log::stamp(rel(before))
            ),
        ));
    } else {
        finished.insert((pipeline, instance), c.answered_at);
    }
}
