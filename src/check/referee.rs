//! The referee's model of the rules: pipelines, instances, attempts and leases, driven only by
//! what the service's edge saw (definitions put, activations, control calls, handouts,
//! reports and statuses) and by the deadlines those imply. It never asks the service; it is a
//! second, deliberately plain account of the README's semantics table, so a service that
//! breaks a rule disagrees with it.
//!
//! The history checker ([`super::history`]) feeds it events in time order and asks it, at each
//! answer, what the rules allow.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::protocol::PipelineObject;
use crate::time::{Millis, whole_second};

use super::rules::{Numbers, activities, instance_id};

/// What an activity's tasks obey: the referee's own reading of a definition.
pub(crate) use super::rules::Activity as Rules;

/// An instance's status, as the semantics table names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Some dependency has not finished.
    WaitingOnDependencies,
    /// May be handed out (once its retry delay or start has passed).
    WaitingForRunner,
    /// Handed out under a lease.
    Running,
    /// Done.
    Finished,
    /// Out of retries.
    Failed,
    /// Canceled by TRY_CANCEL, deactivation or deletion.
    Canceled,
    /// An upstream instance will not finish.
    CascadeFailed,
}

impl Status {
    /// No further handout without a RERUN.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Finished | Status::Failed | Status::Canceled | Status::CascadeFailed)
    }

    /// The name the API gives it.
    pub fn name(self) -> &'static str {
        match self {
            Status::WaitingOnDependencies => "WAITING_ON_DEPENDENCIES",
            Status::WaitingForRunner => "WAITING_FOR_RUNNER",
            Status::Running => "RUNNING",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Canceled => "CANCELED",
            Status::CascadeFailed => "CASCADE_FAILED",
        }
    }
}

/// A pipeline's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PipeState {
    New,
    Active,
    Inactive,
    Deleted,
}

struct Pipe {
    /// The latest accepted definition, by activity id.
    definition: BTreeMap<String, Arc<Rules>>,
    /// The definition its last activation adopted: schedules make their periods by it (a
    /// definition put later waits for the next activation, as AWS's edits of an active
    /// pipeline do).
    active: BTreeMap<String, Arc<Rules>>,
    state: PipeState,
    activations: u32,
    instances: Vec<usize>,
    ids: BTreeSet<String>,
    paused: BTreeSet<String>,
    /// The first activation's start (where FIRST_ACTIVATION_DATE_TIME schedules begin).
    first_activation: Option<Millis>,
    /// Per scheduled activity, its next period's index.
    next_period: BTreeMap<String, u64>,
}

/// One instance of an activity.
pub struct Inst {
    /// Its pipeline.
    pub pipeline: String,
    /// Its object id (`@Copy_2026-01-01T00:00:00`).
    pub id: String,
    /// Its activity id.
    pub component: String,
    /// What it obeys.
    pub rules: Arc<Rules>,
    /// Its status, and since when and why.
    pub status: Status,
    /// When the status last changed, and the cause.
    pub since: (Millis, String),
    /// Not handed out before this instant (start time, retry delay).
    pub not_before: Millis,
    waiting_on: BTreeSet<usize>,
    /// Instances that wait for it.
    pub dependents: Vec<usize>,
    /// Failed attempts since it was created or rerun.
    pub failures: u32,
    /// Attempts started so far (the service numbers attempts from 1 and never reuses one).
    pub attempts: u32,
    /// The current attempt exists (a handout continues it rather than start a new one).
    attempt_open: bool,
    /// Handed out at least once: counts against `maxActiveInstances` until it is over.
    started: bool,
    /// When it was created (activation, or its schedule period coming due).
    pub created: Millis,
    /// Bumped whenever an attempt ends, so a stale attempt timer is ignored.
    attempt_gen: u64,
    /// When the open attempt's `attemptTimeout` runs out, if it has one.
    attempt_deadline: Option<Millis>,
    /// Its live lease.
    pub lease: Option<u64>,
    /// Its latest lease, live or not.
    pub last_lease: Option<u64>,
    /// Whether it may be handed out now, and since when.
    pub ready_since: Option<Millis>,
    /// The last millisecond in which it was ready at some moment (events of one instant may
    /// have been decided in either order).
    ready_seen: Option<Millis>,
}

