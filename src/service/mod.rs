//! The sans-IO service core: a state machine that is handed `now` and returns what to do.
//!
//! [`Service::handle`] answers one request at a given instant; [`Service::next_deadline`] says
//! when the next timed rule is due and [`Service::advance`] applies every rule due by an
//! instant, each at its own deadline. Held polls are answered later through [`Effect`]s. Every
//! change is journaled. Nothing here reads a clock, touches a socket or iterates an unordered
//! collection, so the same calls at the same instants always give the same answers.

pub mod definition;
pub mod ids;
pub mod model;
pub mod schedule;
pub mod settings;
pub mod timers;

mod control;
mod describe;
mod leases;
mod tasks;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::journal::{Event, EventKind};
use crate::protocol::output::PollForTaskOutput;
use crate::protocol::{Request, Response, ServiceError};
use crate::time::Millis;

/// Index of a pipeline in the service's table.
pub type PipelineKey = usize;
/// Index of an instance in the service's table (the key of the model and its timers alike).
pub type InstanceKey = usize;
/// Index of an attempt in the service's table.
pub type AttemptKey = usize;

use ids::IdGen;
use model::{Attempt, Instance, Pipeline, RunnerRecord, Task};
pub use settings::{Bug, Settings};
use timers::{TimerKind, Timers};

/// Key of the ready queue: oldest scheduled start first, then instance id.
type ReadyKey = (Millis, Arc<str>, InstanceKey);

/// How a request was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered now.
    Done(Response),
    /// A PollForTask with nothing ready: held; its answer comes later as an effect.
    PollHeld(u64),
}

/// Something the driver must do for the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Answer a held poll.
    PollAnswered {
        /// The held poll.
        poll: u64,
        /// Its answer (`{}` when the hold time ran out).
        output: PollForTaskOutput,
        /// The service's clock when it answered (a manual clock may since have moved on).
        at: Millis,
    },
}

/// What the harness may know about a lease without being its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// Lease number.
    pub seq: u64,
    /// The runner it was handed to.
    pub hostname: Option<Arc<str>>,
    /// The activity (component) id.
    pub component: String,
    /// The instance id.
    pub object_id: Arc<str>,
    /// The acknowledgement deadline.
    pub ack_deadline: Millis,
    /// The current progress deadline, once acknowledged and while live.
    pub progress_deadline: Option<Millis>,
    /// Whether the lease is live.
    pub live: bool,
}

pub use crate::trace::InstanceSummary;

/// A held poll.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HeldPoll {
    hostname: Option<Arc<str>>,
    timer: timers::TimerKey,
}

/// Everything the service knows; compared whole by tests that check a call changed nothing.
#[derive(Clone, Debug, PartialEq)]
struct State {
    settings: Settings,
    ids: IdGen,
    clock: Millis,
    pipelines: Vec<Pipeline>,
    pipeline_index: BTreeMap<String, PipelineKey>,
    unique_index: BTreeMap<(String, String), PipelineKey>,
    instances: Vec<Instance>,
    attempts: Vec<Attempt>,
    /// Leases by sequence number − 1.
    tasks: Vec<Task>,
    ready: BTreeMap<String, BTreeSet<ReadyKey>>,
    held: BTreeMap<String, BTreeMap<u64, HeldPoll>>,
    held_groups: BTreeMap<u64, String>,
    next_poll: u64,
    timers: Timers,
    runners: BTreeMap<String, RunnerRecord>,
    terminate: BTreeSet<String>,
}

/// The virtual Data Pipeline service.
#[derive(Clone, Debug)]
pub struct Service {
    s: State,
    journal: Vec<Event>,
    next_event: u64,
    effects: Vec<Effect>,
}

