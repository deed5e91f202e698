//! The referee's own account of the rules a scenario and a definition set: the numbers (the
//! deadlines and activity defaults of the README's semantics table), how a definition's fields
//! resolve, what an activity obeys, and the periods of a schedule with the instance ids they
//! give.
//!
//! Written apart from the service, from the README's "Semantics" and "Schedules" tables and
//! AWS's documentation, and never calling the service's definition, schedule, timer or
//! settings code: a bug there must disagree with this account instead of hiding in both (an
//! off-by-one in the service's period arithmetic once passed every check that shared it). It
//! reads only what a definition the service accepted says, so it is lenient where the service
//! validates: a field it cannot read falls back to the default.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::protocol::{Field, PipelineObject};
use crate::scenario::Scenario;
use crate::time::{Millis, format_dp_time, parse_dp_time};

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The numbers the rules use, with the README's defaults unless the scenario's `service`
/// section sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Numbers {
    /// From a handout's answer to its acknowledgement deadline (2 minutes).
    pub ack_ms: u64,
    /// Longest gap between progress reports when the activity sets none (15 minutes).
    pub progress_ms: u64,
    /// `maximumRetries` when an activity omits it (2).
    pub retries: u32,
    /// `retryDelay` when an activity omits it (10 minutes).
    pub retry_delay_ms: u64,
    /// `maxActiveInstances` of a scheduled activity that omits it (1, and 1..=5 always).
    pub max_active: u32,
    /// How long an empty PollForTask is held (90 s).
    pub poll_hold_ms: u64,
}

impl Numbers {
    /// The numbers a scenario's run obeys.
    pub fn of(scenario: &Scenario) -> Numbers {
        let s = &scenario.service;
        Numbers {
            ack_ms: s.ack_timeout.map_or(2 * MINUTE_MS, |d| d.ms()),
            progress_ms: s.progress_timeout.map_or(15 * MINUTE_MS, |d| d.ms()),
            retries: s.default_maximum_retries.unwrap_or(2),
            retry_delay_ms: s.default_retry_delay.map_or(10 * MINUTE_MS, |d| d.ms()),
            max_active: s.default_max_active_instances.unwrap_or(1).clamp(1, 5),
            poll_hold_ms: s.poll_hold.map_or(90 * SECOND_MS, |d| d.ms()),
        }
    }
}

/// The work time of an activity that declares none (`myWorkTime`): one minute, as the README's
/// scenario table says of dpsim's runner.
pub(crate) const DEFAULT_WORK_MS: u64 = MINUTE_MS;

/// How often a runner tries a call at most: the AWS SDKs' standard retry mode, which the
/// README says dpsim's runner follows (a call tried again up to 3 times in all).
pub(crate) const CALL_TRIES: u32 = 3;

/// A Data Pipeline period, `"N unit"` with units minutes, hours, days, weeks and months (a month
/// is 30 days), case-insensitive, singular or plural; in milliseconds.
pub(crate) fn period_ms(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let (n, unit, None) = (words.next()?, words.next()?, words.next()) else { return None };
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit = unit.to_ascii_lowercase();
    let size = match unit.strip_suffix('s').unwrap_or(&unit) {
        "minute" => MINUTE_MS,
        "hour" => HOUR_MS,
        "day" => DAY_MS,
        "week" => 7 * DAY_MS,
        "month" => 30 * DAY_MS,
        _ => return None,
    };
    n.checked_mul(size)
}

/// The periods of a `Schedule` object: `[origin + k·every, origin + (k+1)·every)` for k = 0, 1,
/// …, where the origin is `startDateTime`, or the first activation with `startAt:
/// FIRST_ACTIVATION_DATE_TIME`; `occurrences: n` keeps the first n, `endDateTime` those that
/// start before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    /// The Schedule object's id.
    pub id: String,
    /// `period`.
    pub every_ms: u64,
    /// `startDateTime`; `None` for the first activation.
    pub start: Option<Millis>,
    /// `occurrences`.
    pub occurrences: Option<u64>,
    /// `endDateTime`.
    pub end: Option<Millis>,
}

impl Grid {
    /// Where period 0 starts, for a pipeline first activated at `first_activation`.
    pub fn origin(&self, first_activation: Millis) -> Millis {
        self.start.unwrap_or(first_activation)
    }

