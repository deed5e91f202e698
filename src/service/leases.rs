//! Lease rules: deadlines, the end of a lease, failure and retry, finish, cancel and cascade.

use crate::journal::{CancelSource, Deadline, EventKind};
use crate::time::format_duration;

use super::Service;
use super::model::{AttemptKey, AttemptStatus, InstanceKey, InstanceStatus, LeaseEnd, LeaseState};
use super::settings::Bug;
use super::timers::{TimerKey, TimerKind};

impl Service {
    /// A lease's ack or progress deadline fired.
    pub(super) fn lease_deadline(&mut self, seq: u64, timer: TimerKey) {
        let task = &self.s.tasks[(seq - 1) as usize];
        let LeaseState::Live { acked, timer: current, .. } = task.state else { return };
        if current != timer {
            return;
        }
        let (attempt, instance) = (task.attempt, task.instance);
        if !acked && self.s.settings.bug == Some(Bug::AckExpiryFailsAttempt) {
            self.end_lease(seq, LeaseEnd::Expired(Deadline::Ack));
            self.emit_task(EventKind::Expired { deadline: Deadline::Ack }, seq, "not acknowledged in time".into());
            self.time_out_attempt(attempt, "Service_AckTimeout", "not acknowledged in time".into());
        } else if !acked {
            self.end_lease(seq, LeaseEnd::Expired(Deadline::Ack));
            let limit = format_duration(self.s.settings.ack_timeout_ms);
            self.emit_task(
                EventKind::Expired { deadline: Deadline::Ack },
                seq,
                format!("not acknowledged within {limit}").into(),
            );
            // A missed acknowledgement is not a failure: the same attempt goes back in the queue.
            self.s.attempts[attempt].status = AttemptStatus::WaitingForRunner;
            self.s.instances[instance].status = InstanceStatus::WaitingForRunner;
            if self.s.settings.bug != Some(Bug::LoseAckExpired) {
                self.refresh_ready(instance);
            }
        } else {
            self.end_lease(seq, LeaseEnd::Expired(Deadline::Progress));
            let limit = self.s.instances[instance]
                .activity
                .report_progress_timeout_ms
                .unwrap_or(self.s.settings.progress_timeout_ms);
            let why = format!("no progress report within {}", format_duration(limit));
            self.emit_task(EventKind::Expired { deadline: Deadline::Progress }, seq, why.clone().into());
            self.time_out_attempt(attempt, "Service_ReportProgressTimeout", why);
        }
    }

    /// An attempt's `attemptTimeout` fired.
    pub(super) fn attempt_timeout(&mut self, attempt: AttemptKey) {
        let a = &mut self.s.attempts[attempt];
        a.timeout_timer = None;
        let instance = a.instance;
        if self.s.instances[instance].current_attempt != Some(attempt) {
            return;
        }
        let limit = self.s.instances[instance].activity.attempt_timeout_ms.unwrap_or(0);
        let why = format!("attempt ran longer than attemptTimeout {}", format_duration(limit));
        match self.s.attempts[attempt].lease {
            Some(seq) => {
                self.end_lease(seq, LeaseEnd::Expired(Deadline::Attempt));
                self.emit_task(EventKind::Expired { deadline: Deadline::Attempt }, seq, why.clone().into());
            }
            None => {
                // Timed out while waiting to be handed out again after a missed ack; the
                // retry below takes it off the ready queue.
                self.emit(EventKind::Expired { deadline: Deadline::Attempt }, Some(instance), None, why.clone().into());
            }
        }
        self.time_out_attempt(attempt, "Service_AttemptTimeout", why);
    }

    fn time_out_attempt(&mut self, attempt: AttemptKey, error_id: &str, why: String) {
        let a = &mut self.s.attempts[attempt];
        a.error_id = Some(error_id.to_string());
        a.error_message = Some(why);
        let instance = a.instance;
        self.end_attempt(attempt, AttemptStatus::TimedOut);
        self.attempt_failed(instance);
    }

    /// Ends a live lease: cancels its timer and detaches it from its attempt.
    pub(super) fn end_lease(&mut self, seq: u64, end: LeaseEnd) {
        let task = &mut self.s.tasks[(seq - 1) as usize];
        if let LeaseState::Live { timer, .. } = task.state {
            self.s.timers.cancel(timer);
            task.state = LeaseState::Ended(end);
            self.s.attempts[task.attempt].lease = None;
        }
    }

    /// Gives an attempt its final status.
    pub(super) fn end_attempt(&mut self, attempt: AttemptKey, status: AttemptStatus) {
        let now = self.s.clock;
        let a = &mut self.s.attempts[attempt];
        a.status = status;
        a.ended = Some(now);
        if let Some(t) = a.timeout_timer.take() {
            self.s.timers.cancel(t);
        }
        let instance = a.instance;
        if self.s.instances[instance].current_attempt == Some(attempt) {
            self.s.instances[instance].current_attempt = None;
        }
    }