impl Service {
    /// A service with no pipelines whose clock starts at `now`.
    pub fn new(settings: Settings, now: Millis) -> Service {
        Service {
            s: State {
                ids: IdGen::new(settings.seed),
                settings,
                clock: now,
                pipelines: Vec::new(),
                pipeline_index: BTreeMap::new(),
                unique_index: BTreeMap::new(),
                instances: Vec::new(),
                attempts: Vec::new(),
                tasks: Vec::new(),
                ready: BTreeMap::new(),
                held: BTreeMap::new(),
                held_groups: BTreeMap::new(),
                next_poll: 1,
                timers: Timers::default(),
                runners: BTreeMap::new(),
                terminate: BTreeSet::new(),
            },
            journal: Vec::new(),
            next_event: 1,
            effects: Vec::new(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.s.settings
    }

    /// The latest instant the service has seen.
    pub fn now(&self) -> Millis {
        self.s.clock
    }

    /// Handles one request at `now`, after applying every rule due by then.
    pub fn handle(&mut self, now: Millis, request: Request) -> Result<Outcome, ServiceError> {
        self.advance(now);
        let outcome = self.answer(request);
        self.settle();
        outcome
    }

    fn answer(&mut self, request: Request) -> Result<Outcome, ServiceError> {
        let done = |r: Result<Response, ServiceError>| r.map(Outcome::Done);
        match request {
            Request::PollForTask(r) => self.poll_for_task(r),
            Request::ReportTaskProgress(r) => done(self.report_task_progress(r)),
            Request::SetTaskStatus(r) => done(self.set_task_status(r)),
            Request::ReportTaskRunnerHeartbeat(r) => done(self.heartbeat(r)),
            Request::CreatePipeline(r) => done(self.create_pipeline(r)),
            Request::PutPipelineDefinition(r) => done(self.put_definition(r, true)),
            Request::ValidatePipelineDefinition(r) => done(self.put_definition(r, false)),
            Request::GetPipelineDefinition(r) => done(self.get_definition(r)),
            Request::ActivatePipeline(r) => done(self.activate(r)),
            Request::DeactivatePipeline(r) => done(self.deactivate(r)),
            Request::DeletePipeline(r) => done(self.delete(r)),
            Request::SetStatus(r) => done(self.set_status(r)),
            Request::DescribeObjects(r) => done(self.describe_objects(r)),
            Request::QueryObjects(r) => done(self.query_objects(r)),
            Request::DescribePipelines(r) => done(self.describe_pipelines(r)),
            Request::ListPipelines(r) => done(self.list_pipelines(r)),
            Request::AddTags(r) => done(self.add_tags(r)),
            Request::RemoveTags(r) => done(self.remove_tags(r)),
            Request::EvaluateExpression(_) => Err(ServiceError::invalid(
                "EvaluateExpression is not simulated: dpsim stores expressions as written and never evaluates them",
            )),
        }
    }

    /// When the next timed rule is due, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.s.timers.next_at()
    }

    /// Applies every timed rule due at or before `now`, each at its own deadline, in order.
    pub fn advance(&mut self, now: Millis) {
        while let Some(timer) = self.s.timers.pop_due(now) {
            self.s.clock = self.s.clock.max(timer.at);
            self.fire(timer);
            self.settle();
        }
        self.s.clock = self.s.clock.max(now);
    }

    /// Gives up a held poll whose client went away, so no task is handed to nobody.
    pub fn abandon_poll(&mut self, now: Millis, poll: u64) {
        self.advance(now);
        let Some(group) = self.s.held_groups.remove(&poll) else { return };
        let held = self.s.held.get_mut(&group).and_then(|g| g.remove(&poll));
        if self.s.held.get(&group).is_some_and(BTreeMap::is_empty) {
            self.s.held.remove(&group);
        }
        if let Some(held) = held {
            self.s.timers.cancel(held.timer);
            self.emit(EventKind::PollAbandoned { poll }, None, held.hostname, "client went away".into());
        }
    }

    /// Answers every held poll `{}` now, as when the service shuts down.
    pub fn release_held_polls(&mut self) {
        let polls: Vec<u64> = self.s.held_groups.keys().copied().collect();
        for poll in polls {
            let Some(group) = self.s.held_groups.remove(&poll) else { continue };
            let held = self.s.held.get_mut(&group).and_then(|g| g.remove(&poll));
            if self.s.held.get(&group).is_some_and(BTreeMap::is_empty) {
                self.s.held.remove(&group);
            }
            let hostname = held.and_then(|h| {
                self.s.timers.cancel(h.timer);
                h.hostname
            });
            self.emit(EventKind::PollTimedOut { poll, shutdown: true }, None, hostname, "service shutting down".into());
            self.effects.push(Effect::PollAnswered { poll, output: PollForTaskOutput::default(), at: self.s.clock });
        }
    }

    /// What a taskId names, if the service issued it.
    pub fn task_info(&self, task_id: &str) -> Option<TaskInfo> {
        let seq = self.s.ids.verify_task_id(task_id)?;
        let task = self.s.tasks.get(usize::try_from(seq).ok()?.checked_sub(1)?)?;
        let inst = &self.s.instances[task.instance];
        let (live, progress_deadline) = match task.state {
            model::LeaseState::Live { acked, deadline, .. } => (true, acked.then_some(deadline)),
            model::LeaseState::Ended(_) => (false, None),
        };
        Some(TaskInfo {
            seq,
            hostname: task.hostname.clone(),
            component: inst.activity.id.clone(),
            object_id: inst.id.clone(),
            ack_deadline: task.assigned_at.saturating_add(self.s.settings.ack_timeout_ms),
            progress_deadline,
            live,
        })
    }

    /// Instances the service has lost track of: not over, yet neither leased, queued, waiting
    /// for a retry or a dependency, nor held back by a pause or deactivation. Always empty
    /// unless a rule is broken; the `no_lost_task` invariant reads it at the end of a run.
    pub fn lost_instances(&self) -> Vec<(String, String, String)> {
        let mut lost = Vec::new();
        for (i, inst) in self.s.instances.iter().enumerate() {
            let leased = inst.current_attempt.is_some_and(|a| self.s.attempts[a].lease.is_some());
            let why = match inst.status {
                model::InstanceStatus::Running if !leased => "RUNNING without a live lease",
                model::InstanceStatus::WaitingForRunner if !inst.queued && self.eligible(i) => {
                    "WAITING_FOR_RUNNER but in no queue"
                }
                _ => continue,
            };
            lost.push((self.s.pipelines[inst.pipeline].id.to_string(), inst.id.to_string(), why.to_string()));
        }
        lost
    }

    /// True while an active pipeline's schedule has periods still to come.
    pub fn periods_pending(&self) -> bool {
        self.s.pipelines.iter().any(|p| p.period_timer.is_some() && p.state == model::PipelineState::Scheduled)
    }

    /// Instances that have not reached a terminal status.
    pub fn open_instances(&self) -> usize {
        self.s.instances.iter().filter(|i| !i.status.is_terminal()).count()
    }

    /// Every instance, in creation order.
    pub fn instance_summaries(&self) -> Vec<InstanceSummary> {
        self.s
            .instances
            .iter()
            .map(|i| InstanceSummary {
                pipeline_id: self.s.pipelines[i.pipeline].id.to_string(),
                instance_id: i.id.to_string(),
                component: i.activity.id.clone(),
                status: i.status.as_str().to_string(),
                attempts: i.attempts.len(),
                period_start: i.scheduled_end.map(|_| i.scheduled_start),
            })
            .collect()
    }

    /// Every pipeline's id and the name it was created with, in creation order.
    pub fn pipeline_names(&self) -> Vec<(String, String)> {
        self.s.pipelines.iter().map(|p| (p.id.to_string(), p.name.clone())).collect()
    }

    /// Makes the runner's next heartbeat answer `terminate: true`.
    pub fn request_terminate(&mut self, taskrunner_id: &str) {
        self.s.terminate.insert(taskrunner_id.to_string());
    }

    /// Takes the answers owed to held polls.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Takes the journal written since the last call.
    pub fn take_journal(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.journal)
    }

