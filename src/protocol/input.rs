//! Typed requests: one struct per operation, parsed from the JSON body and validated.
//!
//! Every member is optional at the type level so that a missing required member is reported
//! as InvalidRequestException naming it, while a member of the wrong JSON type is a
//! SerializationException naming its path. Unknown members are ignored, as AWS does.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Most fields one ReportTaskProgress may carry: an object holds at most 50 fields.
pub const MAX_REPORTED_FIELDS: usize = 50;
/// Most selectors of a QueryObjects query (the API reference's documented limit).
pub const MAX_SELECTORS: usize = 10;

use super::error::{ErrorCode, ServiceError};
use super::operation::Operation;
use super::shapes::{
    Field, ParameterObject, ParameterValue, PipelineObject, Tag, validate_fields, validate_parameter_objects,
    validate_parameter_values, validate_tags,
};
use super::validate::{list_len, one_of, opt_string, required, string};

/// Statuses SetTaskStatus accepts.
pub const TASK_STATUSES: &[&str] = &["FINISHED", "FAILED", "FALSE"];
/// Statuses SetStatus accepts.
pub const SET_STATUSES: &[&str] = &["TRY_CANCEL", "RERUN", "MARK_FINISHED", "PAUSE", "RESUME"];
/// Spheres QueryObjects accepts.
pub const SPHERES: &[&str] = &["COMPONENT", "INSTANCE", "ATTEMPT"];
/// Selector operators QueryObjects accepts.
pub const OPERATORS: &[&str] = &["EQ", "REF_EQ", "LE", "GE", "BETWEEN"];

/// PollForTask input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollForTaskInput {
    /// Worker group to take a task from (exact, case-sensitive match).
    pub worker_group: Option<String>,
    /// The runner's host name.
    pub hostname: Option<String>,
    /// EC2 instance identity (recorded, not checked).
    pub instance_identity: Option<InstanceIdentity>,
}

/// EC2 instance identity document and signature.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceIdentity {
    /// The identity document.
    pub document: Option<String>,
    /// Its signature.
    pub signature: Option<String>,
}

/// ReportTaskProgress input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportTaskProgressInput {
    /// The task being reported on.
    pub task_id: Option<String>,
    /// Fields to store on the attempt.
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// SetTaskStatus input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetTaskStatusInput {
    /// The task.
    pub task_id: Option<String>,
    /// FINISHED, FAILED or FALSE.
    pub task_status: Option<String>,
    /// Error id recorded on the attempt.
    pub error_id: Option<String>,
    /// Error message recorded on the attempt.
    pub error_message: Option<String>,
    /// Stack trace recorded on the attempt.
    pub error_stack_trace: Option<String>,
}

/// ReportTaskRunnerHeartbeat input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportTaskRunnerHeartbeatInput {
    /// The runner's identity.
    pub taskrunner_id: Option<String>,
    /// Its worker group.
    pub worker_group: Option<String>,
    /// Its host name.
    pub hostname: Option<String>,
}

/// CreatePipeline input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePipelineInput {
    /// Pipeline name.
    pub name: Option<String>,
    /// Idempotency token.
    pub unique_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// PutPipelineDefinition and ValidatePipelineDefinition input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutPipelineDefinitionInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// The whole definition.
    pub pipeline_objects: Option<Vec<PipelineObject>>,
    /// Parameter declarations.
    #[serde(default)]
    pub parameter_objects: Vec<ParameterObject>,
    /// Parameter values.
    #[serde(default)]
    pub parameter_values: Vec<ParameterValue>,
}

/// GetPipelineDefinition input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPipelineDefinitionInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// `latest` or `active`.
    pub version: Option<String>,
}

/// ActivatePipeline input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivatePipelineInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Parameter values for this activation.
    #[serde(default)]
    pub parameter_values: Vec<ParameterValue>,
    /// Scheduled start, epoch seconds.
    pub start_timestamp: Option<f64>,
}

/// DeactivatePipeline input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivatePipelineInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Cancel running objects (default true).
    pub cancel_active: Option<bool>,
}

