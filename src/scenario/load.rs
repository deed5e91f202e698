//! Loading a scenario: strict parsing with the JSON path, line and column of any error, then
//! the checks that need the whole file (names that must exist, values that must make sense).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use super::definition_file::to_pipeline_objects;
use super::model::{
    Action, At, Behaviour, Expectation, MessageEffect, MessageFault, Scenario, Target as ActionTarget, TimedEvent,
    error_code,
};
use crate::protocol::Operation;
use crate::service::Settings;
use crate::service::definition::validate;

/// Why a scenario cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, when loaded from one.
    pub file: Option<String>,
    /// JSON path of the offending value (`runners[0].worker_group`).
    pub path: String,
    /// 1-based line and column, when the parser knows them.
    pub position: Option<(usize, usize)>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some((line, col)) = self.position {
                write!(f, ":{line}:{col}")?;
            }
            write!(f, ": ")?;
        } else if let Some((line, col)) = self.position {
            write!(f, "line {line}, column {col}: ")?;
        }
        if !self.path.is_empty() && self.path != "." {
            write!(f, "at {}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

fn err(path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError { file: None, path: path.into(), position: None, message: message.into() }
}

/// Where a scenario runs: it decides which events can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `dpsim run`: the simulated world, every event.
    Simulation,
    /// `dpsim serve --scenario`: the runners are the user's own processes, so only message
    /// faults (matching any runner name), control-plane events and `terminate` apply, at
    /// fixed times.
    Serve,
}

/// Reads and checks a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    load_file_for(path, Target::Simulation)
}

/// Reads and checks a scenario file for where it will run.
pub fn load_file_for(path: &Path, target: Target) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: Some(path.display().to_string()),
        path: String::new(),
        position: None,
        message: format!("cannot read the scenario: {e}"),
    })?;
    parse_for(&text, target).map_err(|mut e| {
        e.file = Some(path.display().to_string());
        e
    })
}

/// Parses and checks scenario text.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_for(text, Target::Simulation)
}

