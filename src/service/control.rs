//! Control-plane operations: create, define, activate, deactivate, delete, SetStatus, tags.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::journal::{CancelSource, EventKind};
use crate::protocol::input::{
    ActivatePipelineInput, AddTagsInput, CreatePipelineInput, DeactivatePipelineInput, GetPipelineDefinitionInput,
    PipelineIdInput, PutPipelineDefinitionInput, RemoveTagsInput, SetStatusInput,
};
use crate::protocol::output::{CreatePipelineOutput, GetPipelineDefinitionOutput};
use crate::protocol::shapes::{Tag, validate_tags};
use crate::protocol::{Response, ServiceError};
use crate::time::{Millis, SECOND_MS, format_dp_time, whole_second};

use super::Service;
use super::definition::{Activity, Definition, validate};
use super::model::{
    AttemptStatus, Instance, InstanceKey, InstanceStatus, LeaseEnd, Pipeline, PipelineKey, PipelineState,
};
use super::schedule;
use super::settings::Bug;
use super::timers::TimerKind;

impl Service {
    /// The pipeline with this id; deleted pipelines answer PipelineDeletedException.
    pub(super) fn pipeline_key(&self, id: &str) -> Result<PipelineKey, ServiceError> {
        let key = *self.s.pipeline_index.get(id).ok_or_else(|| ServiceError::pipeline_not_found(id))?;
        if self.s.pipelines[key].state == PipelineState::Deleted {
            return Err(ServiceError::pipeline_deleted(id));
        }
        Ok(key)
    }

    pub(super) fn create_pipeline(&mut self, r: CreatePipelineInput) -> Result<Response, ServiceError> {
        let (name, unique_id) = (r.name.unwrap_or_default(), r.unique_id.unwrap_or_default());
        if let Some(&key) = self.s.unique_index.get(&(name.clone(), unique_id.clone()))
            && self.s.pipelines[key].state != PipelineState::Deleted
        {
            return Ok(Response::CreatePipeline(CreatePipelineOutput {
                pipeline_id: self.s.pipelines[key].id.to_string(),
            }));
        }
        let mut id = self.s.ids.pipeline_id();
        while self.s.pipeline_index.contains_key(&id) {
            id = self.s.ids.pipeline_id();
        }
        let key = self.s.pipelines.len();
        self.s.pipelines.push(Pipeline {
            id: id.as_str().into(),
            name: name.clone(),
            unique_id: unique_id.clone(),
            description: r.description,
            tags: r.tags,
            created_at: self.s.clock,
            state: PipelineState::Pending,
            definition: None,
            active_definition: None,
            parameter_objects: Vec::new(),
            parameter_values: Vec::new(),
            paused: Default::default(),
            first_activation: None,
            next_period: BTreeMap::new(),
            period_timer: None,
            instances: Vec::new(),
            open_scheduled: BTreeMap::new(),
            instance_ids: Default::default(),
            attempt_ids: Default::default(),
            activations: 0,
        });
        self.s.pipeline_index.insert(id.clone(), key);
        self.s.unique_index.insert((name.clone(), unique_id), key);
        self.emit_pipeline(EventKind::PipelineCreated, key, None, format!("name {name:?}").into());
        Ok(Response::CreatePipeline(CreatePipelineOutput { pipeline_id: id }))
    }

