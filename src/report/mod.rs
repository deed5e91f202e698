//! Reports of a run: the ownership log, the summary, expectation verdicts, invariant
//! violations, the coverage probes hit, JSON, and the timeline picture and page.
//!
//! A [`Report`] is plain data built from a scenario and a [`Trace`] ([`Report::new`]); it
//! serialises as `dpsim run --format json` prints it.

pub(crate) mod expect;
mod groups;
pub(crate) mod out_dir;
pub(crate) mod page;
pub(crate) mod timeline;

pub(crate) use crate::ownership::{analysis, log};
pub use expect::Verdict;
pub use groups::{HANDFUL, ViolationGroup};
pub use log::{Line, LogEvent};

/// The timeline picture of a run (SVG): a lane per task, a bar per lease coloured by runner,
/// work after a lease ended hatched, faults and control events marked; titled with `name` and
/// the seed.
pub fn timeline_svg(name: &str, trace: &Trace) -> String {
    timeline::svg_of(name, trace)
}

/// The report page of a run: one self-contained HTML file that leads with what broke (the
/// violations grouped by the rule they break, the first of each in full with the transitions
/// and faults before it), then the expectations, an interactive timeline (zoom, pan, lanes by
/// task or runner, hover details, click to filter the log) and the ownership log. Every
/// violation, lease and time window has a URL fragment: `#v=0` is the first violation. `dpsim
/// run --out` writes it as `report.html`; a failing `run_test` writes it beside the test.
pub fn page(name: &str, report: &Report, trace: &Trace) -> String {
    page::render(&format!("{name} (seed {})", trace.seed), report, trace)
}

/// The run in the Chrome trace event format (JSON), which Perfetto (ui.perfetto.dev) and
/// chrome://tracing open for deep zooming: a track per runner with its leases, zombie work
/// and calls, and faults, control events and violations as instants. `dpsim run
/// --trace-events FILE` writes it.
pub fn trace_events(name: &str, report: &Report, trace: &Trace) -> String {
    let events = page::trace_events(&format!("{name} (seed {})", trace.seed), report, trace);
    serde_json::to_string(&events).expect("trace events serialise")
}

/// The fragment of a page's URL that opens it on the run's first violation (`#v=4`), or none
/// when nothing broke.
pub fn first_violation_fragment(report: &Report) -> Option<String> {
    report.violation_groups().first().map(|g| format!("#v={}", g.first))
}

use serde::Serialize;

use crate::journal::EventKind;
use crate::scenario::Scenario;
use crate::time::format_duration;
use crate::trace::Trace;

use crate::check::{self, Invariant, Violation};
use analysis::Analysis;
use log::stamp;

/// Everything a run showed.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Where the run stopped, since the start.
    pub end_ms: u64,
    /// Whether it stopped because everything was done.
    pub finished_early: bool,
    /// Whether it is `serve`'s report: a server has no duration, it serves until shut down.
    pub served: bool,
    /// Counts and figures.
    pub summary: Summary,
    /// Expectation verdicts.
    pub expectations: Vec<Verdict>,
    /// Invariant violations.
    pub violations: Vec<Violation>,
    /// Invariants the scenario expects to break.
    pub expected_violations: Vec<Invariant>,
    /// The coverage probes the run hit, by name, with how often ([`check::Probe`]).
    pub probes: std::collections::BTreeMap<&'static str, u32>,
    /// The ownership log.
    pub log: Vec<Line>,
    #[serde(skip)]
    detail: crate::scenario::model::LogDetail,
}

/// Counts and figures of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Runners.
    pub runners: usize,
    /// Instances (tasks).
    pub tasks: usize,
    /// Final instance statuses and their counts.
    pub statuses: Vec<(String, usize)>,
    /// Handouts.
    pub handouts: usize,
    /// Handouts of an attempt handed out before.
    pub reassignments: usize,
    /// Lease expiries.
    pub expiries: usize,
    /// Stale and forged calls.
    pub stale_calls: usize,
    /// Zombie intervals.
    pub zombies: usize,
    /// Longest zombie interval.
    pub longest_zombie_ms: u64,
    /// Total zombie work.
    pub total_zombie_ms: u64,
}

/// The runners of a run: those the scenario planned, and those seen only through their
/// task-runner calls (`serve`'s, by the hostname or taskrunnerId they gave).
fn runner_count(out: &Trace) -> usize {
    let mut names: std::collections::BTreeSet<&str> = out.runners.iter().map(|r| r.name.as_str()).collect();
    names.extend(out.calls.iter().filter(|c| c.operation.is_runner_call()).filter_map(|c| c.runner.as_deref()));
    names.len()
}

impl Report {
    /// Builds the report of a run.
    pub fn new(name: &str, scenario: &Scenario, out: &Trace) -> Report {
        let a = Analysis::of(out);
        let log = log::lines(out, &a);
        let expectations = expect::check(&scenario.expect, out, &a, &log);
        let input = check::Input::new(scenario, out, &a, &log);
        let violations = check::check(&input);
        let probes = check::probes::probes(&input).by_name();
        let mut statuses = std::collections::BTreeMap::new();
        for i in &out.instances {
            *statuses.entry(i.status.clone()).or_insert(0) += 1;
        }
        let zombies = a.zombies();
        let count = |kind: fn(&EventKind) -> bool| out.journal.iter().filter(|e| kind(&e.kind)).count();
        let summary = Summary {
            runners: runner_count(out),
            tasks: out.instances.len(),
            statuses: statuses.into_iter().collect(),
            handouts: a.leases.len(),
            reassignments: a.leases.values().filter(|l| l.reassigned).count(),
            expiries: count(|k| matches!(k, EventKind::Expired { .. })),
            stale_calls: count(|k| matches!(k, EventKind::StaleCall { .. } | EventKind::ForgedCall { .. })),
            zombies: zombies.len(),
            longest_zombie_ms: zombies.first().map_or(0, |w| w.zombie_ms),
            total_zombie_ms: zombies.iter().map(|w| w.zombie_ms).sum(),
        };
        Report {
            scenario: name.to_string(),
            seed: out.seed,
            end_ms: out.end_ms,
            finished_early: out.finished_early,
            served: out.served,
            summary,
            expectations,
            violations,
            expected_violations: scenario.expect_violations.clone(),
            probes,
            log,
            detail: scenario.log,
        }
    }

