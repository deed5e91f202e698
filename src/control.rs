//! Control-plane events (`cancel`, `rerun`, `pause_activity`, `resume_activity`, `deactivate`,
//! `activate`, `delete`) made as an operator makes them: as Data Pipeline calls (SetStatus,
//! DeactivatePipeline, ...) against whatever answers them. One way for `serve` (its own
//! service, from the scenario's timeline and the admin routes) and `dpsim proxy` (the real
//! upstream, signed): each is an [`Operator`], and [`apply`] is the same code for both.

use std::collections::BTreeSet;
use std::future::Future;

use serde_json::{Value, json};

use crate::protocol::{Operation, ServiceError};
use crate::scenario::model::{Action, StatusChange};

/// Who makes the calls, and what it knows of the pipelines there are.
pub(crate) trait Operator: Sync {
    /// The pipelines that exist, as (id, name).
    fn pipelines(&self) -> Vec<(String, String)>;

    /// The names a scenario gives the copies of a pipeline called `name` (just `name` when it
    /// has none).
    fn copy_names(&self, name: &str) -> Vec<String>;

    /// The activities that have instances, as (pipeline id, activity), when the operator knows
    /// them without asking; `None` when it must ask.
    fn activities(&self) -> Option<Vec<(String, String)>>;

    /// Makes one call and answers its JSON.
    fn call(&self, op: Operation, body: Value) -> impl Future<Output = Result<Value, ServiceError>> + Send;
}

/// The ids of the pipelines a name stands for: those created with that name, or with one of
/// its copies' names; every pipeline when no name is given.
fn pipelines_named(operator: &impl Operator, name: Option<&str>) -> Vec<String> {
    let wanted = name.map(|n| operator.copy_names(n));
    operator
        .pipelines()
        .into_iter()
        .filter(|(_, n)| wanted.as_ref().is_none_or(|w| w.contains(n)))
        .map(|(id, _)| id)
        .collect()
}

/// Why a pipeline name hits nothing, naming the pipelines that exist.
fn no_pipeline_named(operator: &impl Operator, name: &str) -> String {
    let known: Vec<String> = operator.pipelines().into_iter().map(|(_, n)| n).collect();
    format!(
        "no pipeline is named {name:?}; pipelines: {}",
        if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
    )
}

/// Why an activity hits nothing, naming those with instances.
fn no_activity(task: &str, pipeline: Option<&str>, known: BTreeSet<String>) -> String {
    format!(
        "no instance of an activity {task:?} exists{}; activities with instances: {}",
        pipeline.map(|p| format!(" in {p}")).unwrap_or_default(),
        if known.is_empty() {
            "none yet (activate a pipeline first)".to_string()
        } else {
            known.into_iter().collect::<Vec<_>>().join(", ")
        }
    )
}

/// Refuses an event that would hit nothing (a typo in a pipeline name, or in the activity of a
/// TRY_CANCEL or RERUN, would otherwise pass silently), naming what exists. PAUSE and RESUME
/// act on the activity, which may have no instance yet (a pause before the first activation).
fn hits_something(
    operator: &impl Operator,
    targets: &[String],
    pipeline: Option<&str>,
    task: &str,
    on_instances: bool,
) -> Result<(), String> {
    if targets.is_empty() && pipeline.is_none() {
        return Err(format!("{task:?} names no instance: no pipeline exists yet (create and activate one first)"));
    }
    if targets.is_empty() {
        return Err(no_pipeline_named(operator, pipeline.unwrap_or_default()));
    }
    let Some(activities) = operator.activities().filter(|_| on_instances) else { return Ok(()) };
    let of_targets: Vec<&(String, String)> = activities.iter().filter(|(p, _)| targets.contains(p)).collect();
    if of_targets.iter().any(|(_, a)| a == task) {
        return Ok(());
    }
    Err(no_activity(task, pipeline, of_targets.into_iter().map(|(_, a)| a.clone()).collect()))
}