/// Why a lease ended, as the model saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Not acknowledged by its ack deadline.
    AckDeadline,
    /// No progress report by its progress deadline.
    ProgressDeadline,
    /// SetTaskStatus through it was accepted (the status it set).
    StatusSet(String),
    /// A TRY_CANCEL of its instance was answered.
    TryCancel,
    /// A MARK_FINISHED of its instance was answered.
    MarkFinished,
    /// Its pipeline was deactivated with cancelActive.
    Deactivated,
    /// Its pipeline was deleted.
    Deleted,
    /// An upstream instance will not finish (its id).
    Cascade(String),
    /// Its attempt's attemptTimeout passed.
    AttemptTimeout,
    /// A newer lease of its instance was handed out.
    NewerLease,
    /// Handed out in the millisecond its instance became terminal (the status it became).
    SameMillisecond(Status),
    /// The service said so, and the model had no reason of its own.
    ServiceSaid,
}

impl std::fmt::Display for LeaseEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseEnd::AckDeadline => f.write_str("its ack deadline passed"),
            LeaseEnd::ProgressDeadline => f.write_str("its progress deadline passed"),
            LeaseEnd::StatusSet(status) => write!(f, "its status was set {status}"),
            LeaseEnd::TryCancel => f.write_str("TRY_CANCEL was answered"),
            LeaseEnd::MarkFinished => f.write_str("MARK_FINISHED was answered"),
            LeaseEnd::Deactivated => f.write_str("the pipeline was deactivated with cancelActive"),
            LeaseEnd::Deleted => f.write_str("the pipeline was deleted"),
            LeaseEnd::Cascade(upstream) => write!(f, "upstream {upstream} did not finish"),
            LeaseEnd::AttemptTimeout => f.write_str("its attemptTimeout passed"),
            LeaseEnd::NewerLease => f.write_str("a newer lease was handed out"),
            LeaseEnd::SameMillisecond(status) => {
                write!(f, "its instance became {} in the same millisecond", status.name())
            }
            LeaseEnd::ServiceSaid => f.write_str("the service said so"),
        }
    }
}

impl LeaseEnd {
    /// True when a deadline ended it (ack or progress).
    pub fn is_deadline(&self) -> bool {
        matches!(self, LeaseEnd::AckDeadline | LeaseEnd::ProgressDeadline)
    }
}

/// One lease.
pub struct Lease {
    /// Its instance.
    pub inst: usize,
    /// Its deadline.
    pub deadline: Millis,
    /// Acknowledged by a first report.
    pub acked: bool,
    /// When and why it ended.
    pub over: Option<(Millis, LeaseEnd)>,
}

/// A deadline the model keeps.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Lease(u64),
    Attempt(usize, u64),
    Wake(usize),
    Period(String),
}

/// The model.
pub struct Model {
    numbers: Numbers,
    pipes: BTreeMap<String, Pipe>,
    /// Every instance, in creation order.
    pub insts: Vec<Inst>,
    /// Instance index by (pipeline, object id).
    by_id: BTreeMap<(String, String), usize>,
    /// Every lease, by sequence number.
    pub leases: BTreeMap<u64, Lease>,
    timers: BTreeSet<(Millis, Timer)>,
    /// Ready instances by worker group.
    pub ready: BTreeMap<String, BTreeSet<usize>>,
    /// The model's clock.
    pub now: Millis,
    /// How far a lease's deadline may lie from where the history puts it (a history recorded
    /// from the outside, on another clock than the service's); 0 inside the simulation.
    grace: Millis,
}

impl Model {
    /// An empty model under a scenario's numbers.
    pub fn new(numbers: Numbers) -> Model {
        Model {
            numbers,
            pipes: BTreeMap::new(),
            insts: Vec::new(),
            by_id: BTreeMap::new(),
            leases: BTreeMap::new(),
            timers: BTreeSet::new(),
            ready: BTreeMap::new(),
            now: 0,
            grace: 0,
        }
    }

    /// A model for a history recorded on a clock up to `grace` apart from the service's: a
    /// lease (and an attempt's `attemptTimeout`) runs out only `grace` after its deadline (a report answered within it may have
    /// been decided before the deadline), and [`Model::expire_within_grace`] ends it early
    /// when an answer shows the service saw it run out up to `grace` before.
    pub fn with_grace(mut self, grace: Millis) -> Model {
        self.grace = grace;
        self
    }

