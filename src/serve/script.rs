//! A scenario played against `serve`: its pipelines created and defined at once and activated
//! at their times, its timeline (message faults, control-plane events, `terminate`) applied as
//! the clock reaches each event. The runners are the user's own processes. Control-plane
//! events and posted `do` objects go through the same code.

use serde_json::{Value, json};

use crate::protocol::{Operation, ServiceError};
use crate::scenario::definition_file::to_pipeline_objects;
use crate::scenario::model::{Action, At, Scenario, StatusChange};
use crate::time::Millis;
use crate::trace::FaultOrigin;
use crate::trace::ObservationKind;

use super::Server;

/// Calls the service as the operator would, through the core (no faults apply to it).
async fn call(server: &Server, op: Operation, body: Value) -> Result<Value, ServiceError> {
    let response = crate::faults::edge::operator_call(&server.edge, op, body.to_string().as_bytes()).await?;
    Ok(serde_json::to_value(response).unwrap_or(Value::Null))
}

/// The ids of the pipelines a name stands for: those created with that name, or with one of
/// its copies' names when the scenario has copies of a pipeline by that name; every pipeline
/// when no name is given.
fn pipelines_named(server: &Server, name: Option<&str>) -> Vec<String> {
    let names = server.host().with_core(|c| c.pipeline_names());
    let wanted: Option<Vec<String>> =
        name.map(|want| match server.scenario.pipelines.iter().find(|p| p.name == want) {
            Some(p) => p.copy_names(),
            None => vec![want.to_string()],
        });
    names.into_iter().filter(|(_, n)| wanted.as_ref().is_none_or(|w| w.contains(n))).map(|(id, _)| id).collect()
}

/// Refuses an event that would hit nothing (a typo in a pipeline name, or in the activity of a
/// TRY_CANCEL or RERUN, would otherwise pass silently), naming what exists. PAUSE and RESUME
/// act on the activity, which may have no instance yet (a pause before the first activation).
fn hits_something(
    server: &Server,
    targets: &[String],
    pipeline: Option<&str>,
    task: &str,
    on_instances: bool,
) -> Result<(), String> {
    let names = server.host().with_core(|c| c.pipeline_names());
    if targets.is_empty() && pipeline.is_none() {
        return Err(format!("{task:?} names no instance: no pipeline exists yet (create and activate one first)"));
    }
    if targets.is_empty() {
        return Err(no_pipeline_named(&names, pipeline.unwrap_or_default()));
    }
    if !on_instances {
        return Ok(());
    }
    let instances = server.host().with_core(|c| c.instance_summaries());
    let of_targets = || instances.iter().filter(|i| targets.contains(&i.pipeline_id));
    if of_targets().any(|i| i.component == task) {
        return Ok(());
    }
    let known: std::collections::BTreeSet<&str> = of_targets().map(|i| i.component.as_str()).collect();
    Err(format!(
        "no instance of an activity {task:?} exists{}; activities with instances: {}",
        pipeline.map(|p| format!(" in {p}")).unwrap_or_default(),
        if known.is_empty() {
            "none yet (activate a pipeline first)".to_string()
        } else {
            known.into_iter().collect::<Vec<_>>().join(", ")
        }
    ))
}

/// Why a pipeline name hits nothing, naming the pipelines that exist.
fn no_pipeline_named(names: &[(String, String)], name: &str) -> String {
    let known: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    format!(
        "no pipeline is named {name:?}; pipelines: {}",
        if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
    )
}

/// The ids of the pipelines a DEACTIVATE, ACTIVATE or DELETE names, or why it would hit none.
fn pipelines_to_change(server: &Server, name: &str) -> Result<Vec<String>, String> {
    let targets = pipelines_named(server, Some(name));
    if targets.is_empty() {
        return Err(no_pipeline_named(&server.host().with_core(|c| c.pipeline_names()), name));
    }
    Ok(targets)
}

/// Every instance id of an activity in a pipeline, following QueryObjects' pages.
async fn instances_of(server: &Server, pipeline_id: &str, task: &str) -> Vec<Value> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let query = crate::protocol::queries::instances_of_activity(pipeline_id, task, marker.as_deref());
        let Ok(answer) = call(server, Operation::QueryObjects, query).await else { return ids };
        let (more, next) = crate::protocol::queries::page(&answer);
        ids.extend(more);
        match next {
            Some(m) => marker = Some(m),
            None => return ids,
        }
    }
}

