//! Inspection: objects rendered with their runtime fields, DescribeObjects, QueryObjects,
//! DescribePipelines and ListPipelines.

use crate::protocol::input::{
    DescribeObjectsInput, DescribePipelinesInput, ListPipelinesInput, QueryObjectsInput, Selector,
};
use crate::protocol::output::{
    DescribeObjectsOutput, DescribePipelinesOutput, ListPipelinesOutput, PipelineDescription, PipelineIdName,
    QueryObjectsOutput,
};
use crate::protocol::{Field, PipelineObject, Response, ServiceError};
use crate::time::{Millis, format_dp_time, parse_instant};

use super::Service;
use super::model::{AttemptKey, InstanceKey, InstanceStatus, PipelineKey, PipelineState};

/// Largest page QueryObjects and ListPipelines return.
const PAGE_MAX: usize = 100;

fn time_field(fields: &mut Vec<Field>, key: &str, at: Option<Millis>) {
    if let Some(at) = at {
        fields.push(Field::string(key, format_dp_time(at)));
    }
}

fn opt_field(fields: &mut Vec<Field>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        fields.push(Field::string(key, v));
    }
}

impl Service {
    /// An instance with its runtime fields and its activity's fields.
    pub(super) fn render_instance(&self, i: InstanceKey) -> PipelineObject {
        let inst = &self.s.instances[i];
        let p = &self.s.pipelines[inst.pipeline];
        let mut fields = vec![
            Field::string("@sphere", "INSTANCE"),
            Field::string("@pipelineId", &*p.id),
            Field::reference("@componentParent", inst.activity.id.clone()),
            Field::string("@status", inst.status.as_str()),
            Field::string("@scheduledStartTime", format_dp_time(inst.scheduled_start)),
            Field::string("@attemptCount", inst.attempts.len().to_string()),
        ];
        time_field(&mut fields, "@scheduledEndTime", inst.scheduled_end);
        time_field(&mut fields, "@actualStartTime", inst.actual_start);
        time_field(&mut fields, "@actualEndTime", inst.actual_end);
        if let Some(&head) = inst.attempts.last() {
            fields.push(Field::reference("@headAttempt", &*self.s.attempts[head].id));
            opt_field(&mut fields, "hostname", self.s.attempts[head].hostname.as_deref());
        }
        fields.extend(inst.activity.fields.iter().filter(|f| f.key() != "parent").cloned());
        PipelineObject { id: Some(inst.id.to_string()), name: Some(inst.id.to_string()), fields }
    }

    /// An attempt with its runtime fields, what the runner reported, and its activity's fields.
    pub(super) fn render_attempt(&self, a: AttemptKey) -> PipelineObject {
        let attempt = &self.s.attempts[a];
        let inst = &self.s.instances[attempt.instance];
        let p = &self.s.pipelines[inst.pipeline];
        let mut fields = vec![
            Field::string("@sphere", "ATTEMPT"),
            Field::string("@pipelineId", &*p.id),
            Field::reference("@instanceParent", &*inst.id),
            Field::reference("@componentParent", inst.activity.id.clone()),
            Field::string("@status", attempt.status.as_str()),
            Field::string("@attemptNumber", attempt.number.to_string()),
            Field::string("@scheduledStartTime", format_dp_time(inst.scheduled_start)),
        ];
        time_field(&mut fields, "@scheduledEndTime", inst.scheduled_end);
        time_field(&mut fields, "@actualStartTime", attempt.started);
        time_field(&mut fields, "@actualEndTime", attempt.ended);
        time_field(&mut fields, "reportProgressTime", attempt.report_progress_time);
        opt_field(&mut fields, "hostname", attempt.hostname.as_deref());
        opt_field(&mut fields, "attemptStatus", attempt.task_status.as_deref());
        opt_field(&mut fields, "errorId", attempt.error_id.as_deref());
        opt_field(&mut fields, "errorMessage", attempt.error_message.as_deref());
        opt_field(&mut fields, "errorStackTrace", attempt.error_stack_trace.as_deref());
        fields.extend(attempt.reported.values().cloned());
        let own: Vec<String> = fields.iter().map(|f| f.key().to_string()).collect();
        fields.extend(
            inst.activity.fields.iter().filter(|f| f.key() != "parent" && !own.iter().any(|k| k == f.key())).cloned(),
        );
        PipelineObject { id: Some(attempt.id.to_string()), name: Some(attempt.id.to_string()), fields }
    }

