//! The journal: every state change the service makes, as a typed event.
//!
//! The ownership log, the checks and the reports are all built from these events, so each
//! carries everything needed to read it alone: when, which pipeline, object, attempt and task,
//! which runner, what happened and why. Names are shared (`Arc<str>`) with the service's
//! records, so journaling a call allocates nothing for them.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use crate::protocol::Operation;
use crate::time::Millis;

/// Which lease deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    /// The task was not acknowledged in time.
    Ack,
    /// No progress report came within the progress timeout.
    Progress,
    /// The attempt ran past its `attemptTimeout`.
    Attempt,
}

/// Who or what canceled a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelSource {
    /// SetStatus TRY_CANCEL.
    TryCancel,
    /// DeactivatePipeline with cancelActive.
    Deactivate,
    /// DeletePipeline.
    Delete,
    /// SetStatus MARK_FINISHED on an instance that was running.
    MarkFinished,
    /// An upstream instance failed or was canceled.
    Cascade,
}

impl CancelSource {
    /// How the log names it.
    pub fn name(self) -> &'static str {
        match self {
            CancelSource::TryCancel => "TRY_CANCEL",
            CancelSource::Deactivate => "deactivate",
            CancelSource::Delete => "delete",
            CancelSource::MarkFinished => "MARK_FINISHED",
            CancelSource::Cascade => "cascade",
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A pipeline was created.
    PipelineCreated,
    /// A definition was saved.
    DefinitionPut,
    /// The pipeline was activated; instances were created.
    Activated {
        /// Instances created by this activation.
        instances: usize,
    },
    /// A schedule's period came due and its instance was created (`object_id`).
    Scheduled {
        /// `@scheduledStartTime`.
        start: crate::time::Millis,
        /// `@scheduledEndTime`.
        end: crate::time::Millis,
    },
    /// The pipeline was deactivated.
    Deactivated {
        /// Whether running objects were canceled.
        cancel_active: bool,
    },
    /// The pipeline was deleted.
    Deleted,
    /// An instance became ready to be handed out.
    Ready,
    /// A task was handed to a runner by a poll.
    Assigned {
        /// True when the same attempt had been handed out before.
        reassigned: bool,
        /// When the acknowledgement is due.
        ack_deadline: Millis,
        /// The held poll that got it; none when a poll was answered at once.
        #[serde(skip_serializing_if = "Option::is_none")]
        poll: Option<u64>,
    },
    /// The first progress report acknowledged the task.
    Acknowledged {
        /// When the next report is due.
        progress_deadline: Millis,
    },
    /// A later progress report renewed the lease.
    Renewed {
        /// When the next report is due.
        progress_deadline: Millis,
    },
    /// A lease deadline passed; the lease ended.
    Expired {
        /// Which deadline.
        deadline: Deadline,
    },
    /// A failed attempt will be retried.
    RetryScheduled {
        /// When the new attempt becomes ready.
        ready_at: Millis,
        /// The number the new attempt will have.
        next_attempt: u32,
    },
    /// The runner reported the task finished.
    Finished,
    /// The runner reported the task failed (or FALSE).
    Failed {
        /// The status reported (FAILED or FALSE).
        status: String,
        /// The error id reported, if any.
        error_id: Option<String>,
    },
    /// An instance ran out of retries and failed.
    InstanceFailed,
    /// An instance failed because one it depends on did not finish.
    CascadeFailed,
    /// An instance (and its lease, if any) was canceled.
    Canceled {
        /// Who canceled it.
        by: CancelSource,
    },
    /// An instance was marked finished by the operator.
    MarkedFinished,
    /// An instance was rerun by the operator.
    Rerun,
    /// A component was paused.
    Paused,
    /// A component was resumed.
    Resumed,
    /// A call named a task whose lease is no longer live; nothing changed.
    StaleCall {
        /// The operation.
        operation: Operation,
        /// What the service answered.
        answer: String,
    },
    /// A call named a taskId the service never issued; nothing changed.
    ForgedCall {
        /// The operation.
        operation: Operation,
    },
    /// A runner sent a heartbeat.
    Heartbeat {
        /// The runner's taskrunnerId.
        taskrunner_id: String,
        /// What the service answered.
        terminate: bool,
    },
    /// A poll found nothing and is held.
    PollParked {
        /// The held poll.
        poll: u64,
        /// Its worker group.
        worker_group: String,
    },
    /// A held poll ran out of time, or the service shut down, and it answered `{}`.
    PollTimedOut {
        /// The held poll.
        poll: u64,
        /// True when the service answered it because it was shutting down.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shutdown: bool,
    },
    /// A held poll was abandoned by its client before it was answered.
    PollAbandoned {
        /// The held poll.
        poll: u64,
    },
}

impl EventKind {
    /// True for the events that end an instance (it reaches a terminal status).
    pub fn ends_instance(&self) -> bool {
        matches!(
            self,
            EventKind::Finished
                | EventKind::InstanceFailed
                | EventKind::CascadeFailed
                | EventKind::Canceled { .. }
                | EventKind::MarkedFinished
        )
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::PipelineCreated => "created",
            EventKind::DefinitionPut => "definition put",
            EventKind::Activated { .. } => "activated",
            EventKind::Deactivated { .. } => "deactivated",
            EventKind::Deleted => "deleted",
            EventKind::Ready => "ready",
            EventKind::Assigned { .. } => "assigned",
            EventKind::Acknowledged { .. } => "acknowledged",
            EventKind::Renewed { .. } => "renewed",
            EventKind::Expired { .. } => "expired",
            EventKind::RetryScheduled { .. } => "retry scheduled",
            EventKind::Finished => "finished",
            EventKind::Failed { .. } => "failed",
            EventKind::InstanceFailed => "instance failed",
            EventKind::CascadeFailed => "cascade failed",
            EventKind::Canceled { .. } => "canceled",
            EventKind::MarkedFinished => "marked finished",
            EventKind::Rerun => "rerun",
            EventKind::Paused => "paused",
            EventKind::Scheduled { .. } => "scheduled",
            EventKind::Resumed => "resumed",
            EventKind::StaleCall { .. } => "stale call",
            EventKind::ForgedCall { .. } => "forged call",
            EventKind::Heartbeat { .. } => "heartbeat",
            EventKind::PollParked { .. } => "poll held",
            EventKind::PollTimedOut { .. } => "poll empty",
            EventKind::PollAbandoned { .. } => "poll abandoned",
        }
    }
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Virtual time of the change.
    pub at: Millis,
    /// Position in the journal; orders events at the same instant.
    pub seq: u64,
    /// The pipeline, when the event concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<Arc<str>>,
    /// The instance or component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<Arc<str>>,
    /// The attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<Arc<str>>,
    /// The lease number (the taskId's sequence), when the event concerns a task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<u64>,
    /// The runner: hostname for task calls, taskrunnerId for heartbeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<Arc<str>>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// Why, in words.
    pub cause: Cow<'static, str>,
}

impl Event {
    /// The instance the event concerns, as (pipeline id, instance id): instance ids are unique
    /// only within their pipeline.
    pub fn instance(&self) -> Option<(&str, &str)> {
        Some((self.pipeline_id.as_deref().unwrap_or_default(), self.object_id.as_deref()?))
    }
}
