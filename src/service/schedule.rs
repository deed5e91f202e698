//! Schedules: a `Schedule` object's fields, parsed and checked the way the service reports
//! them, and the period arithmetic both the service and the history checker's model use.
//!
//! A schedule's periods are `[first + k·period, first + (k+1)·period)` for k = 0, 1, …, where
//! `first` is `startDateTime`, or the first activation's start with
//! `startAt: FIRST_ACTIVATION_DATE_TIME`. With `occurrences: n` there are n periods; with
//! `endDateTime` the periods that start before it; with neither, periods go on for ever.
//! Which instant of a period makes its instance is the activity's `scheduleType`: `cron` at
//! the period's start, `timeseries` (the default) at its end.

use crate::time::{Millis, format_dp_time, parse_dp_time, parse_period};

/// Where a schedule's first period starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// `startDateTime`.
    At(Millis),
    /// `startAt: FIRST_ACTIVATION_DATE_TIME`: the first activation's start.
    FirstActivation,
}

/// Where a schedule's periods stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Neither `endDateTime` nor `occurrences`: for ever.
    Never,
    /// `endDateTime`: periods that start before it.
    Before(Millis),
    /// `occurrences`: this many periods.
    Occurrences(u64),
}

/// When in its period an instance is created (`scheduleType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// At the start of the period.
    Cron,
    /// At the end of the period (AWS's default).
    Timeseries,
}

/// A parsed `Schedule` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Object id.
    pub id: String,
    /// `period`, in ms.
    pub period_ms: u64,
    /// Where the first period starts.
    pub start: Start,
    /// Where the periods stop.
    pub end: End,
    /// The planted bug `late_periods` (see `Bug::LatePeriods`): periods after the first start a
    /// period late.
    pub late: bool,
}

/// An activity's schedule: the schedule and when in each period the instance appears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    /// The schedule.
    pub schedule: Schedule,
    /// `scheduleType`.
    pub kind: Kind,
    /// `maxActiveInstances`: most instances of the activity started and not over at once.
    pub max_active: u32,
}

/// One period of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// 0-based index.
    pub index: u64,
    /// `@scheduledStartTime`.
    pub start: Millis,
    /// `@scheduledEndTime`.
    pub end: Millis,
}

impl Schedule {
    /// Parses a `Schedule` object's fields (`key`, string value), returning every problem.
    pub fn parse(
        id: &str,
        field: &dyn Fn(&str) -> Option<String>,
        minimum_period_ms: u64,
    ) -> Result<Schedule, Vec<String>> {
        let mut errors = Vec::new();
        let period_ms = match field("period") {
            None => {
                errors.push("Schedule has no period (e.g. \"1 hours\")".to_string());
                0
            }
            Some(text) => match parse_period(&text) {
                Ok(ms) if ms < minimum_period_ms => {
                    errors.push(format!(
                        "Field 'period': {text:?} is shorter than the minimum scheduling interval of {} minutes",
                        minimum_period_ms / crate::time::MINUTE_MS
                    ));
                    ms
                }
                Ok(ms) => ms,
                Err(e) => {
                    errors.push(format!("Field 'period': {e}"));
                    0
                }
            },
        };
        let start = match (field("startDateTime"), field("startAt")) {
            (Some(_), Some(_)) => {
                errors.push("Schedule sets both startDateTime and startAt: set exactly one".into());
                Start::FirstActivation
            }
            (None, None) => {
                errors.push("Schedule has no start: set startDateTime or startAt: FIRST_ACTIVATION_DATE_TIME".into());
                Start::FirstActivation
            }
            (Some(text), None) => match parse_dp_time(&text) {
                Some(at) => Start::At(at),
                None => {
                    errors.push(format!("Field 'startDateTime': {text:?} is not a date-time like 2026-01-01T00:00:00"));
                    Start::FirstActivation
                }
            },
            (None, Some(text)) if text == "FIRST_ACTIVATION_DATE_TIME" => Start::FirstActivation,
            (None, Some(text)) => {
                errors.push(format!("Field 'startAt': {text:?} is not FIRST_ACTIVATION_DATE_TIME"));
                Start::FirstActivation
            }
        };
        let end = match (field("endDateTime"), field("occurrences")) {
            (Some(_), Some(_)) => {
                errors.push("Schedule sets both endDateTime and occurrences: set at most one".into());
                End::Never
            }
            (None, None) => End::Never,
            (Some(text), None) => match parse_dp_time(&text) {
                Some(at) if matches!(start, Start::At(s) if at <= s) => {
                    errors.push(format!("Field 'endDateTime': {text:?} is not after startDateTime"));
                    End::Never
                }
                Some(at) => End::Before(at),
                None => {
                    errors.push(format!("Field 'endDateTime': {text:?} is not a date-time like 2026-01-01T00:00:00"));
                    End::Never
                }
            },
            (None, Some(text)) => match text.trim().parse::<u64>() {
                Ok(n) if n > 0 => End::Occurrences(n),
                _ => {
                    errors.push(format!("Field 'occurrences': {text:?} is not a positive integer"));
                    End::Never
                }
            },
        };
        if errors.is_empty() {
            Ok(Schedule { id: id.to_string(), period_ms, start, end, late: false })
        } else {
            Err(errors)
        }
    }

