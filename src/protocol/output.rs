//! Typed responses, serialised as the AWS JSON 1.1 bodies clients expect.

use std::collections::BTreeMap;

use serde::Serialize;

use super::shapes::{Field, ParameterObject, ParameterValue, PipelineObject, Tag};

/// A task handed to a runner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskObject {
    /// Opaque, unforgeable lease token.
    pub task_id: String,
    /// The pipeline.
    pub pipeline_id: String,
    /// The attempt object's id.
    pub attempt_id: String,
    /// The attempt, its instance, its component and what the component references.
    pub objects: BTreeMap<String, PipelineObject>,
}

/// PollForTask output: `{}` when no task came.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollForTaskOutput {
    /// The task, absent when none was ready within the hold time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_object: Option<TaskObject>,
}

/// ReportTaskProgress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportTaskProgressOutput {
    /// True when the runner must stop working on the task.
    pub canceled: bool,
}

/// ReportTaskRunnerHeartbeat output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportTaskRunnerHeartbeatOutput {
    /// True when the runner is asked to shut down.
    pub terminate: bool,
}

/// CreatePipeline output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePipelineOutput {
    /// The new (or existing, for a repeated uniqueId) pipeline id.
    pub pipeline_id: String,
}

/// A validation error of one object (`{id, errors}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The object id.
    pub id: String,
    /// Its errors.
    pub errors: Vec<String>,
}

/// A validation warning of one object (`{id, warnings}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationWarning {
    /// The object id.
    pub id: String,
    /// Its warnings.
    pub warnings: Vec<String>,
}

/// PutPipelineDefinition and ValidatePipelineDefinition output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutPipelineDefinitionOutput {
    /// Errors per object; the definition was not saved when there are any.
    pub validation_errors: Vec<ValidationError>,
    /// Warnings per object.
    pub validation_warnings: Vec<ValidationWarning>,
    /// True when there are errors.
    pub errored: bool,
}

/// GetPipelineDefinition output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPipelineDefinitionOutput {
    /// The objects as they were put.
    pub pipeline_objects: Vec<PipelineObject>,
    /// Parameter declarations.
    pub parameter_objects: Vec<ParameterObject>,
    /// Parameter values.
    pub parameter_values: Vec<ParameterValue>,
}

/// One pipeline's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDescription {
    /// Pipeline id.
    pub pipeline_id: String,
    /// Pipeline name.
    pub name: String,
    /// Runtime fields such as `@pipelineState`.
    pub fields: Vec<Field>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// DescribePipelines output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePipelinesOutput {
    /// Descriptions in request order.
    pub pipeline_description_list: Vec<PipelineDescription>,
}

/// A pipeline id and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PipelineIdName {
    /// Pipeline id.
    pub id: String,
    /// Pipeline name.
    pub name: String,
}

/// ListPipelines output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPipelinesOutput {
    /// The page of pipelines.
    pub pipeline_id_list: Vec<PipelineIdName>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// True when another page follows.
    pub has_more_results: bool,
}

/// DescribeObjects output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeObjectsOutput {
    /// The objects, in request order.
    pub pipeline_objects: Vec<PipelineObject>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// True when another page follows.
    pub has_more_results: bool,
}

/// QueryObjects output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryObjectsOutput {
    /// Matching ids.
    pub ids: Vec<String>,
    /// Marker of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// True when another page follows.
    pub has_more_results: bool,
}

/// The answer to a request that completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// `{}`: operations without output.
    Empty(Empty),
    /// PollForTask.
    PollForTask(PollForTaskOutput),
    /// ReportTaskProgress.
    ReportTaskProgress(ReportTaskProgressOutput),
    /// ReportTaskRunnerHeartbeat.
    ReportTaskRunnerHeartbeat(ReportTaskRunnerHeartbeatOutput),
    /// CreatePipeline.
    CreatePipeline(CreatePipelineOutput),
    /// PutPipelineDefinition / ValidatePipelineDefinition.
    PutPipelineDefinition(PutPipelineDefinitionOutput),
    /// GetPipelineDefinition.
    GetPipelineDefinition(GetPipelineDefinitionOutput),
    /// DescribePipelines.
    DescribePipelines(DescribePipelinesOutput),
    /// ListPipelines.
    ListPipelines(ListPipelinesOutput),
    /// DescribeObjects.
    DescribeObjects(DescribeObjectsOutput),
    /// QueryObjects.
    QueryObjects(QueryObjectsOutput),
}

/// An empty JSON object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

impl Response {
    /// The `{}` response.
    pub fn empty() -> Response {
        Response::Empty(Empty {})
    }
}