    /// True when both services hold the same state (journals and pending effects aside).
    pub fn same_state(&self, other: &Service) -> bool {
        self.s == other.s
    }

    /// Number of instances waiting in ready queues.
    pub fn ready_len(&self) -> usize {
        self.s.ready.values().map(BTreeSet::len).sum()
    }

    /// Number of live leases.
    pub fn live_leases(&self) -> usize {
        self.s.attempts.iter().filter(|a| a.lease.is_some()).count()
    }

    fn fire(&mut self, timer: timers::TimerKey) {
        match timer.kind {
            TimerKind::Lease(seq) => self.lease_deadline(seq, timer),
            TimerKind::AttemptTimeout(attempt) => self.attempt_timeout(attempt),
            TimerKind::ReadyAt(instance) => {
                self.s.instances[instance].ready_timer = None;
                self.refresh_ready(instance);
            }
            TimerKind::Period(pipeline) => {
                self.s.pipelines[pipeline].period_timer = None;
                self.create_due_periods(pipeline);
            }
            TimerKind::PollHold(poll) => {
                let Some(group) = self.s.held_groups.remove(&poll) else { return };
                let held = self.s.held.get_mut(&group).and_then(|g| g.remove(&poll));
                if self.s.held.get(&group).is_some_and(BTreeMap::is_empty) {
                    self.s.held.remove(&group);
                }
                let hostname = held.and_then(|h| h.hostname);
                self.emit(
                    EventKind::PollTimedOut { poll, shutdown: false },
                    None,
                    hostname,
                    "hold time ran out with no task ready".into(),
                );
                self.effects.push(Effect::PollAnswered {
                    poll,
                    output: PollForTaskOutput::default(),
                    at: self.s.clock,
                });
            }
        }
    }