/// Input naming just a pipeline (DeletePipeline).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineIdInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
}

/// SetStatus input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetStatusInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Instances or components.
    pub object_ids: Option<Vec<String>>,
    /// TRY_CANCEL, RERUN, MARK_FINISHED, PAUSE or RESUME.
    pub status: Option<String>,
}

/// DescribeObjects input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeObjectsInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Objects to describe (at most 25).
    pub object_ids: Option<Vec<String>>,
    /// Ignored: expressions are not evaluated.
    pub evaluate_expressions: Option<bool>,
    /// Paging marker.
    pub marker: Option<String>,
}

/// A QueryObjects selector operator.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    /// EQ, REF_EQ, LE, GE or BETWEEN.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Operand values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A QueryObjects selector.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Field to compare.
    pub field_name: Option<String>,
    /// How to compare it.
    pub operator: Option<Operator>,
}

/// A QueryObjects query.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// Selectors, all of which must match.
    #[serde(default)]
    pub selectors: Vec<Selector>,
}

/// QueryObjects input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryObjectsInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Selectors.
    pub query: Option<Query>,
    /// COMPONENT, INSTANCE or ATTEMPT.
    pub sphere: Option<String>,
    /// Paging marker.
    pub marker: Option<String>,
    /// Page size (default 100).
    pub limit: Option<i64>,
}

/// DescribePipelines input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribePipelinesInput {
    /// Pipelines to describe (at most 25).
    pub pipeline_ids: Option<Vec<String>>,
}

/// ListPipelines input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPipelinesInput {
    /// Paging marker.
    pub marker: Option<String>,
}

/// AddTags input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddTagsInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Tags to add or overwrite.
    pub tags: Option<Vec<Tag>>,
}

/// RemoveTags input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveTagsInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Keys to remove.
    pub tag_keys: Option<Vec<String>>,
}

/// EvaluateExpression input.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateExpressionInput {
    /// Target pipeline.
    pub pipeline_id: Option<String>,
    /// Object the expression is evaluated on.
    pub object_id: Option<String>,
    /// The expression.
    pub expression: Option<String>,
}

/// A parsed, validated request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// PollForTask.
    PollForTask(PollForTaskInput),
    /// ReportTaskProgress.
    ReportTaskProgress(ReportTaskProgressInput),
    /// SetTaskStatus.
    SetTaskStatus(SetTaskStatusInput),
    /// ReportTaskRunnerHeartbeat.
    ReportTaskRunnerHeartbeat(ReportTaskRunnerHeartbeatInput),
    /// CreatePipeline.
    CreatePipeline(CreatePipelineInput),
    /// PutPipelineDefinition.
    PutPipelineDefinition(PutPipelineDefinitionInput),
    /// ValidatePipelineDefinition.
    ValidatePipelineDefinition(PutPipelineDefinitionInput),
    /// GetPipelineDefinition.
    GetPipelineDefinition(GetPipelineDefinitionInput),
    /// ActivatePipeline.
    ActivatePipeline(ActivatePipelineInput),
    /// DeactivatePipeline.
    DeactivatePipeline(DeactivatePipelineInput),
    /// DeletePipeline.
    DeletePipeline(PipelineIdInput),
    /// SetStatus.
    SetStatus(SetStatusInput),
    /// DescribeObjects.
    DescribeObjects(DescribeObjectsInput),
    /// QueryObjects.
    QueryObjects(QueryObjectsInput),
    /// DescribePipelines.
    DescribePipelines(DescribePipelinesInput),
    /// ListPipelines.
    ListPipelines(ListPipelinesInput),
    /// AddTags.
    AddTags(AddTagsInput),
    /// RemoveTags.
    RemoveTags(RemoveTagsInput),
    /// EvaluateExpression.
    EvaluateExpression(EvaluateExpressionInput),
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    // AWS JSON services treat an empty body as `{}`.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // The fast path: path tracking costs on every call, and only errors need the path.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." { String::new() } else { format!(" at '{path}'") };
        ServiceError::new(ErrorCode::SerializationException, format!("Cannot deserialize request{at}: {inner}"))
    })?;
    de.end().map_err(|e| {
        ServiceError::new(ErrorCode::SerializationException, format!("Trailing characters after the JSON body: {e}"))
    })?;
    Ok(value)
}

