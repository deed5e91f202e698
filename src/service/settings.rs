//! Every choice the service makes where AWS is silent, as one settings struct.
//!
//! Defaults follow PROTOCOL.md section 6; each field's doc names the rule it controls.

use serde::{Deserialize, Serialize};

use crate::time::{MINUTE_MS, SECOND_MS};

/// The service's tunable rules. `Settings::default()` is what AWS documents or implies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Time a runner has to acknowledge (first ReportTaskProgress) a task, from the moment the
    /// PollForTask that assigned it is answered. Default 2 minutes.
    pub ack_timeout_ms: u64,
    /// Longest gap between progress reports when the activity sets no
    /// `reportProgressTimeout`. Default 15 minutes.
    pub progress_timeout_ms: u64,
    /// How long PollForTask is held when no task is ready before it answers `{}`. Default 90 s
    /// (AWS); keep it under botocore's 60 s read timeout for Python clients.
    pub poll_hold_ms: u64,
    /// `maximumRetries` when an activity omits it. Default 2.
    pub default_maximum_retries: u32,
    /// Largest `maximumRetries` a definition may set. Default 5 (AWS's cap).
    pub maximum_retries_cap: u32,
    /// `retryDelay` when an activity omits it. Default 10 minutes.
    pub default_retry_delay_ms: u64,
    /// Smallest `retryDelay` a definition may set. Default 2 minutes (AWS's minimum).
    pub minimum_retry_delay_ms: u64,
    /// Shortest schedule `period` a definition may set. Default 15 minutes (AWS's minimum
    /// scheduling interval).
    pub minimum_schedule_period_ms: u64,
    /// `maxActiveInstances` of a scheduled activity that omits it. Default 1 (AWS states 1 for
    /// on-demand pipelines and is silent for scheduled ones).
    pub default_max_active_instances: u32,
    /// How far before the activation a schedule's first period may start (its earlier periods
    /// are backfilled at once); an earlier start refuses the activation, as AWS blocks
    /// accidental backfills. Default 1 day; `None` allows any backfill.
    pub backfill_limit_ms: Option<u64>,
    /// Seed for pipeline ids and the taskId key; the same seed gives the same ids.
    pub seed: u64,
    /// A deliberately broken rule, only for proving that the checks catch it. Never set it
    /// otherwise.
    pub bug: Option<Bug>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ack_timeout_ms: 2 * MINUTE_MS,
            progress_timeout_ms: 15 * MINUTE_MS,
            poll_hold_ms: 90 * SECOND_MS,
            default_maximum_retries: 2,
            maximum_retries_cap: 5,
            default_retry_delay_ms: 10 * MINUTE_MS,
            minimum_retry_delay_ms: 2 * MINUTE_MS,
            minimum_schedule_period_ms: 15 * MINUTE_MS,
            default_max_active_instances: 1,
            backfill_limit_ms: Some(24 * 60 * MINUTE_MS),
            seed: 0,
            bug: None,
        }
    }
}

/// A deliberately broken rule of the service, one per rule the history checker enforces: each
/// exists only to prove that the checks and chaos catch a service that breaks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// A progress report on an expired lease revives it instead of answering `canceled: true`.
    ExtendLeaseOnLateReport,
    /// SetStatus TRY_CANCEL answers success and does nothing.
    IgnoreTryCancel,
    /// A failed attempt is retried at once, without waiting its `retryDelay`.
    IgnoreRetryDelay,
    /// SetTaskStatus through a lease that is over answers success (and changes nothing).
    AcceptStaleStatus,
    /// SetTaskStatus FINISHED through a lease that is over finishes the instance under its live
    /// lease (another runner's, after a reassignment): the live owner's work is thrown away.
    StaleStatusFinishes,
    /// DeletePipeline leaves the pipeline's ready tasks in the queue, to be handed out.
    HandOutDeleted,
    /// An activity's instances are ready at activation, whatever they depend on.
    IgnoreDependencies,
    /// One retry more than `maximumRetries` allows.
    ExtraRetry,
    /// SetStatus PAUSE is answered and ignored.
    IgnorePause,
    /// A task that becomes ready is not handed to polls already waiting, only to new ones.
    SkipHeldPolls,
    /// A missed acknowledgement counts as a failed attempt.
    AckExpiryFailsAttempt,
    /// Every third period of a schedule gets no instance.
    SkipPeriod,
    /// An off-by-one in the period arithmetic itself: every period after the first starts one
    /// period late, so the second period is skipped and every later instance is a period late.
    LatePeriods,
    /// Every third period of a schedule gets a second instance (`..._2`).
    DuplicatePeriod,
    /// An instance accepted as FINISHED goes back to waiting for a runner (and runs again).
    RequeueFinished,
    /// A task handed out for the first time stays in the ready queue: the next poll gets it
    /// too, while the first lease is live (two owners).
    HandOutLeased,
    /// An acknowledgement deadline fires a second early: the lease ends before its deadline.
    EarlyExpiry,
    /// A lease that missed its acknowledgement is not queued again: the task waits for a
    /// runner in no queue, lost.
    LoseAckExpired,
    /// A report on a lease that TRY_CANCEL ended renews it instead of answering
    /// `canceled: true`: the owner never learns of the cancel.
    RenewCanceled,
    /// Deep (two faults placed precisely): a lease of an attempt handed out again after a
    /// missed acknowledgement never expires for want of one (its expiry timer is armed only on
    /// the attempt's first handout). Shows only when two leases of one attempt both miss their
    /// acknowledgement.
    SecondHandoutNeverExpires,
    /// Deep: an acknowledgement landing in the last second before its deadline is accepted
    /// but arms no progress timer (the ack path skips a lease whose timer is already due), so
    /// the lease never expires for want of reports. Shows only when an acknowledgement lands
    /// at the edge of its deadline and the runner then stops reporting.
    AckAtDeadlineArmsNoTimer,
    /// Deep: an acknowledgement landing within a second after the deadline of a lease that
    /// was handed out again (its attempt's second handout) revives the lease (the reassignment
    /// path compares the deadline with `<=` against a clock rounded up to the second). Shows
    /// only when a first acknowledgement is missed and the next lease's is a tick late.
    ReassignedAckGrace,
    /// Deep: a retried attempt's acknowledgement deadline is the progress timeout (15 minutes)
    /// instead of the ack timeout. Shows only when an attempt fails and its retry's
    /// acknowledgement is then missed.
    RetryAckOnProgressTimeout,
}

impl Bug {
    /// Every broken rule.
    pub const ALL: [Bug; 13] = [
        Bug::ExtendLeaseOnLateReport,
        Bug::IgnoreTryCancel,
        Bug::IgnoreRetryDelay,
        Bug::AcceptStaleStatus,
        Bug::HandOutDeleted,
        Bug::IgnoreDependencies,
        Bug::ExtraRetry,
        Bug::IgnorePause,
        Bug::SkipHeldPolls,
        Bug::AckExpiryFailsAttempt,
        Bug::SkipPeriod,
        Bug::DuplicatePeriod,
        Bug::RequeueFinished,
    ];

    /// The deep broken rules: each needs two faults placed precisely to show itself, so a
    /// random sweep finds it only by luck and `dpsim verify --faults 2` finds it for sure.
    pub const DEEP: [Bug; 4] = [
        Bug::SecondHandoutNeverExpires,
        Bug::AckAtDeadlineArmsNoTimer,
        Bug::ReassignedAckGrace,
        Bug::RetryAckOnProgressTimeout,
    ];
}