    fn render_component(&self, key: PipelineKey, object: &PipelineObject) -> PipelineObject {
        let p = &self.s.pipelines[key];
        let id = object.id.clone().unwrap_or_default();
        let status = if p.paused.contains(&id) { "PAUSED" } else { p.state.as_str() };
        let mut fields = vec![
            Field::string("@sphere", "COMPONENT"),
            Field::string("@pipelineId", &*p.id),
            Field::string("@status", status),
        ];
        fields.extend(object.fields.iter().cloned());
        PipelineObject { id: object.id.clone(), name: object.name.clone(), fields }
    }

    fn render_by_id(&self, key: PipelineKey, id: &str) -> Option<PipelineObject> {
        let p = &self.s.pipelines[key];
        if let Some(&i) = p.instance_ids.get(id) {
            return Some(self.render_instance(i));
        }
        if let Some(&a) = p.attempt_ids.get(id) {
            return Some(self.render_attempt(a));
        }
        let def = p.definition.as_ref()?;
        def.object(id).map(|o| self.render_component(key, o))
    }

    pub(super) fn describe_objects(&mut self, r: DescribeObjectsInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let pipeline_objects =
            r.object_ids.unwrap_or_default().iter().filter_map(|id| self.render_by_id(key, id)).collect();
        Ok(Response::DescribeObjects(DescribeObjectsOutput { pipeline_objects, marker: None, has_more_results: false }))
    }

    pub(super) fn query_objects(&mut self, r: QueryObjectsInput) -> Result<Response, ServiceError> {
        let key = self.pipeline_key(r.pipeline_id.as_deref().unwrap_or_default())?;
        let p = &self.s.pipelines[key];
        let objects: Vec<PipelineObject> = match r.sphere.as_deref() {
            Some("COMPONENT") => p
                .definition
                .as_ref()
                .map(|d| d.objects.iter().map(|o| self.render_component(key, o)).collect())
                .unwrap_or_default(),
            Some("INSTANCE") => p.instances.iter().map(|&i| self.render_instance(i)).collect(),
            _ => p
                .instances
                .iter()
                .flat_map(|&i| self.s.instances[i].attempts.iter().map(|&a| self.render_attempt(a)))
                .collect(),
        };
        let selectors = r.query.map(|q| q.selectors).unwrap_or_default();
        let ids: Vec<String> = objects
            .into_iter()
            .filter(|o| selectors.iter().all(|s| selector_matches(s, o)))
            .filter_map(|o| o.id)
            .collect();
        let (page, marker, has_more) = page(ids, r.marker.as_deref(), r.limit)?;
        Ok(Response::QueryObjects(QueryObjectsOutput { ids: page, marker, has_more_results: has_more }))
    }

    pub(super) fn describe_pipelines(&mut self, r: DescribePipelinesInput) -> Result<Response, ServiceError> {
        let mut list = Vec::new();
        for id in r.pipeline_ids.unwrap_or_default() {
            let key = self.pipeline_key(&id)?;
            list.push(self.pipeline_description(key));
        }
        Ok(Response::DescribePipelines(DescribePipelinesOutput { pipeline_description_list: list }))
    }