    /// The numbers the model's deadlines come from.
    pub fn numbers(&self) -> &Numbers {
        &self.numbers
    }

    /// The earliest deadline the model keeps.
    pub fn next_timer(&self) -> Option<Millis> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Fires every deadline due at or before `at`, each at its own instant.
    pub fn fire_until(&mut self, at: Millis) {
        while let Some((when, _)) = self.timers.first() {
            if *when > at {
                break;
            }
            let (when, timer) = self.timers.pop_first().expect("looked at it");
            self.now = self.now.max(when);
            match timer {
                Timer::Lease(seq) => self.lease_deadline(seq, when),
                Timer::Attempt(i, generation) => self.attempt_deadline(i, generation),
                Timer::Wake(i) => self.refresh(i),
                Timer::Period(pipeline) => self.periods(&pipeline),
            }
        }
        self.now = self.now.max(at);
    }

    /// The instance an object id of a pipeline names.
    pub fn instance(&self, pipeline: &str, object: &str) -> Option<usize> {
        self.by_id.get(&(pipeline.to_string(), object.to_string())).copied()
    }

    /// An accepted PutPipelineDefinition.
    pub fn put_definition(&mut self, pipeline: &str, objects: &[PipelineObject]) {
        let definition = activities(objects, &self.numbers).into_iter().map(|(id, a)| (id, Arc::new(a))).collect();
        self.pipe(pipeline).definition = definition;
    }

    fn pipe(&mut self, pipeline: &str) -> &mut Pipe {
        pipe_in(&mut self.pipes, pipeline)
    }

    /// An accepted ActivatePipeline: resumes a pipeline deactivated without cancelActive (or
    /// one with schedules, which go on with their periods), else creates one instance per
    /// unscheduled activity; then creates every scheduled instance due.
    pub fn activate(&mut self, pipeline: &str, start: Option<Millis>) {
        let now = self.now;
        let insts = &self.insts;
        let p = pipe_in(&mut self.pipes, pipeline);
        let resumable = p.state == PipeState::Inactive && p.instances.iter().any(|&i| !insts[i].status.is_terminal());
        let continues = p.first_activation.is_some() && p.definition.values().any(|r| r.scheduling.is_some());
        p.state = PipeState::Active;
        let start = start.unwrap_or(now);
        if continues || !resumable {
            p.active = p.definition.clone();
        }
        if resumable || continues {
            for i in p.instances.clone() {
                self.refresh(i);
            }
            self.periods(pipeline);
            return;
        }
        p.activations += 1;
        p.first_activation.get_or_insert(whole_second(start));
        let activation = p.activations;
        let definition = p.definition.clone();
        let mut created: BTreeMap<String, usize> = BTreeMap::new();
        for (component, rules) in definition.iter().filter(|(_, r)| r.scheduling.is_none()) {
            let mut id = instance_id(component, start);
            let p = pipe_in(&mut self.pipes, pipeline);
            if p.ids.contains(&id) {
                id = format!("{id}_{activation}");
            }
            let i = self.add_instance(pipeline, id, component, rules);
            created.insert(component.clone(), i);
        }
        for &i in created.values() {
            for dep in self.insts[i].rules.depends_on.clone() {
                if let Some(&up) = created.get(&dep) {
                    self.insts[up].dependents.push(i);
                    self.insts[i].waiting_on.insert(up);
                }
            }
        }
        for &i in created.values() {
            if self.insts[i].waiting_on.is_empty() {
                // An instance with no upstream waits for its start; one with an upstream runs
                // as soon as the upstream finishes.
                self.insts[i].not_before = start;
                self.set_status(i, Status::WaitingForRunner, "activated");
                if start > now {
                    self.timers.insert((start, Timer::Wake(i)));
                }
            }
        }
        self.periods(pipeline);
    }

    /// A new instance, waiting on its dependencies.
    fn add_instance(&mut self, pipeline: &str, id: String, component: &str, rules: &Arc<Rules>) -> usize {
        let i = self.insts.len();
        let p = pipe_in(&mut self.pipes, pipeline);
        p.ids.insert(id.clone());
        p.instances.push(i);
        self.by_id.insert((pipeline.to_string(), id.clone()), i);
        self.insts.push(Inst {
            pipeline: pipeline.to_string(),
            id,
            component: component.to_string(),
            rules: rules.clone(),
            status: Status::WaitingOnDependencies,
            since: (self.now, "created".into()),
            not_before: 0,
            waiting_on: BTreeSet::new(),
            dependents: Vec::new(),
            failures: 0,
            attempts: 0,
            attempt_open: false,
            started: false,
            created: self.now,
            attempt_gen: 0,
            attempt_deadline: None,
            lease: None,
            last_lease: None,
            ready_since: None,
            ready_seen: None,
        });
        i
    }