/// Parses and checks scenario text for where it will run.
pub fn parse_for(text: &str, target: Target) -> Result<Scenario, ScenarioError> {
    // serde would read a struct from an array too ("invalid length 3, expected struct Scenario
    // with 17 elements"): say what a scenario is instead.
    let start = text.trim_start();
    if !start.starts_with('{') {
        let found = match start.chars().next() {
            None => "the file is empty".to_string(),
            Some(c) => format!("it starts with {c:?}"),
        };
        return Err(ScenarioError {
            file: None,
            path: String::new(),
            position: None,
            message: format!("a scenario is a JSON object ({{\"duration\": ..., \"pipelines\": [...], ...}}); {found}"),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = (inner.line(), inner.column());
        let message = strip_position(&inner.to_string());
        ScenarioError { file: None, path, position: (line > 0).then_some((line, column)), message }
    })?;
    de.end().map_err(|e| ScenarioError {
        file: None,
        path: String::new(),
        position: Some((e.line(), e.column())),
        message: "unexpected text after the scenario object".into(),
    })?;
    check(&scenario, target)?;
    Ok(scenario)
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The service settings a scenario asks for.
pub fn settings(scenario: &Scenario, seed: u64) -> Settings {
    let s = &scenario.service;
    let d = Settings::default();
    Settings {
        ack_timeout_ms: s.ack_timeout.map_or(d.ack_timeout_ms, |v| v.ms()),
        progress_timeout_ms: s.progress_timeout.map_or(d.progress_timeout_ms, |v| v.ms()),
        poll_hold_ms: s.poll_hold.map_or(d.poll_hold_ms, |v| v.ms()),
        default_maximum_retries: s.default_maximum_retries.unwrap_or(d.default_maximum_retries),
        maximum_retries_cap: d.maximum_retries_cap,
        default_retry_delay_ms: s.default_retry_delay.map_or(d.default_retry_delay_ms, |v| v.ms()),
        minimum_retry_delay_ms: s.minimum_retry_delay.map_or(d.minimum_retry_delay_ms, |v| v.ms()),
        minimum_schedule_period_ms: s.minimum_schedule_period.map_or(d.minimum_schedule_period_ms, |v| v.ms()),
        default_max_active_instances: s.default_max_active_instances.unwrap_or(d.default_max_active_instances),
        backfill_limit_ms: match s.backfill_limit {
            None => d.backfill_limit_ms,
            Some(v) if v.ms() == 0 => None,
            Some(v) => Some(v.ms()),
        },
        seed,
        bug: s.bug,
    }
}

/// Checks what parsing alone cannot: names that must exist, sane values, valid definitions.
/// Most runners a scenario may have.
const MAX_RUNNERS: u64 = 100_000;
/// Most pipelines (copies) and instances (copies x activations) the operator creates.
const MAX_COPIES: u64 = 10_000;
const MAX_ACTIVATIONS: u64 = 1_000_000;
/// Most control-plane calls the operator keeps in flight.
const MAX_CONCURRENCY: u32 = 1_024;

fn check(s: &Scenario, target: Target) -> Result<(), ScenarioError> {
    // Counts first: the checks below expand names from them.
    let copies: u64 = s.pipelines.iter().map(|p| u64::from(p.copies)).sum();
    if copies > MAX_COPIES {
        return Err(err("pipelines", format!("at most {MAX_COPIES} pipelines in all (copies included)")));
    }
    let activations: u64 = s.pipelines.iter().map(|p| u64::from(p.copies) * u64::from(p.activations)).sum();
    if activations > MAX_ACTIVATIONS {
        return Err(err("pipelines", format!("at most {MAX_ACTIVATIONS} activations in all (copies x activations)")));
    }
    let runners: u64 = s.runners.iter().map(|r| u64::from(r.count)).sum();
    if runners > MAX_RUNNERS {
        return Err(err("runners", format!("at most {MAX_RUNNERS} runners")));
    }
    if !(1..=MAX_CONCURRENCY).contains(&s.operator.concurrency) {
        return Err(err("operator.concurrency", format!("must be from 1 to {MAX_CONCURRENCY}")));
    }
    if s.tick.ms() == 0 {
        return Err(err("tick", "must be longer than 0"));
    }
    if s.duration.ms() < s.tick.ms() {
        return Err(err("duration", "must be at least one tick"));
    }
    if s.service.default_max_active_instances.is_some_and(|n| !(1..=5).contains(&n)) {
        return Err(err("service.default_max_active_instances", "must be from 1 to 5 (AWS's limit)"));
    }
    if s.service.minimum_schedule_period.is_some_and(|d| d.ms() == 0) {
        return Err(err("service.minimum_schedule_period", "must be longer than 0"));
    }
    // Names are checked as they are read; `expectation` reads as a name but is no invariant.
    for (i, invariant) in s.expect_violations.iter().enumerate() {
        if *invariant == crate::check::Invariant::Expectation {
            return Err(err(
                format!("expect_violations[{i}]"),
                crate::check::UnknownInvariant(invariant.name().into()).to_string(),
            ));
        }
    }
    let settings = settings(s, s.seed);
    let mut pipeline_names = BTreeSet::new();
    // Copies are created by name (as their uniqueId too): no two may share one.
    let mut created: BTreeMap<String, &str> = BTreeMap::new();
    // Activity id -> the pipelines that define it.
    let mut activities: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (i, p) in s.pipelines.iter().enumerate() {
        let at = format!("pipelines[{i}]");
        if !pipeline_names.insert(p.name.as_str()) {
            return Err(err(format!("{at}.name"), format!("pipeline name {:?} is used twice", p.name)));
        }
        if p.copies == 0 || p.activations == 0 {
            return Err(err(at, "copies and activations must be at least 1"));
        }
        for name in p.copy_names() {
            if let Some(other) = created.insert(name.clone(), p.name.as_str()) {
                return Err(err(
                    format!("{at}.name"),
                    format!("pipelines {other:?} and {:?} would both create a pipeline named {name:?}", p.name),
                ));
            }
        }
        let objects =
            to_pipeline_objects(&p.definition).map_err(|(j, m)| err(format!("{at}.definition.objects[{j}]"), m))?;
        let (definition, report) = validate(&objects, &settings);
        let Some(definition) = definition else {
            let errors: Vec<String> =
                report.validation_errors.iter().map(|e| format!("{}: {}", e.id, e.errors.join("; "))).collect();
            return Err(err(
                format!("{at}.definition"),
                format!("the service would reject this definition: {}", errors.join(" | ")),
            ));
        };
        for (id, a) in &definition.activities {
            activities.entry(id.clone()).or_default().insert(p.name.as_str());
            if let Some(f) = a.fields.iter().find(|f| f.key() == "myWorkTime") {
                let text = f.string_value.as_deref().unwrap_or_default();
                if let Err(e) = super::duration::parse_duration(text) {
                    return Err(err(format!("{at}.definition (object {id}).myWorkTime"), e.to_string()));
                }
            }
        }
    }
    let mut runner_names = BTreeSet::new();
    let mut machines = BTreeSet::new();
    for (i, r) in s.runners.iter().enumerate() {
        let at = format!("runners[{i}]");
        if r.count == 0 {
            return Err(err(format!("{at}.count"), "must be at least 1"));
        }
        if r.machines == Some(0) {
            return Err(err(format!("{at}.machines"), "must be at least 1"));
        }
        if r.report_interval.ms() == 0 || r.heartbeat_interval.ms() == 0 || r.request_timeout.ms() == 0 {
            return Err(err(at, "intervals and timeouts must be longer than 0"));
        }
        if r.program.is_some() && r.behaviour != Behaviour::default() {
            return Err(err(
                format!("{at}.behaviour"),
                "misbehaviours are knobs of dpsim's own runner; a runner program has its own behaviour",
            ));
        }
        if r.program.as_deref() == Some("") {
            return Err(err(format!("{at}.program"), "must name a registered program"));
        }
        if r.behaviour.work_factor.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
            return Err(err(format!("{at}.behaviour.work_factor"), "must be a positive number"));
        }
        for name in super::world_plan::runner_names(r) {
            if super::world_plan::RESERVED_HOSTS.contains(&name.as_str()) {
                return Err(err(
                    format!("{at}.name"),
                    format!("{name:?} names the simulated service or operator in the log; name the runner otherwise"),
                ));
            }
            if !runner_names.insert(name.clone()) {
                return Err(err(format!("{at}.name"), format!("runner name {name:?} is used twice")));
            }
        }
        for machine in super::world_plan::machine_names(r) {
            // The simulated network's own hosts.
            if super::world_plan::RESERVED_HOSTS.contains(&machine.as_str()) {
                return Err(err(
                    format!("{at}.machine"),
                    format!(
                        "{machine:?} is the simulated service's or operator's own host; name the machine otherwise"
                    ),
                ));
            }
            machines.insert(machine);
        }
    }
    if machines.len() > 64 {
        return Err(err(
            "runners",
            format!(
                "{} machine hosts: turmoil's cost grows fast with hosts; spread fleets over at most 64 machines (`machines`)",
                machines.len()
            ),
        ));
    }
    let known_runner = |path: String, name: &str| {
        if runner_names.contains(name) { Ok(()) } else { Err(err(path, format!("no runner is named {name:?}"))) }
    };
    let known_machine = |path: String, name: &str| {
        if machines.contains(name) || runner_names.contains(name) {
            Ok(())
        } else {
            Err(err(
                path,
                format!(
                    "no machine or runner is named {name:?}; machines are {}",
                    machines.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let known_task = |path: String, task: &str| {
        if task == "*" || activities.contains_key(task) {
            Ok(())
        } else {
            Err(err(path, format!("no activity has id {task:?}")))
        }
    };
    // An activity of the pipeline named, when one is named: elsewhere it would change nothing.
    let task_of = |path: String, task: &str, pipeline: Option<&str>| {
        known_task(path.clone(), task)?;
        match pipeline {
            Some(p) if task != "*" && !activities.get(task).is_some_and(|in_| in_.contains(p)) => {
                Err(err(path, format!("pipeline {p:?} has no activity {task:?}")))
            }
            _ => Ok(()),
        }
    };
    let known_pipeline = |path: String, name: &str| {
        if pipeline_names.contains(name) { Ok(()) } else { Err(err(path, format!("no pipeline is named {name:?}"))) }
    };
    for (i, e) in s.events.iter().enumerate() {
        let at = format!("events[{i}]");
        if target == Target::Serve {
            check_for_serve(&at, e)?;
        }
        // `serve` plays its timeline for as long as it runs; a simulation stops at `duration`.
        if let At::Time(t) = &e.at
            && target == Target::Simulation
            && t.ms() > s.duration.ms()
        {
            return Err(err(
                format!("{at}.at"),
                format!("{t} is after the scenario's duration ({}): the event would never apply", s.duration),
            ));
        }
        if let At::Anchor(a) = &e.at {
            if let Some(t) = &a.task {
                known_task(format!("{at}.at.task"), t)?;
            }
            if let Some(r) = &a.runner {
                known_runner(format!("{at}.at.runner"), r)?;
            }
            if a.occurrence == 0 {
                return Err(err(format!("{at}.at.occurrence"), "counts from 1"));
            }
        }
        let path = format!("{at}.do");
        match e.action.target() {
            ActionTarget::Machine(m) => known_machine(format!("{path}.machine"), m)?,
            ActionTarget::Messages(Some(_)) if target == Target::Serve => {}
            ActionTarget::Runner(r) | ActionTarget::Messages(Some(r)) => known_runner(format!("{path}.runner"), r)?,
            ActionTarget::Pipeline(Some(p)) => known_pipeline(format!("{path}.pipeline"), p)?,
            ActionTarget::Service | ActionTarget::Messages(None) | ActionTarget::Pipeline(None) => {}
        }
        match &e.action {
            Action::SlowWork { factor, .. } if !(factor.is_finite() && *factor > 0.0) => {
                return Err(err(format!("{path}.factor"), "must be a positive number"));
            }
            Action::Cancel { task, pipeline }
            | Action::Rerun { task, pipeline }
            | Action::PauseActivity { task, pipeline }
            | Action::ResumeActivity { task, pipeline } => task_of(format!("{path}.task"), task, pipeline.as_deref())?,
            Action::Message(m) => {
                if let Some(t) = &m.task {
                    known_task(format!("{path}.task"), t)?;
                }
                check_message_fault(&path, m)?;
            }
            _ => {}
        }
    }
    for (i, x) in s.expect.iter().enumerate() {
        let at = format!("expect[{i}]");
        match x {
            Expectation::Owner { task, runner, .. } => {
                known_task(format!("{at}.task"), task)?;
                if runner != "none" {
                    known_runner(format!("{at}.runner"), runner)?;
                }
            }
            Expectation::HandedOver { task, from, to, after, before } => {
                known_task(format!("{at}.task"), task)?;
                for r in from.iter().chain(to.iter()) {
                    known_runner(at.to_string(), r)?;
                }
                if after > before {
                    return Err(err(format!("{at}.after"), "the window must not end before it starts"));
                }
            }
            Expectation::FinalStatus { task, status } => {
                known_task(format!("{at}.task"), task)?;
                const STATUSES: [&str; 7] = [
                    "WAITING_ON_DEPENDENCIES",
                    "WAITING_FOR_RUNNER",
                    "RUNNING",
                    "FINISHED",
                    "FAILED",
                    "CANCELED",
                    "CASCADE_FAILED",
                ];
                if let Some(bad) = status.split('|').find(|s| !STATUSES.contains(s)) {
                    return Err(err(
                        format!("{at}.status"),
                        format!("{bad:?} is no instance status; one of {} (several joined by |)", STATUSES.join(", ")),
                    ));
                }
            }
            Expectation::Attempts { task, .. } | Expectation::CaughtUp { task, .. } => {
                known_task(format!("{at}.task"), task)?
            }
            Expectation::MaxZombie { runner, .. } | Expectation::ZombieAtLeast { runner, .. } => {
                if let Some(r) = runner {
                    known_runner(format!("{at}.runner"), r)?;
                }
            }
            Expectation::Count { event, .. } => {
                use crate::ownership::log::LogEvent;
                if !LogEvent::ALL.iter().any(|e| e.name() == event) {
                    let names: Vec<&str> = LogEvent::ALL.iter().map(|e| e.name()).collect();
                    return Err(err(
                        format!("{at}.event"),
                        format!(
                            "the log prints no {event:?} line, so the count could never be checked; it prints {}",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Refuses, in `serve`, an event that could not apply to processes dpsim does not run.
fn check_for_serve(at: &str, e: &TimedEvent) -> Result<(), ScenarioError> {
    if matches!(e.at, At::Anchor(_)) {
        return Err(err(
            format!("{at}.at"),
            "serve applies events at fixed times since the start; anchored events need `dpsim run`",
        ));
    }
    match &e.action {
        Action::Message(_) | Action::Terminate { .. } => Ok(()),
        control if crate::control::is_control(control) => Ok(()),
        other => {
            let kind = serde_json::to_value(other).ok().and_then(|v| v["kind"].as_str().map(str::to_string));
            Err(err(
                format!("{at}.do"),
                format!(
                    "{} acts on the simulated network or a simulated runner process; serve cannot apply it to your own processes (message faults, cancel, rerun, pause_activity, resume_activity, deactivate, activate, delete and terminate apply)",
                    kind.unwrap_or_default()
                ),
            ))
        }
    }
}

/// Checks a message fault on its own (a scenario's or one posted to `serve`): a known
/// operation and error code, counts from 1, a probability, one kind of delay, and filters that
/// can match (a `task` filter needs an operation that names a task; a delay until a deadline
/// needs a call that names a lease).
pub fn check_message_fault(path: &str, m: &MessageFault) -> Result<(), ScenarioError> {
    let op = m.operation;
    let names_a_task = op.is_none_or(|o| matches!(o, Operation::ReportTaskProgress | Operation::SetTaskStatus));
    if m.task.is_some() && !names_a_task {
        return Err(err(
            format!("{path}.task"),
            format!("{} calls name no task, so a `task` filter would never match", op.map_or("", Operation::as_str)),
        ));
    }
    if m.occurrence == 0 || m.count == 0 {
        return Err(err(path, "occurrence and count count from 1"));
    }
    if m.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Err(err(format!("{path}.probability"), "must be between 0 and 1"));
    }
    match &m.effect {
        MessageEffect::Error { code } if error_code(code).is_none() => {
            Err(err(format!("{path}.effect.code"), format!("unknown AWS error code {code:?}")))
        }
        MessageEffect::Delay { by, until } if by.is_some() == until.is_some() => {
            Err(err(format!("{path}.effect"), "a delay needs exactly one of `by` and `until`"))
        }
        MessageEffect::Delay { until: Some(_), .. } if !names_a_task => Err(err(
            format!("{path}.effect.until"),
            format!(
                "{} calls name no lease, so they have no deadline to be delayed until",
                op.map_or("", Operation::as_str)
            ),
        )),
        _ => Ok(()),
    }
}