    /// Journals an event about an instance (or none) at the current instant.
    fn emit(
        &mut self,
        kind: EventKind,
        instance: Option<InstanceKey>,
        runner: Option<Arc<str>>,
        cause: Cow<'static, str>,
    ) {
        let (pipeline_id, object_id) = match instance {
            Some(i) => {
                let inst = &self.s.instances[i];
                (Some(self.s.pipelines[inst.pipeline].id.clone()), Some(inst.id.clone()))
            }
            None => (None, None),
        };
        self.push_event(Event {
            at: self.s.clock,
            seq: 0,
            pipeline_id,
            object_id,
            attempt_id: None,
            task: None,
            runner,
            kind,
            cause,
        });
    }

    /// Journals an event about a lease.
    fn emit_task(&mut self, kind: EventKind, seq: u64, cause: Cow<'static, str>) {
        let task = &self.s.tasks[(seq - 1) as usize];
        let inst = &self.s.instances[task.instance];
        let event = Event {
            at: self.s.clock,
            seq: 0,
            pipeline_id: Some(self.s.pipelines[task.pipeline].id.clone()),
            object_id: Some(inst.id.clone()),
            attempt_id: Some(self.s.attempts[task.attempt].id.clone()),
            task: Some(seq),
            runner: task.hostname.clone(),
            kind,
            cause,
        };
        self.push_event(event);
    }

    /// Journals an event about a pipeline or one of its components.
    fn emit_pipeline(
        &mut self,
        kind: EventKind,
        pipeline: PipelineKey,
        object: Option<Arc<str>>,
        cause: Cow<'static, str>,
    ) {
        let event = Event {
            at: self.s.clock,
            seq: 0,
            pipeline_id: Some(self.s.pipelines[pipeline].id.clone()),
            object_id: object,
            attempt_id: None,
            task: None,
            runner: None,
            kind,
            cause,
        };
        self.push_event(event);
    }

    fn push_event(&mut self, mut event: Event) {
        event.seq = self.next_event;
        self.next_event += 1;
        self.journal.push(event);
    }

    /// Whether an instance may be handed out now.
    fn eligible(&self, i: InstanceKey) -> bool {
        let inst = &self.s.instances[i];
        let p = &self.s.pipelines[inst.pipeline];
        inst.status == model::InstanceStatus::WaitingForRunner
            && inst.ready_timer.is_none()
            && p.state == model::PipelineState::Scheduled
            && !p.paused.contains(&inst.activity.id)
            && !self.held_back(i)
    }

