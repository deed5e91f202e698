//! Pipeline definitions: validation the way the service reports it, and field inheritance.
//!
//! Fields resolve through the object's own fields, then its `parent` chain, then the `Default`
//! object, so a definition pasted from a real pipeline (workerGroup on Default, say) behaves as
//! it would on AWS. Only activities (objects whose type ends in `Activity`) become tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::protocol::output::{PutPipelineDefinitionOutput, ValidationError, ValidationWarning};
use crate::protocol::{Field, PipelineObject};
use crate::time::parse_period;

use super::schedule::{Kind, Schedule, Scheduled};
use super::settings::Settings;

/// Most objects a pipeline may hold (AWS limit).
pub const MAX_OBJECTS: usize = 100;
/// Most fields an object may hold (AWS limit).
pub const MAX_FIELDS: usize = 50;
/// Most bytes of a field's value (AWS limit).
pub const MAX_FIELD_BYTES: usize = 10_240;
/// Most bytes of a field name or an identifier (AWS limit).
pub const MAX_NAME_BYTES: usize = 256;
/// Most bytes of one object, its id, name and fields together (AWS limit).
pub const MAX_OBJECT_BYTES: usize = 15_360;
/// Largest `maxActiveInstances` (AWS's limit).
pub const MAX_ACTIVE_INSTANCES: u32 = 5;
/// Longest period a definition may set (ten years): deadlines stay far from overflow.
pub const MAX_PERIOD_MS: u64 = 3650 * 24 * 3_600_000;

/// An activity with every field resolved and every ownership rule parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// Object id.
    pub id: String,
    /// Object name.
    pub name: String,
    /// Worker group its tasks go to.
    pub worker_group: String,
    /// `reportProgressTimeout`, if set.
    pub report_progress_timeout_ms: Option<u64>,
    /// `attemptTimeout`, if set.
    pub attempt_timeout_ms: Option<u64>,
    /// Retries allowed after a failure.
    pub maximum_retries: u32,
    /// Wait between a failure and the next attempt.
    pub retry_delay_ms: u64,
    /// Activities that must finish first (with a schedule: their instance of the same period).
    pub depends_on: Vec<String>,
    /// Its schedule, when it has one (`schedule` with `scheduleType` cron or timeseries);
    /// `None` runs it once per activation, as `ondemand`.
    pub scheduled: Option<Arc<Scheduled>>,
    /// All fields, own and inherited, as the runner sees them.
    pub fields: Vec<Field>,
}

/// A definition that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The objects as they were put, in put order.
    pub objects: Vec<PipelineObject>,
    /// Activities by id; shared with every instance created from them.
    pub activities: BTreeMap<String, Arc<Activity>>,
}

impl Definition {
    /// The object with this id.
    pub fn object(&self, id: &str) -> Option<&PipelineObject> {
        self.objects.iter().find(|o| o.id.as_deref() == Some(id))
    }
}

#[derive(Default)]
struct Report {
    errors: BTreeMap<String, Vec<String>>,
    warnings: BTreeMap<String, Vec<String>>,
}

impl Report {
    fn error(&mut self, id: &str, message: String) {
        self.errors.entry(id.to_string()).or_default().push(message);
    }
    fn warn(&mut self, id: &str, message: String) {
        self.warnings.entry(id.to_string()).or_default().push(message);
    }
    fn into_output(self) -> PutPipelineDefinitionOutput {
        let errored = !self.errors.is_empty();
        PutPipelineDefinitionOutput {
            validation_errors: self.errors.into_iter().map(|(id, errors)| ValidationError { id, errors }).collect(),
            validation_warnings: self
                .warnings
                .into_iter()
                .map(|(id, warnings)| ValidationWarning { id, warnings })
                .collect(),
            errored,
        }
    }
}

/// Resolves a field through own fields, the `parent` chain and `Default`.
fn resolve<'a>(by_id: &BTreeMap<&str, &'a PipelineObject>, object: &'a PipelineObject) -> Vec<&'a Field> {
    let mut out: Vec<&Field> = Vec::new();
    let mut seen_keys: BTreeSet<&str> = BTreeSet::new();
    let mut visited: BTreeSet<&str> = BTreeSet::new();
    let mut chain: Vec<&PipelineObject> = Vec::new();
    let mut current = Some(object);
    while let Some(o) = current {
        // Cycles are reported elsewhere; here they only stop the walk.
        if !visited.insert(o.id.as_deref().unwrap_or("")) {
            break;
        }
        chain.push(o);
        current = o
            .fields
            .iter()
            .find(|f| f.key() == "parent")
            .and_then(|f| f.ref_value.as_deref())
            .and_then(|p| by_id.get(p).copied());
    }
    if let Some(default) = by_id.get("Default")
        && !visited.contains("Default")
    {
        chain.push(default);
    }
    for o in chain {
        let keys_here: BTreeSet<&str> = o.fields.iter().map(Field::key).filter(|k| *k != "parent").collect();
        for f in &o.fields {
            if f.key() != "parent" && !seen_keys.contains(f.key()) {
                out.push(f);
            }
        }
        seen_keys.extend(keys_here);
    }
    if let Some(own_parent) = object.fields.iter().find(|f| f.key() == "parent") {
        out.push(own_parent);
    }
    out
}

