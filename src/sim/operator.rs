//! The operator host: sets pipelines up over the real API, then performs the timeline's
//! control-plane events (TRY_CANCEL, deactivate, activate, delete) when the driver says.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::protocol::Operation;
use crate::scenario::definition_file::to_pipeline_objects;
use crate::scenario::model::{PipelineSpec, StatusChange};

use crate::runner::client::{ApiClient, CallError};
use crate::trace::ObservationKind;
use crate::trace::Recorder;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// A control-plane event for the operator to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// SetStatus on an activity (TRY_CANCEL, RERUN, PAUSE, RESUME).
    SetStatus {
        /// Which.
        change: StatusChange,
        /// Activity id.
        task: String,
        /// Pipeline name, or every pipeline.
        pipeline: Option<String>,
    },
    /// DeactivatePipeline.
    Deactivate {
        /// Pipeline name.
        pipeline: String,
        /// cancelActive.
        cancel_active: bool,
    },
    /// ActivatePipeline.
    Activate {
        /// Pipeline name.
        pipeline: String,
    },
    /// DeletePipeline.
    Delete {
        /// Pipeline name.
        pipeline: String,
    },
}

/// `(copy name, pipeline id)` of each copy of a scenario pipeline.
type Copies = Vec<(String, String)>;

/// Pipeline ids by scenario name, filled in as the operator creates them.
#[derive(Clone, Debug, Default)]
pub struct Directory(Arc<Mutex<BTreeMap<String, Copies>>>);

impl Directory {
    /// `(copy name, pipeline id)` of every copy of a scenario pipeline.
    pub fn copies(&self, name: &str) -> Vec<(String, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned().unwrap_or_default()
    }

    fn add(&self, name: &str, copy: String, id: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(name.to_string()).or_default().push((copy, id));
    }
}

/// Calls until the service answers, retrying what may not have been seen.
async fn call(client: &mut ApiClient, op: Operation, body: &Value) -> Result<Value, CallError> {
    let bytes = crate::runner::client::body(body);
    loop {
        match client.call(op, bytes.clone(), CALL_TIMEOUT).await {
            Err(e) if e.is_transient() => crate::timers::sleep(RETRY_WAIT).await,
            other => return other,
        }
    }
}

/// Runs `jobs` on `workers` concurrent connections.
async fn parallel(workers: u32, jobs: Vec<(Operation, Value)>) {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        set.spawn_local(async move {
            let mut client = ApiClient::new();
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((op, body)) = next else { return };
                let _ = call(&mut client, op, &body).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// The operator's program.
pub async fn run(
    pipelines: Vec<PipelineSpec>,
    concurrency: u32,
    directory: Directory,
    recorder: Recorder,
    setup_done: Arc<AtomicBool>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> turmoil::Result {
    let mut client = ApiClient::new();
    let mut definitions = Vec::new();
    for p in &pipelines {
        let objects = to_pipeline_objects(&p.definition).map_err(|(_, m)| m)?;
        for copy_name in p.copy_names() {
            let created =
                call(&mut client, Operation::CreatePipeline, &json!({"name": copy_name, "uniqueId": copy_name}))
                    .await
                    .map_err(|e| format!("CreatePipeline: {}", e.describe()))?;
            let id = created["pipelineId"].as_str().unwrap_or_default().to_string();
            directory.add(&p.name, copy_name, id.clone());
            definitions.push((Operation::PutPipelineDefinition, json!({"pipelineId": id, "pipelineObjects": objects})));
        }
    }
    parallel(concurrency, definitions).await;
    let mut by_start: BTreeMap<u64, Vec<(Operation, Value)>> = BTreeMap::new();
    for p in &pipelines {
        for (_, id) in directory.copies(&p.name) {
            for _ in 0..p.activations {
                by_start
                    .entry(p.activate_at.ms())
                    .or_default()
                    .push((Operation::ActivatePipeline, json!({"pipelineId": id})));
            }
        }
    }
    let started = tokio::time::Instant::now();
    let mut activations = tokio::task::JoinSet::new();
    for (at, jobs) in by_start {
        activations.spawn_local(async move {
            crate::timers::sleep_until(started + Duration::from_millis(at)).await;
            parallel(concurrency, jobs).await;
        });
    }
    let setup = async {
        while activations.join_next().await.is_some() {}
        setup_done.store(true, Ordering::SeqCst);
    };
    let control = async {
        while let Some(command) = commands.recv().await {
            perform(&mut client, &directory, &recorder, command).await;
        }
    };
    tokio::join!(setup, control);
    Ok(())
}

/// Every instance id of an activity in a pipeline, following QueryObjects' pages.
async fn instances_of(client: &mut ApiClient, pipeline_id: &str, task: &str) -> Vec<Value> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let query = crate::protocol::queries::instances_of_activity(pipeline_id, task, marker.as_deref());
        let Ok(answer) = call(client, Operation::QueryObjects, &query).await else { return ids };
        let (more, next) = crate::protocol::queries::page(&answer);
        ids.extend(more);
        match next {
            Some(m) => marker = Some(m),
            None => return ids,
        }
    }
}

async fn perform(client: &mut ApiClient, directory: &Directory, recorder: &Recorder, command: Command) {
    let targets = |name: &str| directory.copies(name).into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let mut outcomes = Vec::new();
    match &command {
        Command::SetStatus { change, task, pipeline } => {
            let ids: Vec<String> = match pipeline {
                Some(p) => targets(p),
                None => directory
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .flatten()
                    .map(|(_, id)| id.clone())
                    .collect(),
            };
            for id in ids {
                let instances = match change {
                    StatusChange::Pause | StatusChange::Resume => Vec::new(),
                    _ => instances_of(client, &id, task).await,
                };
                for body in change.bodies(&id, task, &instances) {
                    let answer = call(client, Operation::SetStatus, &body).await.map(|_| ());
                    // RERUN of an instance still open is refused, as it should be.
                    if *change != StatusChange::Rerun {
                        outcomes.push(answer);
                    }
                }
            }
        }
        Command::Deactivate { pipeline, cancel_active } => {
            for id in targets(pipeline) {
                let body = json!({"pipelineId": id, "cancelActive": cancel_active});
                outcomes.push(call(client, Operation::DeactivatePipeline, &body).await.map(|_| ()));
            }
        }
        Command::Activate { pipeline } => {
            for id in targets(pipeline) {
                outcomes.push(call(client, Operation::ActivatePipeline, &json!({"pipelineId": id})).await.map(|_| ()));
            }
        }
        Command::Delete { pipeline } => {
            for id in targets(pipeline) {
                outcomes.push(call(client, Operation::DeletePipeline, &json!({"pipelineId": id})).await.map(|_| ()));
            }
        }
    }
    let failures: Vec<String> = outcomes.iter().filter_map(|o| o.as_ref().err().map(CallError::describe)).collect();
    if !failures.is_empty() {
        recorder.record(
            Some("operator"),
            ObservationKind::Applied {
                what: format!("{command:?} failed: {}", failures.join(", ")),
                disturbs: Vec::new(),
                event: None,
            },
        );
    }
}
