//! The decisions of dpsim's own virtual Task Runner, sans-IO: given what it heard, what to do
//! next. Its driver ([`super::builtin`]) performs the calls and sleeps; nothing here touches
//! time, the network or randomness except through its arguments.

use rand::Rng;

use crate::scenario::model::{Behaviour, RunnerSpec};

use super::client::CallError;

/// Default work time of an activity without `myWorkTime`.
pub const DEFAULT_WORK_MS: u64 = 60_000;
/// Calls are tried this many times on transient errors, like the AWS SDKs' standard mode.
pub const MAX_ATTEMPTS: u32 = 3;

/// What to do after a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Wait this long, then try again.
    After(u64),
    /// Give up on this call.
    GiveUp,
}

/// Exponential backoff with jitter, reset by a success.
#[derive(Clone, Debug)]
pub struct Backoff {
    first_ms: u64,
    max_ms: u64,
    next_ms: u64,
}

impl Backoff {
    /// Backoff for a runner entry (`backoff`, `backoff_max`).
    pub fn new(spec: &RunnerSpec) -> Backoff {
        Backoff { first_ms: spec.backoff.ms(), max_ms: spec.backoff_max.ms(), next_ms: spec.backoff.ms() }
    }

    /// The next wait: the current step plus up to half of it drawn from `rng`; doubles the step.
    pub fn next(&mut self, rng: &mut impl Rng) -> u64 {
        let wait = self.next_ms + rng.random_range(0..=self.next_ms / 2);
        self.next_ms = (self.next_ms * 2).min(self.max_ms);
        wait
    }

    /// A call succeeded.
    pub fn reset(&mut self) {
        self.next_ms = self.first_ms;
    }
}

/// Whether a failed call is tried again: transient failures, up to [`MAX_ATTEMPTS`] tries.
pub fn retry(error: &CallError, attempt: u32, backoff: &mut Backoff, rng: &mut impl Rng) -> Retry {
    if error.is_transient() && attempt < MAX_ATTEMPTS { Retry::After(backoff.next(rng)) } else { Retry::GiveUp }
}

/// What a progress report's answer means to the runner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Still the owner (or no news: an unanswered report is not news).
    KeepGoing,
    /// The task is lost, and how the runner learned it.
    Lost(LossCause),
}

/// How a runner learns it lost a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// ReportTaskProgress answered `canceled: true`.
    Canceled,
    /// TaskNotFoundException.
    TaskNotFound,
    /// PipelineDeletedException.
    PipelineDeleted,
}

impl LossCause {
    /// How the log names it.
    pub fn as_str(self) -> &'static str {
        match self {
            LossCause::Canceled => "canceled=true",
            LossCause::TaskNotFound => "TaskNotFoundException",
            LossCause::PipelineDeleted => "PipelineDeletedException",
        }
    }
}

/// Reads a ReportTaskProgress answer.
pub fn heard(answer: &Result<bool, CallError>) -> Heard {
    match answer {
        Ok(true) => Heard::Lost(LossCause::Canceled),
        Ok(false) => Heard::KeepGoing,
        Err(CallError::Aws { code, .. }) if code == "TaskNotFoundException" => Heard::Lost(LossCause::TaskNotFound),
        Err(CallError::Aws { code, .. }) if code == "PipelineDeletedException" => {
            Heard::Lost(LossCause::PipelineDeleted)
        }
        Err(_) => Heard::KeepGoing,
    }
}

/// Whether the runner stops working after learning a loss (a misbehaving one may not).
pub fn stops_on(behaviour: &Behaviour, cause: LossCause) -> bool {
    match cause {
        LossCause::Canceled => !behaviour.ignore_canceled,
        LossCause::TaskNotFound | LossCause::PipelineDeleted => !behaviour.keep_working_after_loss,
    }
}

/// The next thing to do while working on a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send a progress report (the first one acknowledges).
    Report,
    /// Work this long (runner time).
    Work(u64),
    /// Work this long, then crash (the `crash_after` behaviour).
    CrashAfter(u64),
    /// The work is done: set the final status.
    SetStatus,
}

/// The plan of work on one task: acknowledge, then work in report-interval slices with a
/// report between slices, then set the status.
#[derive(Clone, Debug)]
pub struct WorkPlan {
    left_ms: u64,
    done_ms: u64,
    interval_ms: u64,
    crash_after_ms: Option<u64>,
    reports: bool,
    pending_report: bool,
}

