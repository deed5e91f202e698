//! The operations the service speaks, named as in `X-Amz-Target: DataPipeline.<Operation>`.

use std::fmt;

macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A Data Pipeline API operation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        pub enum Operation { $($(#[$doc])* $name,)* }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$(Operation::$name,)*];

            /// The operation's name as it appears after `DataPipeline.`.
            pub fn as_str(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name),)* }
            }
        }
    };
}

operations! {
    /// Runner: ask for a task of a worker group (long poll).
    PollForTask,
    /// Runner: acknowledge or renew a task, learn whether it was canceled.
    ReportTaskProgress,
    /// Runner: report a task finished or failed.
    SetTaskStatus,
    /// Runner: report the runner alive.
    ReportTaskRunnerHeartbeat,
    /// Control plane: create an empty pipeline.
    CreatePipeline,
    /// Control plane: replace a pipeline's definition.
    PutPipelineDefinition,
    /// Control plane: validate a definition without saving it.
    ValidatePipelineDefinition,
    /// Control plane: read back the definition.
    GetPipelineDefinition,
    /// Control plane: start running a pipeline.
    ActivatePipeline,
    /// Control plane: stop running a pipeline.
    DeactivatePipeline,
    /// Control plane: delete a pipeline.
    DeletePipeline,
    /// Control plane: TRY_CANCEL, RERUN, MARK_FINISHED, PAUSE, RESUME.
    SetStatus,
    /// Inspection: describe objects by id.
    DescribeObjects,
    /// Inspection: query object ids by sphere and selectors.
    QueryObjects,
    /// Inspection: describe pipelines.
    DescribePipelines,
    /// Inspection: list pipelines.
    ListPipelines,
    /// Control plane: add tags.
    AddTags,
    /// Control plane: remove tags.
    RemoveTags,
    /// Inspection: evaluate an expression (not simulated; answered with an error).
    EvaluateExpression,
}

impl Operation {
    /// Parses an `X-Amz-Target` value such as `DataPipeline.PollForTask`.
    pub fn from_target(target: &str) -> Option<Operation> {
        let name = target.strip_prefix("DataPipeline.")?;
        Operation::ALL.iter().copied().find(|op| op.as_str() == name)
    }

    /// True for the four task-runner operations.
    pub fn is_runner_call(self) -> bool {
        matches!(
            self,
            Operation::PollForTask
                | Operation::ReportTaskProgress
                | Operation::SetTaskStatus
                | Operation::ReportTaskRunnerHeartbeat
        )
    }
}

/// Read by name (`PollForTask`), with a message that names the operation it does not know.
impl<'de> serde::Deserialize<'de> for Operation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Operation, D::Error> {
        let name = String::deserialize(d)?;
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown operation {name:?}")))
    }
}

/// In the scenario schema: a string, as before operations were typed.
impl schemars::JsonSchema for Operation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Operation".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