    pub(super) fn put_definition(
        &mut self,
        r: PutPipelineDefinitionInput,
        save: bool,
    ) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let objects = r.pipeline_objects.unwrap_or_default();
        let (definition, output) = validate(&objects, &self.s.settings);
        if let (true, Some(definition)) = (save, definition) {
            let p = &mut self.s.pipelines[key];
            p.definition = Some(Arc::new(definition));
            p.parameter_objects = r.parameter_objects;
            p.parameter_values = r.parameter_values;
            let n = objects.len();
            self.emit_pipeline(EventKind::DefinitionPut, key, None, format!("{n} objects").into());
        }
        Ok(Response::PutPipelineDefinition(output))
    }

    pub(super) fn get_definition(&mut self, r: GetPipelineDefinitionInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let p = &self.s.pipelines[key];
        let definition = match r.version.as_deref() {
            Some("active") => Some(p.active_definition.as_ref().ok_or_else(|| {
                ServiceError::invalid(format!(
                    "Pipeline {} has never been activated: it has no active definition",
                    p.id
                ))
            })?),
            _ => p.definition.as_ref(),
        };
        Ok(Response::GetPipelineDefinition(GetPipelineDefinitionOutput {
            pipeline_objects: definition.map(|d| d.objects.clone()).unwrap_or_default(),
            parameter_objects: p.parameter_objects.clone(),
            parameter_values: p.parameter_values.clone(),
        }))
    }

    pub(super) fn activate(&mut self, r: ActivatePipelineInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let p = &self.s.pipelines[key];
        let Some(definition) = p.definition.clone() else {
            return Err(ServiceError::invalid(format!(
                "Pipeline {} has no valid definition: call PutPipelineDefinition first",
                p.id
            )));
        };
        let now = self.s.clock;
        // Fractions of a second are dropped: object times have second resolution.
        let start = r.start_timestamp.map_or(now, |t| (t as u64).saturating_mul(SECOND_MS));
        let scheduled = definition.activities.values().any(|a| a.scheduled.is_some());
        if scheduled {
            self.check_backfill(key, &definition, start)?;
        }
        let p = &self.s.pipelines[key];
        let resumable = p.state == PipelineState::Inactive
            && p.instances.iter().any(|&i| !self.s.instances[i].status.is_terminal());
        // A scheduled pipeline activated again goes on with its periods; only its unscheduled
        // activities run again.
        let continues = scheduled && p.first_activation.is_some();
        self.s.pipelines[key].state = PipelineState::Scheduled;
        if continues {
            self.s.pipelines[key].active_definition = Some(definition.clone());
        }
        if resumable || continues {
            // Reactivating a pipeline deactivated without cancelActive resumes where it stopped;
            // a scheduled one goes on with its periods.
            let why = if resumable { "resumed after deactivation" } else { "its schedules go on" };
            self.emit_pipeline(EventKind::Activated { instances: 0 }, key, None, why.into());
            for i in self.s.pipelines[key].instances.clone() {
                self.refresh_ready(i);
            }
            self.create_due_periods(key);
            return Ok(Response::empty());
        }
        let p = &mut self.s.pipelines[key];
        p.activations += 1;
        p.active_definition = Some(definition.clone());
        // A schedule starting at the first activation starts at its whole second.
        p.first_activation.get_or_insert(whole_second(start));
        let activation = p.activations;
        let mut created: Vec<(String, InstanceKey)> = Vec::new();
        for activity in definition.activities.values().filter(|a| a.scheduled.is_none()) {
            let mut id = format!("@{}_{}", activity.id, format_dp_time(start));
            if p.instance_ids.contains_key(&id) {
                id = format!("{id}_{activation}");
            }
            let i = self.s.instances.len();
            self.s.instances.push(new_instance(key, id.as_str().into(), activity.clone(), start, None));
            p.instance_ids.insert(id, i);
            p.instances.push(i);
            created.push((activity.id.clone(), i));
        }
        let instance_of = |activity: &str| created.iter().find(|(a, _)| a == activity).map(|(_, i)| *i);
        let dependencies = self.s.settings.bug != Some(Bug::IgnoreDependencies);
        for &(_, i) in created.iter().filter(|_| dependencies) {
            for dep in self.s.instances[i].activity.depends_on.clone() {
                let upstream = instance_of(&dep).expect("validated dependsOn names an unscheduled activity");
                self.s.instances[upstream].dependents.push(i);
                self.s.instances[i].waiting_on.insert(upstream);
            }
        }
        self.emit_pipeline(
            EventKind::Activated { instances: created.len() },
            key,
            None,
            format!("activation {activation}").into(),
        );
        for &(_, i) in &created {
            if self.s.instances[i].waiting_on.is_empty() {
                self.s.instances[i].status = InstanceStatus::WaitingForRunner;
                if start > now {
                    self.s.instances[i].ready_timer = Some(self.s.timers.set(start, TimerKind::ReadyAt(i)));
                }
                self.refresh_ready(i);
            }
        }
        self.create_due_periods(key);
        Ok(Response::empty())
    }

    /// Refuses a first activation whose schedules would backfill further back than the
    /// settings allow (AWS blocks activations that would backfill more than a day).
    fn check_backfill(&self, key: PipelineKey, definition: &Definition, start: Millis) -> Result<(), ServiceError> {
        let p = &self.s.pipelines[key];
        let (Some(limit), None) = (self.s.settings.backfill_limit_ms, p.first_activation) else { return Ok(()) };
        for a in definition.activities.values() {
            let Some(sch) = &a.scheduled else { continue };
            let first = sch.schedule.first_start(start);
            if first.saturating_add(limit) < self.s.clock {
                return Err(ServiceError::invalid(format!(
                    "Activation refused: activity {}'s schedule {} starts at {}, more than {} before now; \
                     its backfill is blocked (dpsim setting backfill_limit)",
                    a.id,
                    sch.schedule.id,
                    format_dp_time(first),
                    crate::time::format_duration(limit)
                )));
            }
        }
        Ok(())
    }

    /// Creates every scheduled instance whose period is due by now (all past periods at once:
    /// backfill), pairs each with its upstream instances of the same period, and sets the
    /// timer for the next period to come due.
    pub(super) fn create_due_periods(&mut self, key: PipelineKey) {
        if let Some(t) = self.s.pipelines[key].period_timer.take() {
            self.s.timers.cancel(t);
        }
        let p = &self.s.pipelines[key];
        let (PipelineState::Scheduled, Some(definition), Some(activated)) =
            (p.state, p.active_definition.clone(), p.first_activation)
        else {
            return;
        };
        let now = self.s.clock;
        let mut created: Vec<InstanceKey> = Vec::new();
        let mut next_due: Option<Millis> = None;
        for activity in definition.activities.values() {
            let Some(sch) = &activity.scheduled else { continue };
            let first = sch.schedule.first_start(activated);
            loop {
                let p = &mut self.s.pipelines[key];
                let index = p.next_period.get(&activity.id).copied().unwrap_or(0);
                let Some(period) = sch.schedule.period(first, index) else { break };
                let due = sch.kind.due(&period);
                if due > now {
                    next_due = Some(next_due.map_or(due, |d: Millis| d.min(due)));
                    break;
                }
                p.next_period.insert(activity.id.clone(), index + 1);
                let bug = self.s.settings.bug;
                let copies = match bug {
                    Some(Bug::SkipPeriod) if index % 3 == 2 => 0,
                    Some(Bug::DuplicatePeriod) if index % 3 == 2 => 2,
                    _ => 1,
                };
                for copy in 0..copies {
                    let mut id = schedule::instance_id(&activity.id, period.start);
                    if copy > 0 {
                        id = format!("{id}_{}", copy + 1);
                    }
                    let i = self.s.instances.len();
                    self.s.instances.push(new_instance(
                        key,
                        id.as_str().into(),
                        activity.clone(),
                        period.start,
                        Some(period.end),
                    ));
                    let p = &mut self.s.pipelines[key];
                    p.instance_ids.insert(id, i);
                    p.instances.push(i);
                    p.open_scheduled.entry(activity.id.clone()).or_default().insert(i);
                    created.push(i);
                    let event = EventKind::Scheduled { start: period.start, end: period.end };
                    self.emit(event, Some(i), None, format!("schedule {}", sch.schedule.id).into());
                }
            }
        }
        if self.s.settings.bug != Some(Bug::IgnoreDependencies) {
            for &i in &created {
                let inst = &self.s.instances[i];
                let period_start = inst.scheduled_start;
                for dep in inst.activity.depends_on.clone() {
                    let up = schedule::instance_id(&dep, period_start);
                    let Some(&upstream) = self.s.pipelines[key].instance_ids.get(&up) else { continue };
                    if self.s.instances[upstream].status != InstanceStatus::Finished {
                        self.s.instances[upstream].dependents.push(i);
                        self.s.instances[i].waiting_on.insert(upstream);
                    }
                }
            }
        }
        for &i in &created {
            if self.s.instances[i].waiting_on.is_empty() {
                self.s.instances[i].status = InstanceStatus::WaitingForRunner;
                self.refresh_ready(i);
            }
        }
        if let Some(due) = next_due {
            self.s.pipelines[key].period_timer = Some(self.s.timers.set(due, TimerKind::Period(key)));
        }
    }

    pub(super) fn deactivate(&mut self, r: DeactivatePipelineInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let cancel_active = r.cancel_active.unwrap_or(true);
        self.s.pipelines[key].state = PipelineState::Inactive;
        self.emit_pipeline(EventKind::Deactivated { cancel_active }, key, None, "".into());
        for i in self.s.pipelines[key].instances.clone() {
            if cancel_active {
                self.cancel_instance(i, CancelSource::Deactivate, "pipeline deactivated with cancelActive");
            } else {
                self.refresh_ready(i);
            }
        }
        Ok(Response::empty())
    }

    pub(super) fn delete(&mut self, r: PipelineIdInput) -> Result<Response, ServiceError> {
        let id = r.pipeline_id.as_deref().unwrap_or_default();
        // The model lists no PipelineDeletedException for DeletePipeline: a deleted pipeline
        // is one that is not found.
        let key = self.pipeline_key(id).map_err(|e| match e.code {
            crate::protocol::ErrorCode::PipelineDeletedException => ServiceError::pipeline_not_found(id),
            _ => e,
        })?;
        if self.s.settings.bug != Some(Bug::HandOutDeleted) {
            for i in self.s.pipelines[key].instances.clone() {
                self.cancel_instance(i, CancelSource::Delete, "pipeline deleted");
            }
        }
        self.s.pipelines[key].state = PipelineState::Deleted;
        // Held polls never see a deleted pipeline's tasks: they were taken off the queues above.
        self.emit_pipeline(EventKind::Deleted, key, None, "".into());
        Ok(Response::empty())
    }

    pub(super) fn set_status(&mut self, r: SetStatusInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let status = r.status.unwrap_or_default();
        let ids = r.object_ids.unwrap_or_default();
        let p = &self.s.pipelines[key];
        let on_components = matches!(status.as_str(), "PAUSE" | "RESUME");
        // Check every id before changing anything, so a bad id leaves the pipeline untouched.
        let mut instances = Vec::new();
        for id in &ids {
            if on_components {
                let known = p.definition.as_ref().is_some_and(|d| d.activities.contains_key(id));
                if !known {
                    return Err(ServiceError::invalid(format!(
                        "{status} applies to activity components; {id:?} is not one"
                    )));
                }
            } else {
                let Some(&i) = p.instance_ids.get(id) else {
                    return Err(ServiceError::invalid(format!(
                        "{status} applies to instances; {id:?} is not an instance of {}",
                        p.id
                    )));
                };
                if status == "RERUN" && !self.s.instances[i].status.is_terminal() {
                    return Err(ServiceError::invalid(format!(
                        "Instance {id} is {}: only finished, failed or canceled instances can be rerun",
                        self.s.instances[i].status.as_str()
                    )));
                }
                instances.push(i);
            }
        }
        match status.as_str() {
            "PAUSE" | "RESUME" => {
                let pause = status == "PAUSE";
                if pause && self.s.settings.bug == Some(Bug::IgnorePause) {
                    return Ok(Response::empty());
                }
                for id in ids {
                    let p = &mut self.s.pipelines[key];
                    let changed = if pause { p.paused.insert(id.clone()) } else { p.paused.remove(&id) };
                    if !changed {
                        continue;
                    }
                    let kind = if pause { EventKind::Paused } else { EventKind::Resumed };
                    self.emit_pipeline(kind, key, Some(id.as_str().into()), format!("SetStatus {status}").into());
                    let of_component: Vec<InstanceKey> = self.s.pipelines[key]
                        .instances
                        .iter()
                        .copied()
                        .filter(|&i| self.s.instances[i].activity.id == id)
                        .collect();
                    for i in of_component {
                        self.refresh_ready(i);
                    }
                }
            }
            "TRY_CANCEL" if self.s.settings.bug == Some(Bug::IgnoreTryCancel) => {}
            "TRY_CANCEL" => {
                for i in instances {
                    self.cancel_instance(i, CancelSource::TryCancel, "SetStatus TRY_CANCEL");
                }
            }
            "MARK_FINISHED" => {
                for i in instances {
                    if self.s.instances[i].status == InstanceStatus::Finished {
                        continue;
                    }
                    self.stop_instance(
                        i,
                        LeaseEnd::Canceled(crate::journal::CancelSource::MarkFinished),
                        AttemptStatus::Canceled,
                    );
                    self.emit(EventKind::MarkedFinished, Some(i), None, "SetStatus MARK_FINISHED".into());
                    self.finish_instance(i);
                    self.refresh_ready(i);
                }
            }
            "RERUN" => {
                for i in instances {
                    let inst = &self.s.instances[i];
                    if inst.activity.scheduled.is_some() {
                        let activity = inst.activity.id.clone();
                        self.s.pipelines[inst.pipeline].open_scheduled.entry(activity).or_default().insert(i);
                    }
                    let inst = &mut self.s.instances[i];
                    inst.status = InstanceStatus::WaitingForRunner;
                    inst.failures = 0;
                    inst.current_attempt = None;
                    inst.actual_end = None;
                    // Dependents that have not started wait for this run too.
                    for d in inst.dependents.clone() {
                        if self.s.instances[d].status == InstanceStatus::WaitingOnDependencies {
                            self.s.instances[d].waiting_on.insert(i);
                        }
                    }
                    self.emit(EventKind::Rerun, Some(i), None, "SetStatus RERUN".into());
                    self.refresh_ready(i);
                }
            }
            _ => unreachable!("validated status"),
        }
        Ok(Response::empty())
    }

    pub(super) fn add_tags(&mut self, r: AddTagsInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let mut tags = self.s.pipelines[key].tags.clone();
        for t in r.tags.unwrap_or_default() {
            tags.retain(|old| old.key != t.key);
            tags.push(t);
        }
        validate_tags(&tags, "tags")?;
        self.s.pipelines[key].tags = tags;
        Ok(Response::empty())
    }

    pub(super) fn remove_tags(&mut self, r: RemoveTagsInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let keys = r.tag_keys.unwrap_or_default();
        self.s.pipelines[key].tags.retain(|t: &Tag| !keys.iter().any(|k| t.key.as_deref() == Some(k.as_str())));
        Ok(Response::empty())
    }
}

/// A new instance of an activity, waiting on its dependencies until they are wired.
fn new_instance(
    pipeline: PipelineKey,
    id: Arc<str>,
    activity: Arc<Activity>,
    scheduled_start: Millis,
    scheduled_end: Option<Millis>,
) -> Instance {
    Instance {
        pipeline,
        id,
        activity,
        status: InstanceStatus::WaitingOnDependencies,
        scheduled_start,
        scheduled_end,
        actual_start: None,
        actual_end: None,
        attempts: Vec::new(),
        current_attempt: None,
        failures: 0,
        waiting_on: BTreeSet::new(),
        dependents: Vec::new(),
        queued: false,
        ready_timer: None,
    }
}