    /// After a failed attempt: schedule a retry while `maximumRetries` allows, else fail.
    pub(super) fn attempt_failed(&mut self, i: InstanceKey) {
        let now = self.s.clock;
        let inst = &mut self.s.instances[i];
        inst.failures += 1;
        let extra = u32::from(self.s.settings.bug == Some(Bug::ExtraRetry));
        if inst.failures <= inst.activity.maximum_retries + extra {
            let delay =
                if self.s.settings.bug == Some(Bug::IgnoreRetryDelay) { 0 } else { inst.activity.retry_delay_ms };
            let ready_at = now.saturating_add(delay);
            let next_attempt = inst.attempts.len() as u32 + 1;
            let (failures, max) = (inst.failures, inst.activity.maximum_retries);
            inst.status = InstanceStatus::WaitingForRunner;
            if let Some(t) = inst.ready_timer.take() {
                self.s.timers.cancel(t);
            }
            let timer = self.s.timers.set(ready_at, TimerKind::ReadyAt(i));
            self.s.instances[i].ready_timer = Some(timer);
            self.refresh_ready(i);
            self.emit(
                EventKind::RetryScheduled { ready_at, next_attempt },
                Some(i),
                None,
                format!("retry {failures} of {max} after retryDelay").into(),
            );
        } else {
            let max = inst.activity.maximum_retries;
            inst.status = InstanceStatus::Failed;
            inst.actual_end = Some(now);
            self.refresh_ready(i);
            self.emit(
                EventKind::InstanceFailed,
                Some(i),
                None,
                format!("all {} attempts failed (maximumRetries {max})", max + 1).into(),
            );
            self.cascade(i);
        }
    }

    /// The instance finished: release what depends on it.
    pub(super) fn finish_instance(&mut self, i: InstanceKey) {
        let inst = &mut self.s.instances[i];
        inst.status = InstanceStatus::Finished;
        inst.actual_end = Some(self.s.clock);
        for d in inst.dependents.clone() {
            let dep = &mut self.s.instances[d];
            if dep.status == InstanceStatus::WaitingOnDependencies {
                dep.waiting_on.remove(&i);
                if dep.waiting_on.is_empty() {
                    dep.status = InstanceStatus::WaitingForRunner;
                    self.refresh_ready(d);
                }
            }
        }
        let inst = &mut self.s.instances[i];
        if self.s.settings.bug == Some(Bug::RequeueFinished) && inst.attempts.len() == 1 {
            inst.status = InstanceStatus::WaitingForRunner;
            inst.current_attempt = None;
            self.refresh_ready(i);
        }
    }

    /// Cancels an instance that is not over, with its lease, queue entry and timers.
    pub(super) fn cancel_instance(&mut self, i: InstanceKey, by: CancelSource, why: &'static str) {
        if self.s.instances[i].status.is_terminal() {
            return;
        }
        self.stop_instance(i, LeaseEnd::Canceled(by), AttemptStatus::Canceled);
        self.s.instances[i].status = InstanceStatus::Canceled;
        self.refresh_ready(i);
        self.emit(EventKind::Canceled { by }, Some(i), None, why.into());
        self.cascade(i);
    }

    /// Ends the instance's lease and attempt and clears its timers; the status is the caller's.
    pub(super) fn stop_instance(&mut self, i: InstanceKey, end: LeaseEnd, attempt_status: AttemptStatus) {
        let now = self.s.clock;
        if let Some(a) = self.s.instances[i].current_attempt {
            if let Some(seq) = self.s.attempts[a].lease {
                self.end_lease(seq, end);
                let by = match end {
                    LeaseEnd::Canceled(by) => by,
                    _ => CancelSource::Cascade,
                };
                self.emit_task(
                    EventKind::Canceled { by },
                    seq,
                    "lease ended; the owner learns it at its next report".into(),
                );
            }
            self.end_attempt(a, attempt_status);
        }
        let inst = &mut self.s.instances[i];
        inst.actual_end = Some(now);
        if let Some(t) = inst.ready_timer.take() {
            self.s.timers.cancel(t);
        }
    }

    /// Downstream instances of one that will not finish fail too.
    fn cascade(&mut self, i: InstanceKey) {
        let mut stack = self.s.instances[i].dependents.clone();
        while let Some(d) = stack.pop() {
            if self.s.instances[d].status.is_terminal() {
                continue;
            }
            // A dependent may be running (its upstream was rerun and then failed): its lease
            // ends too, so its runner hears canceled=true at its next report.
            self.stop_instance(d, LeaseEnd::Canceled(CancelSource::Cascade), AttemptStatus::Canceled);
            let dep = &mut self.s.instances[d];
            dep.status = InstanceStatus::CascadeFailed;
            dep.actual_end = Some(self.s.clock);
            stack.extend(dep.dependents.iter().copied());
            let upstream = self.s.instances[i].id.clone();
            self.refresh_ready(d);
            self.emit(EventKind::CascadeFailed, Some(d), None, format!("upstream {upstream} did not finish").into());
        }
    }
}