    fn pipeline_description(&self, key: PipelineKey) -> PipelineDescription {
        let p = &self.s.pipelines[key];
        let all_done = !p.instances.is_empty() && p.instances.iter().all(|&i| self.s.instances[i].status.is_terminal());
        let state = if p.state == PipelineState::Scheduled && all_done { "FINISHED" } else { p.state.as_str() };
        let unhealthy = p
            .instances
            .iter()
            .any(|&i| matches!(self.s.instances[i].status, InstanceStatus::Failed | InstanceStatus::CascadeFailed));
        let mut fields = vec![
            Field::string("@id", &*p.id),
            Field::string("@sphere", "PIPELINE"),
            Field::string("name", p.name.clone()),
            Field::string("uniqueId", p.unique_id.clone()),
            Field::string("@pipelineState", state),
            Field::string("@creationTime", format_dp_time(p.created_at)),
            Field::string("@userId", "dpsim"),
            Field::string("@accountId", "000000000000"),
        ];
        if p.activations > 0 {
            fields.push(Field::string("@healthStatus", if unhealthy { "ERROR" } else { "HEALTHY" }));
        }
        opt_field(&mut fields, "description", p.description.as_deref());
        PipelineDescription {
            pipeline_id: p.id.to_string(),
            name: p.name.clone(),
            fields,
            description: p.description.clone(),
            tags: p.tags.clone(),
        }
    }

    pub(super) fn list_pipelines(&mut self, r: ListPipelinesInput) -> Result<Response, ServiceError> {
        let all: Vec<String> =
            self.s.pipelines.iter().filter(|p| p.state != PipelineState::Deleted).map(|p| p.id.to_string()).collect();
        let (page, marker, has_more) = page(all, r.marker.as_deref(), None)?;
        let pipeline_id_list = page
            .into_iter()
            .map(|id| {
                let name = self.s.pipelines[self.s.pipeline_index[&id]].name.clone();
                PipelineIdName { id, name }
            })
            .collect();
        Ok(Response::ListPipelines(ListPipelinesOutput { pipeline_id_list, marker, has_more_results: has_more }))
    }
}

/// Cuts a page out of a list; the marker is the offset of the next page.
fn page(
    all: Vec<String>,
    marker: Option<&str>,
    limit: Option<i64>,
) -> Result<(Vec<String>, Option<String>, bool), ServiceError> {
    let start = match marker.filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| ServiceError::invalid(format!("Invalid marker {m:?}")))?,
    };
    let size = limit.map_or(PAGE_MAX, |l| (l as usize).min(PAGE_MAX));
    let end = start.saturating_add(size).min(all.len());
    let page = all.get(start..end).map(<[String]>::to_vec).unwrap_or_default();
    let more = end < all.len();
    Ok((page, more.then(|| end.to_string()), more))
}

fn selector_matches(s: &Selector, o: &PipelineObject) -> bool {
    let name = s.field_name.as_deref().unwrap_or_default();
    let Some(op) = &s.operator else { return true };
    let values = &op.values;
    o.fields.iter().filter(|f| f.key() == name).any(|f| {
        let text = f.string_value.as_deref();
        let reference = f.ref_value.as_deref();
        // Times compare as instants (`2026-01-01T03:00:00`, with or without `Z`, or RFC 3339),
        // anything else as text.
        let order = |t: &str, v: &str| match (parse_instant(t), parse_instant(v)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => t.cmp(v),
        };
        match op.kind.as_deref() {
            Some("EQ") => text.is_some_and(|t| values.iter().any(|v| v == t)),
            Some("REF_EQ") => reference.is_some_and(|r| values.iter().any(|v| v == r)),
            Some("LE") => text.zip(values.first()).is_some_and(|(t, v)| order(t, v).is_le()),
            Some("GE") => text.zip(values.first()).is_some_and(|(t, v)| order(t, v).is_ge()),
            Some("BETWEEN") => match (text, values.first(), values.get(1)) {
                (Some(t), Some(lo), Some(hi)) => order(t, lo).is_ge() && order(t, hi).is_le(),
                _ => false,
            },
            _ => false,
        }
    })
}