impl WorkPlan {
    /// Plans `work_ms` of work for a runner entry.
    pub fn new(spec: &RunnerSpec, work_ms: u64) -> WorkPlan {
        let reports = !spec.behaviour.never_ack;
        WorkPlan {
            left_ms: work_ms,
            done_ms: 0,
            interval_ms: spec.report_interval.ms(),
            crash_after_ms: spec.behaviour.crash_after.map(|d| d.ms()),
            reports,
            pending_report: reports,
        }
    }

    /// What to do next; call [`WorkPlan::worked`] after a [`Step::Work`].
    pub fn next_step(&mut self) -> Step {
        if self.pending_report {
            self.pending_report = false;
            return Step::Report;
        }
        if self.left_ms == 0 {
            return Step::SetStatus;
        }
        let step = self.left_ms.min(self.interval_ms);
        if let Some(crash) = self.crash_after_ms
            && self.done_ms + step >= crash
        {
            return Step::CrashAfter(crash.saturating_sub(self.done_ms));
        }
        Step::Work(step)
    }

    /// A [`Step::Work`] of `ms` was done.
    pub fn worked(&mut self, ms: u64) {
        self.left_ms -= ms.min(self.left_ms);
        self.done_ms += ms;
        self.pending_report = self.reports && self.left_ms > 0;
    }
}

/// The work time of a task: its declared `myWorkTime` (default one minute) times the factor.
pub fn work_time(declared: Option<&str>, factor: f64) -> u64 {
    let declared = declared.and_then(|t| crate::scenario::duration::parse_duration(t).ok()).unwrap_or(DEFAULT_WORK_MS);
    (declared as f64 * factor).round() as u64
}

/// The status to set when the work is done, with an error id and message for failures.
pub fn final_status(behaviour: &Behaviour) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    if behaviour.fail_tasks {
        ("FAILED", Some("SimulatedFailure"), Some("the scenario makes this runner fail its tasks"))
    } else {
        ("FINISHED", None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Dur;

    fn spec(behaviour: Behaviour) -> RunnerSpec {
        serde_json::from_value::<RunnerSpec>(serde_json::json!({"name": "r", "worker_group": "wg"}))
            .map(|s| RunnerSpec { behaviour, report_interval: Dur(5 * 60_000), ..s })
            .unwrap()
    }

    #[test]
    fn a_plan_acknowledges_works_in_slices_and_reports_between() {
        let mut plan = WorkPlan::new(&spec(Behaviour::default()), 12 * 60_000);
        let mut steps = Vec::new();
        loop {
            let s = plan.next_step();
            steps.push(s);
            match s {
                Step::Work(ms) => plan.worked(ms),
                Step::SetStatus | Step::CrashAfter(_) => break,
                Step::Report => {}
            }
        }
        use Step::*;
        assert_eq!(steps, [Report, Work(300_000), Report, Work(300_000), Report, Work(120_000), SetStatus]);
    }

    #[test]
    fn a_never_acking_runner_only_works_and_a_crashing_one_crashes_on_time() {
        let mut plan = WorkPlan::new(&spec(Behaviour { never_ack: true, ..Default::default() }), 60_000);
        assert_eq!(plan.next_step(), Step::Work(60_000));
        plan.worked(60_000);
        assert_eq!(plan.next_step(), Step::SetStatus);
        let b = Behaviour { crash_after: Some(Dur(400_000)), ..Default::default() };
        let mut plan = WorkPlan::new(&spec(b), 60 * 60_000);
        assert_eq!(plan.next_step(), Step::Report);
        assert_eq!(plan.next_step(), Step::Work(300_000));
        plan.worked(300_000);
        assert_eq!(plan.next_step(), Step::Report);
        assert_eq!(plan.next_step(), Step::CrashAfter(100_000));
    }

    #[test]
    fn losses_stop_work_unless_the_runner_misbehaves() {
        assert_eq!(heard(&Ok(true)), Heard::Lost(LossCause::Canceled));
        assert_eq!(heard(&Err(CallError::Timeout)), Heard::KeepGoing);
        let stubborn = Behaviour { ignore_canceled: true, ..Default::default() };
        assert!(!stops_on(&stubborn, LossCause::Canceled));
        assert!(stops_on(&stubborn, LossCause::TaskNotFound));
    }
}