    /// Puts an instance in, or takes it out of, its ready queue to match its eligibility, and
    /// hands it to a held poll when one is waiting.
    fn refresh_ready(&mut self, i: InstanceKey) {
        let eligible = self.eligible(i);
        let inst = &self.s.instances[i];
        if eligible == inst.queued {
            return;
        }
        let key = (inst.scheduled_start, inst.id.clone(), i);
        let group = inst.activity.worker_group.clone();
        self.s.instances[i].queued = eligible;
        if eligible {
            self.s.ready.entry(group.clone()).or_default().insert(key);
            self.emit(EventKind::Ready, Some(i), None, "waiting for a runner".into());
            if self.s.settings.bug != Some(settings::Bug::SkipHeldPolls) {
                self.dispatch(&group);
            }
        } else if let Some(q) = self.s.ready.get_mut(&group) {
            q.remove(&key);
            if q.is_empty() {
                self.s.ready.remove(&group);
            }
        }
    }

    /// Takes the oldest ready instance of a worker group off its queue.
    fn pop_ready(&mut self, group: &str) -> Option<InstanceKey> {
        let q = self.s.ready.get_mut(group)?;
        let (_, _, i) = q.pop_first()?;
        if q.is_empty() {
            self.s.ready.remove(group);
        }
        self.s.instances[i].queued = false;
        Some(i)
    }

    /// True when `maxActiveInstances` holds back an instance of a scheduled activity that has
    /// not started: as many of its siblings as allowed are started and not over, or queued.
    /// Counting the queued ones means only instances that may really run now wait in the
    /// ready queue (and say so in the journal); siblings are refreshed oldest first.
    fn held_back(&self, i: InstanceKey) -> bool {
        let inst = &self.s.instances[i];
        let Some(sch) = &inst.activity.scheduled else { return false };
        if inst.actual_start.is_some() {
            return false;
        }
        let siblings = self.s.pipelines[inst.pipeline].open_scheduled.get(&inst.activity.id);
        let taken = siblings
            .into_iter()
            .flatten()
            .filter(|&&j| j != i)
            .map(|&j| &self.s.instances[j])
            .filter(|j| !j.status.is_terminal())
            .filter(|j| j.actual_start.is_some() || j.queued)
            .count();
        taken >= sch.max_active as usize
    }

    /// After every request and timer: refreshes the waiting instances of scheduled activities,
    /// oldest first (one that started or ended may hold them back or let them go), and serves
    /// held polls any of them can answer.
    fn settle(&mut self) {
        let instances = &self.s.instances;
        let mut waiting: Vec<InstanceKey> = Vec::new();
        for p in self.s.pipelines.iter_mut().filter(|p| !p.open_scheduled.is_empty()) {
            let from = waiting.len();
            for open in p.open_scheduled.values_mut() {
                open.retain(|&i| !instances[i].status.is_terminal());
                waiting
                    .extend(open.iter().filter(|&&i| instances[i].status == model::InstanceStatus::WaitingForRunner));
            }
            p.open_scheduled.retain(|_, open| !open.is_empty());
            // Pipeline by pipeline, each one's oldest first (keys grow with creation).
            waiting[from..].sort_unstable();
        }
        for i in waiting {
            self.refresh_ready(i);
        }
    }

    /// Serves held polls of a group, oldest first, while tasks are ready.
    fn dispatch(&mut self, group: &str) {
        loop {
            let Some((&poll, _)) = self.s.held.get(group).and_then(|g| g.first_key_value()) else { return };
            let Some(i) = self.pop_ready(group) else { return };
            let held = self.s.held.get_mut(group).and_then(|g| g.remove(&poll)).expect("held poll present");
            if self.s.held.get(group).is_some_and(BTreeMap::is_empty) {
                self.s.held.remove(group);
            }
            self.s.held_groups.remove(&poll);
            self.s.timers.cancel(held.timer);
            let task = self.assign(i, held.hostname, Some(poll));
            let at = self.s.clock;
            self.effects.push(Effect::PollAnswered { poll, output: PollForTaskOutput { task_object: Some(task) }, at });
        }
    }
}
