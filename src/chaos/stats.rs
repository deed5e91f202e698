//! Figures chaos collects per run and summarises over a sweep.

use serde::Serialize;

use crate::journal::{Deadline, EventKind};
use crate::report::Report;
use crate::report::analysis::Analysis;
use crate::trace::ObservationKind;
use crate::trace::{EPOCH_MS, Trace};

/// Figures of one run, in ms.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// From a lease expiring to the same instance's next handout.
    pub reassignment_ms: Vec<u64>,
    /// Zombie work intervals.
    pub zombie_ms: Vec<u64>,
    /// From a lease being canceled to its owner learning it.
    pub cancel_propagation_ms: Vec<u64>,
    /// Calls the runners made per task (`None` without tasks).
    pub calls_per_task: Option<f64>,
    /// From the start to the last task's end (`None` when no task ended).
    pub makespan_ms: Option<u64>,
    /// The coverage probes the run hit, with how often.
    pub probes: std::collections::BTreeMap<&'static str, u32>,
}

impl RunStats {
    /// Collects the figures of a run.
    pub fn of(out: &Trace, report: &Report) -> RunStats {
        let mut s = RunStats { probes: report.probes.clone(), ..RunStats::default() };
        // By (pipeline id, instance id): instance ids are unique only within their pipeline.
        let mut expired_at: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        let mut canceled: std::collections::BTreeMap<u64, (String, u64)> = Default::default();
        for e in &out.journal {
            let object = e.instance().unwrap_or_default();
            match &e.kind {
                EventKind::Expired { deadline: Deadline::Ack | Deadline::Progress } => {
                    expired_at.insert(object, e.at);
                }
                EventKind::Assigned { .. } => {
                    if let Some(t) = expired_at.remove(&object) {
                        s.reassignment_ms.push(e.at - t);
                    }
                }
                EventKind::Canceled { .. } => {
                    if let (Some(seq), Some(r)) = (e.task, e.runner.as_deref()) {
                        canceled.insert(seq, (r.to_string(), e.at));
                    }
                }
                _ => {}
            }
        }
        for o in &out.observations {
            if let (ObservationKind::LearnsLost { task, .. }, Some(r)) = (&o.kind, o.runner.as_deref())
                && let Some((owner, at)) = canceled.remove(task)
                && owner == r
            {
                s.cancel_propagation_ms.push(o.at.saturating_sub(at));
            }
        }
        let ends = out.journal.iter().filter(|e| e.kind.ends_instance()).map(|e| e.at.saturating_sub(EPOCH_MS));
        s.makespan_ms = ends.max();
        let runner_calls = out.calls.iter().filter(|c| c.runner.is_some()).count();
        let tasks = report.summary.tasks;
        s.calls_per_task = (tasks > 0).then(|| runner_calls as f64 / tasks as f64);
        s.zombie_ms = Analysis::of(out).zombies().iter().map(|w| w.zombie_ms).collect();
        s
    }
}

/// p50, p99 and max of a sample, in ms.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Distribution {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50_ms: u64,
    /// 99th percentile.
    pub p99_ms: u64,
    /// Largest.
    pub max_ms: u64,
}

impl Distribution {
    /// Summarises a sample.
    pub fn of(mut values: Vec<u64>) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        values.sort_unstable();
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Distribution {
            count: values.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: *values.last().expect("non-empty"),
        }
    }
}