    /// Where the first period starts, for a pipeline first activated at `activated`.
    pub fn first_start(&self, activated: Millis) -> Millis {
        match self.start {
            Start::At(at) => at,
            Start::FirstActivation => activated,
        }
    }

    /// Period `index`, if the schedule has it.
    pub fn period(&self, first: Millis, index: u64) -> Option<Period> {
        let offset = if self.late && index > 0 { index + 1 } else { index };
        let start = first.checked_add(offset.checked_mul(self.period_ms)?)?;
        let within = match self.end {
            End::Never => true,
            End::Before(end) => start < end,
            End::Occurrences(n) => index < n,
        };
        within.then(|| Period { index, start, end: start.saturating_add(self.period_ms) })
    }
}

impl Kind {
    /// When a period's instance is created.
    pub fn due(self, period: &Period) -> Millis {
        match self {
            Kind::Cron => period.start,
            Kind::Timeseries => period.end,
        }
    }
}

/// The instance id of an activity's period starting at `start`: `@Copy_2026-01-01T03:00:00`.
pub fn instance_id(activity: &str, start: Millis) -> String {
    format!("@{activity}_{}", format_dp_time(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{HOUR_MS, MINUTE_MS};

    fn parse(fields: &[(&str, &str)]) -> Result<Schedule, Vec<String>> {
        let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string());
        Schedule::parse("S", &get, 15 * MINUTE_MS)
    }

    #[test]
    fn periods_stop_at_occurrences_and_before_the_end() {
        let s =
            parse(&[("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME"), ("occurrences", "3")]).unwrap();
        assert_eq!(s.first_start(5), 5);
        assert!(s.period(5, 2).is_some() && s.period(5, 3).is_none());
        let s = parse(&[
            ("period", "1 hours"),
            ("startDateTime", "2026-01-01T00:00:00"),
            ("endDateTime", "2026-01-01T03:00:00"),
        ])
        .unwrap();
        let first = s.first_start(0);
        let p2 = s.period(first, 2).unwrap();
        assert_eq!((p2.end - p2.start, s.period(first, 3)), (HOUR_MS, None), "a period starting at the end is out");
        assert_eq!(instance_id("Copy", p2.start), "@Copy_2026-01-01T02:00:00");
        assert_eq!((Kind::Cron.due(&p2), Kind::Timeseries.due(&p2)), (p2.start, p2.end));
    }

    #[test]
    fn schedules_break_the_rules_with_a_message_each() {
        for (fields, says) in [
            (vec![("period", "10 minutes"), ("startAt", "FIRST_ACTIVATION_DATE_TIME")], "minimum scheduling interval"),
            (vec![("startAt", "FIRST_ACTIVATION_DATE_TIME")], "no period"),
            (vec![("period", "1 hours")], "no start"),
            (
                vec![
                    ("period", "1 hours"),
                    ("startAt", "FIRST_ACTIVATION_DATE_TIME"),
                    ("startDateTime", "2026-01-01T00:00:00"),
                ],
                "both startDateTime and startAt",
            ),
            (
                vec![
                    ("period", "1 hours"),
                    ("startAt", "FIRST_ACTIVATION_DATE_TIME"),
                    ("occurrences", "2"),
                    ("endDateTime", "2027-01-01T00:00:00"),
                ],
                "both endDateTime and occurrences",
            ),
            (vec![("period", "1 hours"), ("startAt", "NOW")], "not FIRST_ACTIVATION_DATE_TIME"),
            (
                vec![("period", "1 hours"), ("startAt", "FIRST_ACTIVATION_DATE_TIME"), ("occurrences", "0")],
                "positive integer",
            ),
            (
                vec![
                    ("period", "1 hours"),
                    ("startDateTime", "2026-01-02T00:00:00"),
                    ("endDateTime", "2026-01-01T00:00:00"),
                ],
                "not after startDateTime",
            ),
        ] {
            let e = parse(&fields).unwrap_err().join("; ");
            assert!(e.contains(says), "{fields:?}: {e}");
        }
    }
}