    /// Creates the instance of every schedule period that is due (cron: its start has come;
    /// timeseries: its end), each paired with the same period's upstream instances, and sets
    /// a timer for the next one.
    fn periods(&mut self, pipeline: &str) {
        let p = pipe_in(&mut self.pipes, pipeline);
        let (PipeState::Active, Some(activated)) = (p.state, p.first_activation) else { return };
        let definition = p.active.clone();
        let mut created = Vec::new();
        let mut next: Option<Millis> = None;
        for (component, rules) in &definition {
            let Some(sch) = rules.scheduling.clone() else { continue };
            let origin = sch.grid.origin(activated);
            loop {
                let p = pipe_in(&mut self.pipes, pipeline);
                let index = p.next_period.get(component).copied().unwrap_or(0);
                let Some(start) = sch.grid.start_of(origin, index) else { break };
                let due = sch.due(start);
                if due > self.now {
                    next = Some(next.map_or(due, |n: Millis| n.min(due)));
                    break;
                }
                p.next_period.insert(component.clone(), index + 1);
                let id = instance_id(component, start);
                created.push((self.add_instance(pipeline, id, component, rules), start));
            }
        }
        for &(i, start) in &created {
            for dep in self.insts[i].rules.depends_on.clone() {
                let Some(up) = self.instance(pipeline, &instance_id(&dep, start)) else { continue };
                if self.insts[up].status != Status::Finished {
                    self.insts[up].dependents.push(i);
                    self.insts[i].waiting_on.insert(up);
                }
            }
        }
        for &(i, _) in &created {
            if self.insts[i].waiting_on.is_empty() {
                self.set_status(i, Status::WaitingForRunner, "its period came");
            }
        }
        if let Some(at) = next
            && !self.timers.contains(&(at, Timer::Period(pipeline.to_string())))
        {
            self.timers.insert((at, Timer::Period(pipeline.to_string())));
        }
    }