    /// The start of period `k`, if the schedule has it.
    pub fn start_of(&self, origin: Millis, k: u64) -> Option<Millis> {
        let start = origin.checked_add(k.checked_mul(self.every_ms)?)?;
        let kept = self.occurrences.is_none_or(|n| k < n) && self.end.is_none_or(|end| start < end);
        kept.then_some(start)
    }

    /// Which period starts at `start`, if one does.
    pub fn index_of(&self, origin: Millis, start: Millis) -> Option<u64> {
        let offset = start.checked_sub(origin)?;
        let k = (offset % self.every_ms == 0).then_some(offset / self.every_ms)?;
        self.start_of(origin, k).map(|_| k)
    }
}

/// An activity's schedule: its periods, when in a period its instance is created, and how many
/// of its instances may be active at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scheduling {
    /// The periods.
    pub grid: Grid,
    /// `scheduleType: cron` (the instance at the period's start), else timeseries (at its end).
    pub cron: bool,
    /// `maxActiveInstances`.
    pub max_active: u32,
}

impl Scheduling {
    /// When the instance of the period starting at `start` is created.
    pub fn due(&self, start: Millis) -> Millis {
        if self.cron { start } else { start.saturating_add(self.grid.every_ms) }
    }
}

/// The instance id of an activity's period starting at `start`: `@Copy_2026-01-01T03:00:00`;
/// and of an activation's instance, which names the activation's start the same way.
pub(crate) fn instance_id(activity: &str, start: Millis) -> String {
    format!("@{activity}_{}", format_dp_time(start))
}

/// What an activity's tasks obey, read from a definition the service accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Worker group of its tasks.
    pub group: String,
    /// Activities that must finish first (with a schedule: their instance of the same period).
    pub depends_on: Vec<String>,
    /// Retries after a failure.
    pub maximum_retries: u32,
    /// Wait between a failure and the next attempt.
    pub retry_delay_ms: u64,
    /// Longest attempt, when set.
    pub attempt_timeout_ms: Option<u64>,
    /// Longest gap between progress reports.
    pub progress_ms: u64,
    /// The work time its tasks declare (`myWorkTime`), if they do.
    pub work_ms: Option<u64>,
    /// Its schedule, when it has one: an instance per period instead of one per activation.
    pub scheduling: Option<Arc<Scheduling>>,
}

/// The activities of a definition, by id.
pub(crate) fn activities(objects: &[PipelineObject], numbers: &Numbers) -> BTreeMap<String, Activity> {
    let by_id: BTreeMap<&str, &PipelineObject> = objects.iter().filter_map(|o| Some((o.id.as_deref()?, o))).collect();
    let mut out = BTreeMap::new();
    for (&id, object) in &by_id {
        if id == "Default" {
            continue;
        }
        let fields = Resolved::of(&by_id, object);
        if !fields.text("type").is_some_and(|t| t.ends_with("Activity")) {
            continue;
        }
        let period = |key: &str| fields.text(key).and_then(period_ms);
        let activity = Activity {
            group: fields.text("workerGroup").unwrap_or_default().to_string(),
            depends_on: fields.all("dependsOn").iter().filter_map(|f| f.ref_value.clone()).collect(),
            maximum_retries: fields
                .text("maximumRetries")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(numbers.retries),
            retry_delay_ms: period("retryDelay").unwrap_or(numbers.retry_delay_ms),
            attempt_timeout_ms: period("attemptTimeout"),
            progress_ms: period("reportProgressTimeout").unwrap_or(numbers.progress_ms),
            work_ms: fields.text("myWorkTime").and_then(|t| crate::scenario::parse_duration(t).ok()),
            scheduling: scheduling(&by_id, &fields, numbers).map(Arc::new),
        };
        out.insert(id.to_string(), activity);
    }
    out
}

