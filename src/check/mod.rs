//! Named invariants: observational checks over a run's trace, and the coverage probes.
//!
//! Each invariant only observes; a [`Violation`] names the [`Invariant`], the simulated time,
//! the task and runner, and carries the log lines that led to it. Every run is checked
//! (`dpsim run`, chaos, verify, `serve`'s report); [`crate::Report::violations`] lists what
//! broke. The coverage probes ([`Probe`]) name the rare situations a run reached.

mod history;
mod invariants;
mod periods;
pub(crate) mod probes;
mod progress;
mod referee;
pub(crate) mod rules;

pub use probes::Probe;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ownership::analysis::Analysis;
use crate::ownership::log::Line;
use crate::scenario::Scenario;
use crate::time::Millis;
use crate::trace::Trace;

/// An instance, named as instance ids are unique: (pipeline id, instance id).
pub(crate) type Instance<'a> = (&'a str, &'a str);

/// A named invariant: the rules every run is checked against (see the README's "Invariants"),
/// and [`Invariant::Expectation`], which stands for a failed expectation wherever a run's
/// failures are listed by what they broke. Serialised as its snake_case name
/// (`single_owner`), which is how scenario files (`expect_violations`) and JSON outputs
/// write it; ordered by that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// At any instant a task has at most one live lease.
    SingleOwner,
    /// A task is handed out again only after its lease ended.
    NoEarlyHandout,
    /// A ready task is handed to a polling runner of its worker group.
    NoStarvation,
    /// Every instance ends, or is still owned or waiting when the run stops.
    NoLostTask,
    /// A runner whose lease was canceled learns it at its next report.
    CancelLearned,
    /// A call on a lease that is no longer live changes nothing.
    StaleNoChange,
    /// An instance runs no more attempts than its retries allow.
    AttemptsBound,
    /// A runner stops working soon after it is told a task is gone.
    ZombieBound,
    /// What runners were told agrees with a separate model of the lease rules.
    History,
    /// Every instance that can finish does, once faults end.
    Liveness,
    /// Every fault hit what it names.
    FaultTarget,
    /// A schedule period has at most one instance.
    OneInstancePerPeriod,
    /// An instance finishes at most once.
    FinishesOnce,
    /// Not an invariant: a failed expectation of the scenario.
    Expectation,
}

impl Invariant {
    /// Every invariant a run is checked against ([`Invariant::Expectation`] is not one).
    pub const ALL: [Invariant; 13] = [
        Invariant::SingleOwner,
        Invariant::NoEarlyHandout,
        Invariant::NoStarvation,
        Invariant::NoLostTask,
        Invariant::CancelLearned,
        Invariant::StaleNoChange,
        Invariant::AttemptsBound,
        Invariant::ZombieBound,
        Invariant::History,
        Invariant::Liveness,
        Invariant::FaultTarget,
        Invariant::OneInstancePerPeriod,
        Invariant::FinishesOnce,
    ];

    /// Its name, as scenario files and outputs write it (`single_owner`).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::SingleOwner => "single_owner",
            Invariant::NoEarlyHandout => "no_early_handout",
            Invariant::NoStarvation => "no_starvation",
            Invariant::NoLostTask => "no_lost_task",
            Invariant::CancelLearned => "cancel_learned",
            Invariant::StaleNoChange => "stale_no_change",
            Invariant::AttemptsBound => "attempts_bound",
            Invariant::ZombieBound => "zombie_bound",
            Invariant::History => "history",
            Invariant::Liveness => "liveness",
            Invariant::FaultTarget => "fault_target",
            Invariant::OneInstancePerPeriod => "one_instance_per_period",
            Invariant::FinishesOnce => "finishes_once",
            Invariant::Expectation => "expectation",
        }
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownInvariant(pub String);

impl std::fmt::Display for UnknownInvariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        write!(f, "no invariant is named {:?}; invariants: {}", self.0, known.join(", "))
    }
}

impl std::error::Error for UnknownInvariant {}

impl std::str::FromStr for Invariant {
    type Err = UnknownInvariant;

    /// An invariant, or `expectation`, by name.
    fn from_str(name: &str) -> Result<Invariant, UnknownInvariant> {
        Invariant::ALL
            .into_iter()
            .chain([Invariant::Expectation])
            .find(|i| i.name() == name)
            .ok_or_else(|| UnknownInvariant(name.to_string()))
    }
}

/// Read by name, with [`UnknownInvariant`]'s message for any other (a result file of another
/// process, a scenario's `expect_violations`).
impl<'de> Deserialize<'de> for Invariant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Invariant, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// In the scenario schema: a string (the loader names the invariants when one is unknown).
impl schemars::JsonSchema for Invariant {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Invariant".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
    }
}

impl PartialOrd for Invariant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// By name, so that lists and maps of invariants keep the order their names had.
impl Ord for Invariant {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The invariant broken.
    pub invariant: Invariant,
    /// Simulated time since the start.
    pub at: Millis,
    /// The task (`Copy@1`), if one is concerned.
    pub task: Option<String>,
    /// The runner, if one is concerned.
    pub runner: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The log lines of the task (or runner) up to the violation.
    pub trail: Vec<Line>,
}

