//! The four task-runner operations and the handout of a task.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::journal::{CancelSource, Deadline, EventKind};
use crate::protocol::input::{
    PollForTaskInput, ReportTaskProgressInput, ReportTaskRunnerHeartbeatInput, SetTaskStatusInput,
};
use crate::protocol::output::{
    PollForTaskOutput, ReportTaskProgressOutput, ReportTaskRunnerHeartbeatOutput, TaskObject,
};
use crate::protocol::{Operation, Response, ServiceError};

use super::model::{
    Attempt, AttemptStatus, InstanceKey, InstanceStatus, LeaseEnd, LeaseState, PipelineState, RunnerRecord, Task,
};
use super::settings::Bug;
use super::timers::TimerKind;
use super::{HeldPoll, Outcome, Service};

/// What a taskId names, once verified.
enum Lookup {
    /// A live lease.
    Live(u64),
    /// An issued lease that ended.
    Ended(u64, LeaseEnd),
}

impl Service {
    pub(super) fn poll_for_task(&mut self, r: PollForTaskInput) -> Result<Outcome, ServiceError> {
        let group = r.worker_group.unwrap_or_default();
        if let Some(i) = self.pop_ready(&group) {
            let task = self.assign(i, r.hostname.map(Arc::from), None);
            return Ok(Outcome::Done(Response::PollForTask(PollForTaskOutput { task_object: Some(task) })));
        }
        let hold = self.s.settings.poll_hold_ms;
        if hold == 0 {
            return Ok(Outcome::Done(Response::PollForTask(PollForTaskOutput::default())));
        }
        let poll = self.s.next_poll;
        self.s.next_poll += 1;
        let timer = self.s.timers.set(self.s.clock.saturating_add(hold), TimerKind::PollHold(poll));
        let hostname: Option<Arc<str>> = r.hostname.map(Arc::from);
        self.emit(
            EventKind::PollParked { poll, worker_group: group.clone() },
            None,
            hostname.clone(),
            "no task ready".into(),
        );
        self.s.held.entry(group.clone()).or_default().insert(poll, HeldPoll { hostname, timer });
        self.s.held_groups.insert(poll, group);
        Ok(Outcome::PollHeld(poll))
    }

    /// Hands an instance's current attempt (a new one if none) to a runner under a new taskId.
    pub(super) fn assign(&mut self, i: InstanceKey, hostname: Option<Arc<str>>, poll: Option<u64>) -> TaskObject {
        let cause = if poll.is_some() { "held poll" } else { "poll" };
        let now = self.s.clock;
        let attempt = match self.s.instances[i].current_attempt {
            Some(a) => a,
            None => self.new_attempt(i),
        };
        let inst = &mut self.s.instances[i];
        inst.status = InstanceStatus::Running;
        inst.actual_start.get_or_insert(now);
        let pipeline = inst.pipeline;
        let attempt_timeout = inst.activity.attempt_timeout_ms;

        let seq = self.s.tasks.len() as u64 + 1;
        let (number, handouts) = (self.s.attempts[attempt].number, self.s.attempts[attempt].handouts);
        let ack_timeout = match self.s.settings.bug {
            Some(Bug::RetryAckOnProgressTimeout) if number > 1 => self.s.settings.progress_timeout_ms,
            _ => self.s.settings.ack_timeout_ms,
        };
        let deadline = now.saturating_add(ack_timeout);
        let armed = match self.s.settings.bug {
            Some(Bug::SecondHandoutNeverExpires) if handouts > 0 => u64::MAX,
            Some(Bug::EarlyExpiry) => deadline.saturating_sub(1_000),
            _ => deadline,
        };
        let timer = self.s.timers.set(armed, TimerKind::Lease(seq));
        let a = &mut self.s.attempts[attempt];
        a.handouts += 1;
        a.status = AttemptStatus::Running;
        a.hostname = hostname.clone();
        a.lease = Some(seq);
        if a.started.is_none() {
            a.started = Some(now);
            if let Some(limit) = attempt_timeout {
                a.timeout_timer =
                    Some(self.s.timers.set(now.saturating_add(limit), TimerKind::AttemptTimeout(attempt)));
            }
        }
        let reassigned = a.handouts > 1;
        self.s.tasks.push(Task {
            pipeline,
            instance: i,
            attempt,
            hostname,
            assigned_at: now,
            state: LeaseState::Live { acked: false, deadline, timer },
        });
        let why = if reassigned { format!("{cause}; same attempt handed out again").into() } else { cause.into() };
        self.emit_task(EventKind::Assigned { reassigned, ack_deadline: deadline, poll }, seq, why);
        if self.s.settings.bug == Some(Bug::HandOutLeased) && !reassigned {
            // The planted bug: the task goes back in the queue while its lease is live.
            let inst = &self.s.instances[i];
            let key = (inst.scheduled_start, inst.id.clone(), i);
            let group = inst.activity.worker_group.clone();
            self.s.instances[i].queued = true;
            self.s.ready.entry(group).or_default().insert(key);
        }
        self.task_object(seq)
    }

