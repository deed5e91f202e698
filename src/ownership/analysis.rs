//! From a run's journal and observations to ownership facts: leases, work intervals, zombies.

use std::collections::{BTreeMap, BTreeSet};

use crate::journal::{Event, EventKind};
use crate::time::Millis;
use crate::trace::InstanceSummary;
use crate::trace::ObservationKind;
use crate::trace::Trace;

/// How a lease ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// Still live when the run stopped.
    Open,
    /// Its owner set a status.
    ByOwner,
    /// Expired or canceled: the owner may not know yet.
    Taken(String),
}

/// One handout of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Lease number (the taskId's sequence).
    pub seq: u64,
    /// Pipeline id.
    pub pipeline_id: String,
    /// Instance id.
    pub object_id: String,
    /// Attempt id.
    pub attempt_id: String,
    /// Component (activity) id.
    pub component: String,
    /// Runner it was handed to.
    pub runner: String,
    /// When it was handed out (since the start).
    pub assigned_at: Millis,
    /// When it ended (since the start), if it did.
    pub ended_at: Option<Millis>,
    /// How it ended.
    pub end: LeaseEnd,
    /// A handout of an attempt handed out before.
    pub reassigned: bool,
}

/// A stretch of time a runner worked on a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    /// Runner.
    pub runner: String,
    /// Lease number.
    pub seq: u64,
    /// Start (since the start of the run).
    pub from: Millis,
    /// End, or the end of the run.
    pub to: Millis,
    /// Work done after the lease was taken away: the time after the lease ended that the
    /// runner was running (not frozen) and still working.
    pub zombie_ms: u64,
    /// Time after the lease ended that the runner was frozen while it still believed it held
    /// the task: belief, not work.
    pub frozen_ms: u64,
}

/// Ownership facts of one run.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Leases by number.
    pub leases: BTreeMap<u64, Lease>,
    /// Work intervals in start order.
    pub work: Vec<Work>,
    /// Display label of each instance (`Copy`, `Copy[2]`), by pipeline id, then instance id:
    /// instance ids are unique only within their pipeline.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Scenario name of each pipeline id.
    pub pipeline_names: BTreeMap<String, String>,
    /// Each lease's task label (`Copy@1`), worked out once: every line about the lease shows it.
    task_labels: BTreeMap<u64, String>,
    /// (zombie ms, frozen ms) by (runner, lease), for lookups while rendering.
    zombie_index: BTreeMap<(String, u64), (u64, u64)>,
    /// Each runner's frozen intervals (since the start), for telling work from belief.
    frozen: BTreeMap<String, Vec<(Millis, Millis)>>,
}

pub(crate) use crate::trace::rel;

impl Analysis {
    /// Builds the analysis of a run.
    pub fn of(out: &Trace) -> Analysis {
        let mut a = Analysis { labels: labels(out), pipeline_names: out.pipeline_names.clone(), ..Analysis::default() };
        for e in &out.journal {
            a.lease_event(e);
        }
        let end = out.end_ms;
        a.frozen = frozen_intervals(out);
        let mut open: BTreeMap<(String, u64), Millis> = BTreeMap::new();
        for o in &out.observations {
            let Some(runner) = o.runner.clone() else { continue };
            let at = rel(o.at);
            match &o.kind {
                ObservationKind::StartsWork { task, .. } => {
                    open.insert((runner, *task), at);
                }
                ObservationKind::StopsWork { task, .. } => {
                    if let Some(from) = open.remove(&(runner.clone(), *task)) {
                        a.push_work(runner, *task, from, at);
                    }
                }
                ObservationKind::Crashed => {
                    let keys: Vec<(String, u64)> = open.keys().filter(|(r, _)| *r == runner).cloned().collect();
                    for key in keys {
                        let from = open.remove(&key).expect("key listed");
                        a.push_work(key.0, key.1, from, at);
                    }
                }
                _ => {}
            }
        }
        for ((runner, seq), from) in open {
            a.push_work(runner, seq, from, end);
        }
        a.work.sort_by(|x, y| (x.from, &x.runner, x.seq).cmp(&(y.from, &y.runner, y.seq)));
        a.task_labels = a
            .leases
            .values()
            .map(|l| (l.seq, format!("{}@{}", a.label(&l.pipeline_id, &l.object_id), attempt_number(&l.attempt_id))))
            .collect();
        a.zombie_index = a
            .work
            .iter()
            .filter(|w| w.zombie_ms + w.frozen_ms > 0)
            .map(|w| ((w.runner.clone(), w.seq), (w.zombie_ms, w.frozen_ms)))
            .collect();
        a
    }

    fn lease_event(&mut self, e: &Event) {
        let Some(seq) = e.task else { return };
        match &e.kind {
            EventKind::Assigned { reassigned, .. } => {
                let object_id = e.object_id.as_deref().unwrap_or_default().to_string();
                self.leases.insert(
                    seq,
                    Lease {
                        seq,
                        pipeline_id: e.pipeline_id.as_deref().unwrap_or_default().to_string(),
                        component: crate::trace::component_of(&object_id).to_string(),
                        object_id,
                        attempt_id: e.attempt_id.as_deref().unwrap_or_default().to_string(),
                        runner: e.runner.as_deref().unwrap_or("?").to_string(),
                        assigned_at: rel(e.at),
                        ended_at: None,
                        end: LeaseEnd::Open,
                        reassigned: *reassigned,
                    },
                );
            }
            EventKind::Finished | EventKind::Failed { .. } => self.end_lease(seq, rel(e.at), LeaseEnd::ByOwner),
            EventKind::Expired { deadline } => {
                self.end_lease(seq, rel(e.at), LeaseEnd::Taken(format!("{deadline:?} deadline").to_lowercase()))
            }
            EventKind::Canceled { by } => self.end_lease(seq, rel(e.at), LeaseEnd::Taken(by.name().to_string())),
            _ => {}
        }
    }