fn single<'a>(fields: &[&'a Field], key: &str) -> Option<&'a Field> {
    fields.iter().copied().find(|f| f.key() == key)
}

fn string_value<'a>(fields: &[&'a Field], key: &str) -> Option<&'a str> {
    single(fields, key).and_then(|f| f.string_value.as_deref())
}

/// Validates a definition; returns it when it may be saved, and the AWS-style report.
pub fn validate(objects: &[PipelineObject], settings: &Settings) -> (Option<Definition>, PutPipelineDefinitionOutput) {
    let mut report = Report::default();
    // AWS's size limits come first: no graph work is done on a definition that breaks them.
    if objects.len() > MAX_OBJECTS {
        report.error(
            "pipeline",
            format!("A pipeline may hold at most {MAX_OBJECTS} objects; this definition has {}", objects.len()),
        );
        return (None, report.into_output());
    }
    for (i, o) in objects.iter().enumerate() {
        check_sizes(i, o, &mut report);
    }
    if !report.errors.is_empty() {
        return (None, report.into_output());
    }
    let mut by_id: BTreeMap<&str, &PipelineObject> = BTreeMap::new();
    for (i, o) in objects.iter().enumerate() {
        let Some(id) = o.id.as_deref().filter(|id| !id.is_empty()) else {
            report.error(&format!("pipelineObjects.{}", i + 1), "Object has no id".into());
            continue;
        };
        if o.name.as_deref().is_none_or(str::is_empty) {
            report.error(id, "Object has no name".into());
        }
        if by_id.insert(id, o).is_some() {
            report.error(id, "Duplicate object id".into());
        }
    }
    let looping = parent_cycles(&by_id);
    for (id, o) in &by_id {
        for f in &o.fields {
            if let Some(target) = f.ref_value.as_deref()
                && !by_id.contains_key(target)
            {
                report.error(id, format!("Field '{}' references unknown object '{target}'", f.key()));
            }
        }
        if looping.contains(id) {
            report.error(id, "The parent chain loops back to this object".into());
        }
    }

    let mut schedules: BTreeMap<&str, Option<Schedule>> = BTreeMap::new();
    for (id, o) in &by_id {
        let fields = resolve(&by_id, o);
        if *id == "Default" || string_value(&fields, "type") != Some("Schedule") {
            continue;
        }
        let field = |key: &str| string_value(&fields, key).map(str::to_string);
        match Schedule::parse(id, &field, settings.minimum_schedule_period_ms) {
            Ok(mut schedule) => {
                schedule.late = settings.bug == Some(super::settings::Bug::LatePeriods);
                schedules.insert(id, Some(schedule));
            }
            Err(errors) => {
                for e in errors {
                    report.error(id, e);
                }
                schedules.insert(id, None);
            }
        }
    }
    let mut activities = BTreeMap::new();
    for (id, o) in &by_id {
        if *id == "Default" {
            continue;
        }
        let fields = resolve(&by_id, o);
        let Some(kind) = string_value(&fields, "type") else {
            report.error(id, "Object has no type (set 'type' on it or on a parent)".into());
            continue;
        };
        if !kind.ends_with("Activity") {
            continue;
        }
        if let Some(activity) = validate_activity(id, o, &fields, &schedules, settings, &mut report) {
            activities.insert(id.to_string(), Arc::new(activity));
        }
    }
    for (id, a) in &activities {
        for dep in &a.depends_on {
            if by_id.contains_key(dep.as_str()) && !activities.contains_key(dep) {
                report.error(id, format!("dependsOn '{dep}' is not an activity"));
            }
        }
    }
    for (id, a) in &activities {
        for dep in a.depends_on.iter().filter_map(|d| activities.get(d)) {
            let same = match (&a.scheduled, &dep.scheduled) {
                (None, None) => true,
                (Some(x), Some(y)) => x.schedule.id == y.schedule.id && x.kind == y.kind,
                _ => false,
            };
            if !same {
                report.error(
                    id,
                    format!(
                        "dependsOn '{}' runs on another schedule: dpsim pairs the instances of dependent activities \
                         period by period, so both must use the same schedule and scheduleType",
                        dep.id
                    ),
                );
            }
        }
    }
    if let Some(id) = dependency_cycle(&activities) {
        report.error(&id, "dependsOn forms a cycle through this activity".into());
    }
    if activities.is_empty() && report.errors.is_empty() {
        report.warn("pipeline", "The definition has no activity: activating it creates no task".into());
    }
    let output = report.into_output();
    let definition = (!output.errored).then(|| Definition { objects: objects.to_vec(), activities });
    (definition, output)
}

