//! Coverage probes, after FoundationDB's code probes: named situations a run may reach (a rule
//! of the history checker put to the test, a deadline boundary, a fault applied, a runner's
//! belief changing), each counted when a run reaches it. A sweep that never hits a probe has
//! never tested what the probe names, however many seeds passed: `dpsim chaos` says which.
//!
//! Probes read the same plain data as the checks: the calls and answers the edge saw, judged by
//! the history checker's walk (which counts the rule and boundary probes as it goes), and the
//! observations (faults applied, runner beliefs). Nothing here asks the service.

use std::collections::BTreeMap;

use crate::scenario::{ActionKind, EffectKind};
use crate::trace::{Observation, ObservationKind};

use super::Input;
use super::referee::{LeaseEnd, Model, Status};

/// One named situation a run may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Probe {
    /// A handout was judged against readiness, one owner at a time and the worker group.
    HandoutJudged,
    /// A retry (attempt 2 or later) was handed out and its attempt number judged.
    RetryAttemptJudged,
    /// A report on a live lease was accepted.
    ReportLiveAccepted,
    /// A report after the lease ended was answered `canceled: true` or TaskNotFound.
    ReportEndedRefused,
    /// SetTaskStatus through the live lease was accepted.
    StatusLiveAccepted,
    /// SetTaskStatus through a lease that had ended was refused.
    StatusEndedRefused,
    /// A poll that waited at the service was handed a task the moment it became ready.
    WaitingPollServed,
    /// An instance ran out of retries (FAILED).
    OutOfRetries,
    /// An instance was CASCADE_FAILED by an upstream that will not finish.
    CascadeFailed,
    /// A lease ended at its ack deadline.
    EndAckDeadline,
    /// A lease ended at its progress deadline.
    EndProgressDeadline,
    /// A lease ended by its own SetTaskStatus.
    EndStatusSet,
    /// A lease ended by TRY_CANCEL.
    EndTryCancel,
    /// A lease ended by DeactivatePipeline with cancelActive.
    EndDeactivated,
    /// A lease ended by DeletePipeline.
    EndDeleted,
    /// A lease ended by a cascade from its upstream.
    EndCascade,
    /// A lease ended at its attempt's attemptTimeout.
    EndAttemptTimeout,
    /// A progress report answered within one tick before its lease's deadline.
    ReportTickBeforeDeadline,
    /// A progress report answered at the very millisecond of its lease's deadline.
    ReportAtDeadline,
    /// A progress report answered within one tick after its lease's deadline.
    ReportTickAfterDeadline,
    /// An acknowledgement (first report) answered at the millisecond of its ack deadline.
    AckAtDeadline,
    /// An acknowledgement answered late but in time: in the second half of its window.
    AckLateWithinDeadline,
    /// SetTaskStatus through an ended lease while another lease of the instance was live (a
    /// stale status racing the live owner).
    StatusAfterEndWhileLive,
    /// A TRY_CANCEL answered within one tick of a deadline of the instance's lease.
    CancelRacesExpiry,
    /// A retry handed out within one tick of the end of its retryDelay.
    RetryAtRetryDelay,
    /// A waiting poll handed, at once, a task whose lease had just passed its deadline.
    HeldPollReleasedByDeadline,
    /// A duplicated call's copy reached the service after its lease had ended.
    DuplicateAfterLeaseEnd,
    /// A partition was applied.
    FaultPartition,
    /// A partition was repaired.
    FaultRepair,
    /// A runner was frozen.
    FaultPause,
    /// A frozen runner was resumed.
    FaultResume,
    /// A runner process was crashed.
    FaultCrashRunner,
    /// A crashed runner was restarted.
    FaultRestartRunner,
    /// The service was crashed.
    FaultCrashService,
    /// The service was restarted.
    FaultRestartService,
    /// An activity's instances were canceled (TRY_CANCEL).
    FaultCancel,
    /// An activity's instances were rerun.
    FaultRerun,
    /// An activity was paused.
    FaultPauseActivity,
    /// A paused activity was resumed.
    FaultResumeActivity,
    /// A pipeline was deactivated.
    FaultDeactivate,
    /// A deactivated pipeline was activated again.
    FaultActivate,
    /// A pipeline was deleted.
    FaultDelete,
    /// A message fault lost a request.
    FaultDropRequest,
    /// A message fault lost a response.
    FaultDropResponse,
    /// A message fault delayed a request.
    FaultDelay,
    /// A message fault delivered a request twice.
    FaultDuplicate,
    /// A message fault answered a call with an injected error.
    FaultError,
    /// A runner started work on a task.
    BeliefStartsWork,
    /// A runner learned it lost a task it was working on.
    BeliefLearnsLost,
    /// A runner stopped work it finished (it had not learned of a loss).
    BeliefStopsDone,
    /// A runner stopped work after learning it lost the task.
    BeliefStopsAfterLoss,
    /// A runner crashed while working on a task.
    BeliefCrashedWorking,
    /// A runner was frozen while working on a task.
    BeliefFrozenWorking,
    /// A frozen runner ran again.
    BeliefThawed,
    /// A crashed runner started again.
    BeliefRestarted,
    /// A call of a runner failed without an answer (timeout, network, throttling).
    BeliefCallUnheard,
    /// A call of a runner failed with an answer it could learn from.
    BeliefCallRefused,
}