    /// True when every expectation held and exactly the expected invariants broke.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|v| v.ok) && self.unexpected_invariants().is_empty()
    }

    /// Invariants broken but not expected, and expected but not broken.
    pub fn unexpected_invariants(&self) -> Vec<String> {
        let broken: std::collections::BTreeSet<Invariant> = self.violations.iter().map(|v| v.invariant).collect();
        let expected: std::collections::BTreeSet<Invariant> = self.expected_violations.iter().copied().collect();
        let mut out: Vec<String> = broken.difference(&expected).map(|i| format!("{i} broken")).collect();
        out.extend(expected.difference(&broken).map(|i| format!("{i} expected to break but held")));
        out
    }

    /// The violations with the transitions that led to them. Beyond a [`HANDFUL`], only the
    /// first of each [`ViolationGroup`], and how many more there are
    /// ([`Report::all_violations_text`] has every one).
    pub fn violations_text(&self) -> String {
        if self.violations.len() <= HANDFUL {
            return check::render(&self.violations);
        }
        let groups = self.violation_groups();
        let mut out = String::new();
        for g in &groups {
            out += &format!("the first of {} like it ({}):\n", g.count, g.invariant);
            out += &check::render(std::slice::from_ref(&self.violations[g.first]));
        }
        out += &format!(
            "({} violations in {} groups; report.json and violations.txt (`dpsim run --out`) and `dpsim -v run` have every one)\n",
            self.violations.len(),
            groups.len()
        );
        out
    }

    /// Every violation with the transitions that led to it.
    pub fn all_violations_text(&self) -> String {
        check::render(&self.violations)
    }

    /// The violations grouped by the rule they break, earliest first.
    pub fn violation_groups(&self) -> Vec<ViolationGroup> {
        groups::group(&self.violations)
    }

    /// The ownership log as text.
    pub fn log_text(&self) -> String {
        log::render(&self.log, self.detail)
    }

    /// The summary and the expectation verdicts as text.
    pub fn summary_text(&self) -> String {
        let s = &self.summary;
        let statuses = s.statuses.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
        let head = match (self.served, self.finished_early) {
            (true, _) => format!("served for {} (the report as of now, or at shutdown)", stamp(self.end_ms)),
            (false, true) => format!("stopped at {} (everything done)", stamp(self.end_ms)),
            (false, false) => format!("stopped at {} (duration reached)", stamp(self.end_ms)),
        };
        let mut out = format!(
            "{head}\nrunners: {}  tasks: {} ({statuses})\nhandouts: {}  reassignments: {}  expiries: {}  stale calls: {}\n",
            s.runners, s.tasks, s.handouts, s.reassignments, s.expiries, s.stale_calls
        );
        if s.zombies == 0 {
            out += "zombie work: none\n";
        } else {
            out += &format!(
                "zombie work: {} interval(s), longest {}, total {}\n",
                s.zombies,
                format_duration(s.longest_zombie_ms),
                format_duration(s.total_zombie_ms)
            );
        }
        if !self.expectations.is_empty() {
            out += "expectations:\n";
            for v in &self.expectations {
                out += &format!("  {}  {} (found: {})\n", if v.ok { "ok  " } else { "FAIL" }, v.expectation, v.found);
            }
        }
        let unexpected = self.unexpected_invariants();
        if self.violations.is_empty() && unexpected.is_empty() {
            out += &format!("invariants: all {} held\n", check::Invariant::ALL.len());
        } else {
            out += "invariants:\n";
            let word = |invariant: &Invariant| {
                if self.expected_violations.contains(invariant) { "expected" } else { "VIOLATED" }
            };
            if self.violations.len() <= HANDFUL {
                for v in &self.violations {
                    out += &format!("  {}  {} at {}: {}\n", word(&v.invariant), v.invariant, stamp(v.at), v.message);
                }
            } else {
                // A few problems, each repeated on many tasks: one line per problem.
                for g in self.violation_groups() {
                    let first = &self.violations[g.first];
                    let on = first.task.as_deref().or(first.runner.as_deref()).map(|t| format!(" on {t}"));
                    out += &format!(
                        "  {}  {} x{} ({} task(s) or runner(s)), first at {}{}: {}\n",
                        word(&g.invariant),
                        g.invariant,
                        g.count,
                        g.concerns,
                        stamp(g.first_at),
                        on.unwrap_or_default(),
                        first.message
                    );
                }
            }
            for u in unexpected.iter().filter(|u| u.ends_with("held")) {
                out += &format!("  FAIL  {u}\n");
            }
        }
        out
    }

    /// What a snapshot stores: summary, verdicts and the log.
    pub fn snapshot_text(&self) -> String {
        format!("{}\n{}", self.summary_text(), self.log_text())
    }
}