fn validate_activity(
    id: &str,
    o: &PipelineObject,
    fields: &[&Field],
    schedules: &BTreeMap<&str, Option<Schedule>>,
    settings: &Settings,
    report: &mut Report,
) -> Option<Activity> {
    let before = report.errors.get(id).map_or(0, Vec::len);
    let worker_group = string_value(fields, "workerGroup").unwrap_or("");
    if worker_group.is_empty() {
        report.error(id, "Activity has no workerGroup: no task runner could take its tasks".into());
    }
    let mut period = |key: &str| -> Option<u64> {
        let text = string_value(fields, key)?;
        match parse_period(text) {
            Ok(ms) if ms > MAX_PERIOD_MS => {
                report.error(id, format!("Field '{key}': {text:?} is longer than the 10-year limit"));
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                report.error(id, format!("Field '{key}': {e}"));
                None
            }
        }
    };
    let report_progress_timeout_ms = period("reportProgressTimeout");
    let attempt_timeout_ms = period("attemptTimeout");
    let retry_delay_ms = period("retryDelay").unwrap_or(settings.default_retry_delay_ms);
    if retry_delay_ms < settings.minimum_retry_delay_ms {
        report.error(
            id,
            format!(
                "Field 'retryDelay' must be at least {} minutes",
                settings.minimum_retry_delay_ms / crate::time::MINUTE_MS
            ),
        );
    }
    let cap = settings.maximum_retries_cap;
    let maximum_retries = match string_value(fields, "maximumRetries") {
        None => settings.default_maximum_retries,
        Some(text) => match text.trim().parse::<u32>() {
            Ok(n) if n <= cap => n,
            _ => {
                report.error(id, format!("Field 'maximumRetries' must be an integer from 0 to {cap}, got {text:?}"));
                0
            }
        },
    };
    let scheduled = validate_schedule(id, fields, schedules, settings, report);
    let depends_on = fields.iter().filter(|f| f.key() == "dependsOn").filter_map(|f| f.ref_value.clone()).collect();
    if report.errors.get(id).map_or(0, Vec::len) > before {
        return None;
    }
    Some(Activity {
        id: id.to_string(),
        name: o.name.clone().unwrap_or_default(),
        worker_group: worker_group.to_string(),
        report_progress_timeout_ms,
        attempt_timeout_ms,
        maximum_retries,
        retry_delay_ms,
        depends_on,
        scheduled,
        fields: fields.iter().map(|f| (*f).clone()).collect(),
    })
}

/// An activity's `schedule`, `scheduleType` and `maxActiveInstances`.
fn validate_schedule(
    id: &str,
    fields: &[&Field],
    schedules: &BTreeMap<&str, Option<Schedule>>,
    settings: &Settings,
    report: &mut Report,
) -> Option<Arc<Scheduled>> {
    let schedule =
        single(fields, "schedule").map(|f| f.ref_value.as_deref().or(f.string_value.as_deref()).unwrap_or(""));
    let kind = match string_value(fields, "scheduleType").map(str::to_ascii_lowercase).as_deref() {
        None | Some("timeseries") => Some(Kind::Timeseries),
        Some("cron") => Some(Kind::Cron),
        Some("ondemand") => None,
        Some(other) => {
            report.error(id, format!("Field 'scheduleType': {other:?} is not cron, timeseries or ondemand"));
            return None;
        }
    };
    let max_active = match string_value(fields, "maxActiveInstances") {
        None => settings.default_max_active_instances.clamp(1, MAX_ACTIVE_INSTANCES),
        Some(text) => {
            match text.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_ACTIVE_INSTANCES).contains(&n) => n,
                _ => {
                    report.error(
                    id,
                    format!("Field 'maxActiveInstances' must be an integer from 1 to {MAX_ACTIVE_INSTANCES}, got {text:?}"),
                );
                    return None;
                }
            }
        }
    };
    match (schedule, kind) {
        // Without a schedule an activity runs once per activation, whatever its scheduleType
        // says (dpsim's reading of a definition that never names a schedule).
        (None, kind) => {
            if kind.is_some() && string_value(fields, "scheduleType").is_some() {
                report
                    .warn(id, "scheduleType is set but no schedule is: each activation runs the activity once".into());
            }
            None
        }
        (Some(name), None) => {
            report.error(id, format!("scheduleType ondemand takes no schedule, but the activity names '{name}'"));
            None
        }
        (Some(name), Some(kind)) => match schedules.get(name) {
            Some(Some(schedule)) => Some(Arc::new(Scheduled { schedule: schedule.clone(), kind, max_active })),
            // The schedule's own errors are reported on it.
            Some(None) => None,
            None => {
                report.error(id, format!("Field 'schedule': '{name}' is not a Schedule object"));
                None
            }
        },
    }
}

