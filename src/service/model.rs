//! The service's records: pipelines, instances, attempts and tasks (leases).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::journal::{CancelSource, Deadline};
use crate::protocol::Field;
use crate::protocol::shapes::{ParameterObject, ParameterValue, Tag};
use crate::time::Millis;

use super::definition::{Activity, Definition};
use super::timers::TimerKey;

pub use super::{AttemptKey, InstanceKey, PipelineKey};

/// A pipeline's lifecycle state, as `@pipelineState` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineState {
    /// Created, never activated.
    Pending,
    /// Activated and running.
    Scheduled,
    /// Deactivated.
    Inactive,
    /// Deleted.
    Deleted,
}

impl PipelineState {
    /// The `@pipelineState` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineState::Pending => "PENDING",
            PipelineState::Scheduled => "SCHEDULED",
            PipelineState::Inactive => "INACTIVE",
            PipelineState::Deleted => "DELETING",
        }
    }
}

/// A pipeline and everything it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// `df-…` id.
    pub id: Arc<str>,
    /// Name given at creation.
    pub name: String,
    /// Idempotency token given at creation.
    pub unique_id: String,
    /// Description given at creation.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Creation time.
    pub created_at: Millis,
    /// Lifecycle state.
    pub state: PipelineState,
    /// The latest saved definition.
    pub definition: Option<Arc<Definition>>,
    /// The definition of the latest activation (shared, not copied, per activation).
    pub active_definition: Option<Arc<Definition>>,
    /// Parameter declarations as put.
    pub parameter_objects: Vec<ParameterObject>,
    /// Parameter values as put.
    pub parameter_values: Vec<ParameterValue>,
    /// Paused components.
    pub paused: BTreeSet<String>,
    /// The first activation's start: where `startAt: FIRST_ACTIVATION_DATE_TIME` schedules begin.
    pub first_activation: Option<Millis>,
    /// Per scheduled activity, the index of its next period to create.
    pub next_period: BTreeMap<String, u64>,
    /// When the next period of any schedule comes due.
    pub period_timer: Option<super::timers::TimerKey>,
    /// Instances in creation order.
    pub instances: Vec<InstanceKey>,
    /// Per scheduled activity, its instances that may not be over (pruned of finished ones as
    /// `settle` passes; a RERUN puts one back): what `maxActiveInstances` counts, without
    /// walking a pipeline's whole history on every request.
    pub open_scheduled: BTreeMap<String, BTreeSet<InstanceKey>>,
    /// Instances by id.
    pub instance_ids: BTreeMap<String, InstanceKey>,
    /// Attempts by id.
    pub attempt_ids: BTreeMap<String, AttemptKey>,
    /// Number of activations so far.
    pub activations: u32,
}

/// An instance's status (`@status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Waiting for upstream instances.
    WaitingOnDependencies,
    /// Ready (or waiting for its retry delay) and not leased.
    WaitingForRunner,
    /// Leased to a runner.
    Running,
    /// Done.
    Finished,
    /// Out of retries.
    Failed,
    /// Canceled.
    Canceled,
    /// An upstream instance did not finish.
    CascadeFailed,
}

impl InstanceStatus {
    /// The `@status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::WaitingOnDependencies => "WAITING_ON_DEPENDENCIES",
            InstanceStatus::WaitingForRunner => "WAITING_FOR_RUNNER",
            InstanceStatus::Running => "RUNNING",
            InstanceStatus::Finished => "FINISHED",
            InstanceStatus::Failed => "FAILED",
            InstanceStatus::Canceled => "CANCELED",
            InstanceStatus::CascadeFailed => "CASCADE_FAILED",
        }
    }

    /// True once nothing more will happen to the instance (until a RERUN).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            InstanceStatus::Finished
                | InstanceStatus::Failed
                | InstanceStatus::Canceled
                | InstanceStatus::CascadeFailed
        )
    }
}