    fn new_attempt(&mut self, i: InstanceKey) -> usize {
        let key = self.s.attempts.len();
        let inst = &mut self.s.instances[i];
        let number = inst.attempts.len() as u32 + 1;
        let id = format!("{}_Attempt={number}", inst.id);
        inst.attempts.push(key);
        inst.current_attempt = Some(key);
        self.s.pipelines[inst.pipeline].attempt_ids.insert(id.clone(), key);
        self.s.attempts.push(Attempt {
            id: id.as_str().into(),
            instance: i,
            number,
            status: AttemptStatus::WaitingForRunner,
            hostname: None,
            started: None,
            ended: None,
            report_progress_time: None,
            reported: BTreeMap::new(),
            task_status: None,
            error_id: None,
            error_message: None,
            error_stack_trace: None,
            lease: None,
            handouts: 0,
            timeout_timer: None,
        });
        key
    }

    fn task_object(&self, seq: u64) -> TaskObject {
        let task = &self.s.tasks[(seq - 1) as usize];
        let attempt = &self.s.attempts[task.attempt];
        let inst = &self.s.instances[task.instance];
        let pipeline = &self.s.pipelines[task.pipeline];
        let mut objects = BTreeMap::new();
        objects.insert(attempt.id.to_string(), self.render_attempt(task.attempt));
        objects.insert(inst.id.to_string(), self.render_instance(task.instance));
        if let Some(def) = &pipeline.active_definition {
            if let Some(component) = def.object(&inst.activity.id) {
                objects.insert(inst.activity.id.clone(), component.clone());
            }
            // The runner needs what the activity points at (data nodes, databases, ...).
            for f in &inst.activity.fields {
                if let Some(target) = f.ref_value.as_deref()
                    && let Some(o) = def.object(target)
                {
                    objects.insert(target.to_string(), o.clone());
                }
            }
        }
        TaskObject {
            task_id: self.s.ids.task_id(seq),
            pipeline_id: pipeline.id.to_string(),
            attempt_id: attempt.id.to_string(),
            objects,
        }
    }

    /// Verifies a taskId and says what it names; forged ids and deleted pipelines are errors.
    fn lookup(&mut self, task_id: &str, op: Operation) -> Result<Lookup, ServiceError> {
        let seq = self.s.ids.verify_task_id(task_id).filter(|seq| *seq >= 1 && *seq <= self.s.tasks.len() as u64);
        let Some(seq) = seq else {
            self.emit(
                EventKind::ForgedCall { operation: op },
                None,
                None,
                "taskId was never issued by this service".into(),
            );
            return Err(ServiceError::task_not_found(format!("Task {task_id} not found")));
        };
        let task = &self.s.tasks[(seq - 1) as usize];
        if self.s.pipelines[task.pipeline].state == PipelineState::Deleted {
            let err = ServiceError::pipeline_deleted(&self.s.pipelines[task.pipeline].id);
            self.emit_task(
                EventKind::StaleCall { operation: op, answer: err.code.to_string() },
                seq,
                "pipeline was deleted".into(),
            );
            return Err(err);
        }
        Ok(match task.state {
            LeaseState::Live { .. } => Lookup::Live(seq),
            LeaseState::Ended(end) => Lookup::Ended(seq, end),
        })
    }