/// An activity's schedule: the Schedule object its `schedule` names, unless its
/// `scheduleType` is `ondemand` (the default type, when a schedule is named, is timeseries).
fn scheduling(by_id: &BTreeMap<&str, &PipelineObject>, fields: &Resolved, numbers: &Numbers) -> Option<Scheduling> {
    let named = fields.one("schedule").and_then(|f| f.ref_value.as_deref().or(f.string_value.as_deref()))?;
    let kind = fields.text("scheduleType").map(str::to_ascii_lowercase);
    let cron = match kind.as_deref() {
        Some("ondemand") => return None,
        Some("cron") => true,
        _ => false,
    };
    let schedule = Resolved::of(by_id, by_id.get(named)?);
    let grid = Grid {
        id: named.to_string(),
        every_ms: schedule.text("period").and_then(period_ms)?,
        start: schedule.text("startDateTime").and_then(parse_dp_time),
        occurrences: schedule.text("occurrences").and_then(|t| t.trim().parse().ok()),
        end: schedule.text("endDateTime").and_then(parse_dp_time),
    };
    let max_active =
        fields.text("maxActiveInstances").and_then(|t| t.trim().parse().ok()).unwrap_or(numbers.max_active);
    Some(Scheduling { grid, cron, max_active: max_active.clamp(1, 5) })
}

/// An object's fields as AWS resolves them: its own, then its `parent` chain's, then
/// `Default`'s; a key takes every value of the nearest object that has it.
struct Resolved<'a> {
    fields: Vec<&'a Field>,
}

impl<'a> Resolved<'a> {
    fn of(by_id: &BTreeMap<&str, &'a PipelineObject>, object: &'a PipelineObject) -> Resolved<'a> {
        let mut chain: Vec<&PipelineObject> = Vec::new();
        let mut seen_ids: BTreeSet<&str> = BTreeSet::new();
        let mut next = Some(object);
        while let Some(o) = next {
            if !seen_ids.insert(o.id.as_deref().unwrap_or_default()) {
                break;
            }
            chain.push(o);
            let parent = o.fields.iter().find(|f| f.key() == "parent").and_then(|f| f.ref_value.as_deref());
            next = parent.and_then(|p| by_id.get(p).copied());
        }
        if let Some(default) = by_id.get("Default").filter(|_| !seen_ids.contains("Default")) {
            chain.push(default);
        }
        let mut fields = Vec::new();
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for o in chain {
            let here: BTreeSet<&str> = o.fields.iter().map(Field::key).collect();
            fields.extend(o.fields.iter().filter(|f| !keys.contains(f.key())));
            keys.extend(here);
        }
        Resolved { fields }
    }

    fn all(&self, key: &str) -> Vec<&'a Field> {
        self.fields.iter().copied().filter(|f| f.key() == key).collect()
    }

    fn one(&self, key: &str) -> Option<&'a Field> {
        self.fields.iter().copied().find(|f| f.key() == key)
    }

    fn text(&self, key: &str) -> Option<&'a str> {
        self.one(key).and_then(|f| f.string_value.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_the_readme_writes_them() {
        assert_eq!(period_ms("15 minutes"), Some(15 * MINUTE_MS));
        assert_eq!(period_ms("1 Hour"), Some(HOUR_MS));
        assert_eq!(period_ms("2 weeks"), Some(14 * DAY_MS));
        assert_eq!(period_ms("1 month"), Some(30 * DAY_MS));
        for bad in ["", "15", "15 mins", "0 hours", "1 hour extra", "-1 hours"] {
            assert_eq!(period_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_grid_keeps_its_occurrences_or_what_starts_before_its_end() {
        let grid = |occurrences, end| Grid { id: "S".into(), every_ms: HOUR_MS, start: None, occurrences, end };
        let g = grid(Some(3), None);
        assert_eq!((g.start_of(0, 2), g.start_of(0, 3)), (Some(2 * HOUR_MS), None));
        let g = grid(None, Some(3 * HOUR_MS));
        assert_eq!(
            (g.start_of(0, 2), g.start_of(0, 3)),
            (Some(2 * HOUR_MS), None),
            "a period starting at the end is out"
        );
        assert_eq!(g.index_of(0, 2 * HOUR_MS), Some(2));
        assert_eq!(g.index_of(0, 2 * HOUR_MS + 1), None, "off the grid");
        let s = Scheduling { grid: g, cron: false, max_active: 1 };
        assert_eq!(s.due(HOUR_MS), 2 * HOUR_MS, "timeseries: at the period's end");
    }
}