/// The objects whose own parent chain comes back to them: one walk per object, each ended as
/// soon as it reaches an object already settled, so the whole pass is linear.
fn parent_cycles<'a>(by_id: &BTreeMap<&'a str, &'a PipelineObject>) -> BTreeSet<&'a str> {
    fn parent(o: &PipelineObject) -> Option<&str> {
        o.fields.iter().find(|f| f.key() == "parent").and_then(|f| f.ref_value.as_deref())
    }
    let mut settled: BTreeSet<&str> = BTreeSet::new();
    let mut looping: BTreeSet<&str> = BTreeSet::new();
    for &start in by_id.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut on_path: BTreeSet<&str> = BTreeSet::new();
        let mut current = Some(start);
        while let Some(id) = current {
            if settled.contains(id) {
                break;
            }
            if !on_path.insert(id) {
                // The walk came back to `id`: every object from it onwards is on the loop.
                let from = path.iter().position(|p| *p == id).unwrap_or(0);
                looping.extend(path[from..].iter().copied());
                break;
            }
            path.push(id);
            current = by_id.get(id).and_then(|o| parent(o)).and_then(|p| by_id.get_key_value(p).map(|(k, _)| *k));
        }
        settled.extend(path);
    }
    looping
}

/// Refuses an object over AWS's size limits (field count, bytes per field value, field names and
/// identifiers, bytes per object).
fn check_sizes(i: usize, o: &PipelineObject, report: &mut Report) {
    let id =
        o.id.as_deref()
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("pipelineObjects.{}", i + 1), str::to_string);
    if o.fields.len() > MAX_FIELDS {
        report.error(&id, format!("An object may hold at most {MAX_FIELDS} fields; it has {}", o.fields.len()));
    }
    for name in [o.id.as_deref(), o.name.as_deref()].into_iter().flatten() {
        if name.len() > MAX_NAME_BYTES {
            report.error(&id, format!("Identifiers and names are at most {MAX_NAME_BYTES} bytes"));
        }
    }
    let mut bytes = o.id.as_deref().map_or(0, str::len) + o.name.as_deref().map_or(0, str::len);
    for f in &o.fields {
        if f.key().len() > MAX_NAME_BYTES || f.ref_value.as_deref().is_some_and(|r| r.len() > MAX_NAME_BYTES) {
            report.error(&id, format!("Field names and references are at most {MAX_NAME_BYTES} bytes"));
        }
        if f.string_value.as_deref().is_some_and(|v| v.len() > MAX_FIELD_BYTES) {
            report.error(&id, format!("Field '{}' is longer than {MAX_FIELD_BYTES} bytes", f.key()));
        }
        bytes +=
            f.key().len() + f.string_value.as_deref().map_or(0, str::len) + f.ref_value.as_deref().map_or(0, str::len);
    }
    if bytes > MAX_OBJECT_BYTES {
        report.error(&id, format!("An object is at most {MAX_OBJECT_BYTES} bytes; it has {bytes}"));
    }
}