    pub(super) fn report_task_progress(&mut self, r: ReportTaskProgressInput) -> Result<Response, ServiceError> {
        let task_id = r.task_id.unwrap_or_default();
        let seq = match self.lookup(&task_id, Operation::ReportTaskProgress)? {
            Lookup::Ended(seq, LeaseEnd::Expired(_)) if self.s.settings.bug == Some(Bug::ExtendLeaseOnLateReport) => {
                self.revive_lease(seq);
                seq
            }
            Lookup::Ended(seq, LeaseEnd::Canceled(CancelSource::TryCancel))
                if self.s.settings.bug == Some(Bug::RenewCanceled) =>
            {
                self.revive_lease(seq);
                seq
            }
            Lookup::Ended(seq, LeaseEnd::Expired(Deadline::Ack)) if self.reassigned_ack_grace(seq) => {
                self.revive_lease(seq);
                seq
            }
            Lookup::Ended(seq, end) => {
                let answer = "canceled=true".to_string();
                self.emit_task(
                    EventKind::StaleCall { operation: Operation::ReportTaskProgress, answer },
                    seq,
                    end.describe().into(),
                );
                return Ok(Response::ReportTaskProgress(ReportTaskProgressOutput { canceled: true }));
            }
            Lookup::Live(seq) => seq,
        };
        let now = self.s.clock;
        let task = &self.s.tasks[(seq - 1) as usize];
        let (attempt, instance) = (task.attempt, task.instance);
        let LeaseState::Live { acked, timer, .. } = task.state else { unreachable!("looked up live") };
        let timeout = self.s.instances[instance]
            .activity
            .report_progress_timeout_ms
            .unwrap_or(self.s.settings.progress_timeout_ms);
        let deadline = now.saturating_add(timeout);
        self.s.timers.cancel(timer);
        let armed = match (self.s.settings.bug, task.state) {
            (Some(Bug::AckAtDeadlineArmsNoTimer), LeaseState::Live { acked: false, deadline: due, .. })
                if due.saturating_sub(now) < 1_000 =>
            {
                u64::MAX
            }
            _ => deadline,
        };
        let timer = self.s.timers.set(armed, TimerKind::Lease(seq));
        self.s.tasks[(seq - 1) as usize].state = LeaseState::Live { acked: true, deadline, timer };
        let a = &mut self.s.attempts[attempt];
        a.report_progress_time = Some(now);
        // `@` fields are the service's own: a runner's report never replaces them. An object
        // holds at most 50 fields, so reports update those it has and add new ones only up to
        // that (memory stays bounded however often a runner reports new keys).
        for f in r.fields.into_iter().filter(|f| !f.key().starts_with('@')) {
            if a.reported.len() < crate::protocol::input::MAX_REPORTED_FIELDS || a.reported.contains_key(f.key()) {
                a.reported.insert(f.key().to_string(), f);
            }
        }
        // Static causes: the deadline is in the event, and renewals are the hottest path.
        let (kind, cause) = if acked {
            (EventKind::Renewed { progress_deadline: deadline }, "progress report")
        } else {
            (EventKind::Acknowledged { progress_deadline: deadline }, "first progress report")
        };
        self.emit_task(kind, seq, cause.into());
        Ok(Response::ReportTaskProgress(ReportTaskProgressOutput { canceled: false }))
    }

    /// The deliberately broken rule `Bug::ReassignedAckGrace`: whether a late acknowledgement
    /// of lease `seq` falls in the grace the reassignment path wrongly gives.
    fn reassigned_ack_grace(&self, seq: u64) -> bool {
        if self.s.settings.bug != Some(Bug::ReassignedAckGrace) {
            return false;
        }
        let task = &self.s.tasks[(seq - 1) as usize];
        let handed_before = self.s.tasks[..(seq - 1) as usize].iter().any(|t| t.attempt == task.attempt);
        let due = task.assigned_at.saturating_add(self.s.settings.ack_timeout_ms);
        handed_before && self.s.clock <= due.saturating_add(1_000)
    }