impl Probe {
    /// Every probe, in the order tables list them.
    pub const ALL: [Probe; 57] = [
        Probe::HandoutJudged,
        Probe::RetryAttemptJudged,
        Probe::ReportLiveAccepted,
        Probe::ReportEndedRefused,
        Probe::StatusLiveAccepted,
        Probe::StatusEndedRefused,
        Probe::WaitingPollServed,
        Probe::OutOfRetries,
        Probe::CascadeFailed,
        Probe::EndAckDeadline,
        Probe::EndProgressDeadline,
        Probe::EndStatusSet,
        Probe::EndTryCancel,
        Probe::EndDeactivated,
        Probe::EndDeleted,
        Probe::EndCascade,
        Probe::EndAttemptTimeout,
        Probe::ReportTickBeforeDeadline,
        Probe::ReportAtDeadline,
        Probe::ReportTickAfterDeadline,
        Probe::AckAtDeadline,
        Probe::AckLateWithinDeadline,
        Probe::StatusAfterEndWhileLive,
        Probe::CancelRacesExpiry,
        Probe::RetryAtRetryDelay,
        Probe::HeldPollReleasedByDeadline,
        Probe::DuplicateAfterLeaseEnd,
        Probe::FaultPartition,
        Probe::FaultRepair,
        Probe::FaultPause,
        Probe::FaultResume,
        Probe::FaultCrashRunner,
        Probe::FaultRestartRunner,
        Probe::FaultCrashService,
        Probe::FaultRestartService,
        Probe::FaultCancel,
        Probe::FaultRerun,
        Probe::FaultPauseActivity,
        Probe::FaultResumeActivity,
        Probe::FaultDeactivate,
        Probe::FaultActivate,
        Probe::FaultDelete,
        Probe::FaultDropRequest,
        Probe::FaultDropResponse,
        Probe::FaultDelay,
        Probe::FaultDuplicate,
        Probe::FaultError,
        Probe::BeliefStartsWork,
        Probe::BeliefLearnsLost,
        Probe::BeliefStopsDone,
        Probe::BeliefStopsAfterLoss,
        Probe::BeliefCrashedWorking,
        Probe::BeliefFrozenWorking,
        Probe::BeliefThawed,
        Probe::BeliefRestarted,
        Probe::BeliefCallUnheard,
        Probe::BeliefCallRefused,
    ];