/// An activity instance: one run of an activity per activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Owning pipeline.
    pub pipeline: PipelineKey,
    /// `@<activity>_<scheduled start>` id.
    pub id: Arc<str>,
    /// The activity as it was when the instance was created.
    pub activity: Arc<Activity>,
    /// Status.
    pub status: InstanceStatus,
    /// Scheduled start; orders the ready queue.
    pub scheduled_start: Millis,
    /// `@scheduledEndTime`, for an instance of a schedule's period.
    pub scheduled_end: Option<Millis>,
    /// First handout.
    pub actual_start: Option<Millis>,
    /// Reached a terminal status.
    pub actual_end: Option<Millis>,
    /// Attempts in order.
    pub attempts: Vec<AttemptKey>,
    /// The attempt that is leased or waiting to be handed out again.
    pub current_attempt: Option<AttemptKey>,
    /// Failed attempts counted against `maximumRetries`.
    pub failures: u32,
    /// Upstream instances not yet finished (a set: finishing twice, after a RERUN, counts once).
    pub waiting_on: BTreeSet<InstanceKey>,
    /// Downstream instances.
    pub dependents: Vec<InstanceKey>,
    /// In the ready queue.
    pub queued: bool,
    /// Not ready before this timer fires (retry delay or future start).
    pub ready_timer: Option<TimerKey>,
}

/// An attempt's status (`@status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptStatus {
    /// Waiting to be handed out (again).
    WaitingForRunner,
    /// Leased.
    Running,
    /// Reported finished.
    Finished,
    /// Reported failed or false.
    Failed,
    /// A deadline passed.
    TimedOut,
    /// Canceled.
    Canceled,
}

impl AttemptStatus {
    /// The `@status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::WaitingForRunner => "WAITING_FOR_RUNNER",
            AttemptStatus::Running => "RUNNING",
            AttemptStatus::Finished => "FINISHED",
            AttemptStatus::Failed => "FAILED",
            AttemptStatus::TimedOut => "TIMEDOUT",
            AttemptStatus::Canceled => "CANCELED",
        }
    }
}

/// One attempt of an instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// `@<activity>_<time>_Attempt=<n>` id.
    pub id: Arc<str>,
    /// Owning instance.
    pub instance: InstanceKey,
    /// 1-based number.
    pub number: u32,
    /// Status.
    pub status: AttemptStatus,
    /// Host of the latest handout.
    pub hostname: Option<Arc<str>>,
    /// First handout.
    pub started: Option<Millis>,
    /// Terminal time.
    pub ended: Option<Millis>,
    /// Last accepted progress report.
    pub report_progress_time: Option<Millis>,
    /// Fields stored by ReportTaskProgress, latest value per key.
    pub reported: BTreeMap<String, Field>,
    /// The status the runner set (FINISHED, FAILED, FALSE).
    pub task_status: Option<String>,
    /// Error id (runner's, or `Service_…` for the service's own).
    pub error_id: Option<String>,
    /// Error message.
    pub error_message: Option<String>,
    /// Error stack trace.
    pub error_stack_trace: Option<String>,
    /// The live lease, if any.
    pub lease: Option<u64>,
    /// Times the attempt was handed out.
    pub handouts: u32,
    /// The `attemptTimeout` timer.
    pub timeout_timer: Option<TimerKey>,
}

/// Why a lease ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// A deadline passed.
    Expired(Deadline),
    /// Canceled by the operator, deactivation, deletion or a cascade.
    Canceled(CancelSource),
    /// The runner set FINISHED.
    Finished,
    /// The runner set FAILED or FALSE.
    Failed,
}

impl LeaseEnd {
    /// Words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            LeaseEnd::Expired(Deadline::Ack) => "its acknowledgement deadline passed",
            LeaseEnd::Expired(Deadline::Progress) => "its progress-report deadline passed",
            LeaseEnd::Expired(Deadline::Attempt) => "its attempt timed out",
            LeaseEnd::Canceled(_) => "it was canceled",
            LeaseEnd::Finished => "it already finished",
            LeaseEnd::Failed => "it already failed",
        }
    }
}

/// A lease's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// The runner owns the task.
    Live {
        /// Acknowledged by a first progress report.
        acked: bool,
        /// Ack or progress deadline.
        deadline: Millis,
        /// The timer for that deadline.
        timer: TimerKey,
    },
    /// Over.
    Ended(LeaseEnd),
}

/// One handout of an attempt: what a taskId names.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Owning pipeline.
    pub pipeline: PipelineKey,
    /// The instance.
    pub instance: InstanceKey,
    /// The attempt handed out.
    pub attempt: AttemptKey,
    /// The polling host.
    pub hostname: Option<Arc<str>>,
    /// When the poll that created the lease was answered.
    pub assigned_at: Millis,
    /// Live or ended.
    pub state: LeaseState,
}

/// What the service knows about a runner from its heartbeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerRecord {
    /// Last heartbeat.
    pub last_seen: Millis,
    /// Worker group it reported.
    pub worker_group: Option<String>,
    /// Host it reported.
    pub hostname: Option<String>,
}