fn pipeline_id(id: &Option<String>) -> Result<(), ServiceError> {
    string(required(id, "pipelineId")?, "pipelineId", 1, 1024)
}

fn id_list(ids: &Option<Vec<String>>, member: &str, max: usize) -> Result<(), ServiceError> {
    let ids = required(ids, member)?;
    list_len(ids, member, 0, max)?;
    for (i, id) in ids.iter().enumerate() {
        string(id, &format!("{member}.{}", i + 1), 1, 1024)?;
    }
    Ok(())
}

impl Request {
    /// Parses and validates the body of a call to `op`.
    pub fn parse(op: Operation, body: &[u8]) -> Result<Request, ServiceError> {
        let request = match op {
            Operation::PollForTask => Request::PollForTask(decode(body)?),
            Operation::ReportTaskProgress => Request::ReportTaskProgress(decode(body)?),
            Operation::SetTaskStatus => Request::SetTaskStatus(decode(body)?),
            Operation::ReportTaskRunnerHeartbeat => Request::ReportTaskRunnerHeartbeat(decode(body)?),
            Operation::CreatePipeline => Request::CreatePipeline(decode(body)?),
            Operation::PutPipelineDefinition => Request::PutPipelineDefinition(decode(body)?),
            Operation::ValidatePipelineDefinition => Request::ValidatePipelineDefinition(decode(body)?),
            Operation::GetPipelineDefinition => Request::GetPipelineDefinition(decode(body)?),
            Operation::ActivatePipeline => Request::ActivatePipeline(decode(body)?),
            Operation::DeactivatePipeline => Request::DeactivatePipeline(decode(body)?),
            Operation::DeletePipeline => Request::DeletePipeline(decode(body)?),
            Operation::SetStatus => Request::SetStatus(decode(body)?),
            Operation::DescribeObjects => Request::DescribeObjects(decode(body)?),
            Operation::QueryObjects => Request::QueryObjects(decode(body)?),
            Operation::DescribePipelines => Request::DescribePipelines(decode(body)?),
            Operation::ListPipelines => Request::ListPipelines(decode(body)?),
            Operation::AddTags => Request::AddTags(decode(body)?),
            Operation::RemoveTags => Request::RemoveTags(decode(body)?),
            Operation::EvaluateExpression => Request::EvaluateExpression(decode(body)?),
        };
        request.validate()?;
        Ok(request)
    }

    /// The operation this request calls.
    pub fn operation(&self) -> Operation {
        match self {
            Request::PollForTask(_) => Operation::PollForTask,
            Request::ReportTaskProgress(_) => Operation::ReportTaskProgress,
            Request::SetTaskStatus(_) => Operation::SetTaskStatus,
            Request::ReportTaskRunnerHeartbeat(_) => Operation::ReportTaskRunnerHeartbeat,
            Request::CreatePipeline(_) => Operation::CreatePipeline,
            Request::PutPipelineDefinition(_) => Operation::PutPipelineDefinition,
            Request::ValidatePipelineDefinition(_) => Operation::ValidatePipelineDefinition,
            Request::GetPipelineDefinition(_) => Operation::GetPipelineDefinition,
            Request::ActivatePipeline(_) => Operation::ActivatePipeline,
            Request::DeactivatePipeline(_) => Operation::DeactivatePipeline,
            Request::DeletePipeline(_) => Operation::DeletePipeline,
            Request::SetStatus(_) => Operation::SetStatus,
            Request::DescribeObjects(_) => Operation::DescribeObjects,
            Request::QueryObjects(_) => Operation::QueryObjects,
            Request::DescribePipelines(_) => Operation::DescribePipelines,
            Request::ListPipelines(_) => Operation::ListPipelines,
            Request::AddTags(_) => Operation::AddTags,
            Request::RemoveTags(_) => Operation::RemoveTags,
            Request::EvaluateExpression(_) => Operation::EvaluateExpression,
        }
    }