    /// The probe's name, as reports and the README print it.
    pub fn name(self) -> &'static str {
        match self {
            Probe::HandoutJudged => "rule.handout-judged",
            Probe::RetryAttemptJudged => "rule.retry-attempt-judged",
            Probe::ReportLiveAccepted => "rule.report-live-accepted",
            Probe::ReportEndedRefused => "rule.report-after-end-refused",
            Probe::StatusLiveAccepted => "rule.status-live-accepted",
            Probe::StatusEndedRefused => "rule.status-after-end-refused",
            Probe::WaitingPollServed => "rule.waiting-poll-served",
            Probe::OutOfRetries => "rule.out-of-retries",
            Probe::CascadeFailed => "rule.cascade-failed",
            Probe::EndAckDeadline => "lease-end.ack-deadline",
            Probe::EndProgressDeadline => "lease-end.progress-deadline",
            Probe::EndStatusSet => "lease-end.status-set",
            Probe::EndTryCancel => "lease-end.try-cancel",
            Probe::EndDeactivated => "lease-end.deactivated",
            Probe::EndDeleted => "lease-end.deleted",
            Probe::EndCascade => "lease-end.cascade",
            Probe::EndAttemptTimeout => "lease-end.attempt-timeout",
            Probe::ReportTickBeforeDeadline => "boundary.report-tick-before-deadline",
            Probe::ReportAtDeadline => "boundary.report-at-deadline",
            Probe::ReportTickAfterDeadline => "boundary.report-tick-after-deadline",
            Probe::AckAtDeadline => "boundary.ack-at-deadline",
            Probe::AckLateWithinDeadline => "boundary.ack-late-within-deadline",
            Probe::StatusAfterEndWhileLive => "boundary.status-after-end-while-live",
            Probe::CancelRacesExpiry => "boundary.cancel-races-expiry",
            Probe::RetryAtRetryDelay => "boundary.retry-at-retry-delay",
            Probe::HeldPollReleasedByDeadline => "boundary.held-poll-released-by-deadline",
            Probe::DuplicateAfterLeaseEnd => "boundary.duplicate-after-lease-end",
            Probe::FaultPartition => "fault.partition",
            Probe::FaultRepair => "fault.repair",
            Probe::FaultPause => "fault.pause",
            Probe::FaultResume => "fault.resume",
            Probe::FaultCrashRunner => "fault.crash_runner",
            Probe::FaultRestartRunner => "fault.restart_runner",
            Probe::FaultCrashService => "fault.crash_service",
            Probe::FaultRestartService => "fault.restart_service",
            Probe::FaultCancel => "fault.cancel",
            Probe::FaultRerun => "fault.rerun",
            Probe::FaultPauseActivity => "fault.pause_activity",
            Probe::FaultResumeActivity => "fault.resume_activity",
            Probe::FaultDeactivate => "fault.deactivate",
            Probe::FaultActivate => "fault.activate",
            Probe::FaultDelete => "fault.delete",
            Probe::FaultDropRequest => "fault.message.drop_request",
            Probe::FaultDropResponse => "fault.message.drop_response",
            Probe::FaultDelay => "fault.message.delay",
            Probe::FaultDuplicate => "fault.message.duplicate",
            Probe::FaultError => "fault.message.error",
            Probe::BeliefStartsWork => "belief.starts-work",
            Probe::BeliefLearnsLost => "belief.learns-lost",
            Probe::BeliefStopsDone => "belief.stops-done",
            Probe::BeliefStopsAfterLoss => "belief.stops-after-loss",
            Probe::BeliefCrashedWorking => "belief.crashed-while-working",
            Probe::BeliefFrozenWorking => "belief.frozen-while-working",
            Probe::BeliefThawed => "belief.thawed",
            Probe::BeliefRestarted => "belief.restarted",
            Probe::BeliefCallUnheard => "belief.call-unheard",
            Probe::BeliefCallRefused => "belief.call-refused",
        }
    }

    /// The probe a name names.
    pub fn named(name: &str) -> Option<Probe> {
        Probe::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The probe of a scenario event's `kind`, when it has one.
    fn of_event(kind: ActionKind) -> Option<Probe> {
        Some(match kind {
            ActionKind::Partition => Probe::FaultPartition,
            ActionKind::Repair => Probe::FaultRepair,
            ActionKind::Pause => Probe::FaultPause,
            ActionKind::Resume => Probe::FaultResume,
            ActionKind::CrashRunner => Probe::FaultCrashRunner,
            ActionKind::RestartRunner => Probe::FaultRestartRunner,
            ActionKind::CrashService => Probe::FaultCrashService,
            ActionKind::RestartService => Probe::FaultRestartService,
            ActionKind::Cancel => Probe::FaultCancel,
            ActionKind::Rerun => Probe::FaultRerun,
            ActionKind::PauseActivity => Probe::FaultPauseActivity,
            ActionKind::ResumeActivity => Probe::FaultResumeActivity,
            ActionKind::Deactivate => Probe::FaultDeactivate,
            ActionKind::Activate => Probe::FaultActivate,
            ActionKind::Delete => Probe::FaultDelete,
            ActionKind::Hold
            | ActionKind::Release
            | ActionKind::Latency
            | ActionKind::CrashMachine
            | ActionKind::RestartMachine
            | ActionKind::Message
            | ActionKind::SlowWork
            | ActionKind::Terminate => return None,
        })
    }

    /// The probe of a message fault's effect `type`, when it has one.
    fn of_effect(effect: EffectKind) -> Option<Probe> {
        Some(match effect {
            EffectKind::DropRequest => Probe::FaultDropRequest,
            EffectKind::DropResponse => Probe::FaultDropResponse,
            EffectKind::Delay => Probe::FaultDelay,
            EffectKind::Duplicate => Probe::FaultDuplicate,
            EffectKind::Error => Probe::FaultError,
            EffectKind::Hold => return None,
        })
    }

    /// The probe of the way a lease ended, when it has one.
    fn of_end(end: &LeaseEnd) -> Option<Probe> {
        Some(match end {
            LeaseEnd::AckDeadline => Probe::EndAckDeadline,
            LeaseEnd::ProgressDeadline => Probe::EndProgressDeadline,
            LeaseEnd::StatusSet(_) => Probe::EndStatusSet,
            LeaseEnd::TryCancel => Probe::EndTryCancel,
            LeaseEnd::Deactivated => Probe::EndDeactivated,
            LeaseEnd::Deleted => Probe::EndDeleted,
            LeaseEnd::Cascade(_) => Probe::EndCascade,
            LeaseEnd::AttemptTimeout => Probe::EndAttemptTimeout,
            _ => return None,
        })
    }
}