/// Applies one `do` object to `serve`'s world; says what was done, or why it cannot apply.
/// `origin` says where it was written (a message fault's record names it).
pub async fn apply(server: &Server, action: &Action, origin: FaultOrigin) -> Result<String, String> {
    let failed = |e: ServiceError| format!("{}: {}", e.code, e.message);
    let what = match action {
        Action::Message(f) => {
            crate::scenario::load::check_message_fault("do", f).map_err(|e| e.to_string())?;
            server.edge.faults.install(f.clone(), server.host().now(), origin);
            crate::faults::describe_fault(f)
        }
        Action::Cancel { .. } | Action::Rerun { .. } | Action::PauseActivity { .. } | Action::ResumeActivity { .. } => {
            let (change, task, pipeline) = action.set_status().expect("a SetStatus event");
            let within = pipeline.map(|p| format!(" in {p}")).unwrap_or_default();
            let targets = pipelines_named(server, pipeline);
            // PAUSE/RESUME act on an activity, also before its first instance exists.
            let on_instances = matches!(change, StatusChange::TryCancel | StatusChange::Rerun);
            hits_something(server, &targets, pipeline, task, on_instances)?;
            let mut named = 0;
            for id in targets {
                let instances = match change {
                    StatusChange::Pause | StatusChange::Resume => Vec::new(),
                    _ => instances_of(server, &id, task).await,
                };
                named += instances.len();
                for body in change.bodies(&id, task, &instances) {
                    let answer = call(server, Operation::SetStatus, body).await;
                    // RERUN of an instance still open is refused, as it should be.
                    if change != StatusChange::Rerun {
                        answer.map_err(failed)?;
                    }
                }
            }
            match change {
                StatusChange::Pause | StatusChange::Resume => format!("{} {task}{within}", change.as_str()),
                _ => format!("{} {task}{within} ({named} instance(s))", change.as_str()),
            }
        }
        Action::Deactivate { pipeline, cancel_active } => {
            for id in pipelines_to_change(server, pipeline)? {
                let body = json!({"pipelineId": id, "cancelActive": cancel_active});
                call(server, Operation::DeactivatePipeline, body).await.map_err(failed)?;
            }
            format!("deactivate {pipeline} cancelActive={cancel_active}")
        }
        Action::Activate { pipeline } => {
            for id in pipelines_to_change(server, pipeline)? {
                call(server, Operation::ActivatePipeline, json!({"pipelineId": id})).await.map_err(failed)?;
            }
            format!("activate {pipeline}")
        }
        Action::Delete { pipeline } => {
            for id in pipelines_to_change(server, pipeline)? {
                call(server, Operation::DeletePipeline, json!({"pipelineId": id})).await.map_err(failed)?;
            }
            format!("delete {pipeline}")
        }
        Action::Terminate { runner } => {
            server.host().with_core(|c| c.request_terminate(runner));
            format!("terminate {runner} at its next heartbeat")
        }
        other => {
            let kind = serde_json::to_value(other).ok().and_then(|v| v["kind"].as_str().map(str::to_string));
            return Err(format!(
                "{} acts on the simulated network or a simulated runner process; serve cannot apply it to your own processes (message faults, cancel, deactivate, activate, delete and terminate apply)",
                kind.unwrap_or_default()
            ));
        }
    };
    server.edge.recorder.record(
        None,
        ObservationKind::Applied { what: what.clone(), disturbs: Vec::new(), event: Some(action.kind()) },
    );
    Ok(what)
}

/// One step of the script: an activation or a timeline event, at a time since the start.
enum Step {
    Activate(String),
    /// The event at this index of the scenario's `events`.
    Event(usize, Action),
}

/// The script's timeline: each step with its time since the start, in order.
pub(crate) struct Steps(Vec<(Millis, usize, Step)>);

/// Creates and defines the scenario's pipelines now, then activates them and applies its
/// events as the clock reaches each one. Runs until the timeline is done.
#[cfg(test)]
pub async fn play(server: Server, scenario: Scenario) -> Result<(), String> {
    let steps = setup(&server, &scenario).await?;
    run(server, steps).await;
    Ok(())
}

/// Creates and defines the scenario's pipelines now; answers the timeline still to play.
pub(crate) async fn setup(server: &Server, scenario: &Scenario) -> Result<Steps, String> {
    let server = server.clone();
    let mut steps: Vec<(Millis, usize, Step)> = Vec::new();
    for p in &scenario.pipelines {
        let objects = to_pipeline_objects(&p.definition).map_err(|(_, m)| m)?;
        for name in p.copy_names() {
            let created = call(&server, Operation::CreatePipeline, json!({"name": name, "uniqueId": name}))
                .await
                .map_err(|e| format!("CreatePipeline {name}: {}", e.message))?;
            let id = created["pipelineId"].as_str().unwrap_or_default().to_string();
            let put = json!({"pipelineId": id, "pipelineObjects": objects});
            call(&server, Operation::PutPipelineDefinition, put)
                .await
                .map_err(|e| format!("PutPipelineDefinition {name}: {}", e.message))?;
            for _ in 0..p.activations {
                steps.push((p.activate_at.ms(), 0, Step::Activate(id.clone())));
            }
        }
    }
    for (i, e) in scenario.events.iter().enumerate() {
        if let At::Time(at) = &e.at {
            steps.push((at.ms(), i + 1, Step::Event(i, e.action.clone())));
        }
    }
    steps.sort_by_key(|(at, order, _)| (*at, *order));
    Ok(Steps(steps))
}

/// Activates the pipelines and applies the events as the clock reaches each one.
pub(crate) async fn run(server: Server, steps: Steps) {
    for (at, _, step) in steps.0 {
        server.host().sleep_until(server.edge.origin.saturating_add(at)).await;
        match step {
            Step::Activate(id) => {
                if let Err(e) = call(&server, Operation::ActivatePipeline, json!({"pipelineId": id})).await {
                    tracing::warn!("ActivatePipeline {id}: {}", e.message);
                }
            }
            Step::Event(index, action) => {
                if let Err(e) = apply(&server, &action, FaultOrigin::Event(index)).await {
                    tracing::warn!("scenario event not applied: {e}");
                }
            }
        }
    }
}