/// Every instance id of an activity in a pipeline, following QueryObjects' pages.
async fn instances_of(operator: &impl Operator, pipeline_id: &str, task: &str) -> Vec<Value> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let query = crate::protocol::queries::instances_of_activity(pipeline_id, task, marker.as_deref());
        let Ok(answer) = operator.call(Operation::QueryObjects, query).await else { return ids };
        let (more, next) = crate::protocol::queries::page(&answer);
        ids.extend(more);
        match next {
            Some(m) => marker = Some(m),
            None => return ids,
        }
    }
}

/// The ids of the pipelines a DEACTIVATE, ACTIVATE or DELETE names, or why it would hit none.
fn pipelines_to_change(operator: &impl Operator, name: &str) -> Result<Vec<String>, String> {
    let targets = pipelines_named(operator, Some(name));
    if targets.is_empty() {
        return Err(no_pipeline_named(operator, name));
    }
    Ok(targets)
}

/// Applies a control-plane event with the operator's calls; says what was done, or why it
/// cannot apply. `None` for an action that is no control-plane event.
pub(crate) async fn apply(operator: &impl Operator, action: &Action) -> Option<Result<String, String>> {
    let failed = |e: ServiceError| format!("{}: {}", e.code, e.message);
    let applied = async {
        Ok(match action {
            Action::Cancel { .. }
            | Action::Rerun { .. }
            | Action::PauseActivity { .. }
            | Action::ResumeActivity { .. } => {
                let (change, task, pipeline) = action.set_status().expect("a SetStatus event");
                let within = pipeline.map(|p| format!(" in {p}")).unwrap_or_default();
                let targets = pipelines_named(operator, pipeline);
                // PAUSE/RESUME act on an activity, also before its first instance exists.
                let on_instances = matches!(change, StatusChange::TryCancel | StatusChange::Rerun);
                hits_something(operator, &targets, pipeline, task, on_instances)?;
                let mut named = 0;
                for id in targets {
                    let instances = match change {
                        StatusChange::Pause | StatusChange::Resume => Vec::new(),
                        _ => instances_of(operator, &id, task).await,
                    };
                    named += instances.len();
                    for body in change.bodies(&id, task, &instances) {
                        let answer = operator.call(Operation::SetStatus, body).await;
                        // RERUN of an instance still open is refused, as it should be.
                        if change != StatusChange::Rerun {
                            answer.map_err(failed)?;
                        }
                    }
                }
                if on_instances && named == 0 && operator.activities().is_none() {
                    return Err(no_activity(task, pipeline, BTreeSet::new()));
                }
                match change {
                    StatusChange::Pause | StatusChange::Resume => format!("{} {task}{within}", change.as_str()),
                    _ => format!("{} {task}{within} ({named} instance(s))", change.as_str()),
                }
            }
            Action::Deactivate { pipeline, cancel_active } => {
                for id in pipelines_to_change(operator, pipeline)? {
                    let body = json!({"pipelineId": id, "cancelActive": cancel_active});
                    operator.call(Operation::DeactivatePipeline, body).await.map_err(failed)?;
                }
                format!("deactivate {pipeline} cancelActive={cancel_active}")
            }
            Action::Activate { pipeline } => {
                for id in pipelines_to_change(operator, pipeline)? {
                    operator.call(Operation::ActivatePipeline, json!({"pipelineId": id})).await.map_err(failed)?;
                }
                format!("activate {pipeline}")
            }
            Action::Delete { pipeline } => {
                for id in pipelines_to_change(operator, pipeline)? {
                    operator.call(Operation::DeletePipeline, json!({"pipelineId": id})).await.map_err(failed)?;
                }
                format!("delete {pipeline}")
            }
            _ => return Err(String::new()),
        })
    };
    if is_control(action) { Some(applied.await) } else { None }
}

/// Whether an action is a control-plane event [`apply`] makes.
pub(crate) fn is_control(action: &Action) -> bool {
    matches!(
        action,
        Action::Cancel { .. }
            | Action::Rerun { .. }
            | Action::PauseActivity { .. }
            | Action::ResumeActivity { .. }
            | Action::Deactivate { .. }
            | Action::Activate { .. }
            | Action::Delete { .. }
    )
}