/// How often a run hit each probe it hit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hits(BTreeMap<Probe, u32>);

impl Hits {
    /// Counts one hit.
    pub fn hit(&mut self, probe: Probe) {
        *self.0.entry(probe).or_default() += 1;
    }

    /// The probes hit, with their counts, in [`Probe::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Probe, u32)> + '_ {
        self.0.iter().map(|(p, n)| (*p, *n))
    }

    /// By name, for reports.
    pub fn by_name(&self) -> BTreeMap<&'static str, u32> {
        self.0.iter().map(|(p, n)| (p.name(), *n)).collect()
    }

    fn add(&mut self, other: &Hits) {
        for (p, n) in other.iter() {
            *self.0.entry(p).or_default() += n;
        }
    }
}

/// Every probe a run hit: the history walk's (rules, boundaries) and those the model's end
/// state and the observations show.
pub fn probes(input: &Input) -> Hits {
    let mut hits = super::history::walk_hits(input).clone();
    hits.add(&observed(&input.out.observations));
    hits
}

/// The probes of the model at the end of the walk: how leases ended, how instances ended.
pub(super) fn model_hits(model: &Model, hits: &mut Hits) {
    for lease in model.leases.values() {
        if let Some(p) = lease.over.as_ref().and_then(|(_, end)| Probe::of_end(end)) {
            hits.hit(p);
        }
    }
    for inst in &model.insts {
        match inst.status {
            Status::Failed => hits.hit(Probe::OutOfRetries),
            Status::CascadeFailed => hits.hit(Probe::CascadeFailed),
            _ => {}
        }
    }
}

/// The probes the observations show: faults applied and runner beliefs.
fn observed(observations: &[Observation]) -> Hits {
    let mut hits = Hits::default();
    // Per runner, the tasks it works on and whether it learned each was lost.
    let mut working: BTreeMap<&str, BTreeMap<u64, bool>> = BTreeMap::new();
    for o in observations {
        let runner = o.runner.as_deref().unwrap_or_default();
        match &o.kind {
            ObservationKind::Applied { event: Some(kind), .. } => {
                if let Some(p) = Probe::of_event(*kind) {
                    hits.hit(p);
                }
            }
            ObservationKind::MessageFault { effect, .. } => {
                if let Some(p) = Probe::of_effect(*effect) {
                    hits.hit(p);
                }
            }
            ObservationKind::StartsWork { task, .. } => {
                hits.hit(Probe::BeliefStartsWork);
                working.entry(runner).or_default().insert(*task, false);
            }
            ObservationKind::LearnsLost { task, .. } => {
                if let Some(lost) = working.get_mut(runner).and_then(|w| w.get_mut(task)) {
                    *lost = true;
                    hits.hit(Probe::BeliefLearnsLost);
                }
            }
            ObservationKind::StopsWork { task, .. } => match working.get_mut(runner).and_then(|w| w.remove(task)) {
                Some(true) => hits.hit(Probe::BeliefStopsAfterLoss),
                Some(false) => hits.hit(Probe::BeliefStopsDone),
                None => {}
            },
            ObservationKind::Crashed if working.remove(runner).is_some_and(|w| !w.is_empty()) => {
                hits.hit(Probe::BeliefCrashedWorking);
            }
            ObservationKind::Frozen if working.get(runner).is_some_and(|w| !w.is_empty()) => {
                hits.hit(Probe::BeliefFrozenWorking);
            }
            ObservationKind::Thawed => hits.hit(Probe::BeliefThawed),
            ObservationKind::Restarted => hits.hit(Probe::BeliefRestarted),
            ObservationKind::CallFailed { transient: true, .. } => hits.hit(Probe::BeliefCallUnheard),
            ObservationKind::CallFailed { transient: false, .. } => hits.hit(Probe::BeliefCallRefused),
            _ => {}
        }
    }
    hits
}