    /// The deliberately broken rule (`Bug::ExtendLeaseOnLateReport`): make an expired lease
    /// live again, whoever holds the task now.
    fn revive_lease(&mut self, seq: u64) {
        let task = &self.s.tasks[(seq - 1) as usize];
        let (attempt, instance) = (task.attempt, task.instance);
        let timer = self.s.timers.set(self.s.clock, TimerKind::Lease(seq));
        self.s.tasks[(seq - 1) as usize].state = LeaseState::Live { acked: true, deadline: self.s.clock, timer };
        self.s.attempts[attempt].lease = Some(seq);
        self.s.attempts[attempt].status = AttemptStatus::Running;
        self.s.instances[instance].status = InstanceStatus::Running;
    }

    pub(super) fn set_task_status(&mut self, r: SetTaskStatusInput) -> Result<Response, ServiceError> {
        let task_id = r.task_id.unwrap_or_default();
        let finished = r.task_status.as_deref() == Some("FINISHED");
        let seq = match self.lookup(&task_id, Operation::SetTaskStatus)? {
            Lookup::Ended(..) if self.s.settings.bug == Some(Bug::AcceptStaleStatus) => return Ok(Response::empty()),
            // The planted bug: the stale FINISHED is taken for the instance's live lease.
            Lookup::Ended(seq, _) if finished && self.s.settings.bug == Some(Bug::StaleStatusFinishes) => {
                let instance = self.s.tasks[(seq - 1) as usize].instance;
                let live = self.s.instances[instance].current_attempt.and_then(|a| self.s.attempts[a].lease);
                match live {
                    Some(live) => live,
                    None => return Ok(Response::empty()),
                }
            }
            Lookup::Ended(seq, end) => {
                let err = ServiceError::task_not_found(format!("Task {task_id} is no longer live: {}", end.describe()));
                self.emit_task(
                    EventKind::StaleCall { operation: Operation::SetTaskStatus, answer: err.code.to_string() },
                    seq,
                    end.describe().into(),
                );
                return Err(err);
            }
            Lookup::Live(seq) => seq,
        };
        let status = r.task_status.unwrap_or_default();
        let task = &self.s.tasks[(seq - 1) as usize];
        let (attempt, instance) = (task.attempt, task.instance);
        let a = &mut self.s.attempts[attempt];
        a.task_status = Some(status.clone());
        a.error_id = r.error_id.clone();
        a.error_message = r.error_message;
        a.error_stack_trace = r.error_stack_trace;
        if status == "FINISHED" {
            self.end_lease(seq, LeaseEnd::Finished);
            self.end_attempt(attempt, AttemptStatus::Finished);
            self.emit_task(EventKind::Finished, seq, "runner set FINISHED".into());
            self.finish_instance(instance);
        } else {
            self.end_lease(seq, LeaseEnd::Failed);
            self.end_attempt(attempt, AttemptStatus::Failed);
            let error_id = r.error_id;
            self.emit_task(
                EventKind::Failed { status: status.clone(), error_id },
                seq,
                format!("runner set {status}").into(),
            );
            self.attempt_failed(instance);
        }
        Ok(Response::empty())
    }

    pub(super) fn heartbeat(&mut self, r: ReportTaskRunnerHeartbeatInput) -> Result<Response, ServiceError> {
        let id = r.taskrunner_id.unwrap_or_default();
        let now = self.s.clock;
        let record = self.s.runners.entry(id.clone()).or_insert(RunnerRecord {
            last_seen: now,
            worker_group: None,
            hostname: None,
        });
        record.last_seen = now;
        record.worker_group = r.worker_group.or(record.worker_group.take());
        record.hostname = r.hostname.or(record.hostname.take());
        let runner = record.hostname.clone().unwrap_or_else(|| id.clone());
        let terminate = self.s.terminate.contains(&id);
        let cause = if terminate { "termination was requested" } else { "alive" };
        self.emit(EventKind::Heartbeat { taskrunner_id: id, terminate }, None, Some(runner.into()), cause.into());
        Ok(Response::ReportTaskRunnerHeartbeat(ReportTaskRunnerHeartbeatOutput { terminate }))
    }
}