/// Everything the invariants look at.
pub(crate) struct Input<'a> {
    /// The scenario that ran.
    pub scenario: &'a Scenario,
    /// Its raw output.
    pub out: &'a Trace,
    /// Ownership facts.
    pub analysis: &'a Analysis,
    /// The ownership log.
    pub log: &'a [Line],
    /// Rules by pipeline id, then activity id (two pipelines may give one activity id different
    /// rules), from the definition each pipeline's last activation adopted.
    pub activities: BTreeMap<String, BTreeMap<String, rules::Activity>>,
    /// The deadlines and defaults the run obeys, as the referee reads the scenario.
    pub numbers: rules::Numbers,
    /// The history checker's verdicts and the probes its walk hit, worked out once for the
    /// invariants and the probes that read them.
    referee: std::sync::OnceLock<history::Judged>,
    /// The indices of the calls in the order they were answered, sorted once for the checks
    /// that walk them.
    answered: Vec<usize>,
}

impl<'a> Input<'a> {
    /// Gathers the inputs of the checks.
    pub fn new(scenario: &'a Scenario, out: &'a Trace, analysis: &'a Analysis, log: &'a [Line]) -> Input<'a> {
        let numbers = rules::Numbers::of(scenario);
        // From what the clients put, pipeline by pipeline (two pipelines may give one activity
        // id different rules): the definition the pipeline's last activation adopted, as its
        // instances have it (one put later waits for the next activation), else the last put.
        let mut latest: BTreeMap<&str, &[crate::protocol::PipelineObject]> = BTreeMap::new();
        let mut adopted: BTreeMap<&str, &[crate::protocol::PipelineObject]> = BTreeMap::new();
        let answered = answered_order(out);
        let in_order = answered.iter().map(|&i| &out.calls[i]);
        for c in in_order.filter(|c| matches!(c.outcome, crate::trace::CallOutcome::Accepted)) {
            let Some(pipeline) = c.pipeline_id.as_deref() else { continue };
            match (c.operation, c.definition.as_deref()) {
                (crate::protocol::Operation::PutPipelineDefinition, Some(objects)) => {
                    latest.insert(pipeline, objects.as_slice());
                }
                (crate::protocol::Operation::ActivatePipeline, _) => {
                    if let Some(objects) = latest.get(pipeline) {
                        adopted.insert(pipeline, objects);
                    }
                }
                _ => {}
            }
        }
        for (pipeline, objects) in latest.iter() {
            adopted.entry(pipeline).or_insert(objects);
        }
        let activities = adopted
            .into_iter()
            .map(|(pipeline, objects)| (pipeline.to_string(), rules::activities(objects, &numbers)))
            .collect();
        Input { scenario, out, analysis, log, activities, numbers, referee: std::sync::OnceLock::new(), answered }
    }

    /// The calls in the order they were answered (stable for calls answered together).
    pub fn calls_in_order(&self) -> impl Iterator<Item = &'a crate::trace::Call> + '_ {
        let out: &'a Trace = self.out;
        self.answered.iter().map(move |&i| &out.calls[i])
    }

    /// The rules of an activity of a pipeline, if a definition of it was put.
    pub fn rules(&self, pipeline: &str, activity: &str) -> Option<&rules::Activity> {
        self.activities.get(pipeline)?.get(activity)
    }

    /// The worker group of an activity of a pipeline (empty when unknown).
    pub fn worker_group(&self, pipeline: &str, activity: &str) -> String {
        self.rules(pipeline, activity).map(|a| a.group.clone()).unwrap_or_default()
    }

    /// The log lines about an instance of a pipeline (any lease of it) up to `at`.
    pub fn trail_of_instance(&self, instance: Instance, at: Millis) -> Vec<Line> {
        let label = self.analysis.label(instance.0, instance.1);
        self.log
            .iter()
            .filter(|l| l.at <= at && (l.object == label || l.object.starts_with(&format!("{label}@"))))
            .cloned()
            .collect()
    }

    /// The log lines of a runner up to `at`.
    pub fn trail_of_runner(&self, runner: &str, at: Millis) -> Vec<Line> {
        let lines: Vec<Line> = self.log.iter().filter(|l| l.at <= at && l.runner == runner).cloned().collect();
        lines[lines.len().saturating_sub(30)..].to_vec()
    }
}

/// The indices of a trace's calls in the order they were answered (stable for ties).
fn answered_order(out: &Trace) -> Vec<usize> {
    let mut order: Vec<usize> = (0..out.calls.len()).collect();
    order.sort_by_key(|&i| out.calls[i].answered_at);
    order
}

/// Runs every invariant.
pub(crate) fn check(input: &Input) -> Vec<Violation> {
    let mut violations: Vec<Violation> =
        Invariant::ALL.into_iter().filter_map(invariants::check_of).flat_map(|check| check(input)).collect();
    violations.sort_by_key(|v| (v.at, v.invariant));
    violations
}

/// Renders violations for humans.
pub(crate) fn render(violations: &[Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        out += &format!(
            "VIOLATION {} at {}{}{}: {}\n",
            v.invariant,
            crate::ownership::log::stamp(v.at),
            v.task.as_deref().map(|t| format!(" task {t}")).unwrap_or_default(),
            v.runner.as_deref().map(|r| format!(" runner {r}")).unwrap_or_default(),
            v.message
        );
        if !v.trail.is_empty() {
            out += "  transitions that led to it:\n";
            for line in crate::ownership::log::render(&v.trail, crate::scenario::model::LogDetail::Full).lines() {
                out += &format!("    {line}\n");
            }
        }
    }
    out
}