fn dependency_cycle(activities: &BTreeMap<String, Arc<Activity>>) -> Option<String> {
    // Kahn's algorithm over an adjacency list: whatever cannot be ordered sits on or behind a
    // cycle. Linear in activities plus dependencies.
    let mut indegree: BTreeMap<&str, usize> = activities.keys().map(|k| (k.as_str(), 0)).collect();
    let mut downstream: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in activities.values() {
        for d in a.depends_on.iter().filter(|d| activities.contains_key(*d)) {
            *indegree.get_mut(a.id.as_str()).expect("own id") += 1;
            downstream.entry(d.as_str()).or_default().push(a.id.as_str());
        }
    }
    let mut ready: Vec<&str> = indegree.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    while let Some(done) = ready.pop() {
        indegree.remove(done);
        for next in downstream.get(done).into_iter().flatten() {
            if let Some(n) = indegree.get_mut(next) {
                *n -= 1;
                if *n == 0 {
                    ready.push(next);
                }
            }
        }
    }
    indegree.keys().next().map(|k| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: &str, fields: Vec<Field>) -> PipelineObject {
        PipelineObject { id: Some(id.into()), name: Some(id.into()), fields }
    }

    fn copy(extra: Vec<Field>) -> Vec<PipelineObject> {
        let mut fields = vec![Field::string("type", "ShellCommandActivity"), Field::string("workerGroup", "wg-1")];
        fields.extend(extra);
        vec![obj("Copy", fields)]
    }

    fn errors(objects: &[PipelineObject]) -> Vec<String> {
        let (_, out) = validate(objects, &Settings::default());
        out.validation_errors
            .into_iter()
            .flat_map(|e| e.errors.into_iter().map(move |m| format!("{}: {m}", e.id)))
            .collect()
    }

    #[test]
    fn a_plain_activity_validates_with_defaults() {
        let (def, out) = validate(&copy(vec![]), &Settings::default());
        assert!(!out.errored, "{out:?}");
        let a = &def.unwrap().activities["Copy"];
        assert_eq!((a.maximum_retries, a.retry_delay_ms, a.report_progress_timeout_ms), (2, 600_000, None));
    }

    #[test]
    fn fields_inherit_from_default_and_parents() {
        let objects = vec![
            obj("Default", vec![Field::string("workerGroup", "from-default"), Field::string("maximumRetries", "4")]),
            obj("Base", vec![Field::string("type", "ShellCommandActivity"), Field::string("maximumRetries", "1")]),
            obj("Copy", vec![Field::reference("parent", "Base")]),
        ];
        let (def, out) = validate(&objects, &Settings::default());
        assert!(!out.errored, "{out:?}");
        let a = &def.unwrap().activities["Copy"];
        assert_eq!((a.worker_group.as_str(), a.maximum_retries), ("from-default", 1));
    }

    #[test]
    fn the_issue_s_validation_errors_are_reported() {
        let missing_wg = vec![obj("Copy", vec![Field::string("type", "ShellCommandActivity")])];
        assert!(errors(&missing_wg)[0].starts_with("Copy: Activity has no workerGroup"));
        let no_name =
            vec![PipelineObject { id: Some("X".into()), name: None, fields: vec![Field::string("type", "Schedule")] }];
        assert_eq!(errors(&no_name)[0], "X: Object has no name");
        let no_id = vec![PipelineObject { id: None, name: Some("n".into()), fields: vec![] }];
        assert_eq!(errors(&no_id), ["pipelineObjects.1: Object has no id"]);
        assert!(errors(&copy(vec![Field::string("reportProgressTimeout", "15 mins")]))[0].contains("invalid period"));
        assert!(errors(&copy(vec![Field::string("maximumRetries", "6")]))[0].contains("from 0 to 5"));
        assert!(errors(&copy(vec![Field::string("maximumRetries", "-1")]))[0].contains("from 0 to 5"));
        assert!(errors(&copy(vec![Field::string("retryDelay", "1 minutes")]))[0].contains("at least 2 minutes"));
        assert!(errors(&copy(vec![Field::reference("dependsOn", "Nope")]))[0].contains("unknown object 'Nope'"));
    }

    #[test]
    fn cycles_are_errors() {
        let mut objects = copy(vec![Field::reference("dependsOn", "Load")]);
        objects.push(obj(
            "Load",
            vec![
                Field::string("type", "ShellCommandActivity"),
                Field::string("workerGroup", "wg"),
                Field::reference("dependsOn", "Copy"),
            ],
        ));
        assert!(errors(&objects).iter().any(|e| e.contains("cycle")));
        let looped = vec![
            obj("A", vec![Field::reference("parent", "B"), Field::string("type", "X")]),
            obj("B", vec![Field::reference("parent", "A")]),
        ];
        assert!(errors(&looped).iter().any(|e| e.contains("parent chain loops")));
    }

    #[test]
    fn a_schedule_type_without_a_schedule_warns_and_runs_once_per_activation() {
        let (def, out) = validate(&copy(vec![Field::string("scheduleType", "cron")]), &Settings::default());
        assert!(!out.errored);
        assert!(def.unwrap().activities["Copy"].scheduled.is_none());
        assert_eq!(out.validation_warnings.len(), 1, "{out:?}");
    }
}
