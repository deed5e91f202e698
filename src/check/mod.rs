//! Named invariants: observational checks over a run's journal and observations.
//!
//! Each invariant only observes; a violation names the invariant, the simulated time, the task
//! and runner, and carries the log lines of that task that led to it. They run after every
//! scenario (`dpsim run`, the scenario tests) and every chaos run.

mod history;
mod invariants;
mod periods;
pub mod probes;
mod progress;
mod referee;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ownership::analysis::Analysis;
use crate::ownership::log::Line;
use crate::scenario::Scenario;
use crate::service::definition::validate;
use crate::time::Millis;
use crate::trace::Trace;

pub use invariants::ALL;

/// An instance, named as instance ids are unique: (pipeline id, instance id).
pub type Instance<'a> = (&'a str, &'a str);

/// An invariant's name: one of [`ALL`]'s, or `expectation`. (A name, not a borrowed `&str`:
/// a violation read back from a file does not borrow from it.)
pub type InvariantName = &'static str;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The invariant's name.
    #[serde(deserialize_with = "invariant_name")]
    pub invariant: InvariantName,
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

/// Reads an invariant's name back (a result file from another process, `dpsim merge`): one of
/// [`ALL`], or `expectation`.
fn invariant_name<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let name = String::deserialize(d)?;
    ALL.iter()
        .map(|(n, _)| *n)
        .chain(["expectation"])
        .find(|n| *n == name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown invariant {name:?}")))
}

/// What an activity allows, from the scenario's definitions.
#[derive(Clone, Debug, Default)]
pub struct ActivityRules {
    /// Worker group of its tasks.
    pub worker_group: String,
    /// Retries allowed.
    pub maximum_retries: u32,
}

/// Everything the invariants look at.
pub struct Input<'a> {
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
    pub activities: BTreeMap<String, BTreeMap<String, ActivityRules>>,
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
        let settings = crate::scenario::settings(scenario, out.seed);
        // From what the clients put, pipeline by pipeline (two pipelines may give one activity
        // id different rules): the definition the pipeline's last activation adopted, as its
        // instances have it (one put later waits for the next activation), else the last put.
        let mut latest: BTreeMap<&str, &[crate::protocol::shapes::PipelineObject]> = BTreeMap::new();
        let mut adopted: BTreeMap<&str, &[crate::protocol::shapes::PipelineObject]> = BTreeMap::new();
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
        let mut activities: BTreeMap<String, BTreeMap<String, ActivityRules>> = BTreeMap::new();
        for (pipeline, objects) in adopted {
            let (Some(def), _) = validate(objects, &settings) else { continue };
            let rules = def.activities.iter().map(|(id, a)| {
                (id.clone(), ActivityRules { worker_group: a.worker_group.clone(), maximum_retries: a.maximum_retries })
            });
            activities.insert(pipeline.to_string(), rules.collect());
        }
        Input { scenario, out, analysis, log, activities, referee: std::sync::OnceLock::new(), answered }
    }

    /// The calls in the order they were answered (stable for calls answered together).
    pub fn calls_in_order(&self) -> impl Iterator<Item = &'a crate::trace::Call> + '_ {
        let out: &'a Trace = self.out;
        self.answered.iter().map(move |&i| &out.calls[i])
    }

    /// The rules of an activity of a pipeline, if a definition of it was put.
    pub fn rules(&self, pipeline: &str, activity: &str) -> Option<&ActivityRules> {
        self.activities.get(pipeline)?.get(activity)
    }

    /// The worker group of an activity of a pipeline (empty when unknown).
    pub fn worker_group(&self, pipeline: &str, activity: &str) -> String {
        self.rules(pipeline, activity).map(|a| a.worker_group.clone()).unwrap_or_default()
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
pub fn check(input: &Input) -> Vec<Violation> {
    let mut violations: Vec<Violation> = ALL.iter().flat_map(|(_, check)| check(input)).collect();
    violations.sort_by(|a, b| (a.at, a.invariant).cmp(&(b.at, b.invariant)));
    violations
}

/// Renders violations for humans.
pub fn render(violations: &[Violation]) -> String {
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
