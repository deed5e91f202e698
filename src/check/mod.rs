//! Named invariants: observational checks over a run's journal and observations.
//!
//! Each invariant only observes; a violation names the invariant, the simulated time, the task
//! and runner, and carries the log lines of that task that led to it. They run after every
//! scenario (`dpsim run`, the scenario tests) and every chaos run.

mod history;
mod invariants;
mod periods;
mod progress;
mod referee;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ownership::analysis::Analysis;
use crate::ownership::log::Line;
use crate::scenario::Scenario;
use crate::scenario::definition_file::to_pipeline_objects;
use crate::service::definition::validate;
use crate::time::Millis;
use crate::trace::Trace;

pub use invariants::ALL;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: &'static str,
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
    /// Rules by activity id.
    pub activities: BTreeMap<String, ActivityRules>,
    /// The history checker's verdicts, worked out once for the invariants that read them.
    referee: std::sync::OnceLock<Vec<Violation>>,
}

impl<'a> Input<'a> {
    /// Gathers the inputs of the checks.
    pub fn new(scenario: &'a Scenario, out: &'a Trace, analysis: &'a Analysis, log: &'a [Line]) -> Input<'a> {
        let settings = crate::scenario::settings(scenario, out.seed);
        let mut activities = BTreeMap::new();
        for p in &scenario.pipelines {
            let Ok(objects) = to_pipeline_objects(&p.definition) else { continue };
            if let (Some(def), _) = validate(&objects, &settings) {
                for (id, a) in &def.activities {
                    let rules =
                        ActivityRules { worker_group: a.worker_group.clone(), maximum_retries: a.maximum_retries };
                    activities.entry(id.clone()).or_insert(rules);
                }
            }
        }
        Input { scenario, out, analysis, log, activities, referee: std::sync::OnceLock::new() }
    }

    /// The log lines about a lease's task (any lease of the same instance) up to `at`.
    pub fn trail_of_instance(&self, object_id: &str, at: Millis) -> Vec<Line> {
        let label = self.analysis.label(object_id);
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