    /// True when `maxActiveInstances` holds the instance back: it has not started, and as many
    /// instances of its activity as allowed have started and are not over, or are ready (so
    /// only instances that may really run now are ready; siblings are refreshed oldest first).
    fn held_back(&self, i: usize) -> bool {
        let inst = &self.insts[i];
        let Some(sch) = &inst.rules.scheduling else { return false };
        if inst.started {
            return false;
        }
        let taken = self.pipes[&inst.pipeline]
            .instances
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| &self.insts[j])
            .filter(|j| j.component == inst.component && !j.status.is_terminal())
            .filter(|j| j.started || j.ready_since.is_some())
            .count();
        taken >= sch.max_active as usize
    }

    /// Brings the readiness of the instance's scheduled siblings up to date (one started or
    /// ended, so `maxActiveInstances` may hold them back or let them go).
    fn refresh_siblings(&mut self, i: usize) {
        if self.insts[i].rules.scheduling.is_none() {
            return;
        }
        let (pipeline, component) = (self.insts[i].pipeline.clone(), self.insts[i].component.clone());
        for j in self.pipes[&pipeline].instances.clone() {
            if j != i && self.insts[j].component == component {
                self.refresh(j);
            }
        }
    }

    /// An accepted DeactivatePipeline.
    pub fn deactivate(&mut self, pipeline: &str, cancel_active: bool) {
        let p = self.pipe(pipeline);
        p.state = PipeState::Inactive;
        for i in p.instances.clone() {
            if cancel_active {
                self.cancel(i, LeaseEnd::Deactivated);
            } else {
                self.refresh(i);
            }
        }
    }

    /// An accepted DeletePipeline.
    pub fn delete(&mut self, pipeline: &str) {
        for i in self.pipe(pipeline).instances.clone() {
            self.cancel(i, LeaseEnd::Deleted);
        }
        self.pipe(pipeline).state = PipeState::Deleted;
    }

    /// An accepted SetStatus.
    pub fn set_status_call(&mut self, pipeline: &str, status: &str, objects: &[String]) {
        match status {
            "PAUSE" | "RESUME" => {
                for component in objects {
                    let p = pipe_in(&mut self.pipes, pipeline);
                    if status == "PAUSE" {
                        p.paused.insert(component.clone());
                    } else {
                        p.paused.remove(component);
                    }
                    let insts = &self.insts;
                    let of: Vec<usize> =
                        p.instances.iter().copied().filter(|&i| insts[i].component == *component).collect();
                    for i in of {
                        self.refresh(i);
                    }
                }
            }
            _ => {
                for object in objects {
                    let Some(i) = self.instance(pipeline, object) else { continue };
                    match status {
                        "TRY_CANCEL" => self.cancel(i, LeaseEnd::TryCancel),
                        "MARK_FINISHED" if self.insts[i].status != Status::Finished => {
                            self.stop(i, LeaseEnd::MarkFinished);
                            self.finish(i, "MARK_FINISHED");
                        }
                        "RERUN" => self.rerun(i),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Whether the instance may be handed out now, or could at some moment of this
    /// millisecond.
    pub fn may_hand_out(&self, i: usize) -> bool {
        let inst = &self.insts[i];
        inst.ready_since.is_some() || inst.ready_seen == Some(self.now)
    }

    /// Why the instance may not be handed out now.
    pub fn why_not_ready(&self, i: usize) -> String {
        let inst = &self.insts[i];
        let p = &self.pipes[&inst.pipeline];
        let (since, cause) = &inst.since;
        let stamp = |t: Millis| crate::ownership::log::stamp(crate::trace::rel(t));
        match inst.status {
            Status::Running => format!(
                "it was running under t{} since {}: one owner at a time",
                inst.lease.unwrap_or_default(),
                stamp(*since)
            ),
            Status::WaitingOnDependencies => {
                let on: Vec<&str> = inst.waiting_on.iter().map(|&u| self.insts[u].id.as_str()).collect();
                format!("it was waiting on {} to finish", on.join(", "))
            }
            s if s.is_terminal() => format!("it was {} since {} ({cause}) and not rerun", s.name(), stamp(*since)),
            _ if p.state == PipeState::Deleted => "its pipeline was deleted: nothing of it is handed out".into(),
            _ if p.state != PipeState::Active => "its pipeline was not active".into(),
            _ if p.paused.contains(&inst.component) => format!("{} was paused", inst.component),
            _ if self.held_back(i) => format!(
                "maxActiveInstances of {} was reached: other instances of it were running or ready",
                inst.component
            ),
            _ if inst.not_before > self.now => {
                format!("it may not run before {} (its start or retryDelay)", stamp(inst.not_before))
            }
            _ => "it was not ready".into(),
        }
    }

    /// A handout of instance `i` under lease `seq`; returns the attempt number the rules give
    /// it (None when the order of this millisecond's events leaves it open).
    pub fn hand_out(&mut self, i: usize, seq: u64) -> Option<u32> {
        let now = self.now;
        let status = self.insts[i].status;
        if status.is_terminal() {
            // Handed out in the same millisecond as the change that ended the instance (the
            // checker allows either order): that change ended this lease too.
            let deadline = now.saturating_add(self.numbers.ack_ms);
            let why = LeaseEnd::SameMillisecond(status);
            self.leases.insert(seq, Lease { inst: i, deadline, acked: false, over: Some((now, why)) });
            return None;
        }
        let inst = &mut self.insts[i];
        if !inst.attempt_open {
            inst.attempts += 1;
            inst.attempt_open = true;
            inst.attempt_gen += 1;
            inst.attempt_deadline = inst.rules.attempt_timeout_ms.map(|limit| now.saturating_add(limit));
            if let Some(deadline) = inst.attempt_deadline {
                self.timers.insert((deadline.saturating_add(self.grace), Timer::Attempt(i, inst.attempt_gen)));
            }
        }
        let attempt = self.insts[i].attempts;
        let deadline = now.saturating_add(self.numbers.ack_ms);
        self.leases.insert(seq, Lease { inst: i, deadline, acked: false, over: None });
        self.timers.insert((deadline.saturating_add(self.grace), Timer::Lease(seq)));
        self.insts[i].last_lease = Some(seq);
        if let Some(old) = self.insts[i].lease.replace(seq) {
            self.end_lease(old, LeaseEnd::NewerLease);
        }
        self.insts[i].started = true;
        self.set_status(i, Status::Running, "handed out");
        Some(attempt)
    }

    /// An accepted progress report on a live lease.
    pub fn renew(&mut self, seq: u64) {
        let now = self.now;
        let Some(lease) = self.leases.get_mut(&seq) else { return };
        let progress = self.insts[lease.inst].rules.progress_ms;
        lease.acked = true;
        lease.deadline = now.saturating_add(progress);
        self.timers.insert((lease.deadline.saturating_add(self.grace), Timer::Lease(seq)));
    }

    /// An accepted SetTaskStatus on a live lease.
    pub fn task_status(&mut self, seq: u64, status: &str) {
        let Some(i) = self.leases.get(&seq).map(|l| l.inst) else { return };
        self.end_lease(seq, LeaseEnd::StatusSet(status.to_string()));
        if self.insts[i].lease == Some(seq) {
            self.insts[i].lease = None;
        }
        self.close_attempt(i);
        if status == "FINISHED" {
            self.finish(i, "SetTaskStatus FINISHED");
        } else {
            self.failed(i, &format!("SetTaskStatus {status}"));
        }
    }

    /// The service said the lease is over; the model agrees from now on.
    pub fn end_lease(&mut self, seq: u64, why: LeaseEnd) {
        let now = self.now;
        if let Some(lease) = self.leases.get_mut(&seq) {
            lease.over.get_or_insert((now, why));
        }
    }

    fn lease_deadline(&mut self, seq: u64, at: Millis) {
        let Some(lease) = self.leases.get(&seq) else { return };
        if lease.over.is_some() || lease.deadline.saturating_add(self.grace) != at {
            return;
        }
        self.expire(seq);
    }

    /// Ends live lease `seq` by its deadline now, when the deadline is at most the grace
    /// away: an answer that treats it as run out (a re-handout, `canceled: true`) was decided
    /// on the service's clock, which may run ahead of the history's. False when it is not due.
    pub fn expire_within_grace(&mut self, seq: u64) -> bool {
        let Some(lease) = self.leases.get(&seq).filter(|l| self.grace > 0 && l.over.is_none()) else {
            return false;
        };
        let horizon = self.now.saturating_add(self.grace);
        let inst = &self.insts[lease.inst];
        // The attempt's attemptTimeout ends the lease as its own deadline does.
        if inst.lease == Some(seq) && inst.attempt_open && inst.attempt_deadline.is_some_and(|d| d <= horizon) {
            let (i, generation) = (lease.inst, inst.attempt_gen);
            self.attempt_deadline(i, generation);
            return true;
        }
        if lease.deadline <= horizon {
            self.expire(seq);
            return true;
        }
        false
    }

    /// Lease `seq` ran out: its instance waits for a runner again, or (acknowledged) fails.
    fn expire(&mut self, seq: u64) {
        let Some(lease) = self.leases.get(&seq) else { return };
        let (i, acked) = (lease.inst, lease.acked);
        self.end_lease(seq, if acked { LeaseEnd::ProgressDeadline } else { LeaseEnd::AckDeadline });
        if self.insts[i].lease == Some(seq) {
            self.insts[i].lease = None;
        }
        if acked {
            self.close_attempt(i);
            self.failed(i, "no progress report in time");
        } else {
            // A missed acknowledgement is not a failure: the same attempt waits for a runner.
            self.set_status(i, Status::WaitingForRunner, "not acknowledged in time");
        }
    }

    fn attempt_deadline(&mut self, i: usize, generation: u64) {
        let inst = &self.insts[i];
        if !inst.attempt_open || inst.attempt_gen != generation || inst.status.is_terminal() {
            return;
        }
        if let Some(seq) = self.insts[i].lease.take() {
            self.end_lease(seq, LeaseEnd::AttemptTimeout);
        }
        self.close_attempt(i);
        self.failed(i, "attemptTimeout");
    }

    fn close_attempt(&mut self, i: usize) {
        let inst = &mut self.insts[i];
        inst.attempt_open = false;
        inst.attempt_gen += 1;
    }

    fn failed(&mut self, i: usize, why: &str) {
        let now = self.now;
        let inst = &mut self.insts[i];
        inst.failures += 1;
        if inst.failures <= inst.rules.maximum_retries {
            inst.not_before = now.saturating_add(inst.rules.retry_delay_ms);
            self.timers.insert((inst.not_before, Timer::Wake(i)));
            self.set_status(i, Status::WaitingForRunner, &format!("{why}; retry after retryDelay"));
        } else {
            self.set_status(i, Status::Failed, &format!("{why}; out of retries"));
            self.cascade(i);
        }
    }

    fn finish(&mut self, i: usize, why: &str) {
        self.set_status(i, Status::Finished, why);
        for d in self.insts[i].dependents.clone() {
            if self.insts[d].status == Status::WaitingOnDependencies {
                self.insts[d].waiting_on.remove(&i);
                if self.insts[d].waiting_on.is_empty() {
                    self.set_status(d, Status::WaitingForRunner, "its upstream finished");
                }
            }
        }
    }

    fn cancel(&mut self, i: usize, why: LeaseEnd) {
        if self.insts[i].status.is_terminal() {
            return;
        }
        let cause = why.to_string();
        self.stop(i, why);
        self.set_status(i, Status::Canceled, &cause);
        self.cascade(i);
    }

    /// Ends the instance's lease and attempt.
    fn stop(&mut self, i: usize, why: LeaseEnd) {
        if let Some(seq) = self.insts[i].lease.take() {
            self.end_lease(seq, why);
        }
        self.close_attempt(i);
    }

    fn cascade(&mut self, i: usize) {
        let upstream = self.insts[i].id.clone();
        let mut stack = self.insts[i].dependents.clone();
        while let Some(d) = stack.pop() {
            if self.insts[d].status.is_terminal() {
                continue;
            }
            let why = LeaseEnd::Cascade(upstream.clone());
            let cause = why.to_string();
            self.stop(d, why);
            self.set_status(d, Status::CascadeFailed, &cause);
            stack.extend(self.insts[d].dependents.iter().copied());
        }
    }

    fn rerun(&mut self, i: usize) {
        if !self.insts[i].status.is_terminal() {
            return;
        }
        let now = self.now;
        let inst = &mut self.insts[i];
        inst.failures = 0;
        inst.attempt_open = false;
        inst.not_before = now;
        for d in inst.dependents.clone() {
            if self.insts[d].status == Status::WaitingOnDependencies {
                self.insts[d].waiting_on.insert(i);
            }
        }
        self.set_status(i, Status::WaitingForRunner, "RERUN");
    }

    fn set_status(&mut self, i: usize, status: Status, why: &str) {
        let now = self.now;
        let inst = &mut self.insts[i];
        let changed = inst.status != status;
        if changed {
            inst.status = status;
            inst.since = (now, why.to_string());
        }
        self.refresh(i);
        if changed {
            self.refresh_siblings(i);
        }
    }

    /// Brings the instance's readiness up to date.
    fn refresh(&mut self, i: usize) {
        let now = self.now;
        let inst = &self.insts[i];
        let p = &self.pipes[&inst.pipeline];
        let ready = inst.status == Status::WaitingForRunner
            && inst.not_before <= now
            && p.state == PipeState::Active
            && !p.paused.contains(&inst.component)
            && !self.held_back(i);
        let inst = &mut self.insts[i];
        if ready || inst.ready_since.is_some() {
            inst.ready_seen = Some(now);
        }
        let group = inst.rules.group.clone();
        match (ready, inst.ready_since.is_some()) {
            (true, false) => {
                inst.ready_since = Some(now);
                self.ready.entry(group).or_default().insert(i);
            }
            (false, true) => {
                inst.ready_since = None;
                if let Some(set) = self.ready.get_mut(&group) {
                    set.remove(&i);
                    if set.is_empty() {
                        self.ready.remove(&group);
                    }
                }
            }
            _ => {}
        }
    }
}

fn pipe_in<'m>(pipes: &'m mut BTreeMap<String, Pipe>, pipeline: &str) -> &'m mut Pipe {
    pipes.entry(pipeline.to_string()).or_insert_with(|| Pipe {
        definition: BTreeMap::new(),
        active: BTreeMap::new(),
        state: PipeState::New,
        activations: 0,
        instances: Vec::new(),
        ids: BTreeSet::new(),
        paused: BTreeSet::new(),
        first_activation: None,
        next_period: BTreeMap::new(),
    })
}