    /// Checks required members, lengths, patterns and enums.
    pub fn validate(&self) -> Result<(), ServiceError> {
        match self {
            Request::PollForTask(r) => {
                string(required(&r.worker_group, "workerGroup")?, "workerGroup", 0, 1024)?;
                opt_string(&r.hostname, "hostname", 1, 1024)?;
                if let Some(id) = &r.instance_identity {
                    opt_string(&id.document, "instanceIdentity.document", 0, 1024)?;
                    opt_string(&id.signature, "instanceIdentity.signature", 0, 1024)?;
                }
                Ok(())
            }
            Request::ReportTaskProgress(r) => {
                string(required(&r.task_id, "taskId")?, "taskId", 1, 2048)?;
                if r.fields.len() > MAX_REPORTED_FIELDS {
                    return Err(ServiceError::invalid(format!(
                        "fields: at most {MAX_REPORTED_FIELDS} fields per report (an object holds at most {MAX_REPORTED_FIELDS}), got {}",
                        r.fields.len()
                    )));
                }
                validate_fields(&r.fields, "fields")
            }
            Request::SetTaskStatus(r) => {
                string(required(&r.task_id, "taskId")?, "taskId", 1, 2048)?;
                one_of(required(&r.task_status, "taskStatus")?, "taskStatus", TASK_STATUSES)?;
                opt_string(&r.error_id, "errorId", 0, 1024)?;
                if r.error_id.as_deref().is_some_and(|id| id.starts_with("Service_")) {
                    return Err(ServiceError::invalid(
                        "errorId must not start with 'Service_': that prefix is reserved for errors the service itself records",
                    ));
                }
                // errorMessage is the model's unbounded `errorMessage` shape; only the pattern applies.
                opt_string(&r.error_message, "errorMessage", 0, usize::MAX)?;
                opt_string(&r.error_stack_trace, "errorStackTrace", 0, 1024)
            }
            Request::ReportTaskRunnerHeartbeat(r) => {
                string(required(&r.taskrunner_id, "taskrunnerId")?, "taskrunnerId", 1, 1024)?;
                opt_string(&r.worker_group, "workerGroup", 0, 1024)?;
                opt_string(&r.hostname, "hostname", 1, 1024)
            }
            Request::CreatePipeline(r) => {
                string(required(&r.name, "name")?, "name", 1, 1024)?;
                string(required(&r.unique_id, "uniqueId")?, "uniqueId", 1, 1024)?;
                opt_string(&r.description, "description", 0, 1024)?;
                validate_tags(&r.tags, "tags")
            }
            Request::PutPipelineDefinition(r) | Request::ValidatePipelineDefinition(r) => {
                pipeline_id(&r.pipeline_id)?;
                let objects = required(&r.pipeline_objects, "pipelineObjects")?;
                for (i, o) in objects.iter().enumerate() {
                    o.validate(&format!("pipelineObjects.{}", i + 1))?;
                }
                validate_parameter_objects(&r.parameter_objects, "parameterObjects")?;
                validate_parameter_values(&r.parameter_values, "parameterValues")
            }
            Request::GetPipelineDefinition(r) => {
                pipeline_id(&r.pipeline_id)?;
                opt_string(&r.version, "version", 0, 1024)?;
                if let Some(v) = &r.version {
                    one_of(v, "version", &["latest", "active"])?;
                }
                Ok(())
            }
            Request::ActivatePipeline(r) => {
                pipeline_id(&r.pipeline_id)?;
                validate_parameter_values(&r.parameter_values, "parameterValues")?;
                if r.start_timestamp.is_some_and(|t| !t.is_finite() || t < 0.0) {
                    return Err(ServiceError::invalid("startTimestamp must be a non-negative number of epoch seconds"));
                }
                Ok(())
            }
            Request::DeactivatePipeline(r) => pipeline_id(&r.pipeline_id),
            Request::DeletePipeline(r) => pipeline_id(&r.pipeline_id),
            Request::SetStatus(r) => {
                pipeline_id(&r.pipeline_id)?;
                id_list(&r.object_ids, "objectIds", usize::MAX)?;
                one_of(required(&r.status, "status")?, "status", SET_STATUSES)
            }
            Request::DescribeObjects(r) => {
                pipeline_id(&r.pipeline_id)?;
                id_list(&r.object_ids, "objectIds", 25)?;
                opt_string(&r.marker, "marker", 0, 1024)
            }
            Request::QueryObjects(r) => {
                pipeline_id(&r.pipeline_id)?;
                let sphere = required(&r.sphere, "sphere")?;
                string(sphere, "sphere", 0, 1024)?;
                one_of(sphere, "sphere", SPHERES)?;
                opt_string(&r.marker, "marker", 0, 1024)?;
                if let Some(q) = &r.query {
                    if q.selectors.len() > MAX_SELECTORS {
                        return Err(ServiceError::invalid(format!(
                            "query.selectors: at most {MAX_SELECTORS} selectors, got {}",
                            q.selectors.len()
                        )));
                    }
                    for (i, s) in q.selectors.iter().enumerate() {
                        let m = format!("query.selectors.{}", i + 1);
                        string(
                            required(&s.field_name, &format!("{m}.fieldName"))?,
                            &format!("{m}.fieldName"),
                            0,
                            1024,
                        )?;
                        let op = required(&s.operator, &format!("{m}.operator"))?;
                        one_of(
                            required(&op.kind, &format!("{m}.operator.type"))?,
                            &format!("{m}.operator.type"),
                            OPERATORS,
                        )?;
                        for (j, v) in op.values.iter().enumerate() {
                            string(v, &format!("{m}.operator.values.{}", j + 1), 0, 1024)?;
                        }
                    }
                }
                if r.limit.is_some_and(|l| l < 1) {
                    return Err(ServiceError::invalid("limit must be at least 1"));
                }
                Ok(())
            }
            Request::DescribePipelines(r) => id_list(&r.pipeline_ids, "pipelineIds", 25),
            Request::ListPipelines(r) => opt_string(&r.marker, "marker", 0, 1024),
            Request::AddTags(r) => {
                pipeline_id(&r.pipeline_id)?;
                validate_tags(required(&r.tags, "tags")?, "tags")
            }
            Request::RemoveTags(r) => {
                pipeline_id(&r.pipeline_id)?;
                let keys = required(&r.tag_keys, "tagKeys")?;
                for (i, k) in keys.iter().enumerate() {
                    string(k, &format!("tagKeys.{}", i + 1), 0, 1024)?;
                }
                Ok(())
            }
            Request::EvaluateExpression(r) => {
                pipeline_id(&r.pipeline_id)?;
                string(required(&r.object_id, "objectId")?, "objectId", 1, 1024)?;
                string(required(&r.expression, "expression")?, "expression", 0, 20_971_520)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_serialization_errors_naming_the_path() {
        let err =
            Request::parse(Operation::ReportTaskProgress, br#"{"taskId": "t", "fields": [{"key": 5}]}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::SerializationException);
        assert!(err.message.contains("fields[0].key"), "{}", err.message);
        let err = Request::parse(Operation::PollForTask, b"[1,2]").unwrap_err();
        assert_eq!(err.code, ErrorCode::SerializationException);
        let err = Request::parse(Operation::PollForTask, b"{} x").unwrap_err();
        assert_eq!(err.code, ErrorCode::SerializationException);
    }

    #[test]
    fn missing_required_members_are_invalid_requests_naming_the_member() {
        let err = Request::parse(Operation::PollForTask, b"").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequestException);
        assert!(err.message.contains("'workerGroup'"));
    }

    #[test]
    fn unknown_members_are_ignored() {
        let r = Request::parse(Operation::PollForTask, br#"{"workerGroup": "wg", "extra": [1]}"#).unwrap();
        assert_eq!(r.operation(), Operation::PollForTask);
    }

    #[test]
    fn reserved_error_ids_are_rejected() {
        let err = Request::parse(
            Operation::SetTaskStatus,
            br#"{"taskId": "t", "taskStatus": "FAILED", "errorId": "Service_X"}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequestException);
        assert!(err.message.contains("errorId"));
    }
}
