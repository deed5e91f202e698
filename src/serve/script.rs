//! A scenario played against `serve`: its pipelines created and defined at once and activated
//! at their times, its timeline (message faults, control-plane events, `terminate`) applied as
//! the clock reaches each event. The runners are the user's own processes. Control-plane
//! events and posted `do` objects go through the same code.

use serde_json::{Value, json};

use crate::protocol::{Operation, ServiceError};
use crate::scenario::definition_file::to_pipeline_objects;
use crate::scenario::model::{Action, At, Scenario};
use crate::time::Millis;
use crate::trace::FaultOrigin;
use crate::trace::ObservationKind;

use super::Server;

/// Calls the service as the operator would, through the core (no faults apply to it).
async fn call(server: &Server, op: Operation, body: Value) -> Result<Value, ServiceError> {
    let response = crate::faults::edge::operator_call(&server.edge, op, body.to_string().as_bytes()).await?;
    Ok(serde_json::to_value(response).unwrap_or(Value::Null))
}

/// `serve` makes control-plane events against its own service, through the core.
impl crate::control::Operator for Server {
    fn pipelines(&self) -> Vec<(String, String)> {
        self.host().with_core(|c| c.pipeline_names())
    }

    fn copy_names(&self, name: &str) -> Vec<String> {
        match self.scenario.pipelines.iter().find(|p| p.name == name) {
            Some(p) => p.copy_names(),
            None => vec![name.to_string()],
        }
    }

    fn activities(&self) -> Option<Vec<(String, String)>> {
        let instances = self.host().with_core(|c| c.instance_summaries());
        Some(instances.into_iter().map(|i| (i.pipeline_id, i.component)).collect())
    }

    fn call(
        &self,
        op: Operation,
        body: Value,
    ) -> impl std::future::Future<Output = Result<Value, ServiceError>> + Send {
        call(self, op, body)
    }
}

/// Applies one `do` object to `serve`'s world; says what was done, or why it cannot apply.
/// `origin` says where it was written (a message fault's record names it).
pub async fn apply(server: &Server, action: &Action, origin: FaultOrigin) -> Result<String, String> {
    let what = match action {
        Action::Message(f) => {
            crate::scenario::load::check_message_fault("do", f).map_err(|e| e.to_string())?;
            server.edge.faults.install(f.clone(), server.host().now(), origin);
            crate::faults::describe_fault(f)
        }
        control if crate::control::is_control(control) => {
            crate::control::apply(server, control).await.expect("a control-plane event")?
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