    fn end_lease(&mut self, seq: u64, at: Millis, end: LeaseEnd) {
        if let Some(l) = self.leases.get_mut(&seq)
            && l.ended_at.is_none()
        {
            l.ended_at = Some(at);
            l.end = end;
        }
    }

    fn push_work(&mut self, runner: String, seq: u64, from: Millis, to: Millis) {
        let (zombie_ms, frozen_ms) = match self.leases.get(&seq) {
            Some(Lease { ended_at: Some(end), end: LeaseEnd::Taken(_), .. }) => {
                let lost_from = (*end).max(from);
                let after = to.saturating_sub(lost_from);
                let frozen: u64 = self
                    .frozen
                    .get(&runner)
                    .map_or(0, |spans| spans.iter().map(|&(a, b)| b.min(to).saturating_sub(a.max(lost_from))).sum());
                (after.saturating_sub(frozen), frozen.min(after))
            }
            _ => (0, 0),
        };
        self.work.push(Work { runner, seq, from, to, zombie_ms, frozen_ms });
    }

    /// The intervals a runner spent frozen (since the start).
    pub fn frozen_spans(&self, runner: &str) -> &[(Millis, Millis)] {
        self.frozen.get(runner).map_or(&[], Vec::as_slice)
    }

    /// Label of an instance of a pipeline.
    pub fn label(&self, pipeline_id: &str, object_id: &str) -> String {
        self.labels.get(pipeline_id).and_then(|l| l.get(object_id)).cloned().unwrap_or_else(|| object_id.to_string())
    }

    /// Label of a lease's task and attempt: `Copy@1`.
    pub fn task_label(&self, seq: u64) -> String {
        self.task_labels.get(&seq).cloned().unwrap_or_else(|| format!("t{seq}"))
    }

    /// The zombie work of a runner on a lease, and the time it was frozen believing it still
    /// held it, in ms (0 when none).
    pub fn zombie_ms(&self, runner: &str, seq: u64) -> (u64, u64) {
        self.zombie_index.get(&(runner.to_string(), seq)).copied().unwrap_or((0, 0))
    }

    /// The zombie intervals (work after the lease was taken), longest first.
    pub fn zombies(&self) -> Vec<&Work> {
        let mut z: Vec<&Work> = self.work.iter().filter(|w| w.zombie_ms > 0).collect();
        z.sort_by(|a, b| b.zombie_ms.cmp(&a.zombie_ms).then(a.from.cmp(&b.from)));
        z
    }
}

/// The attempt number at the end of an attempt id (`..._Attempt=2` → 2).
pub fn attempt_number(attempt_id: &str) -> u32 {
    attempt_id.rsplit_once("_Attempt=").and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

/// Short, unique, stable names for instances.
fn labels(out: &Trace) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut per_component: BTreeMap<&str, Vec<&InstanceSummary>> = BTreeMap::new();
    for i in &out.instances {
        per_component.entry(&i.component).or_default().push(i);
    }
    let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut set = |i: &InstanceSummary, label: String| {
        labels.entry(i.pipeline_id.clone()).or_default().insert(i.instance_id.clone(), label);
    };
    for (component, instances) in per_component {
        for (n, i) in instances.iter().enumerate() {
            let label = if instances.len() == 1 { component.to_string() } else { format!("{component}[{}]", n + 1) };
            set(i, label);
        }
    }
    // An instance of a schedule's period is named by its period: `Copy[2026-01-01T03:00]`;
    // where pipelines share an activity id and a period, by its pipeline's name too
    // (`hourly-2/Copy[2026-01-01T03:00]`), so that no two instances share a label.
    let mut pipelines_of: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let periods: Vec<(&InstanceSummary, String)> = out
        .instances
        .iter()
        .filter_map(|i| {
            let time = crate::time::format_dp_time(i.period_start?);
            let minute = time.strip_suffix(":00").unwrap_or(&time);
            let label = format!("{}[{minute}]", i.component);
            pipelines_of.entry(label.clone()).or_default().insert(&i.pipeline_id);
            Some((i, label))
        })
        .collect();
    for (i, label) in periods {
        let label = if pipelines_of[&label].len() > 1 {
            // Its name, unless another pipeline has it too (AWS allows that): then its id.
            let pipeline = out
                .pipeline_names
                .get(&i.pipeline_id)
                .filter(|n| out.pipeline_names.values().filter(|m| m == n).count() == 1)
                .unwrap_or(&i.pipeline_id);
            format!("{pipeline}/{label}")
        } else {
            label
        };
        set(i, label);
    }
    labels
}

/// Each runner's frozen intervals, from its `Frozen`/`Thawed` observations; one still frozen at
/// the end lasts to the end of the run.
fn frozen_intervals(out: &Trace) -> BTreeMap<String, Vec<(Millis, Millis)>> {
    let mut since: BTreeMap<&str, Millis> = BTreeMap::new();
    let mut spans: BTreeMap<String, Vec<(Millis, Millis)>> = BTreeMap::new();
    for o in &out.observations {
        let Some(r) = o.runner.as_deref() else { continue };
        match o.kind {
            ObservationKind::Frozen => {
                since.entry(r).or_insert(rel(o.at));
            }
            ObservationKind::Thawed => {
                if let Some(from) = since.remove(r) {
                    spans.entry(r.to_string()).or_default().push((from, rel(o.at)));
                }
            }
            _ => {}
        }
    }
    for (r, from) in since {
        spans.entry(r.to_string()).or_default().push((from, out.end_ms));
    }
    spans
}
